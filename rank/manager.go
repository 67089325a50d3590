package rank

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/mw-hpc/mw/partition"
)

// manager is rank 0's protocol as a step function: it takes one event at a time (a frame
// from a worker, a tick of the clock, a chunk the source has ready) and records what to do
// in its outbox (frames to send), its phase and its error. It makes no transport call and
// reads no clock: the owner loop (managerLoop) drives it under MPI, in process and in the
// simulator alike, so the protocol exists once. It calls the job's Source and Sink (the
// workload's code) itself, in the order the protocol needs them. Used by one goroutine.
type manager struct {
	cfg   Config
	plan  *Plan
	size  int // ranks: the manager and its workers
	out   *outbox
	phase phase
	err   error // the job's error, once it failed
	dead  bool  // the transport failed: nothing more can be sent
	start monoTime

	threads []int    // per rank: computing threads (0 for the manager, and before ready)
	hosts   []string // per rank
	ready   int      // workers that announced themselves
	slots   ring     // one entry per free credit: the rank to send to
	credits int      // total credits, the in-flight bound
	asks    []int    // pull mode: asks received before every worker was ready
	asked   []int    // pull mode, per rank: its kindAsk records, threads x window at most
	acked   []bool   // stopping: the workers that acknowledged the stop

	flights  flights        // the chunks issued and not done, by ticket
	late     map[uint64]int // chunks done while a second holder still computes them
	issued   issuedQueue    // the flights in the order of their chunks, for backups
	failed   []FailedChunk
	retryq   []*flight
	ro       *partition.Reorder
	nextSeq  uint64
	srcDone  bool        // no more chunks will be issued (end of input, or draining)
	draining bool        // a Sink asked for a drain
	arrival  ArrivalSink // the Sink, when it hears of results as they arrive
	gaps     GapSink     // the Sink, when it hears of the chunks left out
	ending   error       // ErrDone from the Sink: stop once this step's results are written

	sized      SizedSource // the source, when the engine sizes its chunks
	sizer      sizer
	backupFrom uint64 // no chunk below it can get a backup
	tr         *tracer
	now        monoTime // the time of the event being handled
	rx         []byte   // the frame being handled; nil once the reorder buffer took it

	// Read by the progress goroutine.
	doneChunks, doneItems atomic.Uint64
	inFlight              atomic.Int64

	st Stats
}

// phase is where the manager is in a run.
type phase uint8

const (
	starting phase = iota // setup sent, waiting for every worker's ready
	running               // issuing chunks and writing results
	stopping              // stop sent, waiting for the acknowledgements
	finished              // nothing more to do: the loop ends
)

// reorderSlack is the bound, in credits, on how far issuing runs ahead of the ordered output
// (see issue): enough that a slow chunk at the head costs only itself.
const reorderSlack = 4

func newManager(cfg Config, size int, host string, now monoTime) *manager {
	m := &manager{cfg: cfg, size: size, out: newOutbox(size), start: now, now: now, late: map[uint64]int{}}
	m.threads, m.hosts, m.asked, m.acked = make([]int, size), make([]string, size), make([]int, size), make([]bool, size)
	m.hosts[0] = host
	m.st.PerWorker = make([]uint64, size)
	return m
}

// begin starts a run with plan (nil with openErr: the job failed to open, and the workers
// are told to end). It announces the setup's length to every worker; the owner loop then
// sends the setup itself (a collective broadcast) and feeds the workers' frames to onFrame.
func (m *manager) begin(plan *Plan, openErr error) {
	if openErr == nil && (plan == nil || plan.Source == nil || plan.Sink == nil) {
		openErr = errors.New("engine: Open returned no source or sink")
	}
	if openErr == nil && uint64(len(plan.Setup)) > maxSetup {
		openErr = fmt.Errorf("setup of %d bytes: more than the %d a worker accepts", len(plan.Setup), uint64(maxSetup))
	}
	if openErr != nil {
		m.toAll(record{kind: kindAbort, data: []byte(openErr.Error())})
		m.err, m.phase = openErr, finished
		return
	}
	m.plan = plan
	m.arrival, _ = plan.Sink.(ArrivalSink)
	m.gaps, _ = plan.Sink.(GapSink)
	m.sized, _ = plan.Source.(SizedSource)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(plan.Setup)))
	m.toAll(record{kind: kindSetup, data: n[:]})
}

