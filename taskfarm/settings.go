package taskfarm

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/launch"
)

// multiMode is -X (context replace) or -m (several values per word).
type multiMode uint8

const (
	multiNone multiMode = iota
	multiContext
	multiArgs
)

// outputMode is how a task's output reaches stdout.
type outputMode uint8

const (
	outGroup      outputMode = iota // whole, stdout then stderr (the default)
	outUngroup                      // -u: the task writes to mw's stdout itself
	outLineBuffer                   // --line-buffer: whole lines
)

// options are exec's settings, as every rank parses them from the same command line.
type options struct {
	// Input.
	inputs       []source // -a and the ::: and :::: groups, in GNU parallel's order
	argSep       string
	argFileSep   string
	delim        string
	rec          recordOptions
	colsepText   string
	colsepSet    bool
	header       string
	trimText     string
	link         bool
	maxArgs      int // -n/-N; -1 not given
	replaceArgs  bool
	multi        multiMode
	noSpread     bool // --xargs
	maxChars     int
	shuf         bool
	rpl          rplNames
	tasks        string // --tasks FILE
	retryFailed  bool
	pipe         bool
	pipePart     bool
	block        int64 // --block; negative: parts per job slot (--pipepart)
	blockSet     bool
	recStart     string
	recStartSet  bool
	recEnd       string
	recEndSet    bool
	command      []string
	quote        bool
	totalJobs    int64 // --total-jobs, -1 none
	progressWant bool  // --bar, --eta, --progress

	// Running.
	jobs         jobsSpec
	jobsSet      bool
	timeout      time.Duration
	timeoutPct   float64
	timeoutText  string
	delay        time.Duration
	memfree      int64
	nice         int
	niceSet      bool
	tries        int // --retries: tries in all (GNU parallel's meaning), 0 as many as allowed
	termSeq      []killStep
	haltText     string
	halt         haltPolicy
	joblog       string
	joblogSet    bool
	resume       bool
	resumeFailed bool
	workdir      string
	tmpdir       string
	tmpdirGiven  bool
	slotVar      string
	bufferText   string
	buffer       int64
	chunk        cli.ChunkSize
	keep         bool
	unordered    bool
	output       outputMode
	tag          bool
	tagString    string
	tagStringSet bool
	verbose      int
	trace        bool
	dryRun       bool
	results      string
	files        bool
	slotsOnRank0 int      // -j as GNU parallel computes it on rank 0's node: what -X and --block -N spread over
	warnings     []string // what rank 0 says about the command line before the run

	// Resources (mw's own): each rank's GPUs (--gpus N|auto), what each task takes of its
	// cores and GPUs, and what this rank found it has (a computing rank's, from engine).
	gpus     string
	cpuShare share
	gpuShare share
	res      *rankResources
	threads  int // the tasks each rank runs at once when -j or --threads says, else 0
}

// jobsSpec is a -j value: N, N%, +N, -N or 0.
type jobsSpec struct {
	kind  byte // '=' N, '%' N%, '+' +N, '-' -N
	value float64
	text  string
}

// slots computes the job slots for cpus CPU threads, as GNU parallel does; 0 (as many
// as possible) is math.MaxInt32.
func (j jobsSpec) slots(cpus int) int {
	var n int
	switch j.kind {
	case '%':
		n = int(float64(cpus) * j.value / 100)
	case '+':
		n = cpus + int(j.value)
	case '-':
		n = cpus - int(j.value)
	default:
		if j.value == 0 {
			return math.MaxInt32
		}
		n = int(j.value)
	}
	return max(n, 1)
}

