package rank

import (
	"encoding/binary"
	"errors"
	"fmt"
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
//
// Its peers are the transport's worker ranks 1 to size-1 and one more, rank size: a worker
// in the manager's own process, started when every other worker is lost (local.go).
type manager struct {
	cfg   Config
	plan  *Plan
	size  int // the transport's ranks: the manager and its workers
	out   *outbox
	phase phase
	err   error // the job's error, once it failed
	dead  bool  // the transport failed: nothing more can be sent
	start monoTime

	threads  []int    // per rank: computing threads (0 for the manager, and before ready)
	hosts    []string // per rank
	waiting  int      // stopping: the workers yet to acknowledge the stop
	slots    ring     // one entry per free credit: the rank to send to
	credits  int      // total credits, the in-flight bound
	asked    []int    // pull mode, per rank: its kindAsk records, threads x window at most
	acked    []bool   // stopping: the workers that acknowledged the stop
	ranks             // who is joined, heard from, told, lost (lost.go)
	releases          // who holds chunks, who was stopped early (release.go)

	flights  flights             // the chunks issued and not done, by ticket
	late     map[uint64]lateCopy // chunks done while a second holder still computes them
	issued   issuedQueue         // the flights in the order of their chunks, for backups
	failed   []FailedChunk
	retryq   []*flight
	ro       *partition.Reorder
	nextSeq  uint64
	srcDone  bool        // no more chunks will be issued (end of input, or draining)
	draining bool        // a Sink asked for a drain
	arrival  ArrivalSink // the Sink, when it hears of results as they arrive
	gaps     GapSink     // the Sink, when it hears of the chunks left out

	sized      SizedSource // the source, when the engine sizes its chunks
	sizer      sizer
	backupFrom uint64   // no chunk below it can get a backup
	backupAt   monoTime // when the oldest chunk without a backup will straggle (0: none waits)
	tr         *tracer
	labeler    TraceLabeler      // the Sink, when it names its chunks in the trace
	writeFlows map[uint64]uint64 // with a trace: the flow of each result not yet written
	now        monoTime          // the time of the event being handled
	rx         []byte            // the frame being handled; nil once the reorder buffer took it
	dealt      int               // chunks of the first windows dealt (dealFirst)
	dealEnd    int               // chunks of the first windows to deal

	answered, issuedN int // answers handled and chunks issued (tasks sent), for the sizer

	itemsDone uint64 // items of the chunks answered
	// Read by the progress goroutine: the counts as of the owner loop's last round
	// (publishCounts), and the details it asks for.
	doneChunks, doneItems atomic.Uint64
	inFlight              atomic.Int64
	detail                progressDetail

	st Stats
}

// phase is where the manager is in a run.
type phase uint8

const (
	running  phase = iota // issuing chunks to the workers that joined, and writing results
	stopping              // stop sent, waiting for the acknowledgements
	finished              // nothing more to do: the loop ends
)

func newManager(cfg Config, size int, host string, now monoTime) *manager {
	n := size + 1 // the workers, and a local one (local.go)
	m := &manager{cfg: cfg, size: size, out: newOutbox(n), start: now, now: now, late: map[uint64]lateCopy{}}
	m.threads, m.hosts, m.asked, m.acked = make([]int, n), make([]string, n), make([]int, n), make([]bool, n)
	m.ranks, m.releases = newRanks(n, now), newReleases(n)
	m.hosts[0] = host
	m.st.PerWorker = make([]uint64, n)
	return m
}

// begin starts a run with plan (nil with openErr: the job failed to open, and the workers
// are told to end). It announces the setup's length to every worker (the owner loop then
// sends the setup itself, a collective broadcast); each worker joins with its ready message
// and gets chunks at once.
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
	if m.tr != nil {
		m.labeler, _ = plan.Sink.(TraceLabeler)
		m.writeFlows = map[uint64]uint64{}
		m.tr.name(0, 0, "rank 0 (manager) on "+m.hosts[0], "send")
		m.tr.thread(0, 1, "write")
	}
	m.ro = partition.NewReorder(partition.ReorderConfig{First: plan.First, MemBytes: m.cfg.ReorderMem, Dir: m.cfg.SpillDir})
	m.nextSeq, m.backupFrom = plan.First, plan.First
	m.slots = newRing(m.size)
	m.flights = newFlights(m.size)
	m.st.Workers = m.size - 1
	m.dealFirst()
}

