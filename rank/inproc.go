package rank

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// InprocNet is an in-process network of ranks joined by channels: the transport of unit
// tests, of fault injection and of simulations with many workers. Messages are copied on
// Send, as a real network would, so no two ranks share a buffer.
//
// Faults are methods on the network, not on the Transport interface: Kill, SetDelay,
// Duplicate and Inject. They are safe to call while the ranks run.
type InprocNet struct {
	boxes  []chan Msg
	bcasts []chan []byte
	intr   []chan struct{} // a pending Interrupt of each rank's Recv
	hosts  []string

	share bool // Send passes buffers without copying (the single-process run)

	mu        sync.Mutex
	dead      error         // set by Kill: every later call on every rank fails with it
	deadCh    chan struct{} // closed by Kill
	delay     []time.Duration
	duplicate []bool
}

// NewInprocNet returns a network of size ranks whose mailboxes hold up to depth messages
// each (a full mailbox blocks the sender, as a slow receiver would).
func NewInprocNet(size, depth int) *InprocNet {
	if depth < 1 {
		depth = 1
	}
	n := &InprocNet{
		boxes:     make([]chan Msg, size),
		bcasts:    make([]chan []byte, size),
		intr:      make([]chan struct{}, size),
		hosts:     make([]string, size),
		deadCh:    make(chan struct{}),
		delay:     make([]time.Duration, size),
		duplicate: make([]bool, size),
	}
	for i := range n.boxes {
		n.boxes[i] = make(chan Msg, depth)
		n.bcasts[i] = make(chan []byte, 1)
		n.intr[i] = make(chan struct{}, 1)
		n.hosts[i] = "inproc"
	}
	return n
}

// Rank returns rank r's endpoint of the network.
func (n *InprocNet) Rank(r int) Transport { return &inproc{net: n, rank: r} }

// Kill simulates the death of rank r as mpirun sees it: the whole job ends, so every
// pending and later call on every rank fails with an error naming r.
func (n *InprocNet) Kill(r int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dead == nil {
		n.dead = fmt.Errorf("rank %d died", r)
		close(n.deadCh)
	}
}

// SetDelay makes every message sent by rank r arrive d later (the sender does not wait).
func (n *InprocNet) SetDelay(r int, d time.Duration) {
	n.mu.Lock()
	n.delay[r] = d
	n.mu.Unlock()
}

// Duplicate makes every message sent by rank r arrive twice.
func (n *InprocNet) Duplicate(r int, on bool) {
	n.mu.Lock()
	n.duplicate[r] = on
	n.mu.Unlock()
}

// Inject delivers m to rank to as if rank m.From had sent it, bypassing every check.
func (n *InprocNet) Inject(to int, m Msg) { n.boxes[to] <- m }

func (n *InprocNet) fault(r int) (error, time.Duration, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dead, n.delay[r], n.duplicate[r]
}

type inproc struct {
	net    *InprocNet
	rank   int
	mu     sync.Mutex
	closed bool
}

var _ Transport = (*inproc)(nil)

func (t *inproc) Rank() int    { return t.rank }
func (t *inproc) Size() int    { return len(t.net.boxes) }
func (t *inproc) Host() string { return t.net.hosts[t.rank] }

func (t *inproc) check() error {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if dead, _, _ := t.net.fault(t.rank); dead != nil {
		return dead
	}
	return nil
}

func (t *inproc) Send(ctx context.Context, to int, m Msg) error {
	if err := t.check(); err != nil {
		return err
	}
	if to < 0 || to >= t.Size() {
		return fmt.Errorf("send to rank %d: no such rank (size %d)", to, t.Size())
	}
	_, delay, dup := t.net.fault(t.rank)
	m.From = t.rank
	if !t.net.share {
		m.Data = append([]byte(nil), m.Data...)
	}
	copies := 1
	if dup {
		copies = 2
	}
	if delay > 0 {
		// Deliver later without blocking the sender; order between delayed messages of
		// one sender is kept only up to timer resolution, as on a real network with
		// several paths.
		time.AfterFunc(delay, func() { _ = t.deliver(ctx, to, m, copies) })
		return nil
	}
	return t.deliver(ctx, to, m, copies)
}

func (t *inproc) deliver(ctx context.Context, to int, m Msg, copies int) error {
	for i := 0; i < copies; i++ {
		select {
		case t.net.boxes[to] <- m:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.net.deadCh:
			return t.check()
		}
	}
	return nil
}

func (t *inproc) Recv(ctx context.Context) (Msg, error) {
	if err := t.check(); err != nil {
		return Msg{}, err
	}
	select {
	case m := <-t.net.boxes[t.rank]:
		return m, nil
	case <-t.net.intr[t.rank]:
		return Msg{}, errInterrupted
	case <-ctx.Done():
		return Msg{}, ctx.Err()
	case <-t.net.deadCh:
		return Msg{}, t.check()
	}
}

// Interrupt implements interrupter.
func (t *inproc) Interrupt() {
	select {
	case t.net.intr[t.rank] <- struct{}{}:
	default: // one is pending already
	}
}

func (t *inproc) Broadcast(ctx context.Context, root int, data []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	if t.rank == root {
		for r := range t.net.bcasts {
			if r == root {
				continue
			}
			select {
			case t.net.bcasts[r] <- append([]byte(nil), data...):
			case <-ctx.Done():
				return ctx.Err()
			case <-t.net.deadCh:
				return t.check()
			}
		}
		return nil
	}
	select {
	case b := <-t.net.bcasts[t.rank]:
		if len(b) != len(data) {
			return fmt.Errorf("broadcast: root sent %d bytes, rank %d expected %d", len(b), t.rank, len(data))
		}
		copy(data, b)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.net.deadCh:
		return t.check()
	}
}

func (t *inproc) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	return nil
}
