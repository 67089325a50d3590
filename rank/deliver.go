package rank

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/mw-hpc/mw/internal/frame"
)

// deliver passes a result to the Sink: at once when unordered, otherwise through the
// reorder buffer, which releases it (and those waiting behind it) in its turn.
func (m *manager) deliver(from int, seq uint64, out []byte) error {
	if m.cfg.Unordered {
		return m.put(seq, out)
	}
	// A result whose turn has not come is copied (the frame it came in goes back to its
	// pool after this step), unless it came alone in a frame no larger than the copy's
	// buffer would be, or is large: then the reorder buffer takes the frame itself. One
	// whose turn has come is written now, in release.
	var err error
	alone := len(m.rx) == recordHeader+len(out)
	if alone && seq != m.ro.Next() && (len(out) >= zeroCopyMin || cap(m.rx) <= frame.Cap(len(out))) {
		err = m.ro.PutFrame(seq, m.rx, recordHeader)
		m.rx = nil // the reorder buffer's now
	} else {
		_, err = m.ro.Put(seq, out)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", m.who(from), err)
	}
	return m.release()
}

// zeroCopyMin is the size from which a result waiting for its turn keeps the frame it came
// in alone whatever the frame's capacity: below it, a copy costs less than holding a frame
// larger than the result's own buffer would be.
const zeroCopyMin = 8 << 10

// deliverGap records that chunk seq is left out of the output (it failed every try, or a
// drain kept it from starting): a GapSink hears of it in its turn.
func (m *manager) deliverGap(from int, seq uint64) error {
	if m.cfg.Unordered {
		return m.leftOut(seq)
	}
	if err := m.ro.PutGap(seq); err != nil {
		return fmt.Errorf("%s: %w", m.who(from), err)
	}
	return m.release()
}

// release writes the results whose turn has come.
func (m *manager) release() error {
	for {
		e, ok, err := m.ro.Pop()
		if err != nil {
			return fmt.Errorf("reorder buffer: %w", err)
		}
		if !ok {
			return nil
		}
		if e.Gap {
			err = m.leftOut(e.Seq)
		} else {
			err = m.put(e.Seq, e.Data)
		}
		if err != nil {
			return err
		}
	}
}

// leftOut tells a GapSink that chunk seq is left out of the output.
func (m *manager) leftOut(seq uint64) error {
	if m.gaps == nil {
		return nil
	}
	if err := m.gaps.LeftOut(seq); err != nil && !errors.Is(err, ErrDone) {
		return fmt.Errorf("write chunk %d (left out): %w", seq, err)
	} else if err != nil {
		return err
	}
	return nil
}

// put hands one result to the Sink; ErrDrain stops issuing, ErrDone ends the job.
func (m *manager) put(seq uint64, out []byte) error {
	m.st.Chunks++
	m.st.BytesOut += uint64(len(out))
	var begin monoTime
	if m.tr != nil {
		begin = m.tr.clock()
	}
	err := m.plan.Sink.Put(seq, out)
	if m.tr != nil {
		m.traceWrite(seq, out, begin)
	}
	switch {
	case errors.Is(err, ErrDrain):
		m.drain()
		return nil
	case err != nil && !errors.Is(err, ErrDone):
		return fmt.Errorf("write chunk %d: %w", seq, err)
	}
	return err
}

// arrived tells an ArrivalSink of a result as it arrives. A drain takes effect at once;
// ErrDone is returned, for the caller to end the job once this result is delivered.
func (m *manager) arrived(seq uint64, out []byte) error {
	if m.arrival == nil {
		return nil
	}
	switch err := m.arrival.Arrived(seq, out); {
	case err == nil:
		return nil
	case errors.Is(err, ErrDrain):
		m.drain()
		return nil
	case errors.Is(err, ErrDone):
		return ErrDone
	default:
		return fmt.Errorf("chunk %d arrived: %w", seq, err)
	}
}

// drain stops issuing chunks: the source is done, and every worker is told to hand back
// the chunks it has not started; those running complete. The chunks waiting for a retry
// are left out at the end of the step (settle).
func (m *manager) drain() {
	m.srcDone = true
	if !m.draining {
		m.draining = true
		m.toAll(record{kind: kindDrain})
	}
}

// settle ends a step: the chunks waiting for a retry when a drain came are left out, and a
// run whose chunks are all written ends (EndSink.End, then the stop).
func (m *manager) settle() {
	for m.phase == running && m.draining && len(m.retryq) > 0 {
		f := m.retryq[0]
		m.retryq = m.retryq[1:]
		if err := m.skipped(-1, f); err != nil {
			m.end(err)
			return
		}
	}
	if m.phase != running || !m.srcDone || m.flights.len() > 0 || !m.allReported() {
		return
	}
	if e, ok := m.plan.Sink.(EndSink); ok {
		if err := e.End(); err != nil {
			m.fail(fmt.Errorf("end output: %w", err))
			return
		}
	}
	m.stop()
}

// end ends the job after a step's error: ErrDone is the Sink's success, anything else a
// failure.
func (m *manager) end(err error) {
	if errors.Is(err, ErrDone) {
		m.stop()
		return
	}
	m.fail(err)
}

func fmtUint(n uint64) string { return strconv.FormatUint(n, 10) }
