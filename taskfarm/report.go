package taskfarm

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/internal/human"
	"github.com/mw-hpc/mw/rank"
)

// account is exec's account of a run in tasks, kept by the manager: tasks counted as they
// finish (arrive, in any order) for the live status, and as they are written (in the
// output's order, as the joblog has them) for the run report and --stats. The manager's
// goroutine updates it; the engine's progress goroutine reads it for --status: mu guards
// it. Each update is a few counters, and a map entry per chunk in flight with --status.
type account struct {
	mu sync.Mutex
	// As tasks finish.
	finished, finishedFailed uint64
	hosts                    map[string]*hostTally
	// As tasks are written.
	written                                     uint64
	succeeded, failed, timedOut, retried, rerun uint64
	outBytes, errBytes                          uint64
	slowest                                     []slowTask // longest runtime first, at most keepSlowest
	resumed                                     uint64     // tasks left out as the joblog has them already (--resume)
	total                                       int64      // tasks this run issues, -1 when not known
	// With --status: the chunks issued and not yet finished, by Seq.
	flying   map[uint64]flyingChunk
	barrier  string // what a barrier waits for, "" when none does
	stopped  string // why the run stopped issuing tasks early, "" when it did not
	watching bool   // --status: keep flying
}

// hostTally counts a host's finished tasks.
type hostTally struct{ done, failed uint64 }

// slowTask is one of the slowest tasks of a run.
type slowTask struct {
	seq     uint64
	runtime time.Duration
	host    string
	exit    string
	cmd     string
}

// flyingChunk is a chunk issued to the workers and not yet finished.
type flyingChunk struct {
	first, tasks uint64 // its first task's number, and how many it holds
	what         string // the first task's values (or command), clipped
}

const (
	keepSlowest  = 5   // slowest tasks in the report
	keepLongest  = 5   // longest in flight in the status
	maxShownText = 160 // bytes of a command shown in a report
)

func newAccount(total int64, watching bool) *account {
	a := &account{hosts: map[string]*hostTally{}, total: total, watching: watching}
	if watching {
		a.flying = map[uint64]flyingChunk{}
	}
	return a
}

// issued notes a chunk sent to the workers (with --status only).
func (a *account) issued(seq uint64, c flyingChunk) {
	if !a.watching {
		return
	}
	a.mu.Lock()
	a.flying[seq] = c
	a.mu.Unlock()
}

// finish counts a task that finished (its record arrived at the manager).
func (a *account) finish(r *record) {
	a.mu.Lock()
	a.finished++
	h := a.hosts[r.host]
	if h == nil {
		h = &hostTally{}
		a.hosts[r.host] = h
	}
	h.done++
	if r.failed() {
		a.finishedFailed++
		h.failed++
	}
	a.mu.Unlock()
}

// landed notes that the chunk seq finished, or was left out (with --status only).
func (a *account) landed(seq uint64) {
	if !a.watching {
		return
	}
	a.mu.Lock()
	delete(a.flying, seq)
	a.mu.Unlock()
}

// write counts a task written to the output (and to the joblog).
func (a *account) write(r *record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.written++
	switch {
	case r.timedOut():
		a.timedOut++
		a.failed++
	case r.failed():
		a.failed++
	default:
		a.succeeded++
	}
	if r.attempt > 0 {
		a.retried++
	}
	if r.lost > 0 {
		a.rerun++
	}
	a.outBytes += uint64(r.stdoutSize())
	a.errBytes += uint64(r.stderrSize())
	rt := time.Duration(r.runtime)
	if len(a.slowest) == keepSlowest && rt <= a.slowest[keepSlowest-1].runtime {
		return
	}
	s := slowTask{seq: r.seq, runtime: rt, host: r.host, exit: r.status(), cmd: clip(r.cmd)}
	i := sort.Search(len(a.slowest), func(i int) bool { return a.slowest[i].runtime < rt })
	a.slowest = slices.Insert(a.slowest, i, s)
	if len(a.slowest) > keepSlowest {
		a.slowest = a.slowest[:keepSlowest]
	}
}

// waitAt sets what a barrier waits for ("" once it passed).
func (a *account) waitAt(what string) {
	a.mu.Lock()
	a.barrier = what
	a.mu.Unlock()
}

// stop says why the run stopped issuing tasks early.
func (a *account) stop(why string) {
	a.mu.Lock()
	a.stopped = why
	a.mu.Unlock()
}

// resume counts a task left out as the joblog has it already.
func (a *account) resume() {
	a.mu.Lock()
	a.resumed++
	a.mu.Unlock()
}

// setTotal sets the number of tasks this run issues (-1: not known).
func (a *account) setTotal(n int64) {
	a.mu.Lock()
	a.total = n
	a.mu.Unlock()
}

