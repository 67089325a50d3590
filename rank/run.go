package rank

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/mw-hpc/mw/launch"
)

// stopTimeout bounds how long the manager waits for the workers to acknowledge a stop (a
// variable for tests).
var stopTimeout = 30 * time.Second

// Run runs job on this rank: the manager on rank 0, a worker on every other rank, or both
// in one process when the transport has a single rank. On the manager it returns the run's
// Stats and the job's error (nil on success); on a worker it returns nil once the manager
// stops it (also after the worker gave up and told the manager why, which the manager
// reports), or an error: the transport failed, or the context was cancelled.
func Run(ctx context.Context, t Transport, job Job, cfg Config) (Stats, error) {
	if err := cfg.validate(); err != nil {
		return Stats{}, err
	}
	if job.Name == "" {
		job.Name = "job"
	}
	switch {
	case t.Size() == 1:
		return runAlone(ctx, t, job, cfg)
	case t.Rank() == 0:
		return runManager(ctx, t, job, cfg)
	default:
		ctx, stop := outlive(ctx, workerGrace)
		defer stop()
		return Stats{}, runWorker(ctx, t, job, cfg)
	}
}

// parentCheck is how often a single rank started by a launcher checks that it is still
// there.
const parentCheck = 250 * time.Millisecond

// workerGrace is how long a worker rank outlives its cancelled context: a signal (Ctrl-C,
// scancel's SIGTERM) reaches every rank of a job at once, and a worker that quit at once
// printed an error of its own and left the manager waiting for the acknowledgement of its
// stop (stopTimeout, unless the launcher killed it first); within the grace the manager's
// stop arrives and ends the worker cleanly, and only rank 0 says why the job ended.
const workerGrace = 2 * time.Second

// outlive returns a context cancelled grace after ctx is (and when stop is called).
func outlive(ctx context.Context, grace time.Duration) (context.Context, func()) {
	later, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopWatch := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return later, func() { stopWatch(); cancel() }
}

func (c Config) validate() error {
	if c.Window < 1 {
		return fmt.Errorf("window %d: must be at least 1", c.Window)
	}
	if c.Threads < 0 || c.Threads > MaxThreads {
		return fmt.Errorf("threads %d: must be 0 (automatic) to %d", c.Threads, MaxThreads)
	}
	if err := checkInFlight(max(c.Threads, 1), c.Window, ""); err != nil {
		return err
	}
	if c.WakeWithin < 0 {
		return fmt.Errorf("wake within %v: must not be negative", c.WakeWithin)
	}
	if c.Retries < 0 || c.Retries > MaxAttempt {
		return fmt.Errorf("retries %d: must be between 0 and %d", c.Retries, MaxAttempt)
	}
	if c.WorkerTimeout < 0 {
		return fmt.Errorf("worker timeout %v: must not be negative", c.WorkerTimeout)
	}
	if c.CrashLimit < 0 || c.CrashLimit > MaxCrashLimit {
		return fmt.Errorf("crash limit %d: must be between 0 (none) and %d", c.CrashLimit, MaxCrashLimit)
	}
	return nil
}

// heartbeats returns how long a rank may go unheard before it is taken for lost, and how
// often a rank sends a heartbeat to a peer it has sent nothing else.
func (c Config) heartbeats() (timeout, every time.Duration) {
	timeout = c.WorkerTimeout
	if timeout == 0 {
		timeout = DefaultWorkerTimeout
	}
	return timeout, timeout / 3
}

// checkInFlight refuses more chunks in flight at one worker rank than MaxInFlight: threads
// (how they were chosen: "" when given) x window.
func checkInFlight(threads, window int, chosen string) error {
	if window > MaxInFlight/threads {
		return fmt.Errorf("window %d: %d threads%s x %d chunks in flight are more than the %d a worker rank may hold", window, threads, chosen, window, MaxInFlight)
	}
	return nil
}

// autoThreadsNote says how checkInFlight's threads were chosen when Config.Threads is 0.
const autoThreadsNote = " (the rank's share of its node's CPUs)"

// runAlone is the -np 1 case: the manager and one worker run in this process over an
// in-process network that shares buffers instead of copying them, so the same code computes
// the same bytes as a multi-rank run.
func runAlone(ctx context.Context, t Transport, job Job, cfg Config) (Stats, error) {
	net := NewInprocNet(2)
	net.share = true
	net.hosts[0], net.hosts[1] = t.Host(), t.Host()
	if cfg.Threads == 0 {
		cfg.Threads = runtime.NumCPU()
		if err := checkInFlight(cfg.Threads, cfg.Window, autoThreadsNote); err != nil {
			return Stats{}, err
		}
	}
	cfg.alone = true
	var gone error
	if s, ok := t.(solo); ok && s.launcher > 1 {
		var stop func()
		ctx, stop, gone = watchLauncher(ctx, s.launcher)
		defer stop()
	}
	// The worker ends when the manager stops it, as a worker rank does: were it cancelled
	// with ctx (a signal, a gone launcher), the manager would wait stopTimeout for its
	// acknowledgement.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	werr := make(chan error, 1)
	go func() { werr <- runWorker(wctx, net.Rank(1), job, cfg) }()
	st, err := runManager(ctx, net.Rank(0), job, cfg)
	st.Alone = true
	cancel()
	if e := <-werr; err == nil && e != nil && e != context.Canceled {
		err = e
	}
	if err != nil && gone != nil && context.Cause(ctx) == gone {
		err = gone
	}
	return st, err
}

// LauncherGone is the error of a rank whose launcher (mpirun, orted, slurmstepd), the
// process with pid, is gone: an MPI rank's (its transport checks) or a single rank's.
func LauncherGone(pid int) error {
	return fmt.Errorf("the launcher (pid %d) is gone; this rank stops", pid)
}

// watchLauncher returns a context that is cancelled, with cause gone, once this process's
// parent is no longer launcher (checked every parentCheck, as MPI ranks check theirs): an
// orphan would run on unseen, and could write an output another run is resuming. stop
// ends the watch.
func watchLauncher(ctx context.Context, launcher int) (_ context.Context, stop func(), gone error) {
	gone = LauncherGone(launcher)
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(parentCheck)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if os.Getppid() != launcher {
					cancel(gone)
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }, gone
}

// autoThreads is the rank's share of its node's CPUs: the CPUs divided by the worker ranks
// on the node, as the launcher reports them (the manager's rank, mostly idle, not counted).
func autoThreads(rank int) int {
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

// RunInProcess runs job on a manager and the given number of worker ranks, all goroutines
// of this process joined by an in-process network: for tests, examples and trying a job
// without mpirun. It returns the manager's Stats and error, or the first worker error.
func RunInProcess(ctx context.Context, workers int, job Job, cfg Config) (Stats, error) {
	if workers < 1 {
		return Stats{}, fmt.Errorf("workers %d: must be at least 1", workers)
	}
	net := NewInprocNet(workers + 1)
	errs := make([]error, workers+1) // by rank
	var wg sync.WaitGroup
	for r := 1; r <= workers; r++ {
		wg.Go(func() { _, errs[r] = Run(ctx, net.Rank(r), job, cfg) })
	}
	st, err := Run(ctx, net.Rank(0), job, cfg)
	wg.Wait()
	for r, werr := range errs {
		if err == nil && werr != nil {
			err = fmt.Errorf("rank %d: %w", r, werr)
		}
	}
	return st, err
}
