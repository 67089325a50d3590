package rank

import (
	"fmt"
	"sync"
	"time"

	"github.com/mw-hpc/mw/internal/frame"
)

// InprocNet is an in-process network of ranks: the transport of tests, of fault injection
// and of a job run without mpirun (RunInProcess, and a world of one). Frames are copied on
// Send, as a real network would, so no two ranks share a buffer.
//
// Faults are methods on the network, not on the Transport interface: Kill, SetDelay and
// Duplicate. They are safe to call while the ranks run.
type InprocNet struct {
	ranks  []*inproc
	bcasts []chan []byte
	hosts  []string
	share  bool // Send passes frames without copying (the single-process run)

	mu        sync.Mutex
	dead      error         // set by Kill: every later call on every rank fails with it
	deadCh    chan struct{} // closed by Kill
	delay     []time.Duration
	duplicate []bool
}

// NewInprocNet returns a network of size ranks.
func NewInprocNet(size int) *InprocNet {
	n := &InprocNet{
		ranks:     make([]*inproc, size),
		bcasts:    make([]chan []byte, size),
		hosts:     make([]string, size),
		deadCh:    make(chan struct{}),
		delay:     make([]time.Duration, size),
		duplicate: make([]bool, size),
	}
	for i := range n.ranks {
		n.ranks[i] = &inproc{net: n, rank: i, wake: make(chan struct{}, 1)}
		n.bcasts[i] = make(chan []byte, 1)
		n.hosts[i] = "inproc"
	}
	return n
}

// Size is the number of ranks of the network.
func (n *InprocNet) Size() int { return len(n.ranks) }

// Rank returns rank r's endpoint of the network.
func (n *InprocNet) Rank(r int) Transport { return n.ranks[r] }

// Kill simulates the death of rank r as mpirun sees it: the whole job ends, so every
// pending and later call on every rank fails with an error naming r.
func (n *InprocNet) Kill(r int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dead == nil {
		n.dead = fmt.Errorf("rank %d died", r)
		close(n.deadCh)
		for _, p := range n.ranks {
			p.Wake()
		}
	}
}

// SetDelay makes every frame sent by rank r arrive d later (the sender does not wait).
func (n *InprocNet) SetDelay(r int, d time.Duration) {
	n.mu.Lock()
	n.delay[r] = d
	n.mu.Unlock()
}

// Duplicate makes every frame sent by rank r arrive twice.
func (n *InprocNet) Duplicate(r int, on bool) {
	n.mu.Lock()
	n.duplicate[r] = on
	n.mu.Unlock()
}

func (n *InprocNet) fault(r int) (error, time.Duration, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dead, n.delay[r], n.duplicate[r]
}

// inproc is one rank's endpoint: a mailbox that other ranks append to, and a wake channel.
type inproc struct {
	net  *InprocNet
	rank int
	wake chan struct{} // a frame arrived or Wake was called since the last Wait

	mu     sync.Mutex
	box    []inprocFrame // frames arrived, oldest first, from head
	head   int
	closed bool
}

type inprocFrame struct {
	from  int
	frame []byte
}

var _ Transport = (*inproc)(nil)

func (t *inproc) Rank() int    { return t.rank }
func (t *inproc) Size() int    { return len(t.net.ranks) }
func (t *inproc) Host() string { return t.net.hosts[t.rank] }

// Own runs loop on the calling goroutine: nothing in process needs a thread of its own.
func (t *inproc) Own(loop func() error) error { return loop() }

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

// Send delivers a copy of frame to rank to's mailbox (the frame itself when the network
// shares buffers) and gives frame back.
func (t *inproc) Send(to int, f []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	if to < 0 || to >= t.Size() {
		return fmt.Errorf("send to rank %d: no such rank (size %d)", to, t.Size())
	}
	_, delay, dup := t.net.fault(t.rank)
	copies := 1
	if dup {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		c := f
		if !t.net.share || i > 0 {
			c = append(frame.Get(len(f))[:0], f...)
		}
		if delay > 0 {
			// Delivered later without blocking the sender; order between delayed frames of
			// one sender is kept only up to timer resolution, as on a real network with
			// several paths.
			time.AfterFunc(delay, func() { t.net.ranks[to].deliver(t.rank, c) })
			continue
		}
		t.net.ranks[to].deliver(t.rank, c)
	}
	if !t.net.share {
		frame.Put(f)
	}
	return nil
}

// deliver appends a frame from rank from to the mailbox and wakes the rank.
func (t *inproc) deliver(from int, f []byte) {
	t.mu.Lock()
	t.box = append(t.box, inprocFrame{from: from, frame: f})
	t.mu.Unlock()
	t.Wake()
}

// inject delivers frame to this rank as if rank from had sent it, bypassing every check.
func (t *inproc) inject(from int, f []byte) { t.deliver(from, f) }

func (t *inproc) Recv() (int, []byte, bool, error) {
	if err := t.check(); err != nil {
		return 0, nil, false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head == len(t.box) {
		return 0, nil, false, nil
	}
	m := t.box[t.head]
	t.box[t.head] = inprocFrame{}
	t.head++
	if t.head == len(t.box) {
		t.box, t.head = t.box[:0], 0
	}
	return m.from, m.frame, true, nil
}

// Wait blocks until a frame arrives or Wake is called (or h.Within passes).
func (t *inproc) Wait(h WaitHint) error {
	var timeout <-chan time.Time
	if h.Within > 0 {
		tm := time.NewTimer(h.Within)
		defer tm.Stop()
		timeout = tm.C
	}
	select {
	case <-t.wake:
	case <-timeout:
	case <-t.net.deadCh:
	}
	return nil
}

func (t *inproc) Wake() {
	select {
	case t.wake <- struct{}{}:
	default: // one is pending already
	}
}

func (t *inproc) Broadcast(root int, data []byte) error {
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