// toAll queues r for every worker.
func (m *manager) toAll(r record) {
	for to := 1; to < m.size; to++ {
		m.out.add(to, r)
	}
}

// onFrame handles one frame from rank from. Every record is checked before use; a bad one
// fails the job, naming the sender. It reports whether the frame is the caller's again (to
// give back to package frame), which it is unless the reorder buffer took it.
func (m *manager) onFrame(now monoTime, from int, frame []byte) (mine bool) {
	m.now, m.rx = now, frame
	m.handleFrame(from, frame)
	mine, m.rx = m.rx != nil, nil
	return mine
}

// handleFrame handles every record of a frame, then issues what it can.
func (m *manager) handleFrame(from int, frame []byte) {
	if from < 1 || from >= m.size {
		m.fail(fmt.Errorf("message from unknown rank %d", from))
		return
	}
	err := eachRecord(from, frame, func(r record) error {
		switch m.phase {
		case starting:
			return m.onStarting(from, r)
		case running:
			return m.onRunning(from, r)
		case stopping:
			m.onStopping(from, r)
		}
		return nil
	})
	if err != nil {
		m.end(err)
		return
	}
	m.advance()
}

// onStarting handles a record that comes before every worker is ready.
func (m *manager) onStarting(from int, r record) error {
	if err := m.checkAsk(from, r); err != nil {
		return err
	}
	switch {
	case r.kind == kindAsk && m.cfg.Mode == Pull:
		if err := m.countAsk(from); err != nil {
			return err
		}
		m.asks = append(m.asks, from) // credited once every worker is ready
		return nil
	case r.kind == kindFail:
		return m.gaveUp(from, r, "start: ")
	case r.kind != kindReady || len(r.data) < 4 || m.threads[from] != 0:
		return fmt.Errorf("%s: unexpected %s message while starting (%d bytes)", m.who(from), r.kind, len(r.data))
	}
	th := int(binary.LittleEndian.Uint32(r.data))
	if th < 1 || th > MaxThreads {
		return fmt.Errorf("%s: announced %d threads", m.who(from), th)
	}
	m.threads[from], m.hosts[from] = th, string(r.data[4:])
	if m.ready++; m.ready == m.size-1 {
		m.run()
	}
	return nil
}

// run starts issuing: every worker is ready.
func (m *manager) run() {
	m.phase = running
	m.initCredits()
	if m.tr != nil {
		m.tr.name(0, 0, "rank 0 (manager) on "+m.hosts[0], "send")
		m.tr.thread(0, 1, "write")
		for r := 1; r < m.size; r++ {
			m.tr.name(r, 0, m.who(r), "thread 0")
			for th := 1; th < m.threads[r]; th++ {
				m.tr.thread(r, th, "thread "+strconv.Itoa(th))
			}
		}
	}
	if m.sized != nil {
		m.sizer.slots = max(1, m.credits/m.cfg.Window)
	}
}

// initCredits deals threads x window credits per worker, interleaved across workers so
// that the first chunks spread over every worker.
func (m *manager) initCredits() {
	most := 0
	for r := 1; r < m.size; r++ {
		c := m.threads[r] * m.cfg.Window
		m.credits += c
		most = max(most, c)
	}
	m.slots = newRing(m.credits)
	for k := 0; k < most && m.cfg.Mode != Pull; k++ {
		for r := 1; r < m.size; r++ {
			if k < m.threads[r]*m.cfg.Window {
				m.slots.push(r)
			}
		}
	}
	for _, r := range m.asks {
		m.slots.push(r)
	}
	m.asks = nil
	m.st.Workers, m.st.Threads = m.size-1, m.threads[1]
	m.ro = partition.NewReorder(partition.ReorderConfig{First: m.plan.First, MemBytes: m.cfg.ReorderMem, Dir: m.cfg.SpillDir})
	m.flights = newFlights(m.credits)
	m.nextSeq, m.backupFrom = m.plan.First, m.plan.First
}