// dealSlice is how many chunks (or, in pull mode, setups) the deal issues per round of
// the owner loop: their frames go out before the next are made, so on a farm of 100,000
// the first workers compute while the last are dealt.
const dealSlice = 256

// dealFirst starts the deal: every worker gets the setup's announcement and, in push mode,
// a window of chunks, as for one thread (its ready message brings the rest), so that on a
// farm of thousands the first chunks go out with the setup, not one round trip later. The
// deal goes round the farm a chunk per worker at a time: every worker's first chunk (with
// its setup) before any worker's second, so that all start early, and chunks end in about
// the order of their seqs (the reorder buffer holds little). It deals everything at once
// when a setup must be broadcast after the first frames (a worker joins the broadcast only
// once it has the announcement); otherwise dealSlice chunks now and as many per round after
// (dealMore).
func (m *manager) dealFirst() {
	m.sizer.start(m.size-1, m.cfg)
	m.dealEnd = (m.size - 1) * m.cfg.Window
	if m.cfg.Mode == Pull {
		m.dealEnd = m.size - 1 // setups only: the workers' asks bring the chunks
	}
	n := dealSlice
	if len(m.plan.Setup) > 0 {
		n = m.dealEnd
	}
	m.deal(n)
}

// announced reports whether worker r has been sent its setup's announcement: nothing may
// go to it before.
func (m *manager) announced(r int) bool { return m.dealt >= min(r, m.size-1) }

// dealMore continues the deal at now, if it is not done; the owner loop calls it once per
// round.
func (m *manager) dealMore(now monoTime) {
	if m.dealt < m.dealEnd && m.phase == running {
		m.now = now
		m.deal(dealSlice)
	}
}

// deal deals the next n chunks of the first windows: deal d goes to worker 1 + d mod
// workers, with the setup's announcement in its first round.
func (m *manager) deal(n int) {
	workers := m.size - 1
	for end := min(m.dealEnd, m.dealt+n); m.dealt < end; m.dealt++ {
		r := 1 + m.dealt%workers
		if m.lost[r] {
			continue
		}
		if m.dealt < workers { // its first round: the announcement goes first
			m.announce(r)
		}
		if m.cfg.Mode != Pull {
			m.slots.push(r)
			m.credits++
		}
	}
	m.issue()
}

// announce queues the setup's announcement for worker r, the first record it gets; its
// silence counts from then.
func (m *manager) announce(r int) {
	var length [8]byte
	binary.LittleEndian.PutUint64(length[:], uint64(len(m.plan.Setup)))
	m.out.add(r, record{kind: kindSetup, data: length[:]})
	m.heard[r] = m.now
}

// announceRest announces the setup to the workers not lost that the deal has not reached
// (the job ends during the deal), so that each answers the stop that follows, as the
// others do.
func (m *manager) announceRest() {
	for ; m.dealt < m.size-1; m.dealt++ {
		if r := m.dealt + 1; !m.lost[r] {
			m.announce(r)
		}
	}
}

