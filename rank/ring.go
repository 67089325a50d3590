package rank

// ring is a FIFO of worker ranks with a fixed capacity: the free credits. take and push
// are O(1); takeNot scans only when it must avoid a rank (a retry).
type ring struct {
	buf        []int
	head, size int
}

func newRing(capacity int) ring { return ring{buf: make([]int, max(1, capacity))} }

func (r *ring) len() int { return r.size }

// push appends rank; the ring never holds more than its capacity (one entry per credit).
func (r *ring) push(rank int) {
	if r.size == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.size)%len(r.buf)] = rank
	r.size++
}

func (r *ring) grow() {
	nb := make([]int, 2*len(r.buf))
	for i := 0; i < r.size; i++ {
		nb[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = nb, 0
}

// take removes and returns the oldest entry; the ring must not be empty.
func (r *ring) take() int {
	v := r.buf[r.head]
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return v
}

// takeNot removes and returns the oldest entry that is not avoid. It reports false, and
// removes nothing, when every entry is avoid.
func (r *ring) takeNot(avoid int) (int, bool) {
	for i := 0; i < r.size; i++ {
		j := (r.head + i) % len(r.buf)
		if r.buf[j] != avoid {
			v := r.buf[j]
			// Move the oldest entry into the hole, then drop the head.
			r.buf[j] = r.buf[r.head]
			r.head = (r.head + 1) % len(r.buf)
			r.size--
			return v, true
		}
	}
	return 0, false
}

// removeAll removes every entry that is rank, keeping the others' order.
func (r *ring) removeAll(rank int) {
	j := 0
	for i := 0; i < r.size; i++ {
		if v := r.buf[(r.head+i)%len(r.buf)]; v != rank {
			r.buf[(r.head+j)%len(r.buf)] = v
			j++
		}
	}
	r.size = j
}
