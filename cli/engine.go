package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mw-hpc/mw/rank"
)

// EngineFlags are the engine's flags, spelled the same in every workload.
type EngineFlags struct {
	Mode      string
	Backups   bool
	Window    int
	Threads   int
	Retries   int
	Stats     string
	Quiet     bool
	KeepGoing bool
	Trace     string
	Journal   string
	Resume    bool
	// Lost workers: how long a rank may go unheard, what a loss does, and how many lost
	// workers one chunk may take with it.
	WorkerTimeout time.Duration
	LostWorkers   string
	CrashLimit    int
	// Unordered is set by workloads that offer it (exec --unordered); no flag here.
	Unordered bool
	// WakeWithin is rank.Config's, set by workloads that need it (interp --fps).
	WakeWithin time.Duration
	// Status is the --status file, replaced every StatusEvery while the job runs.
	Status      string
	StatusEvery time.Duration
	// Report is the workload's own account of the run, set by the workload before RunJob.
	Report Report

	fs  *flag.FlagSet
	out *Output  // the output made by CreateOutput, committed or aborted by RunJob
	jrn *journal // the open journal on the manager
}

// AddEngineFlags registers the engine's flags on fs and returns where they land.
func AddEngineFlags(fs *flag.FlagSet) *EngineFlags {
	ef := &EngineFlags{fs: fs}
	def := rank.DefaultConfig()
	fs.IntVar(&ef.Window, "window", def.Window, "chunks in flight per worker thread")
	fs.StringVar(&ef.Mode, "mode", "push", "push: the manager keeps every worker's window full; pull: workers ask for chunks")
	fs.BoolVar(&ef.Backups, "backups", def.Backups, "give idle workers copies of straggling chunks when no new chunk can be issued (first result wins); --backups=false turns it off")
	fs.IntVar(&ef.Threads, "threads", 0, "threads computing chunks on each worker rank (0: the rank's share of the node's CPUs)")
	fs.IntVar(&ef.Retries, "retries", 0, "re-issue a chunk whose worker fails up to `N` times, on other workers")
	fs.StringVar(&ef.Stats, "stats", "", "write the run report as JSON to `FILE` (- for stdout)")
	fs.BoolVar(&ef.Quiet, "quiet", false, "print no progress and no run report")
	fs.StringVar(&ef.Trace, "trace", "", "write the run's timeline to `FILE` (Chrome Trace Event JSON: open in Perfetto or chrome://tracing)")
	fs.BoolVar(&ef.KeepGoing, "keep-going", false, "a chunk that fails every try is reported and left out; the rest finishes (exit 1)")
	fs.StringVar(&ef.Journal, "journal", "", "record progress in `FILE` as the output advances, for --resume")
	fs.BoolVar(&ef.Resume, "resume", false, "continue the run recorded in --journal (start afresh if it does not exist)")
	fs.DurationVar(&ef.WorkerTimeout, "worker-timeout", rank.DefaultWorkerTimeout, "take a worker rank unheard for `DURATION` for lost (its chunks run elsewhere); every rank must get the same value")
	fs.StringVar(&ef.LostWorkers, "lost-workers", "continue", "a lost worker: continue without it (its chunks run elsewhere), or fail the job")
	fs.IntVar(&ef.CrashLimit, "crash-limit", rank.DefaultCrashLimit, "fail a chunk that `N` lost workers held (0: no limit)")
	fs.StringVar(&ef.Status, "status", "", "keep the run's live status in `FILE` (JSON, replaced whole; read it with mw status FILE)")
	fs.DurationVar(&ef.StatusEvery, "status-every", DefaultStatusEvery, "replace the --status file this often (`DURATION`)")
	return ef
}

