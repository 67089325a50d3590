package taskfarm

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// run runs the job on this rank and returns the exit status as an error.
func (o *options) run(ctx context.Context, env *cli.Env, ef *cli.EngineFlags) error {
	t, err := env.Transport()
	if err != nil {
		return &cli.ExitError{Code: exitOther, Err: err}
	}
	m := &manager{o: o, env: env, host: t.Host(), acct: newAccount(-1, ef.Status != "")}
	ef.Report = m.acct.report()
	var w atomic.Pointer[worker]
	job := rank.Job{
		Name: "exec",
		Open: m.open,
		NewWorker: func(b []byte) (rank.Worker, error) {
			st, err := decodeSetup(b)
			if err != nil {
				return nil, err
			}
			wk, err := newWorker(o, workerFacts{rank: t.Rank(), host: t.Host(), stdout: ungroupedOut(env, t.Rank(), os.Stdout), stderr: ungroupedOut(env, t.Rank(), os.Stderr)}, st)
			if err != nil {
				return nil, err
			}
			w.Store(wk)
			return wk.run, nil
		},
	}
	_, err = cli.RunJob(ctx, env, job, ef)
	if wk := w.Load(); wk != nil {
		wk.shutdown(time.Second)
	}
	m.close()
	if err != nil {
		return &cli.ExitError{Code: exitOther, Err: err}
	}
	if t.Rank() != 0 || m.sink == nil {
		return nil
	}
	code := m.sink.tally.exitCode()
	if stop := m.sink.gate.stoppedBy; stop > 0 && code == 0 {
		// A BARRIER CHECK stopped the run for tasks the joblog has as failed (--resume):
		// the job is not done.
		code = int(min(stop, 101))
	}
	if code != 0 {
		return &cli.ExitError{Code: code}
	}
	return nil
}

// ungroupedOut is where -u tasks write on this rank: the process's own stream on a worker
// rank (mpirun forwards it), rank 0's own writer on rank 0.
func ungroupedOut(env *cli.Env, rank int, own *os.File) io.Writer {
	if rank != 0 {
		return own
	}
	if own == os.Stdout {
		return env.Stdout
	}
	return env.Stderr
}

// setup is what the manager tells every worker before any task (Plan.Setup).
type setup struct {
	managerHost string
	ntasks      int64    // number of jobs, -1 unknown
	run         string   // names this run's spill files (spillPrefix), for the manager's cleanup
	names       []string // --header's column names
	header      []byte   // --pipe and --pipepart: the header prepended to each block
	kind        jobKind
}

func (s setup) encode() []byte {
	b := []byte{3, byte(s.kind)}
	b = appendString(b, s.managerHost)
	b = binary.AppendVarint(b, s.ntasks)
	b = appendString(b, s.run)
	b = appendBytes(b, s.header)
	b = binary.AppendUvarint(b, uint64(len(s.names)))
	for _, n := range s.names {
		b = appendString(b, n)
	}
	return b
}

func decodeSetup(b []byte) (setup, error) {
	bad := errors.New("exec: bad setup from the manager")
	if len(b) < 2 || b[0] != 3 || b[1] > byte(jobCommand) {
		return setup{}, bad
	}
	d := decoder{b: b[2:]}
	s := setup{kind: jobKind(b[1]), managerHost: string(d.bytes()), ntasks: d.varint(), run: string(d.bytes()), header: d.bytes()}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return setup{}, bad
	}
	for range n {
		s.names = append(s.names, string(d.bytes()))
	}
	if d.err != nil || len(d.b) != 0 || strings.ContainsAny(s.run, "/*?[\\") {
		return setup{}, bad
	}
	return s, nil
}

// manager is rank 0's side of the job: the input, the joblog and the sink.
type manager struct {
	o      *options
	env    *cli.Env
	host   string
	in     *inputSet
	closer io.Closer
	joblog *os.File
	sink   *sink
	acct   *account
	stdout *os.File // mpirun's stdout, which the sink writes to (launcherStdout), or nil
	run    string   // the run's name (random): its spill files' names start with spillPrefix(run)
}