// parseJobs reads -j: N, N%, +N, -N, 0, or a file holding one of them (read once).
func parseJobs(s string) (jobsSpec, error) {
	j := jobsSpec{kind: '=', text: s}
	v := s
	switch {
	case strings.HasSuffix(v, "%"):
		j.kind, v = '%', strings.TrimSuffix(v, "%")
	case strings.HasPrefix(v, "+"):
		j.kind, v = '+', v[1:]
	case strings.HasPrefix(v, "-"):
		j.kind, v = '-', v[1:]
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || j.kind == '=' && f != math.Trunc(f) || math.IsInf(f, 0) {
		if b, ferr := os.ReadFile(s); ferr == nil && j.kind == '=' && !strings.ContainsAny(s, "\n") {
			return parseJobs(strings.TrimSpace(string(b)))
		}
		return j, errors.New("must be N, N%, +N, -N or 0 (or a file holding one)")
	}
	j.value = f
	return j, nil
}

// rankCPUs is the CPU threads -j counts on this rank: the rank's share of its node's CPUs
// (all of them with one rank per node, or without a launcher), as --threads 0 counts them:
// the CPUs over the node's ranks as the launcher reports them, the manager's not counted.
func rankCPUs(rank int) int {
	n := runtime.NumCPU()
	l := launch.FromEnv()
	local := l.LocalSize
	if local <= 0 {
		return n
	}
	if rank == l.LocalRank && local > 1 {
		local-- // the node's first rank is rank 0: this node also holds the manager
	}
	return max(1, n/local)
}

// parseDuration reads a duration as GNU parallel does: seconds, each part optionally
// followed by s, m, h or d (1d3.5h16.6m4s); also Go's form (1h30m).
func parseDuration(s string) (time.Duration, error) {
	units := map[byte]float64{'s': 1, 'm': 60, 'h': 3600, 'd': 86400}
	total, num := 0.0, ""
	ok := s != ""
	for i := 0; i < len(s) && ok; i++ {
		c := s[i]
		if u, isUnit := units[c]; isUnit {
			f, err := strconv.ParseFloat(num, 64)
			ok = err == nil
			total += f * u
			num = ""
			continue
		}
		num += string(c)
	}
	if num != "" {
		f, err := strconv.ParseFloat(num, 64)
		ok = ok && err == nil
		total += f
	}
	if !ok || math.IsNaN(total) || math.IsInf(total, 0) || total > 1e9 {
		return 0, errors.New("not a duration (seconds, or with s, m, h, d: 90, 1.5m, 2h, 1d3.5h)")
	}
	return time.Duration(total * float64(time.Second)), nil
}

// parseSize reads a size as GNU parallel does: a number with an optional unit, K M G T P
// (powers of 1024) or k m g t p (powers of 1000); also KB, MB, ... for mw's --buffer.
func parseSize(s string) (int64, error) {
	units := map[byte]float64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40, 'P': 1 << 50,
		'k': 1e3, 'm': 1e6, 'g': 1e9, 't': 1e12, 'p': 1e15}
	num := strings.TrimSuffix(s, "B")
	mult := 1.0
	if n := len(num); n > 0 {
		if u, ok := units[num[n-1]]; ok {
			mult, num = u, num[:n-1]
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f*mult) > 1<<50 {
		return 0, errors.New("must be a size such as 65536, 512K, 4M or 1g")
	}
	return int64(f * mult), nil
}

// killStep is one step of --term-seq: a signal, then a wait.
type killStep struct {
	sig  syscall.Signal
	wait time.Duration
}

// defaultTermSeq is GNU parallel's: TERM, 200 ms, TERM, 100 ms, TERM, 50 ms, KILL, 25 ms.
var defaultTermSeq = []killStep{{syscall.SIGTERM, 200 * time.Millisecond}, {syscall.SIGTERM, 100 * time.Millisecond},
	{syscall.SIGTERM, 50 * time.Millisecond}, {syscall.SIGKILL, 25 * time.Millisecond}}

// parseTermSeq reads --term-seq: SIGNAL,MS,SIGNAL,MS,... (signal names without SIG).
func parseTermSeq(s string) ([]killStep, error) {
	parts := strings.Split(s, ",")
	if len(parts)%2 != 0 {
		return nil, errors.New("must be SIGNAL,MS pairs, e.g. TERM,200,TERM,100,KILL,25")
	}
	var seq []killStep
	for i := 0; i < len(parts); i += 2 {
		sig, ok := signalByName(parts[i])
		ms, err := strconv.Atoi(parts[i+1])
		if !ok || err != nil || ms < 0 {
			return nil, fmt.Errorf("%q,%q: must be a signal name and milliseconds", parts[i], parts[i+1])
		}
		seq = append(seq, killStep{sig, time.Duration(ms) * time.Millisecond})
	}
	return seq, nil
}

func signalByName(s string) (syscall.Signal, bool) {
	s = strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), true
	}
	sig, ok := sigNames[s]
	return sig, ok
}

var sigNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM, "ALRM": syscall.SIGALRM,
	"CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP, "PIPE": syscall.SIGPIPE,
}