// Validate checks the engine flags' values, and that no two of files (the workload's own
// inputs and outputs), --journal, --stats and --trace name the same file.
func (ef *EngineFlags) Validate(files ...File) error {
	if ef.Window < 1 {
		return Usagef("--window %d: must be at least 1", ef.Window)
	}
	if ef.Threads < 0 || ef.Threads > rank.MaxThreads {
		return Usagef("--threads %d: must be 0 (automatic) to %d", ef.Threads, rank.MaxThreads)
	}
	if ef.Window > rank.MaxInFlight/max(ef.Threads, 1) {
		return Usagef("--window %d: %d threads x %d chunks in flight are more than the %d a worker rank may hold", ef.Window, max(ef.Threads, 1), ef.Window, rank.MaxInFlight)
	}
	if ef.Retries < 0 || ef.Retries > rank.MaxAttempt {
		return Usagef("--retries %d: must be between 0 and %d", ef.Retries, rank.MaxAttempt)
	}
	if _, err := rank.ParseMode(ef.Mode); err != nil {
		return Usagef("--mode %q: %v", ef.Mode, err)
	}
	if ef.WorkerTimeout < time.Millisecond {
		return Usagef("--worker-timeout %v: must be at least 1ms", ef.WorkerTimeout)
	}
	if ef.LostWorkers != "continue" && ef.LostWorkers != "fail" {
		return Usagef("--lost-workers %q: must be continue or fail", ef.LostWorkers)
	}
	if ef.CrashLimit < 0 || ef.CrashLimit > rank.MaxCrashLimit {
		return Usagef("--crash-limit %d: must be between 0 (none) and %d", ef.CrashLimit, rank.MaxCrashLimit)
	}
	if ef.StatusEvery < 10*time.Millisecond {
		return Usagef("--status-every %v: must be at least 10ms", ef.StatusEvery)
	}
	if ef.Status == "-" {
		return Usagef("--status -: give a file name (the status is replaced every %v)", ef.StatusEvery)
	}
	if ef.Resume && ef.Journal == "" {
		return Usagef("--resume needs --journal FILE: the journal says where to resume")
	}
	if ef.Journal != "" && ef.Unordered {
		return Usagef("--journal needs ordered output: it records how far the ordered output got")
	}
	return checkDistinct(append(files, Out("--journal", ef.Journal), Out("--stats", ef.Stats), Out("--trace", ef.Trace), Out("--status", ef.Status)))
}

// ChunkSize is a --chunk value: a number of items, or auto.
type ChunkSize struct {
	Auto bool
	N    int
}

// String implements flag.Value.
func (c *ChunkSize) String() string {
	if c.Auto {
		return "auto"
	}
	return strconv.Itoa(c.N)
}

// Set implements flag.Value.
func (c *ChunkSize) Set(s string) error {
	if s == "auto" {
		*c = ChunkSize{Auto: true}
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("must be a whole number of items, at least 1, or auto")
	}
	*c = ChunkSize{N: n}
	return nil
}

// Or returns N, or def when the size is auto.
func (c ChunkSize) Or(def int) int {
	if c.Auto || c.N < 1 {
		return def
	}
	return c.N
}

// CreateOutput makes the job's output at path ("-" for stdout), as cli.CreateOutput does,
// and hands it to RunJob, which commits it when the job succeeds and aborts it when it
// fails. With --journal the output grows in a partial file that --resume continues.
// Call it from Job.Open (on the manager), at most once per run.
func (ef *EngineFlags) CreateOutput(path string, stdout io.Writer) (*Output, error) {
	var (
		out *Output
		err error
	)
	switch {
	case ef.Journal == "":
		out, err = CreateOutput(path, stdout)
	case path == "" || path == "-":
		return nil, Usagef("--journal needs an output file (-o FILE): stdout cannot be resumed")
	case !regularOrNew(path):
		return nil, Usagef("--journal needs an output file (-o FILE): %s is not a regular file, it cannot be resumed", path)
	default:
		path = followLinks(path) // as CreateOutput: a symbolic link's file gets the output
		var off, final int64 = 0, -1
		resume := ef.jrn != nil && ef.jrn.prior != nil
		if resume {
			_, off = ef.jrn.prior.next()
			if ef.jrn.prior.renaming {
				final = ef.jrn.prior.final()
			}
		}
		out, err = openPartial(path, resume, off, final)
	}
	ef.out = out
	return out, err
}

// errComplete ends a resumed run whose journal says the job already completed.
var errComplete = errors.New("already complete")

