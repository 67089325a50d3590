package rank

import (
	"bufio"
	"io"
	"strconv"
	"time"
)

// tracer writes the run as Chrome Trace Event JSON (the array form), which Perfetto and
// chrome://tracing open: one process per rank, one thread track per worker thread, one
// span per attempt at a chunk (tracechunks.go), the manager's sends and writes, and flow
// arrows between them. Events stream to the
// writer as they happen, so memory does not grow with the run. A chunk's span ends when its
// result reaches the manager and lasts the compute time the worker reported, so no clocks
// of other hosts are needed. Not safe for concurrent use (the manager's goroutine owns it).
type tracer struct {
	w     *bufio.Writer
	start monoTime
	clock func() monoTime // the manager's clock (the simulator's is virtual)
	n     int
	buf   []byte
	flows uint64 // flow ids given out
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

// spanArgs are a span's args: the chunk, and for an attempt which try and copy it was;
// label is the TraceLabeler's JSON object, whose fields follow the engine's.
type spanArgs struct {
	seq     uint64
	attempt int // -1: not an attempt (a write)
	lost    int // workers lost while they held the chunk before this attempt
	backup  bool
	err     string
	label   []byte
}

// span records a complete event.
func (t *tracer) span(pid, tid int, name, cat string, at monoTime, dur time.Duration, a spanArgs) {
	t.begin()
	t.buf = append(t.buf, `{"name":`...)
	t.buf = strconv.AppendQuote(t.buf, name)
	t.buf = append(t.buf, `,"cat":"`...)
	t.buf = append(t.buf, cat...)
	t.buf = append(t.buf, `","ph":"X",`...)
	t.appendWhere(pid, tid, at)
	t.buf = append(t.buf, `,"dur":`...)
	t.buf = appendMicros(t.buf, dur)
	t.buf = append(t.buf, `,"args":{"seq":`...)
	t.buf = strconv.AppendUint(t.buf, a.seq, 10)
	if a.attempt >= 0 {
		t.buf = append(t.buf, `,"attempt":`...)
		t.buf = strconv.AppendInt(t.buf, int64(a.attempt), 10)
		if a.backup {
			t.buf = append(t.buf, `,"copy":"backup"`...)
		} else {
			t.buf = append(t.buf, `,"copy":"first"`...)
		}
		if a.lost > 0 {
			t.buf = append(t.buf, `,"lost_workers":`...)
			t.buf = strconv.AppendInt(t.buf, int64(a.lost), 10)
		}
	}
	if a.err != "" {
		t.buf = append(t.buf, `,"error":`...)
		t.buf = strconv.AppendQuote(t.buf, a.err)
	}
	if len(a.label) > 2 { // fields of an object: past its '{', and its '}' ends the args
		t.buf = append(t.buf, ',')
		t.buf = append(t.buf, a.label[1:]...)
		t.buf = append(t.buf, '}')
	} else {
		t.buf = append(t.buf, `}}`...)
	}
	t.flushBuf()
}

// Flow event phases: an arrow from a copy's send (start) through its computation (step) to
// the write of its result (end).
const (
	flowStart = 's'
	flowStep  = 't'
	flowEnd   = 'f'
)

// flow records a flow event of the attempt id at, inside the span that starts there on the
// track (pid, tid).
func (t *tracer) flow(phase byte, pid, tid int, at monoTime, id uint64) {
	t.begin()
	t.buf = append(t.buf, `{"name":"chunk","cat":"attempt","ph":"`...)
	t.buf = append(t.buf, phase, '"', ',')
	if phase == flowEnd {
		t.buf = append(t.buf, `"bp":"e",`...)
	}
	t.buf = append(t.buf, `"id":`...)
	t.buf = strconv.AppendUint(t.buf, id, 10)
	t.buf = append(t.buf, ',')
	t.appendWhere(pid, tid, at)
	t.buf = append(t.buf, '}')
	t.flushBuf()
}

// lost records a worker's loss: an instant event on every track, with its rank, host, how
// it was found and the chunks issued again.
func (t *tracer) lost(lw LostWorker, at monoTime) {
	t.begin()
	t.buf = append(t.buf, `{"name":`...)
	t.buf = strconv.AppendQuote(t.buf, "rank "+strconv.Itoa(lw.Rank)+" on "+lw.Host+" lost")
	t.buf = append(t.buf, `,"cat":"lost","ph":"i","s":"g",`...)
	t.appendWhere(0, 0, at)
	t.buf = append(t.buf, `,"args":{"rank":`...)
	t.buf = strconv.AppendInt(t.buf, int64(lw.Rank), 10)
	t.buf = append(t.buf, `,"host":`...)
	t.buf = strconv.AppendQuote(t.buf, lw.Host)
	t.buf = append(t.buf, `,"how":`...)
	t.buf = strconv.AppendQuote(t.buf, lw.How)
	t.buf = append(t.buf, `,"chunks_issued_again":`...)
	t.buf = strconv.AppendInt(t.buf, int64(lw.Reissued), 10)
	t.buf = append(t.buf, `}}`...)
	t.flushBuf()
}

// appendWhere appends an event's pid, tid and ts fields.
func (t *tracer) appendWhere(pid, tid int, at monoTime) {
	t.buf = append(t.buf, `"pid":`...)
	t.buf = strconv.AppendInt(t.buf, int64(pid), 10)
	t.buf = append(t.buf, `,"tid":`...)
	t.buf = strconv.AppendInt(t.buf, int64(tid), 10)
	t.buf = append(t.buf, `,"ts":`...)
	t.buf = appendMicros(t.buf, at.Sub(t.start))
}

// appendMicros appends d in microseconds, to the nanosecond.
func appendMicros(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d.Nanoseconds())/1e3, 'f', 3, 64)
}

// nextFlow is a new attempt's flow id.
func (t *tracer) nextFlow() uint64 {
	t.flows++
	return t.flows
}

// close ends the JSON array and flushes.
func (t *tracer) close() error {
	t.w.WriteString("\n]\n")
	return t.w.Flush()
}
