package partition

import "fmt"

// Reorder holds results that arrive out of order and releases them strictly in Seq order.
// It holds at most Bound results: a result whose Seq is Bound or more past the next one
// to release is refused, so the caller must not issue chunks that far ahead (the engine
// keeps issued-but-unwritten chunks below the bound). Not safe for concurrent use.
type Reorder struct {
	next  uint64   // Seq of the next result to release
	slots [][]byte // ring indexed by Seq % len(slots)
	have  []bool
	held  int
	max   int
}

// NewReorder returns a reorder buffer that holds up to bound results, starting at Seq first.
func NewReorder(first uint64, bound int) *Reorder {
	if bound < 1 {
		bound = 1
	}
	return &Reorder{next: first, slots: make([][]byte, bound), have: make([]bool, bound)}
}

// Next is the Seq of the next result to release.
func (r *Reorder) Next() uint64 { return r.next }

// Held is the number of results waiting; Max the most ever held.
func (r *Reorder) Held() int { return r.held }

// Max is the most results ever held at once.
func (r *Reorder) Max() int { return r.max }

// Bound is the most results the buffer can hold.
func (r *Reorder) Bound() int { return len(r.slots) }

// Put stores the result of seq. It refuses a seq already released or held (a duplicate)
// and one beyond the bound.
func (r *Reorder) Put(seq uint64, out []byte) error {
	if seq < r.next {
		return fmt.Errorf("reorder: chunk %d already written", seq)
	}
	if seq-r.next >= uint64(len(r.slots)) {
		return fmt.Errorf("reorder: chunk %d is beyond the bound (next %d, bound %d)", seq, r.next, len(r.slots))
	}
	i := seq % uint64(len(r.slots))
	if r.have[i] {
		return fmt.Errorf("reorder: chunk %d received twice", seq)
	}
	r.slots[i], r.have[i] = out, true
	r.held++
	if r.held > r.max {
		r.max = r.held
	}
	return nil
}

// Pop releases the next result in order if it has arrived.
func (r *Reorder) Pop() (seq uint64, out []byte, ok bool) {
	i := r.next % uint64(len(r.slots))
	if !r.have[i] {
		return 0, nil, false
	}
	out = r.slots[i]
	r.slots[i], r.have[i] = nil, false
	r.held--
	seq = r.next
	r.next++
	return seq, out, true
}