// journaled wraps a job's Open with the journal: it opens (or resumes) the journal before
// the workload opens its input and output, then wraps the plan's source and sink. A fresh
// journal is started (emptied) only once they are open: a refused output leaves an
// existing journal as it was.
func (ef *EngineFlags) journaled(name string, open func(context.Context) (*rank.Plan, error)) func(context.Context) (*rank.Plan, error) {
	return func(ctx context.Context) (*rank.Plan, error) {
		j, err := openJournal(ef.Journal, name, journalKey(name, ef.fs), ef.Resume)
		if err != nil {
			return nil, err
		}
		ef.jrn = j
		if j.prior != nil && j.prior.done {
			return nil, errComplete
		}
		plan, err := open(ctx)
		if err == nil && j.prior == nil {
			err = j.start()
		}
		if err != nil {
			return nil, err
		}
		if ef.out == nil || ef.out.f == nil {
			return nil, errors.New("--journal: this workload's output cannot be journaled")
		}
		if _, live := plan.Source.(rank.LiveSource); live {
			return nil, errors.New("--journal: a real-time input cannot be resumed")
		}
		inner := plan.Source
		src := &journaledSource{src: inner, crcs: map[uint64]uint32{}, items: map[uint64]int{}}
		if j.prior != nil {
			src.skip = j.prior.records
			plan.First = uint64(len(j.prior.records)) // the chunks keep the job's numbers
			if plan.Total > 0 {
				plan.Total = max(0, plan.Total-int64(plan.First))
			}
		}
		plan.Source = src
		if sized, ok := inner.(rank.SizedSource); ok {
			src.sized = sized
			plan.Source = journaledSizedSource{src}
		}
		j.sink = &journaledSink{sink: plan.Sink, src: src, out: ef.out, j: j}
		plan.Sink = j.sink
		return plan, nil
	}
}

// RunJob starts the rank's transport and runs job on it with the engine flags. On rank 0 it
// returns the manager's error; on a worker it returns nil once the manager stops it, or the
// worker's own fatal error. The output made by ef.CreateOutput is committed on success (and
// on a --keep-going run with failed chunks) and aborted otherwise.
func RunJob(ctx context.Context, env *Env, job rank.Job, ef *EngineFlags) (rank.Stats, error) {
	t, err := env.Transport()
	if err != nil {
		return rank.Stats{}, err
	}
	cfg := rank.DefaultConfig()
	cfg.Window = ef.Window
	cfg.Threads = ef.Threads
	cfg.Retries = ef.Retries
	cfg.Mode, _ = rank.ParseMode(ef.Mode)
	cfg.Backups = ef.Backups
	cfg.Unordered = ef.Unordered
	cfg.KeepGoing = ef.KeepGoing
	cfg.WakeWithin = ef.WakeWithin
	cfg.WorkerTimeout = ef.WorkerTimeout
	cfg.FailOnLostWorker = ef.LostWorkers == "fail"
	cfg.CrashLimit = ef.CrashLimit
	if ef.Journal != "" {
		job.Open = ef.journaled(job.Name, job.Open)
	}
	var trace, stats *Output
	var status *statusWriter
	if t.Rank() == 0 {
		var fan progressFanout
		if !ef.Quiet {
			fan.add(progressFor(env.Stderr, job.Name))
		}
		// The report's files are made before any work, so that a bad path fails the job at
		// once. It fails through the manager's Open, which also ends the workers: returning
		// here would leave them waiting for the manager's first message.
		var ferr error
		if trace, stats, status, ferr = ef.createReports(env.Stdout, job.Name); ferr != nil {
			job.Open = func(context.Context) (*rank.Plan, error) { return nil, ferr }
		}
		if trace != nil {
			cfg.Trace = trace
		}
		if status != nil {
			fan.add(ef.StatusEvery, status.progress)
		}
		cfg.Progress, cfg.OnProgress = fan.config()
	}
	st, err := rank.Run(ctx, t, job, cfg)
	if t.Rank() != 0 {
		return st, err
	}
	err = ef.report(env, job.Name, st, err, trace, stats)
	if status != nil {
		if serr := status.finish(st, err); serr != nil && err == nil {
			err = serr
		}
	}
	return st, err
}