// clip shortens a command for a report, on one line.
func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) <= maxShownText {
		return s
	}
	cut := maxShownText
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut-- // not inside a UTF-8 sequence
	}
	return s[:cut] + "..."
}

// report is exec's part of the engine's reports: the run report's line, --stats and --status.
func (a *account) report() cli.Report {
	return cli.Report{Key: "tasks", Summary: a.summary, Stats: func(st rank.Stats) any { return a.statsJSON(st) },
		Status: func(p rank.Progress) any { return a.statusJSON(p) }}
}

// summary is the run report's line, in tasks: "exec: 100 tasks in 12.3s (8.13 tasks/s): 97
// succeeded, 3 failed (1 timed out); ...".
func (a *account) summary(st rank.Stats) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "exec: %s in %s (%s tasks/s): %d succeeded, %d failed", human.Plural(a.written, "task"), cli.Dur(st.Wall),
		cli.Rate(perSecond(a.written, st.Wall)), a.succeeded, a.failed)
	if a.timedOut > 0 {
		fmt.Fprintf(&b, " (%d timed out)", a.timedOut)
	}
	if a.retried > 0 {
		fmt.Fprintf(&b, ", %d retried", a.retried)
	}
	if a.rerun > 0 {
		fmt.Fprintf(&b, ", %d run again after a lost worker", a.rerun)
	}
	if a.resumed > 0 {
		fmt.Fprintf(&b, ", %d in the joblog already", a.resumed)
	}
	fmt.Fprintf(&b, "; output %s (stdout %s, stderr %s)", human.Bytes(a.outBytes+a.errBytes), human.Bytes(a.outBytes), human.Bytes(a.errBytes))
	fmt.Fprintf(&b, "; %s x %s on %s", human.Plural(st.Workers, "worker"), human.Plural(st.Threads, "slot"), strings.Join(human.Hosts(st.Hosts), ","))
	if st.ManagerCPU > 0 {
		who := "manager"
		if st.Alone {
			who = "process" // the tasks' own threads and waits too
		}
		fmt.Fprintf(&b, "; %s CPU %s", who, cli.Dur(st.ManagerCPU))
		if a.written > 0 {
			fmt.Fprintf(&b, " (%s per task)", cli.Dur(st.ManagerCPU/time.Duration(a.written)))
		}
	}
	if len(st.Lost) > 0 {
		fmt.Fprintf(&b, "; %s lost:", human.Plural(len(st.Lost), "worker"))
		for i, l := range st.Lost[:min(3, len(st.Lost))] {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " rank %d on %s (%s)", l.Rank, l.Host, l.How)
		}
	}
	if len(a.slowest) > 0 {
		b.WriteString("; slowest:")
		for i, s := range a.slowest[:min(3, len(a.slowest))] {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " task %d %s", s.seq, cli.Dur(s.runtime))
		}
	}
	if a.stopped != "" {
		b.WriteString("; " + a.stopped)
	}
	return b.String()
}

// taskStats is exec's part of --stats (stable field names for scripts): every count is of
// tasks written to the output and the joblog.
type taskStats struct {
	Tasks       uint64     `json:"tasks"`
	Succeeded   uint64     `json:"succeeded"`
	Failed      uint64     `json:"failed"`
	TimedOut    uint64     `json:"timed_out"`
	Retried     uint64     `json:"retried"`
	RunAgain    uint64     `json:"run_again_after_lost_worker"`
	Resumed     uint64     `json:"in_joblog_already"`
	PerSecond   float64    `json:"tasks_per_second"`
	StdoutBytes uint64     `json:"stdout_bytes"`
	StderrBytes uint64     `json:"stderr_bytes"`
	ManagerCPU  float64    `json:"manager_cpu_seconds_per_task"`
	Slowest     []slowJSON `json:"slowest"`
	Stopped     string     `json:"stopped_early,omitempty"`
}

type slowJSON struct {
	Task    uint64  `json:"task"`
	Seconds float64 `json:"seconds"`
	Host    string  `json:"host"`
	Status  string  `json:"status"`
	Command string  `json:"command"`
}

func (a *account) statsJSON(st rank.Stats) taskStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	ts := taskStats{Tasks: a.written, Succeeded: a.succeeded, Failed: a.failed, TimedOut: a.timedOut, Retried: a.retried,
		RunAgain: a.rerun, Resumed: a.resumed, PerSecond: perSecond(a.written, st.Wall), StdoutBytes: a.outBytes,
		StderrBytes: a.errBytes, Slowest: []slowJSON{}, Stopped: a.stopped}
	if a.written > 0 {
		ts.ManagerCPU = st.ManagerCPU.Seconds() / float64(a.written)
	}
	for _, s := range a.slowest {
		ts.Slowest = append(ts.Slowest, slowJSON{Task: s.seq, Seconds: s.runtime.Seconds(), Host: s.host, Status: s.exit, Command: s.cmd})
	}
	return ts
}

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
