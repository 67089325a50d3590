package rank

import (
	"errors"
	"fmt"
)

// onAnswer handles a worker's answer to a chunk it held: its result, its error, or its
// hand-back after a drain (a skip). An answer must name a chunk the worker holds (or the
// losing copy of a chunk backed up, which is dropped): anything else fails the job.
func (m *manager) onAnswer(from int, r record) error {
	if r.seq >= m.nextSeq {
		return fmt.Errorf("%s: %s for chunk %d, which was never issued", m.who(from), r.kind, r.seq)
	}
	f, ok := m.flights.get(r.ticket, r.seq)
	if !ok || (f.rank != from && f.backup != from) {
		if lc, late := m.late[r.seq]; late && lc.rank == from {
			// The losing copy of a backed-up chunk: drop it, free its credit.
			delete(m.late, r.seq)
			m.traceLate(r, lc)
			m.answeredBy(from)
			return nil
		}
		if !ok {
			return fmt.Errorf("%s: %s for chunk %d, which is already done (duplicate)", m.who(from), r.kind, r.seq)
		}
		return fmt.Errorf("%s: %s for chunk %d, which is held by %s", m.who(from), r.kind, r.seq, m.who(f.rank))
	}
	m.answeredBy(from) // the credit the answer frees (in pull mode it asked for the next: checkAsk)
	m.answered++
	switch r.kind {
	case kindSkip:
		return m.skipped(from, f)
	case kindError:
		m.traceAnswer(from, r, f)
		return m.failedOnce(from, f, r)
	}
	m.traceAnswer(from, r, f)
	return m.succeeded(from, f, r)
}

// otherHolder is the holder of f's other copy, if from holds one of two.
func otherHolder(f *flight, from int) int {
	if f.rank == from {
		return f.backup
	}
	return f.rank
}

// succeeded takes the result r of flight f from worker from: it goes to the Sink, in order.
func (m *manager) succeeded(from int, f *flight, r record) error {
	if other := otherHolder(f, from); other > 0 {
		lc := lateCopy{rank: other}
		lc.sent, lc.backup = f.copyOf(other)
		if m.tr != nil {
			lc.c = f.c
		}
		m.late[f.c.Seq] = lc
	}
	m.sizer.observe(f.items, r.work, len(r.data)) // the items' cost: chunk sizes, and stragglers
	m.st.PerWorker[from]++
	m.itemsDone += uint64(f.items)
	seq := f.c.Seq
	m.flights.remove(f)
	done := m.arrived(seq, r.data)
	if done != nil && !errors.Is(done, ErrDone) {
		return done
	}
	if err := m.deliver(from, seq, r.data); err != nil {
		return err
	}
	return done
}

// failedOnce takes the error r of flight f from worker from: the chunk is issued again
// (Config.Retries), left out (Config.KeepGoing), or fails the job.
func (m *manager) failedOnce(from int, f *flight, r record) error {
	if other := otherHolder(f, from); other > 0 {
		// The other copy may still succeed; forget this one.
		f.dropCopy(from)
		f.failed = from
		return nil
	}
	if f.c.Attempt >= m.cfg.Retries {
		cause := string(r.data)
		if f.c.Attempt > 0 {
			cause = fmt.Sprintf("failed %d times, last: %s", f.c.Attempt+1, r.data)
		}
		if !m.cfg.KeepGoing {
			return fmt.Errorf("%s: chunk %d: %s", m.who(from), f.c.Seq, cause)
		}
		// --keep-going: record the poison chunk, leave it out of the output, go on.
		m.failed = append(m.failed, FailedChunk{Seq: f.c.Seq, Who: m.who(from), Cause: cause})
		seq := f.c.Seq
		m.flights.remove(f)
		return m.deliverGap(from, seq)
	}
	f.c.Attempt++
	f.rank, f.failed = -1, from
	m.retryq = append(m.retryq, f)
	m.st.Retries++
	return nil
}

// skipped leaves out the chunk of flight f, which worker from handed back unstarted (from
// -1: it waited for a retry when the drain came), unless another copy of it still runs.
func (m *manager) skipped(from int, f *flight) error {
	if other := otherHolder(f, from); from > 0 && other > 0 {
		f.dropCopy(from) // the other copy runs on
		return nil
	}
	seq := f.c.Seq
	m.flights.remove(f)
	m.st.Skipped++
	return m.deliverGap(from, seq)
}