// jobStream yields the jobs to run, in order.
type jobStream func() (*job, error)

// open runs on rank 0 before any work: it opens the inputs and the joblog and plans the
// jobs.
func (m *manager) open(ctx context.Context) (*rank.Plan, error) {
	o := m.o
	skip, skipOK, end, err := m.readJoblog()
	if err != nil {
		return nil, err
	}
	st := setup{managerHost: m.host, ntasks: -1, kind: o.jobKind()}
	next, err := m.jobs(&st)
	if err != nil {
		return nil, err
	}
	if o.joblog != "" {
		if m.joblog, err = openJoblog(o.joblog, o.resume || o.resumeFailed || o.retryFailed, end); err != nil {
			return nil, err
		}
	}
	if o.halt.pct > 0 && st.ntasks < 0 && o.totalJobs < 0 {
		// A percentage needs the number of jobs: read them all first, as GNU parallel does.
		all, err := bufferJobs(next)
		if err != nil {
			return nil, err
		}
		next, st.ntasks = all.next, int64(len(all.jobs))
	}
	if o.totalJobs >= 0 {
		st.ntasks = o.totalJobs
	}
	var name [6]byte
	rand.Read(name[:]) // never fails (crypto/rand since Go 1.24)
	m.run, st.run = hex.EncodeToString(name[:]), hex.EncodeToString(name[:])
	todo := st.ntasks
	if todo >= 0 {
		todo -= skip.countUpTo(uint64(todo))
	}
	times := &runtimes{pct: o.timeoutPct}
	m.acct.setTotal(todo)
	src, err := newJobSource(next, skip, skipOK, o.chunk.Or(1), st.kind, times)
	if err != nil {
		return nil, err
	}
	src.acct = m.acct
	m.sink = newSink(o, m.env, m.joblog, todo, times)
	m.sink.acct, m.sink.gate = m.acct, src.gate
	if m.env.Stdout == io.Writer(os.Stdout) && o.output != outUngroup {
		if f := launcherStdout(); f != nil {
			m.sink.stdout, m.stdout = f, f
		}
	}
	src.gate.says = func(why string) { fmt.Fprintf(m.env.Stderr, "mw: exec: %s\n", why) }
	chunks := int64(-1)
	if todo >= 0 {
		per := int64(o.chunk.Or(1))
		chunks = (todo + per - 1) / per
	}
	var source rank.Source = src
	if o.tasks != "" {
		source = liveJobSource{src} // its barriers hold jobs back
	}
	return &rank.Plan{Source: source, Sink: m.sink, Setup: st.encode(), Total: chunks}, nil
}

// jobKind is what this run's jobs carry.
func (o *options) jobKind() jobKind {
	switch {
	case o.retryFailed:
		return jobCommand
	case o.pipe:
		return jobBlock
	case o.pipePart:
		return jobPart
	}
	return jobArgs
}

// readJoblog reads the joblog for --resume, --resume-failed and --retry-failed: the jobs
// to skip, those of them that succeeded, and how its end must be mended before appending
// (+FILE too).
func (m *manager) readJoblog() (skip, ok *seqSet, end joblogEnd, err error) {
	o := m.o
	end = joblogEnd{cutAt: -1}
	resume := o.resume || o.resumeFailed || o.retryFailed
	if !resume && !strings.HasPrefix(o.joblog, "+") {
		return nil, nil, end, nil
	}
	f, err := os.Open(joblogPath(o.joblog))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil, end, nil
	case err != nil:
		return nil, nil, end, fmt.Errorf("--joblog: %w", err)
	}
	defer f.Close()
	ok = &seqSet{}
	done, end, err := readJoblogOK(f, o.resumeFailed, ok)
	switch {
	case err != nil && resume:
		return nil, nil, end, fmt.Errorf("--joblog %s: %w", joblogPath(o.joblog), err)
	case err != nil:
		return nil, nil, joblogEnd{cutAt: -1}, nil // +FILE of another kind: appended to as it is
	case resume && !o.retryFailed:
		return done, ok, end, nil
	}
	return nil, nil, end, nil
}

