package rank

import (
	"bufio"
	"io"
	"strconv"
	"time"
)

// tracer writes the run as Chrome Trace Event JSON (the array form), which Perfetto and
// chrome://tracing open: one process per rank, one thread track per worker thread, one
// span per chunk attempt, and the manager's send and write phases. Events stream to the
// writer as they happen, so memory does not grow with the run. A chunk's span ends when its
// result reaches the manager and lasts the compute time the worker reported, so no clocks
// of other hosts are needed. Not safe for concurrent use (the manager's goroutine owns it).
type tracer struct {
	w     *bufio.Writer
	start monoTime
	clock func() monoTime // the manager's clock (the simulator's is virtual)
	n     int
	buf   []byte
}

func newTracer(w io.Writer, start monoTime, clock func() monoTime) *tracer {
	t := &tracer{w: bufio.NewWriterSize(w, 1<<16), start: start, clock: clock}
	t.w.WriteString("[")
	return t
}

func (t *tracer) begin() {
	if t.n > 0 {
		t.buf = append(t.buf, ",\n"...)
	} else {
		t.buf = append(t.buf, '\n')
	}
	t.n++
}

func (t *tracer) flushBuf() {
	t.w.Write(t.buf)
	t.buf = t.buf[:0]
}

// name labels a rank's process and its first thread's track.
func (t *tracer) name(pid, tid int, process, thread string) {
	t.begin()
	t.buf = append(t.buf, `{"name":"process_name","ph":"M","pid":`...)
	t.buf = strconv.AppendInt(t.buf, int64(pid), 10)
	t.buf = append(t.buf, `,"args":{"name":`...)
	t.buf = strconv.AppendQuote(t.buf, process)
	t.buf = append(t.buf, `}}`...)
	t.thread(pid, tid, thread)
}

// thread labels a thread's track.
func (t *tracer) thread(pid, tid int, thread string) {
	t.begin()
	t.buf = append(t.buf, `{"name":"thread_name","ph":"M","pid":`...)
	t.buf = strconv.AppendInt(t.buf, int64(pid), 10)
	t.buf = append(t.buf, `,"tid":`...)
	t.buf = strconv.AppendInt(t.buf, int64(tid), 10)
	t.buf = append(t.buf, `,"args":{"name":`...)
	t.buf = strconv.AppendQuote(t.buf, thread)
	t.buf = append(t.buf, `}}`...)
	t.flushBuf()
}

// span records a complete event; seq and attempt go in its args.
func (t *tracer) span(pid, tid int, name, cat string, at monoTime, dur time.Duration, seq uint64, attempt int) {
	t.begin()
	t.buf = append(t.buf, `{"name":`...)
	t.buf = strconv.AppendQuote(t.buf, name)
	t.buf = append(t.buf, `,"cat":"`...)
	t.buf = append(t.buf, cat...)
	t.buf = append(t.buf, `","ph":"X","pid":`...)
	t.buf = strconv.AppendInt(t.buf, int64(pid), 10)
	t.buf = append(t.buf, `,"tid":`...)
	t.buf = strconv.AppendInt(t.buf, int64(tid), 10)
	t.buf = append(t.buf, `,"ts":`...)
	t.buf = strconv.AppendFloat(t.buf, float64(at.Sub(t.start).Nanoseconds())/1e3, 'f', 3, 64)
	t.buf = append(t.buf, `,"dur":`...)
	t.buf = strconv.AppendFloat(t.buf, float64(dur.Nanoseconds())/1e3, 'f', 3, 64)
	t.buf = append(t.buf, `,"args":{"seq":`...)
	t.buf = strconv.AppendUint(t.buf, seq, 10)
	t.buf = append(t.buf, `,"attempt":`...)
	t.buf = strconv.AppendInt(t.buf, int64(attempt), 10)
	t.buf = append(t.buf, `}}`...)
	t.flushBuf()
}

// close ends the JSON array and flushes.
func (t *tracer) close() error {
	t.w.WriteString("\n]\n")
	return t.w.Flush()
}