// toAll queues r for every worker not lost nor released.
func (m *manager) toAll(r record) {
	for to := 1; to < m.size; to++ {
		if !m.lost[to] && !m.released[to] {
			m.out.add(to, r)
		}
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

// handleFrame handles every record of a frame, then issues what it can. A lost worker's
// frames are dropped unread: its chunks went to others.
func (m *manager) handleFrame(from int, frame []byte) {
	if from < 1 || from > m.size || from == m.size && m.threads[from] == 0 && !m.localStarted {
		m.fail(fmt.Errorf("message from unknown rank %d", from))
		return
	}
	if m.lost[from] {
		return
	}
	m.heard[from] = m.now
	err := eachRecord(from, frame, func(r record) error {
		switch m.phase {
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

// onRunning handles a record while chunks are issued.
func (m *manager) onRunning(from int, r record) error {
	if err := m.checkAsk(from, r); err != nil {
		return err
	}
	switch {
	case r.kind == kindFail && m.threads[from] == 0:
		return m.gaveUp(from, r, "start: ")
	case r.kind == kindFail:
		return m.gaveUp(from, r, "")
	case r.kind == kindReady && m.threads[from] == 0:
		return m.join(from, r)
	case r.kind == kindAsk && m.cfg.Mode == Pull:
		if err := m.countAsk(from); err != nil {
			return err
		}
		m.slots.push(from)
		return nil
	case r.kind == kindHeartbeat:
		return nil
	case r.kind == kindStop && m.released[from] && !m.acked[from]: // its release (release.go)
		m.acked[from] = true
		return nil
	case r.kind == kindResult || r.kind == kindError || (r.kind == kindSkip && m.draining):
		return m.onAnswer(from, r)
	}
	return fmt.Errorf("%s: unexpected %s message (chunk %d, %d bytes)", m.who(from), r.kind, r.seq, len(r.data))
}

// join takes worker from's ready message: its threads x window credits are dealt at once
// (in pull mode its asks bring them).
func (m *manager) join(from int, r record) error {
	if len(r.data) < 4 {
		return fmt.Errorf("%s: unexpected ready message (%d bytes)", m.who(from), len(r.data))
	}
	th := int(binary.LittleEndian.Uint32(r.data))
	if th < 1 || th > MaxThreads {
		return fmt.Errorf("%s: announced %d threads", m.who(from), th)
	}
	m.threads[from], m.hosts[from] = th, string(r.data[4:])
	if m.st.Threads == 0 {
		m.st.Threads = th
	}
	c := th * m.cfg.Window
	if m.cfg.Mode != Pull && from < m.size {
		c -= m.cfg.Window // dealt by the deal (dealFirst)
	}
	m.credits += c
	for k := 0; k < c && m.cfg.Mode != Pull; k++ {
		m.slots.push(from)
	}
	m.joined++
	if m.sized != nil {
		// Every worker counted at this one's threads until each has joined: the first
		// chunks are sized for the whole farm, not for the few ranks that joined first.
		m.sizer.joined(th, m.size-1)
	}
	if m.tr != nil {
		m.traceNames(from, th)
	}
	return nil
}

// onStopping counts the acknowledgements of the stop and drops everything else: results
// still on their way when the job ended.
func (m *manager) onStopping(from int, r record) {
	if r.kind == kindStop && !m.acked[from] {
		m.acked[from] = true
		m.acknowledged()
	}
}

// acknowledged counts one worker fewer to wait for.
func (m *manager) acknowledged() {
	if m.waiting--; m.waiting <= 0 {
		m.phase = finished
	}
}

// fail ends the job with err (the first error wins) and stops the workers.
func (m *manager) fail(err error) {
	if m.err == nil {
		m.err = err
	}
	m.stop()
}

// stop tells every worker not released to stop; the loop ends once each not lost
// acknowledged (or at a deadline the owner loop keeps). A lost worker gets the stop too,
// never waited for: one that froze and wakes up later then ends at once, not after
// managerTimeouts.
func (m *manager) stop() {
	if m.phase >= stopping {
		return
	}
	if m.plan == nil {
		m.phase = finished
		return
	}
	m.phase, m.stoppedAt = stopping, m.now
	m.waiting = 1 // held until every stop is queued
	m.announceRest()
	stop := record{kind: kindStop, data: m.lostList}
	for to := 1; to < m.size; to++ {
		if !m.released[to] {
			m.out.add(to, stop)
		}
		if !m.lost[to] && !m.acked[to] {
			m.waiting++
		}
	}
	if m.localStarted {
		m.out.add(m.size, record{kind: kindStop}) // in process: no rank of its world is lost
		m.waiting++
	}
	m.acknowledged()
}

// transportFailed ends the job at once: the transport cannot carry a stop.
func (m *manager) transportFailed(err error) {
	if m.err == nil {
		m.err = err
	}
	m.phase, m.dead = finished, true
}

// silent names the workers that did not acknowledge the stop (lost ones aside: the run
// report names those).
func (m *manager) silent() []string {
	var s []string
	for r := 1; r <= m.size; r++ {
		if !m.acked[r] && !m.lost[r] && (r < m.size || m.localStarted) {
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

// messages counts the chunks the manager moved so far, each way's larger share: answers
// handled, or chunks issued (the sizer's cost per chunk).
func (m *manager) messages() int { return max(m.answered, m.issuedN) }

// who names a rank and its host for messages.
func (m *manager) who(r int) string {
	switch {
	case r == m.size && m.size > 0:
		return "rank 0's own worker"
	case m.cfg.alone && r == 1:
		return "the worker on " + m.hosts[r]
	case r >= 0 && r < len(m.hosts) && m.hosts[r] != "":
		return fmt.Sprintf("rank %d on %s", r, m.hosts[r])
	}
	return fmt.Sprintf("rank %d", r)
}