// jobs opens the input of this run's kind and returns its jobs; st learns the column
// names, the header and the number of jobs where they are known.
func (m *manager) jobs(st *setup) (jobStream, error) {
	o := m.o
	switch st.kind {
	case jobCommand:
		return m.failedJobs()
	case jobBlock:
		return m.blockJobs(st)
	case jobPart:
		return m.partJobs(st)
	}
	in, err := m.openArgs()
	if err != nil {
		return nil, err
	}
	m.in = in
	st.names = in.names
	st.ntasks = o.countJobs()
	t, err := o.commandTemplate(in.names)
	if err != nil {
		return nil, err
	}
	recs := in.records
	var lines *taskLines
	if o.tasks != "" {
		lines = &taskLines{recs: recs, refuse: o.directivesRefused()}
		recs = lines
	}
	mk := &jobMaker{recs: recs, g: o.grouping(t)}
	next := jobStream(mk.next)
	if lines != nil {
		next = taskJobs(next, lines)
	}
	if o.shuf {
		s, err := shuffleJobs(mk.next, uint64(time.Now().UnixNano()))
		if err != nil {
			return nil, err
		}
		next, st.ntasks = s.next, int64(len(s.jobs))
	}
	return next, nil
}

// directivesRefused says which option keeps a --tasks file from having #MW lines: they
// need one task per line, in the file's order. "" when none does.
func (o *options) directivesRefused() string {
	switch {
	case o.maxArgs >= 0 && o.replaceArgs:
		return "-N"
	case o.maxArgs >= 0:
		return "-n"
	case o.multi == multiContext:
		return "-X"
	case o.multi == multiArgs:
		return "-m (--xargs)"
	case o.shuf:
		return "--shuf"
	}
	return ""
}

// countJobs counts the jobs of sources that are files or values, as the records will be
// read; -1 when that cannot be known without reading them (stdin, -E, -r, -X, -m) or
// would cost another pass over a stream.
func (o *options) countJobs() int64 {
	if len(o.inputs) == 0 || o.rec.eofSet || o.rec.skipEmpty || o.multi != multiNone || len(o.rec.delim) != 1 {
		return -1
	}
	if o.tasks != "" && o.directivesRefused() == "" {
		return countFile(o.inputs[0], o.rec.delim[0], countTaskLines) // #MW lines are not tasks
	}
	var groups []int64
	for i, s := range o.inputs {
		n := countSource(s, o.rec.delim[0])
		if n < 0 {
			return -1
		}
		if o.header == ":" {
			n = max(n-1, 0)
		}
		switch {
		case i == 0 || !(o.link || s.linked):
			groups = append(groups, n)
		case o.link:
			groups[len(groups)-1] = max(groups[len(groups)-1], n)
		default:
			groups[len(groups)-1] = min(groups[len(groups)-1], n)
		}
	}
	total := int64(1)
	for _, n := range groups {
		total *= n
	}
	if o.maxArgs > 1 {
		total = (total + int64(o.maxArgs) - 1) / int64(o.maxArgs)
	}
	return total
}

