package rank

import (
	"errors"
	"fmt"
	"io"
)

// maxAhead bounds how far issuing runs ahead of the ordered output, in chunks: the reorder
// buffer holds the results in between (spilling past its memory to a file), and its index
// takes a few words per chunk of that span.
const maxAhead = 1 << 20

// issue sends chunks (retries first) while there are free credits.
func (m *manager) issue() {
	m.backupAt = 0 // issueBackups notes it again if a chunk will straggle
	if m.phase != running {
		return
	}
	m.issueRetries()
	for m.slots.len() > 0 && m.phase == running {
		if m.draining {
			return // a draining worker hands back any chunk, a backup copy too
		}
		// Workers with free credits fall idle when no new chunk remains, or when the output
		// is maxAhead behind a slow chunk: give them backups of the oldest.
		if m.srcDone || (!m.cfg.Unordered && m.nextSeq-m.ro.Next() >= maxAhead) {
			m.issueBackups()
			return
		}
		c, ok := m.nextChunk()
		if !ok {
			return
		}
		m.send(m.slots.take(), m.flights.add(c))
	}
}

// nextChunk reads the next chunk from the source. It reports false at the end of the input
// (srcDone), when a live source has none ready yet (it calls its notify function once it
// has), and on an error (the job fails).
func (m *manager) nextChunk() (Chunk, bool) {
	var c Chunk
	var err error
	if m.sized != nil {
		c, err = m.sized.NextN(m.sizer.next(m.sized.Remaining()))
	} else {
		c, err = m.plan.Source.Next()
	}
	switch {
	case err == io.EOF:
		m.srcDone = true
		return c, false
	case errors.Is(err, ErrNotReady):
		return c, false
	case err != nil:
		m.fail(err)
		return c, false
	case c.Seq != m.nextSeq:
		m.fail(fmt.Errorf("engine: source gave chunk %d, expected %d", c.Seq, m.nextSeq))
		return c, false
	}
	m.nextSeq++
	m.st.BytesIn += uint64(len(c.Data))
	return c, true
}

// issueRetries issues the chunks waiting for a retry. A retry goes to another worker than
// the one that failed it; with a single worker it goes back to that one. When only the
// failing worker has a free credit, the retry waits and fresh chunks use the credit.
func (m *manager) issueRetries() {
	for len(m.retryq) > 0 && m.slots.len() > 0 {
		f := m.retryq[0]
		to, ok := m.takeSlotNot(f.failed)
		if !ok && m.size > 2 {
			return
		}
		if !ok {
			if to, ok = m.takeSlotNot(0); !ok {
				return
			}
		}
		m.retryq = m.retryq[1:]
		m.send(to, f)
	}
}

// send issues flight f to worker to.
func (m *manager) send(to int, f *flight) {
	f.rank = to
	f.sent = m.markSend(to, f, false)
	m.sentTo(to)
	m.issuedN++
	if f.c.Attempt == 0 && m.cfg.Backups {
		m.issued.push(f, m.flights.len())
	}
	m.out.add(to, m.task(f))
}

// task is the record that issues f. A task's thread field carries the workers the chunk
// has lost (Chunk.Lost).
func (m *manager) task(f *flight) record {
	return record{kind: kindTask, seq: f.c.Seq, attempt: f.c.Attempt, ticket: f.ticket, thread: f.c.Lost, data: f.c.Data}
}

// issuedQueue holds the flights in the order their chunks were first issued, for the
// backups' scan by seq: entries whose chunk is done (the flight free, or reused for another
// chunk) are dropped from the front as the scan passes them, and from anywhere once they
// outnumber the chunks in flight, so that it holds O(chunks in flight) entries, not one
// per chunk of the job (the scan only runs once the input is exhausted).
type issuedQueue struct {
	q    []issuedEntry
	head int
}

type issuedEntry struct {
	seq uint64
	f   *flight
}

// push adds flight f; inFlight is the number of chunks in flight.
func (q *issuedQueue) push(f *flight, inFlight int) {
	if n := len(q.q) - q.head; n >= 1024 && n > 2*inFlight {
		q.compact()
	}
	q.q = append(q.q, issuedEntry{seq: f.c.Seq, f: f})
}

// compact keeps the entries whose chunk is still in flight, in their order: O(1) a push,
// amortized, while the chunks in flight stay about as many.
func (q *issuedQueue) compact() {
	k := 0
	for _, e := range q.q[q.head:] {
		if e.f.live && e.f.c.Seq == e.seq {
			q.q[k] = e
			k++
		}
	}
	clear(q.q[k:])
	q.q, q.head = q.q[:k], 0
}

// find returns the flight of chunk seq if it is still in flight, dropping the entries
// before it (the caller scans seqs upwards).
func (q *issuedQueue) find(seq uint64) (*flight, bool) {
	for q.head < len(q.q) && q.q[q.head].seq < seq {
		q.q[q.head] = issuedEntry{}
		q.head++
	}
	if q.head == len(q.q) || q.q[q.head].seq != seq {
		return nil, false
	}
	e := q.q[q.head]
	if !e.f.live || e.f.c.Seq != seq {
		return nil, false
	}
	return e.f, true
}
