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
// Faults are methods on the network, not on the Transport interface: Kill, Crash, Freeze,
// Thaw, SetDelay and Duplicate. They are safe to call while the ranks run.
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
	crashed   []bool        // by Crash: the rank's calls fail, frames to it vanish
	frozen    [][]heldFrame // by Freeze (non-nil while frozen): frames from the rank, held
	notices   []int         // crashed ranks for rank 0's Lost, not yet taken
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
		crashed:   make([]bool, size),
		frozen:    make([][]heldFrame, size),
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

// Crash simulates the death of rank r as mpirun --enable-recovery sees it: the job goes on
// without it. Its calls fail from now on, and frames sent to it vanish. With notice, rank
// 0's transport reports it lost (LossNotifier: the launcher's notice); without, the
// manager finds out by its silence.
func (n *InprocNet) Crash(r int, notice bool) {
	n.mu.Lock()
	n.crashed[r] = true
	if notice {
		n.notices = append(n.notices, r)
	}
	n.mu.Unlock()
	n.ranks[r].Wake()
	n.ranks[0].Wake()
}

// Freeze makes rank r go silent as a stopped process (SIGSTOP) or a host cut off would:
// the frames it sends are held back, undelivered, until Thaw.
func (n *InprocNet) Freeze(r int) {
	n.mu.Lock()
	if n.frozen[r] == nil {
		n.frozen[r] = []heldFrame{}
	}
	n.mu.Unlock()
}

// Thaw delivers the frames rank r sent while frozen, late, and lets its later ones through.
func (n *InprocNet) Thaw(r int) {
	n.mu.Lock()
	held := n.frozen[r]
	n.frozen[r] = nil
	n.mu.Unlock()
	for _, f := range held {
		n.ranks[f.to].deliver(r, f.frame)
	}
}

// heldFrame is a frame a frozen rank sent, for rank to.
type heldFrame struct {
	to    int
	frame []byte
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
	net      *InprocNet
	rank     int
	wake     chan struct{} // a frame arrived or Wake was called since the last Wait
	wakeAlso func()        // also woken so (rank 0's own worker wakes the manager's transport)

	mu     sync.Mutex
	box    []inprocFrame // frames arrived, oldest first, from head
	head   int
	closed bool
}

type inprocFrame struct {
	from  int
	frame []byte
}

var (
	_ Transport    = (*inproc)(nil)
	_ LossNotifier = (*inproc)(nil)
)

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
	t.net.mu.Lock()
	crashed := t.net.crashed[t.rank]
	t.net.mu.Unlock()
	if crashed {
		return fmt.Errorf("rank %d crashed", t.rank)
	}
	return nil
}

// held reports whether a frame from this rank to rank to goes nowhere (to a crashed rank)
// or waits (from a frozen rank, held in place of to's mailbox: Thaw delivers it).
func (t *inproc) held(to int, f []byte) bool {
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.crashed[to]:
		return true
	case n.frozen[t.rank] != nil:
		n.frozen[t.rank] = append(n.frozen[t.rank], heldFrame{to: to, frame: f})
		return true
	}
	return false
}

// Lost implements LossNotifier: on rank 0, the ranks crashed with a notice since the last
// call.
func (t *inproc) Lost() []int {
	if t.rank != 0 {
		return nil
	}
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	l := t.net.notices
	t.net.notices = nil
	return l
}

// Forget implements LossNotifier: nothing is pending in process.
func (t *inproc) Forget(int) {}

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
		if t.held(to, c) {
			continue
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
	if t.wakeAlso != nil {
		t.wakeAlso()
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