// onRunning handles a record while chunks are issued.
func (m *manager) onRunning(from int, r record) error {
	if err := m.checkAsk(from, r); err != nil {
		return err
	}
	switch {
	case r.kind == kindFail:
		return m.gaveUp(from, r, "")
	case r.kind == kindAsk && m.cfg.Mode == Pull:
		if err := m.countAsk(from); err != nil {
			return err
		}
		m.slots.push(from)
		return nil
	case r.kind == kindHeartbeat:
		return nil
	case r.kind == kindResult || r.kind == kindError || (r.kind == kindSkip && m.draining):
		return m.onAnswer(from, r)
	}
	return fmt.Errorf("%s: unexpected %s message (chunk %d, %d bytes)", m.who(from), r.kind, r.seq, len(r.data))
}

// onStopping counts the acknowledgements of the stop and drops everything else: results
// still on their way when the job ended.
func (m *manager) onStopping(from int, r record) {
	if r.kind == kindStop && !m.acked[from] {
		m.acked[from] = true
		if m.ready++; m.ready == m.size-1 {
			m.phase = finished
		}
	}
}

// fail ends the job with err (the first error wins) and stops the workers.
func (m *manager) fail(err error) {
	if m.err == nil {
		m.err = err
	}
	m.stop()
}

// stop tells every worker to stop; the loop ends once each acknowledged (or at a deadline
// the owner loop keeps).
func (m *manager) stop() {
	if m.phase >= stopping {
		return
	}
	if m.phase == starting && m.plan == nil {
		m.phase = finished
		return
	}
	m.phase, m.ready = stopping, 0
	m.toAll(record{kind: kindStop})
}

// transportFailed ends the job at once: the transport cannot carry a stop.
func (m *manager) transportFailed(err error) {
	if m.err == nil {
		m.err = err
	}
	m.phase, m.dead = finished, true
}

// silent names the workers that did not acknowledge the stop.
func (m *manager) silent() []string {
	var s []string
	for r := 1; r < m.size; r++ {
		if !m.acked[r] {
			s = append(s, m.who(r))
		}
	}
	return s
}

// checkAsk refuses an ask where pull mode does not want one, and an answer without the
// ask that pull mode wants.
func (m *manager) checkAsk(from int, r record) error {
	switch {
	case r.ask && (m.cfg.Mode != Pull || !r.kind.answer()):
		return fmt.Errorf("%s: asked for a chunk on a %s message (chunk %d) in %s mode", m.who(from), r.kind, r.seq, m.cfg.Mode)
	case !r.ask && m.cfg.Mode == Pull && r.kind.answer():
		return fmt.Errorf("%s: %s for chunk %d without the ask for the next that pull mode wants", m.who(from), r.kind, r.seq)
	}
	return nil
}

// countAsk counts a kindAsk from worker r in pull mode. A worker asks so for its first
// threads x window chunks, after its ready message, and for every later chunk in the
// answer that frees the slot (record.ask): an ask beyond those is an error.
func (m *manager) countAsk(r int) error {
	if m.threads[r] == 0 {
		return fmt.Errorf("%s: asked for a chunk before it announced itself ready", m.who(r))
	}
	if m.asked[r]++; m.asked[r] > m.threads[r]*m.cfg.Window {
		return fmt.Errorf("%s: asked for more chunks than its %d threads x %d window", m.who(r), m.threads[r], m.cfg.Window)
	}
	return nil
}

// gaveUp is the error of worker from, which gave up (kindFail: its host, a NUL, and why),
// prefixed with what it was doing.
func (m *manager) gaveUp(from int, r record, doing string) error {
	host, why, ok := strings.Cut(string(r.data), "\x00")
	if !ok {
		return fmt.Errorf("%s: malformed fail message (%d bytes)", m.who(from), len(r.data))
	}
	if m.hosts[from] == "" {
		m.hosts[from] = host
	}
	return fmt.Errorf("%s: %s%s", m.who(from), doing, why)
}

// who names a rank and its host for messages.
func (m *manager) who(r int) string {
	if r >= 0 && r < len(m.hosts) && m.hosts[r] != "" {
		return fmt.Sprintf("rank %d on %s", r, m.hosts[r])
	}
	return fmt.Sprintf("rank %d", r)
}
