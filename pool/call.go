package pool

import (
	"context"
	"sync/atomic"

	"github.com/mw-hpc/mw/rank"
)

// call is one collective call under way on this rank: across the ranks of the job (w),
// or, with InProcess, on goroutines of this process (w nil).
type call struct {
	w       *world
	s       settings // rank 0's (a worker took them from rank 0's announcement)
	release func()
	workers atomic.Int32 // in process: the workers named so far
}

// startCall starts the collective call name at pos with settings s: it joins the world,
// takes it for this call, and agrees with the other ranks that they all make it. On error
// (the same on every rank but for a call that finds another running on its rank) nothing
// is held.
func startCall(ctx context.Context, name string, pos position, s settings) (*call, error) {
	if s.workers > 0 {
		return &call{s: s, release: func() {}}, nil
	}
	w, err := joinWorld(name)
	if err != nil {
		return nil, err
	}
	release, err := w.acquire(name)
	if err != nil {
		return nil, err
	}
	payload, err := w.enter(ctx, pos, s.wireSettings())
	if err == nil && w.t.Rank() != 0 {
		err = s.takeWire(payload)
	}
	if err != nil {
		release()
		return nil, err
	}
	return &call{w: w, s: s, release: release}, nil
}

// manager reports whether this rank is the call's manager, where its input is read and
// its results come back.
func (c *call) manager() bool { return c.w == nil || c.w.t.Rank() == 0 }

// run runs job on the engine, then ends the call with every rank: rank 0's outcome is
// every rank's.
func (c *call) run(ctx context.Context, job rank.Job) (rank.Stats, error) {
	st, err := c.engine(ctx, job)
	return st, c.end(ctx, err)
}

// engine runs job on the engine alone.
func (c *call) engine(ctx context.Context, job rank.Job) (rank.Stats, error) {
	if c.w == nil {
		return rank.RunInProcess(ctx, c.s.workers, job, c.s.cfg)
	}
	st, err := rank.Run(ctx, c.w.t, job, c.s.cfg)
	if c.w.t.Rank() == 0 {
		c.w.lose(st.Lost)
	}
	return st, err
}

// end ends the call with every rank: rank 0 gives its outcome, err, which a worker
// returns (see world.leave).
func (c *call) end(ctx context.Context, err error) error {
	if c.w == nil {
		return err
	}
	return c.w.leave(ctx, err)
}

// finish ends the call: the world is free for the next.
func (c *call) finish() { c.release() }

// name returns how a worker of this call names itself in its errors: its rank and host
// under MPI; its number in process; nothing when one process runs the job alone. Each
// computing rank calls it once (from the job's NewWorker).
func (c *call) name() (int, string) {
	switch {
	case c.w == nil:
		return int(c.workers.Add(1)), ""
	case c.w.alone():
		return 0, ""
	}
	return c.w.t.Rank(), c.w.t.Host()
}
