package rank

import "fmt"

// flights holds the chunks in flight by number. In order (the reorder buffer bounds how far
// issue runs ahead of the output), every chunk in flight lies in [written, written+bound),
// where no two numbers share a residue mod bound: a slot per residue serves, with no hashing
// or allocation per chunk. Unordered there is no such window, and a map serves. Used by the
// manager's goroutine only.
type flights struct {
	slots []*flight          // in order: the flight of seq at seq mod len(slots)
	bySeq map[uint64]*flight // unordered
	n     int                // chunks in flight
}

// newFlights returns a table for chunks within a window of bound numbers, or for any
// numbers when bound is 0.
func newFlights(bound int) flights {
	if bound > 0 {
		return flights{slots: make([]*flight, bound)}
	}
	return flights{bySeq: map[uint64]*flight{}}
}

// len is the number of chunks in flight.
func (t *flights) len() int { return t.n }

// get returns the flight of chunk seq, if it is in flight.
func (t *flights) get(seq uint64) (*flight, bool) {
	if t.slots == nil {
		f, ok := t.bySeq[seq]
		return f, ok
	}
	f := t.slots[seq%uint64(len(t.slots))]
	if f == nil || f.c.Seq != seq {
		return nil, false
	}
	return f, true
}

// add records f, the flight of the chunk f.c.Seq, which is not in flight. In order, it
// fails if another chunk in flight has the slot: that chunk lies a whole window behind,
// which issue's bound rules out (an engine bug, not a worker's).
func (t *flights) add(f *flight) error {
	seq := f.c.Seq
	if t.slots == nil {
		t.bySeq[seq] = f
	} else {
		slot := &t.slots[seq%uint64(len(t.slots))]
		if *slot != nil {
			return fmt.Errorf("engine: chunk %d issued while chunk %d, %d before it, is in flight", seq, (*slot).c.Seq, len(t.slots))
		}
		*slot = f
	}
	t.n++
	return nil
}

// remove forgets chunk seq, which is in flight.
func (t *flights) remove(seq uint64) {
	if t.slots == nil {
		delete(t.bySeq, seq)
	} else {
		t.slots[seq%uint64(len(t.slots))] = nil
	}
	t.n--
}
