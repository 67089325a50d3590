package rank

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// errAborted ends a worker whose manager failed before any work; the manager reports why.
var errAborted = errors.New("manager aborted the job")

// maxSetup bounds the setup a worker accepts (16 GiB): a larger announced length is a
// corrupt message, not a reason to allocate.
const maxSetup = 16 << 30

// workerRank is one worker rank's state: a receive loop on the calling goroutine and
// threads computing goroutines fed by a bounded queue.
type workerRank struct {
	t       Transport
	cfg     Config
	threads int
	queue   chan Chunk

	mu      sync.RWMutex // held for writing to stop; for reading around each result send
	stopped bool
	held    map[uint64]bool // chunks received and not yet answered
	heldMu  sync.Mutex
}

func runWorker(ctx context.Context, t Transport, job Job, cfg Config) error {
	setup, err := awaitSetup(ctx, t)
	if err == errAborted {
		return nil
	}
	if err != nil {
		return err
	}
	threads := cfg.Threads
	if threads == 0 {
		threads = autoThreads(t.Rank())
	}
	w := &workerRank{t: t, cfg: cfg, threads: threads, queue: make(chan Chunk, threads*cfg.Window), held: map[uint64]bool{}}
	fn, err := job.NewWorker(setup)
	if err != nil {
		// Tell the manager, which reports it and stops us.
		why := []byte(t.Host() + "\x00" + err.Error())
		if e := t.Send(ctx, 0, Msg{Kind: KindError, Data: why}); e != nil {
			return fmt.Errorf("start: %v (and telling the manager failed: %v)", err, e)
		}
		return w.awaitStop(ctx)
	}
	ready := make([]byte, 4, 4+len(t.Host()))
	binary.LittleEndian.PutUint32(ready, uint32(threads))
	ready = append(ready, t.Host()...)
	if err := t.Send(ctx, 0, Msg{Kind: KindReady, Data: ready}); err != nil {
		return fmt.Errorf("announce ready: %w", err)
	}
	if cfg.Mode == Pull {
		for i := 0; i < threads*cfg.Window; i++ {
			if err := t.Send(ctx, 0, Msg{Kind: KindAsk}); err != nil {
				return fmt.Errorf("ask for work: %w", err)
			}
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(thread int) {
			defer wg.Done()
			w.compute(cctx, fn, thread)
		}(i)
	}
	err = w.receive(ctx, cancel)
	close(w.queue)
	if err != nil {
		return err
	}
	// Computations still running were abandoned (their context is cancelled); we do not
	// wait for them: a pure Go computation cannot be interrupted, and its result is dropped.
	return nil
}

// awaitSetup waits for the manager's first message: the setup (fetched with a collective
// broadcast when it is not empty) or an abort.
func awaitSetup(ctx context.Context, t Transport) ([]byte, error) {
	m, err := t.Recv(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait for setup: %w", err)
	}
	switch {
	case m.From != 0:
		return nil, fmt.Errorf("wait for setup: unexpected %s message from rank %d", m.Kind, m.From)
	case m.Kind == KindAbort || m.Kind == KindStop:
		return nil, errAborted
	case m.Kind != KindSetup || len(m.Data) != 8:
		return nil, fmt.Errorf("wait for setup: unexpected %s message from the manager (%d bytes)", m.Kind, len(m.Data))
	}
	n := binary.LittleEndian.Uint64(m.Data)
	if n == 0 {
		return nil, nil
	}
	if n > maxSetup {
		return nil, fmt.Errorf("wait for setup: announced %d bytes, more than the %d limit", n, uint64(maxSetup))
	}
	setup := make([]byte, n)
	if err := t.Broadcast(ctx, 0, setup); err != nil {
		return nil, fmt.Errorf("receive setup: %w", err)
	}
	return setup, nil
}

// receive queues tasks until the manager says stop. Every message is checked before use.
func (w *workerRank) receive(ctx context.Context, cancel context.CancelFunc) error {
	for {
		m, err := w.t.Recv(ctx)
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if m.From != 0 {
			return fmt.Errorf("unexpected %s message from rank %d (only the manager sends to workers)", m.Kind, m.From)
		}
		switch m.Kind {
		case KindStop:
			cancel()
			w.mu.Lock()
			w.stopped = true
			w.mu.Unlock()
			// Every result sent before this point precedes the acknowledgement.
			if err := w.t.Send(context.WithoutCancel(ctx), 0, Msg{Kind: KindStop}); err != nil {
				return fmt.Errorf("acknowledge stop: %w", err)
			}
			return nil
		case KindTask:
			w.heldMu.Lock()
			dup := w.held[m.Seq]
			w.held[m.Seq] = true
			w.heldMu.Unlock()
			if dup {
				return fmt.Errorf("manager sent chunk %d twice", m.Seq)
			}
			select {
			case w.queue <- Chunk{Seq: m.Seq, Data: m.Data, Attempt: m.Attempt}:
			default:
				return fmt.Errorf("manager sent chunk %d beyond the window of %d", m.Seq, cap(w.queue))
			}
		default:
			return fmt.Errorf("unexpected %s message from the manager (chunk %d)", m.Kind, m.Seq)
		}
	}
}

// awaitStop waits for the manager's stop after a failed start, dropping anything else.
func (w *workerRank) awaitStop(ctx context.Context) error {
	for {
		m, err := w.t.Recv(ctx)
		if err != nil {
			return fmt.Errorf("wait for stop: %w", err)
		}
		if m.From == 0 && m.Kind == KindStop {
			return w.t.Send(ctx, 0, Msg{Kind: KindStop})
		}
	}
}

// compute runs chunks from the queue until it is closed, sending each result or error.
func (w *workerRank) compute(ctx context.Context, fn Worker, thread int) {
	for c := range w.queue {
		start := time.Now()
		out, err := call(ctx, fn, c)
		m := Msg{Kind: KindResult, Seq: c.Seq, Data: out, Work: time.Since(start), Thread: thread}
		if err != nil {
			m = Msg{Kind: KindError, Seq: c.Seq, Data: []byte(err.Error())}
		}
		w.heldMu.Lock()
		delete(w.held, c.Seq)
		w.heldMu.Unlock()
		w.mu.RLock()
		if !w.stopped {
			// An error here means the transport failed; the receive loop sees it too.
			_ = w.t.Send(ctx, 0, m)
			if w.cfg.Mode == Pull {
				_ = w.t.Send(ctx, 0, Msg{Kind: KindAsk})
			}
		}
		w.mu.RUnlock()
	}
}

// call runs fn on c, turning a panic into an error that says where it happened.
func call(ctx context.Context, fn Worker, c Chunk) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v [%s]", r, panicSite(debug.Stack()))
		}
	}()
	return fn(ctx, c)
}

// panicSite picks the first frame of a panic's stack that is not the runtime's or ours.
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i := 0; i+1 < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "panic(") || strings.HasPrefix(l, "runtime/debug.") ||
			strings.HasPrefix(l, "runtime.") || strings.Contains(l, "/rank.call") || strings.HasPrefix(l, "goroutine ") {
			continue
		}
		if strings.HasPrefix(lines[i+1], "\t") {
			loc := strings.TrimSpace(lines[i+1])
			if j := strings.LastIndex(loc, " +0x"); j > 0 {
				loc = loc[:j]
			}
			return stripArgs(strings.TrimSpace(l)) + " at " + loc
		}
	}
	return "unknown site"
}

// stripArgs drops the argument list "(...)" that ends a stack frame's function line.
func stripArgs(fn string) string {
	if !strings.HasSuffix(fn, ")") {
		return fn
	}
	depth := 0
	for i := len(fn) - 1; i >= 0; i-- {
		switch fn[i] {
		case ')':
			depth++
		case '(':
			if depth--; depth == 0 {
				return fn[:i]
			}
		}
	}
	return fn
}
