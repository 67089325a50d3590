package rank

import "encoding/json"

// The trace's account of the chunks (Config.Trace): a span for every attempt, that is every
// copy of a chunk sent to a worker, whatever became of it. An attempt answered (a result,
// an error, or the losing copy of a backup, answered late) spans its computation on the
// worker thread that ran it, as the worker measured it. An attempt never answered spans
// from its send to the loss of its worker, or to the end of the run, on its worker's
// "sent, never answered" track. Flow arrows join each attempt's send, its computation and
// the write of its result. A Sink that is a TraceLabeler names the spans.

// unansweredTrack is a worker's track for its attempts never answered. Such spans end
// together (at the loss, or at the end), so they nest rather than overlap.
const unansweredTrack = 1 << 20

// lateCopy is the other copy of a chunk already done: its holder may still compute it.
type lateCopy struct {
	rank   int
	sent   sendMark
	backup bool  // it is the backup copy
	c      Chunk // the chunk, with a trace only: its label, should the copy never answer
}

// markSend records the send of a copy of f to rank to: when (for --status), and with a
// trace its span on the manager's send track and the start of its flow.
func (m *manager) markSend(to int, f *flight, backup bool) sendMark {
	mark := sendMark{at: m.now}
	if m.tr == nil {
		return mark
	}
	mark.flow = m.tr.nextFlow()
	name, label := m.label(f.c, nil)
	what := "send "
	if backup {
		what = "send backup "
	}
	m.tr.span(0, 0, what+name+" to rank "+fmtUint(uint64(to)), "send", m.now, 0,
		spanArgs{seq: f.c.Seq, attempt: f.c.Attempt, lost: int(f.c.Lost), backup: backup, label: label})
	m.tr.flow(flowStart, 0, 0, m.now, mark.flow)
	return mark
}

// traceAnswer records the computation that worker from reports in answer r to its copy of
// f: the span ends now and lasts the compute time the worker measured, so no other host's
// clock is read. A result's flow goes on to its write.
func (m *manager) traceAnswer(from int, r record, f *flight) {
	if m.tr == nil {
		return
	}
	mark, backup := f.copyOf(from)
	a := spanArgs{seq: r.seq, attempt: f.c.Attempt, lost: int(f.c.Lost), backup: backup}
	var name string
	cat, phase := "chunk", byte(flowStep)
	if r.kind == kindError {
		cat, phase, a.err = "error", flowEnd, string(r.data)
		name, a.label = m.label(f.c, nil)
		name += " failed"
	} else {
		name, a.label = m.label(f.c, r.data)
		m.writeFlows[r.seq] = mark.flow
	}
	at := m.now - monoTime(r.work)
	m.tr.span(from, r.thread, name, cat, at, r.work, a)
	m.tr.flow(phase, from, r.thread, at, mark.flow)
}

// traceLate records the computation of late copy lc, answered by r after the other won.
func (m *manager) traceLate(r record, lc lateCopy) {
	if m.tr == nil {
		return
	}
	name, label := m.label(lc.c, resultOf(r))
	at := m.now - monoTime(r.work)
	m.tr.span(lc.rank, r.thread, name+" (late copy)", "late", at, r.work,
		spanArgs{seq: r.seq, attempt: lc.c.Attempt, lost: int(lc.c.Lost), backup: lc.backup, label: label})
	m.tr.flow(flowEnd, lc.rank, r.thread, at, lc.sent.flow)
}

// resultOf is the result that answer r carries, nil for an error or a skip.
func resultOf(r record) []byte {
	if r.kind == kindResult {
		return r.data
	}
	return nil
}

// traceUnanswered records a copy of chunk c that rank held, sent at mark, and never
// answered: its worker was lost (cat "lost"), or the run ended first ("abandoned").
func (m *manager) traceUnanswered(rank int, c Chunk, mark sendMark, backup bool, cat string) {
	if m.tr == nil {
		return
	}
	name, label := m.label(c, nil)
	m.tr.span(rank, unansweredTrack, name+" ("+cat+")", cat, mark.at, m.now.Sub(mark.at),
		spanArgs{seq: c.Seq, attempt: c.Attempt, lost: int(c.Lost), backup: backup, label: label})
	m.tr.flow(flowEnd, rank, unansweredTrack, mark.at, mark.flow)
}

// traceAbandoned records, at the end of the run, every copy still out: chunks in flight
// when the job ended early, and the other copies of chunks done.
func (m *manager) traceAbandoned(now monoTime) {
	if m.tr == nil {
		return
	}
	m.now = now
	for _, f := range m.flights.byTicket {
		if f.live && f.rank > 0 {
			m.traceUnanswered(f.rank, f.c, f.sent, false, "abandoned")
		}
		if f.live && f.backup > 0 {
			m.traceUnanswered(f.backup, f.c, f.backupSent, true, "abandoned")
		}
	}
	for _, lc := range m.late {
		m.traceUnanswered(lc.rank, lc.c, lc.sent, lc.backup, "abandoned")
	}
}

// traceWrite records the Sink's Put of chunk seq's result out, from begin to now, where
// the flow of the attempt that computed it ends.
func (m *manager) traceWrite(seq uint64, out []byte, begin monoTime) {
	end := m.tr.clock()
	name, label := m.label(Chunk{Seq: seq}, out)
	m.tr.span(0, 1, "write "+name, "write", begin, end.Sub(begin), spanArgs{seq: seq, attempt: -1, label: label})
	if flow, ok := m.writeFlows[seq]; ok {
		delete(m.writeFlows, seq)
		m.tr.flow(flowEnd, 0, 1, begin, flow)
	}
}

// label is the name of chunk c's spans and the JSON object of its labeler's args (nil for
// none): the TraceLabeler's, else "chunk N". Args that are not a JSON object are replaced
// by a note saying so.
func (m *manager) label(c Chunk, result []byte) (string, []byte) {
	if m.labeler == nil {
		return "chunk " + fmtUint(c.Seq), nil
	}
	name, args := m.labeler.TraceLabel(c, result)
	if name == "" {
		name = "chunk " + fmtUint(c.Seq)
	}
	if len(args) > 0 && (args[0] != '{' || !json.Valid(args)) {
		args = []byte(`{"label_args":"not a JSON object"}`)
	}
	return name, args
}

// traceNames labels worker from's tracks as it joins with th threads.
func (m *manager) traceNames(from, th int) {
	m.tr.name(from, 0, m.who(from), "thread 0")
	for t := 1; t < th; t++ {
		m.tr.thread(from, t, "thread "+fmtUint(uint64(t)))
	}
	m.tr.thread(from, unansweredTrack, "sent, never answered")
}
