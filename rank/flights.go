package rank

// flight is a chunk issued to a worker and not yet answered. The manager keeps its data
// until the result is in, to issue it again after an error.
type flight struct {
	c      Chunk
	items  int    // items in the chunk (1 when the source does not say)
	ticket uint32 // its index in flights.byTicket, sent with the chunk and echoed in the answer
	rank   int    // worker holding it; -1 while waiting in the retry queue
	backup int    // worker holding a backup copy (straggler), 0 for none
	failed int    // rank that failed it last, 0 for none
	live   bool   // in flight (a free flight waits for reuse)
	// When each copy was sent, and its trace flow: for --status's longest in flight and
	// for --trace.
	sent, backupSent sendMark
}

// sendMark is when a copy of a chunk was sent, and the trace's flow of that attempt (0
// without a trace).
type sendMark struct {
	at   monoTime
	flow uint64
}

// dropCopy forgets the copy that rank from held, of two: the other runs on alone.
func (f *flight) dropCopy(from int) {
	if f.rank == from {
		f.rank, f.sent = f.backup, f.backupSent
	}
	f.backup, f.backupSent = 0, sendMark{}
}

// copyOf is the send of the copy that rank from holds.
func (f *flight) copyOf(from int) (sendMark, bool) {
	if from == f.backup && from > 0 {
		return f.backupSent, true
	}
	return f.sent, false
}

// flights holds the chunks in flight by ticket: a worker's answer names the ticket its task
// carried, so the manager finds the chunk with an index, not a hash, however far apart the
// chunks in flight are (a slow chunk at the head of the ordered output holds its place while
// thousands after it are issued and written). Tickets are reused once free; a flight grows the
// table only when every ticket is taken. Used by the manager's goroutine only.
type flights struct {
	byTicket []*flight
	free     []uint32 // tickets free for reuse
	n        int      // chunks in flight
}

// newFlights returns a table sized for about n chunks in flight.
func newFlights(n int) flights {
	return flights{byTicket: make([]*flight, 0, n), free: make([]uint32, 0, n)}
}

// len is the number of chunks in flight.
func (t *flights) len() int { return t.n }

// add returns a new flight for chunk c, with a free ticket.
func (t *flights) add(c Chunk) *flight {
	var f *flight
	if k := len(t.free); k > 0 {
		f = t.byTicket[t.free[k-1]]
		t.free = t.free[:k-1]
		*f = flight{ticket: f.ticket}
	} else {
		f = &flight{ticket: uint32(len(t.byTicket))}
		t.byTicket = append(t.byTicket, f)
	}
	f.c, f.items, f.live = c, max(c.Items, 1), true
	t.n++
	return f
}

// get returns the flight of ticket if it holds chunk seq.
func (t *flights) get(ticket uint32, seq uint64) (*flight, bool) {
	if uint64(ticket) >= uint64(len(t.byTicket)) {
		return nil, false
	}
	f := t.byTicket[ticket]
	if !f.live || f.c.Seq != seq {
		return nil, false
	}
	return f, true
}

// remove frees flight f, if in flight; its chunk's data is let go.
func (t *flights) remove(f *flight) {
	if !f.live {
		return
	}
	f.live, f.c = false, Chunk{}
	t.free = append(t.free, f.ticket)
	t.n--
}