// countFile counts what count counts in a file source: -1 for stdin, anything but a
// regular file, or an error.
func countFile(s source, delim byte, count func(io.Reader, byte) (int64, error)) int64 {
	if s.kind != srcFile || s.path == "-" {
		return -1
	}
	f, err := os.Open(s.path)
	if err != nil {
		return -1
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	n, err := count(f, delim)
	if err != nil {
		return -1
	}
	return n
}

// countSource counts a source's records: -1 for stdin or anything but a regular file.
func countSource(s source, delim byte) int64 {
	if s.kind == srcValues {
		var b strings.Builder
		for _, v := range s.values {
			b.WriteString(v)
			b.WriteByte(delim)
		}
		n, _ := countRecords(strings.NewReader(b.String()), delim)
		return n
	}
	return countFile(s, delim, countRecords)
}

// openArgs opens the argument sources (stdin when none is given), warning as GNU parallel
// does when that is a terminal.
func (m *manager) openArgs() (*inputSet, error) {
	o := m.o
	srcs := o.inputs
	if len(srcs) == 0 {
		srcs = []source{{kind: srcFile, path: "-"}}
		if isTerminal(m.env.Stdin) {
			io.WriteString(m.env.Stderr, terminalWarning)
		}
	}
	return openInputs(srcs, o.link, &o.rec, m.env.Stdin)
}

// terminalWarning is GNU parallel's, word for word but for the name.
const terminalWarning = `mw: exec: Warning: Input is read from the terminal. You are either an expert
mw: exec: Warning: (in which case: YOU ARE AWESOME!) or maybe you forgot
mw: exec: Warning: ::: or :::: or -a or to pipe data into mw exec. If so
mw: exec: Warning: consider going through the tutorial: man parallel_tutorial
mw: exec: Warning: Press CTRL-D to exit.
`

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && fi.Mode()&os.ModeDevice != 0
}

// grouping is how records become jobs: -n/-N, -X/-m/--xargs, -s.
func (o *options) grouping(t *template) grouping {
	g := grouping{maxArgs: 1, maxLen: o.maxChars, slots: max(1, o.slotsOnRank0)}
	multi := o.multi != multiNone
	switch {
	case o.maxArgs == 0:
		g.maxArgs = 0
	case o.maxArgs > 0:
		g.maxArgs = o.maxArgs
	case multi:
		g.maxArgs = -1
	}
	g.multi = multi || g.maxArgs > 1
	g.spread = multi && !o.noSpread
	if g.maxLen == 0 {
		g.maxLen = defaultMaxLen()
	}
	m := o.composeMode(t)
	g.estimate = &lengthEstimate{t: t, quote: m.quoteValues, words: m.quoteWords, ctx: m.context, trim: o.trimText}
	return g
}

// bufferJobs reads every job into memory.
func bufferJobs(next jobStream) (*shuffled, error) {
	s := &shuffled{}
	for {
		j, err := next()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		s.jobs = append(s.jobs, j)
	}
}

// failedJobs are --retry-failed's: the commands of the jobs the joblog records as failed,
// with their numbers (the last line of a job counts).
func (m *manager) failedJobs() (jobStream, error) {
	f, err := os.Open(joblogPath(m.o.joblog))
	if err != nil {
		return nil, fmt.Errorf("--retry-failed: %w", err)
	}
	defer f.Close()
	cmds, err := readFailedCommands(f)
	if err != nil {
		return nil, fmt.Errorf("--retry-failed: --joblog %s: %w", joblogPath(m.o.joblog), err)
	}
	seqs := make([]uint64, 0, len(cmds))
	for s := range cmds {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(a, b int) bool { return seqs[a] < seqs[b] })
	i := 0
	return func() (*job, error) {
		if i >= len(seqs) {
			return nil, io.EOF
		}
		i++
		return &job{seq: seqs[i-1], data: []byte(cmds[seqs[i-1]])}, nil
	}, nil
}

// close closes the input and the joblog, and removes the output of tasks never printed
// (--halt now ended the job while they waited for an earlier task, or as they finished):
// the spill files of the run left in the tmpdir. Workers spill only where rank 0 reads
// (its host, or a shared --tmpdir), so that is every one.
func (m *manager) close() {
	if m.sink != nil {
		removeSpills(m.o.tmpdir, m.run)
	}
	if m.in != nil {
		m.in.Close()
	}
	if m.closer != nil {
		m.closer.Close()
	}
	if m.joblog != nil {
		m.joblog.Close()
	}
	if m.stdout != nil {
		m.stdout.Close()
	}
}
