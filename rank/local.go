package rank

import (
	"context"
	"runtime"
)

// localWorker is a worker that rank 0 runs itself once every worker rank is lost, as a run
// of one rank does: the manager's peer rank size, joined by an in-process network (its
// rank 1 is the worker; frames between them are shared, not copied). Its owner loop runs on
// a goroutine of its own. The manager's owner loop sends and receives its frames (send,
// recv) beside the transport's; its Wait wakes when the worker sends.
type localWorker struct {
	net    *InprocNet
	rank   int // its rank for the manager
	done   chan struct{}
	cancel context.CancelFunc
}

// startLocal starts rank 0's own worker for l's run, with the job's setup handed over
// directly (the manager announced a setup of no bytes to it).
func startLocal(l *managerLoop) *localWorker {
	net := NewInprocNet(2)
	net.share = true
	net.hosts[0], net.hosts[1] = l.t.Host(), l.t.Host()
	net.ranks[0].wakeAlso = l.t.Wake
	job := l.job
	setup := l.m.plan.Setup
	newWorker := job.NewWorker
	job.NewWorker = func([]byte) (Worker, error) { return newWorker(setup) }
	cfg := l.m.cfg
	if cfg.Threads == 0 {
		cfg.Threads = runtime.NumCPU()
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(l.ctx))
	w := &localWorker{net: net, rank: l.m.size, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(w.done)
		_ = runWorker(ctx, net.Rank(1), job, cfg) // its failures reach the manager as records
	}()
	return w
}

// send gives the worker a frame.
func (w *localWorker) send(f []byte) {
	if w != nil {
		_ = w.net.ranks[0].Send(1, f)
	}
}

// recv takes a frame the worker sent, if any.
func (w *localWorker) recv() (from int, f []byte, ok bool) {
	if w == nil {
		return 0, nil, false
	}
	_, f, ok, _ = w.net.ranks[0].Recv()
	return w.rank, f, ok
}

// stop ends the worker (it has acknowledged the manager's stop, or the run failed) and
// waits for its owner loop.
func (w *localWorker) stop() {
	if w == nil {
		return
	}
	w.cancel()
	w.net.ranks[1].Wake()
	<-w.done
}
