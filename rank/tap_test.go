package rank

import (
	"sync"
	"time"

	"github.com/mw-hpc/mw/internal/frame"
)

// tap is a Transport that shows a test the records its rank receives and sends, and the
// hints of its waits. onRecv is called for every record received, before the rank sees
// it; onSend for every record sent, and a frame any of whose records it drops is not sent.
type tap struct {
	Transport
	onRecv func(from int, r record)
	onSend func(to int, r record) (drop bool)
	onWait func(h WaitHint)
	// maxWait, when not 0, bounds every wait.
	maxWait time.Duration
}

func (t *tap) Recv() (int, []byte, bool, error) {
	from, f, ok, err := t.Transport.Recv()
	if ok && t.onRecv != nil {
		_ = eachRecord(from, f, func(r record) error { t.onRecv(from, r); return nil })
	}
	return from, f, ok, err
}

func (t *tap) Send(to int, f []byte) error {
	if t.onSend != nil {
		drop := false
		_ = eachRecord(0, f, func(r record) error {
			drop = t.onSend(to, r) || drop
			return nil
		})
		if drop {
			frame.Put(f)
			return nil
		}
	}
	return t.Transport.Send(to, f)
}

func (t *tap) Wait(h WaitHint) error {
	if t.onWait != nil {
		t.onWait(h)
	}
	if t.maxWait > 0 && (h.Within == 0 || h.Within > t.maxWait) {
		h.Within = t.maxWait
	}
	return t.Transport.Wait(h)
}

// inject delivers r to rank to of net as if rank from had sent it, bypassing every check.
func inject(net *InprocNet, to, from int, r record) {
	net.ranks[to].inject(from, appendRecord(nil, r))
}

// hintLog records the hints of a rank's waits.
type hintLog struct {
	mu    sync.Mutex
	hints []WaitHint
}

func (l *hintLog) add(h WaitHint) {
	l.mu.Lock()
	l.hints = append(l.hints, h)
	l.mu.Unlock()
}

func (l *hintLog) last() (WaitHint, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.hints) == 0 {
		return WaitHint{}, false
	}
	return l.hints[len(l.hints)-1], true
}

// Lost and Forget pass the inner transport's LossNotifier through.
func (t *tap) Lost() []int {
	if n, ok := t.Transport.(LossNotifier); ok {
		return n.Lost()
	}
	return nil
}

func (t *tap) Forget(r int) {
	if n, ok := t.Transport.(LossNotifier); ok {
		n.Forget(r)
	}
}