// report ends a run on the manager: it commits the trace and the output (or aborts them),
// prints the run report and writes --stats, and returns the run's error.
func (ef *EngineFlags) report(env *Env, name string, st rank.Stats, err error, trace, stats *Output) error {
	if trace != nil {
		if errors.Is(err, context.Canceled) && trace.pipe {
			trace.Drop() // a signal, and its reader may be gone: see Drop
		} else if terr := trace.Commit(); terr != nil && err == nil {
			// A failed run's timeline is the one most worth reading: kept either way.
			err = fmt.Errorf("trace: %w", terr)
		}
	}
	if errors.Is(err, errComplete) {
		if stats != nil {
			stats.Abort() // no run to report
		}
		ef.jrn.f.Close() // and its lock
		fmt.Fprintf(env.Stderr, "mw: %s: the job of the journal %s is complete: nothing to do\n", name, ef.Journal)
		return ef.withPriorGaps(nil)
	}
	err = ef.finish(ef.withPriorGaps(err))
	// A run that completed is reported, also when --keep-going left chunks out (exit 1).
	var partial *rank.PartialError
	if err != nil && !errors.As(err, &partial) {
		if stats != nil {
			stats.Abort()
		}
		return err
	}
	if !ef.Quiet {
		line := st.Summary(name)
		if ef.Report.Summary != nil {
			line = ef.Report.Summary(st)
		}
		fmt.Fprintln(env.Stderr, line)
	}
	if stats != nil {
		if serr := writeStats(stats, st, ef.Report); serr != nil {
			return fmt.Errorf("--stats %s: %w", ef.Stats, serr)
		}
	}
	return err
}

// createReports makes the --trace, --stats and --status files (nil when not asked for). On
// an error it makes none: those made are aborted.
func (ef *EngineFlags) createReports(stdout io.Writer, name string) (trace, stats *Output, status *statusWriter, err error) {
	if ef.Trace != "" {
		if trace, err = CreateOutput(ef.Trace, stdout); err != nil {
			return nil, nil, nil, fmt.Errorf("--trace %s: %w", ef.Trace, err)
		}
	}
	if ef.Stats != "" {
		if stats, err = CreateOutput(ef.Stats, stdout); err != nil {
			err = fmt.Errorf("--stats %s: %w", ef.Stats, err)
		}
	}
	if ef.Status != "" && err == nil {
		status, err = newStatusWriter(ef.Status, name, ef.StatusEvery, ef.Report)
	}
	if err != nil {
		for _, o := range []*Output{trace, stats} {
			if o != nil {
				o.Abort()
			}
		}
		return nil, nil, nil, err
	}
	return trace, stats, status, nil
}

// withPriorGaps gives a resumed run's result the chunks that the runs it continues left
// out (--keep-going), which its output lacks too.
func (ef *EngineFlags) withPriorGaps(err error) error {
	if ef.jrn == nil || ef.jrn.prior == nil {
		return err
	}
	var gaps []rank.FailedChunk
	for _, r := range ef.jrn.prior.records {
		if r.left {
			gaps = append(gaps, rank.FailedChunk{Seq: r.seq, Who: "an earlier run", Cause: "left out (see the journal)"})
		}
	}
	var pe *rank.PartialError
	if errors.As(err, &pe) {
		pe.Failed = append(gaps, pe.Failed...)
		return err
	}
	if err == nil && len(gaps) > 0 {
		return &rank.PartialError{Failed: gaps}
	}
	return err
}

// finish commits or aborts the output and closes the journal, after recording the end.
func (ef *EngineFlags) finish(err error) error {
	var partial *rank.PartialError
	if ef.out != nil {
		var next uint64
		var off int64
		if ef.jrn != nil && (err == nil || errors.As(err, &partial)) {
			next, _ = ef.jrn.prior.nextOrZero()
			if s, ok := ef.lastWritten(); ok {
				next = s + 1
			}
			var oerr error
			if off, oerr = ef.out.Offset(); oerr == nil {
				// Before the rename: a resume that finds no partial file then knows the
				// output it finds was complete (openPartial).
				oerr = ef.jrn.write("r %d\n", off)
			}
			if oerr != nil {
				err = oerr
			}
		}
		if err == nil || errors.As(err, &partial) {
			if cerr := ef.out.Commit(); cerr != nil {
				err = cerr
			}
		} else if errors.Is(err, context.Canceled) {
			ef.out.Drop() // a signal: see Drop
		} else {
			ef.out.Abort()
		}
		// The journal says done only once the output has its name: a kill in between leaves
		// a journal without done and a complete output, which a resume recognises.
		if err == nil && ef.jrn != nil {
			err = ef.jrn.write("done %d %d\n", next, off)
		}
	}
	if ef.jrn != nil {
		ef.jrn.f.Close()
	}
	return err
}
