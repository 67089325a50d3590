package rank

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/internal/cpuclock"
	"github.com/mw-hpc/mw/partition"
)

// flight is a chunk issued to a worker and not yet answered. The manager keeps its data
// until the result is in, to re-issue it after an error.
type flight struct {
	c      Chunk
	items  int // items in the chunk (1 when the source does not say)
	rank   int // worker holding it; -1 while waiting in the retry queue
	backup int // worker holding a backup copy (straggler), 0 for none
	failed int // rank that failed it last, 0 for none
}

// reorderSlack is the reorder buffer's bound in credits.
const reorderSlack = 4

// manager is rank 0's state. It lives on one goroutine: no field is shared.
type manager struct {
	t     Transport
	job   Job
	cfg   Config
	plan  *Plan
	start time.Time

	threads []int    // per rank: computing threads (0 for the manager)
	hosts   []string // per rank
	slots   ring     // one entry per free credit: the rank to send to
	credits int      // total credits, the in-flight bound
	asks    []int    // pull mode: asks received before every worker was ready
	asked   []int    // pull mode, per rank: its KindAsk messages, threads x window at most

	inflight flights         // the chunks issued and not done
	frames   [][]byte        // per reorder slot (seq mod its bound): the pooled buffer of the result held there, put back once written
	late     map[uint64]int  // chunks done while a second holder still computes them
	holes    map[uint64]bool // chunks the output leaves out: failed (--keep-going), or handed back by a drain
	failed   []FailedChunk
	retryq   []uint64
	ro       *partition.Reorder
	nextSeq  uint64
	srcDone  bool        // no more chunks will be issued (end of input, or draining)
	draining int         // 1: a Sink asked for a drain that the workers are yet to hear of; 2: they have
	arrival  ArrivalSink // the Sink, when it hears of results as they arrive

	sized SizedSource // the source, when the engine sizes its chunks
	sizer sizer
	own   ownClock // the manager's own time, for the sizer
	tr    *tracer  // nil unless tracing

	// Read by the progress goroutine.
	doneChunks, doneItems atomic.Uint64
	inFlight              atomic.Int64

	free       []*flight // flights to reuse: no allocation per chunk in steady state
	backupFrom uint64    // no chunk below it can get a backup
	sent       int       // chunks sent, for the sizer's cost per message
	sentBefore int       // chunks sent before this round (the sizer's)

	st Stats
}

func runManager(ctx context.Context, t Transport, job Job, cfg Config) (Stats, error) {
	m := &manager{t: t, job: job, cfg: cfg, start: time.Now(), late: map[uint64]int{}, holes: map[uint64]bool{}}
	var slept0, rung0 uint64 // a transport may serve many runs (pool)
	cpu0 := cpuclock.Process()
	if s, ok := t.(sleeper); ok {
		slept0, rung0 = s.sleeps()
	}
	n := t.Size()
	m.threads, m.hosts, m.asked = make([]int, n), make([]string, n), make([]int, n)
	m.hosts[0] = t.Host()
	m.st.PerWorker = make([]uint64, n)

	if cfg.Trace != nil {
		m.tr = newTracer(cfg.Trace, m.start)
	}
	err := m.setup(ctx)
	stopProgress := m.progress()
	if err == nil {
		err = m.loop(ctx)
	}
	if err == nil {
		if e, ok := m.plan.Sink.(EndSink); ok {
			if err = e.End(); err != nil {
				err = fmt.Errorf("end output: %w", err)
			}
		}
	}
	stopProgress()
	if m.tr != nil {
		if terr := m.tr.close(); err == nil && terr != nil {
			err = fmt.Errorf("write trace: %w", terr)
		}
	}
	if errors.Is(err, ErrDone) {
		err = nil // ended early by the Sink: a success, but for the chunks left out
	}
	if err == nil && len(m.failed) > 0 {
		err = &PartialError{Failed: m.failed}
	}
	if silent := m.stopAll(ctx, err); len(silent) > 0 && err != nil && ctx.Err() != nil {
		err = &StopUnanswered{Err: err, Ranks: silent}
	}
	m.st.Wall = time.Since(m.start)
	m.st.ManagerCPU = cpuclock.Process() - cpu0
	if s, ok := t.(sleeper); ok {
		slept, rung := s.sleeps()
		m.st.Wakeups, m.st.RungWakeups = slept-slept0, rung-rung0
	}
	m.st.Hosts = m.hosts
	m.st.LeftOut = uint64(len(m.failed))
	if m.ro != nil {
		m.st.MaxReorder, m.st.ReorderBound = m.ro.Max(), m.ro.Bound()
	}
	return m.st, err
}

// setup opens the job, sends the setup to every worker and waits until each is ready.
func (m *manager) setup(ctx context.Context) error {
	plan, err := m.job.Open(ctx)
	if err != nil {
		m.broadcastKind(ctx, KindAbort, []byte(err.Error()))
		return err
	}
	if plan == nil || plan.Source == nil || plan.Sink == nil {
		err := errors.New("engine: Open returned no source or sink")
		m.broadcastKind(ctx, KindAbort, []byte(err.Error()))
		return err
	}
	if live, ok := plan.Source.(LiveSource); ok {
		it, ok := m.t.(interrupter)
		if !ok {
			err := errors.New("engine: a live source needs a transport whose receive can be interrupted")
			m.broadcastKind(ctx, KindAbort, []byte(err.Error()))
			return err
		}
		live.SetNotify(it.Interrupt)
	}
	if uint64(len(plan.Setup)) > maxSetup {
		err := fmt.Errorf("setup of %d bytes: more than the %d a worker accepts", len(plan.Setup), uint64(maxSetup))
		m.broadcastKind(ctx, KindAbort, []byte(err.Error()))
		return err
	}
	m.plan = plan
	m.arrival, _ = plan.Sink.(ArrivalSink)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(plan.Setup)))
	if err := m.broadcastKind(ctx, KindSetup, n[:]); err != nil {
		return err
	}
	if len(plan.Setup) > 0 {
		if err := m.t.Broadcast(ctx, 0, plan.Setup); err != nil {
			return fmt.Errorf("broadcast setup: %w", err)
		}
	}
	for ready := 1; ready < m.t.Size(); {
		msg, err := m.recv(ctx)
		if err != nil {
			return fmt.Errorf("wait for workers: %w", err)
		}
		if err := m.checkFrom(msg); err != nil {
			return err
		}
		switch {
		case msg.Kind == KindAsk && m.cfg.Mode == Pull:
			if err := m.countAsk(msg.From); err != nil {
				return err
			}
			m.asks = append(m.asks, msg.From) // credited once every worker is ready
			continue
		case msg.Kind == KindFail:
			return m.gaveUp(msg, "start: ")
		case msg.Kind != KindReady || len(msg.Data) < 4 || m.threads[msg.From] != 0:
			return fmt.Errorf("%s: unexpected %s message while starting (%d bytes)", m.who(msg.From), msg.Kind, len(msg.Data))
		}
		th := int(binary.LittleEndian.Uint32(msg.Data))
		if th < 1 || th > MaxThreads {
			return fmt.Errorf("%s: announced %d threads", m.who(msg.From), th)
		}
		m.threads[msg.From], m.hosts[msg.From] = th, string(msg.Data[4:])
		ready++
	}
	m.initCredits()
	if m.tr != nil {
		m.tr.name(0, 0, "rank 0 (manager) on "+m.hosts[0], "send")
		m.tr.name(0, 1, "rank 0 (manager) on "+m.hosts[0], "write")
		for r := 1; r < len(m.threads); r++ {
			for th := 0; th < m.threads[r]; th++ {
				m.tr.name(r, th, m.who(r), "thread "+strconv.Itoa(th))
			}
		}
	}
	if s, ok := plan.Source.(SizedSource); ok {
		m.sized = s
		m.sizer.slots = max(1, m.credits/m.cfg.Window)
		m.own.cc, _ = m.t.(costClock)
	}
	return nil
}

// initCredits deals threads x window credits per worker, interleaved across workers so
// that the first chunks spread over every worker.
func (m *manager) initCredits() {
	most := 0
	for r := 1; r < len(m.threads); r++ {
		c := m.threads[r] * m.cfg.Window
		m.credits += c
		most = max(most, c)
	}
	m.slots = newRing(m.credits)
	for k := 0; k < most && m.cfg.Mode != Pull; k++ {
		for r := 1; r < len(m.threads); r++ {
			if k < m.threads[r]*m.cfg.Window {
				m.slots.push(r)
			}
		}
	}
	for _, r := range m.asks {
		m.slots.push(r)
	}
	m.st.Workers = len(m.threads) - 1
	m.st.Threads = m.threads[1]
	// Issued-but-unwritten chunks stay under reorderSlack times the credits: enough slack
	// that one slow chunk does not idle every worker at once (irregular items), and a hard
	// bound on memory, linear in workers x window.
	m.ro = partition.NewReorder(m.plan.First, reorderSlack*m.credits)
	m.frames = make([][]byte, m.ro.Bound())
	if m.cfg.Unordered {
		m.inflight = newFlights(0)
	} else {
		m.inflight = newFlights(m.ro.Bound())
	}
	if r, ok := m.t.(frameRecycler); ok {
		r.recycleFrames()
	}
	m.nextSeq, m.backupFrom = m.plan.First, m.plan.First
}

// loop issues chunks while credits last and handles results until every chunk is written.
func (m *manager) loop(ctx context.Context) error {
	for {
		if err := m.issue(ctx); err != nil {
			return err
		}
		if m.srcDone && m.inflight.len() == 0 {
			return nil // late copies of backed-up chunks are dropped by stopAll
		}
		if m.sized != nil {
			m.own.receiving()
		}
		msg, err := m.t.Recv(ctx)
		if m.sized != nil {
			// The manager's cost per message: the previous round's handling of a message
			// and the sends it led to (a burst, when the reorder window reopens), per
			// message.
			if d, ok := m.own.received(); ok {
				m.sizer.manager(d / time.Duration(1+m.sent-m.sentBefore))
			}
			m.sentBefore = m.sent
		}
		if err == errInterrupted {
			continue // a live source has a chunk ready
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if err := m.handle(msg); err != nil {
			return err
		}
		if m.draining == 1 {
			if err := m.drainWorkers(ctx); err != nil {
				return err
			}
		}
		m.inFlight.Store(int64(m.inflight.len()))
	}
}

// ownClock measures the manager's own time, the time it spends outside its receives: on
// the monotonic clock, or as its transport charges it (costClock). Used by one goroutine.
type ownClock struct {
	cc      costClock
	outside time.Duration // time outside receives, up to the last one (no costClock)
	back    monoTime      // when the last receive returned
	started bool          // a receive has returned: the rounds since are measured
	last    time.Duration // own time at the last receive's return
}

// receiving is called just before a receive.
func (c *ownClock) receiving() {
	if c.cc == nil && c.started {
		c.outside += monoNow().Sub(c.back)
	}
}

// received is called when a receive returns: it returns the own time of the round that
// ended, from the previous receive's return to this receive's call (none before the
// first receive: the first round deals every credit at once).
func (c *ownClock) received() (time.Duration, bool) {
	var now time.Duration
	if c.cc != nil {
		now = c.cc.managerTime()
	} else {
		c.back = monoNow()
		now = c.outside
	}
	d, ok := now-c.last, c.started
	c.last, c.started = now, true
	return d, ok
}

// issue sends chunks (retries first) while there are free credits and room in the window.
func (m *manager) issue(ctx context.Context) error {
	// A retry goes to another worker than the one that failed it; with a single worker it
	// goes back to that one. When only the failing worker has a free credit, the retry waits
	// and fresh chunks use the credit.
	for len(m.retryq) > 0 && m.slots.len() > 0 {
		f, _ := m.inflight.get(m.retryq[0])
		to, ok := m.slots.takeNot(f.failed)
		if !ok && m.t.Size() > 2 {
			break
		}
		if !ok {
			to = m.slots.take()
		}
		m.retryq = m.retryq[1:]
		if err := m.send(ctx, to, f); err != nil {
			return err
		}
	}
	for m.slots.len() > 0 {
		// Workers with free credits fall idle when no new chunk remains, or when the
		// reorder buffer is full behind a slow chunk: give them backups of the oldest.
		if m.draining != 0 {
			return nil // a draining worker hands back any chunk, a backup copy too
		}
		if m.srcDone || (!m.cfg.Unordered && m.nextSeq-m.ro.Next() >= uint64(m.ro.Bound())) {
			return m.issueBackups(ctx)
		}
		var c Chunk
		var err error
		if m.sized != nil {
			c, err = m.sized.NextN(m.sizer.next(m.sized.Remaining()))
		} else {
			c, err = m.plan.Source.Next()
		}
		if err == io.EOF {
			m.srcDone = true
			return nil
		}
		if err == ErrNotReady {
			return nil // a live source calls its notify function once it has one
		}
		if err != nil {
			return err
		}
		if c.Seq != m.nextSeq {
			return fmt.Errorf("engine: source gave chunk %d, expected %d", c.Seq, m.nextSeq)
		}
		m.nextSeq++
		m.st.BytesIn += uint64(len(c.Data))
		f := m.newFlight()
		f.c, f.items = c, max(c.Items, 1)
		if err := m.inflight.add(f); err != nil {
			return err
		}
		if err := m.send(ctx, m.slots.take(), f); err != nil {
			return err
		}
	}
	return nil
}

// newFlight returns a zeroed flight, reused when one is free.
func (m *manager) newFlight() *flight {
	if n := len(m.free); n > 0 {
		f := m.free[n-1]
		m.free = m.free[:n-1]
		*f = flight{}
		return f
	}
	return &flight{}
}

// issueBackups gives idle workers a copy of the oldest chunks still in flight when no new
// chunk can be issued (MapReduce's backup tasks): the first result wins and the other is dropped,
// so one slow worker does not hold up the end of the job.
func (m *manager) issueBackups(ctx context.Context) error {
	if !m.cfg.Backups || m.t.Size() <= 2 {
		return nil
	}
	for m.slots.len() > 0 {
		// The oldest eligible chunk: scan up from a cursor that only moves forward, since
		// a chunk below it is done, backed up already, or failed (the retries' business,
		// not a straggler) and never becomes eligible again. Amortized O(1) per backup.
		var oldest *flight
		for ; m.backupFrom < m.nextSeq; m.backupFrom++ {
			f, ok := m.inflight.get(m.backupFrom)
			if ok && f.rank > 0 && f.backup == 0 && f.failed == 0 {
				oldest = f
				break
			}
		}
		if oldest == nil {
			return nil
		}
		to, ok := m.slots.takeNot(oldest.rank)
		if !ok {
			return nil
		}
		oldest.backup = to
		m.st.Backups++
		err := m.t.Send(ctx, to, Msg{Kind: KindTask, Seq: oldest.c.Seq, Data: oldest.c.Data, Attempt: oldest.c.Attempt})
		if err != nil {
			return fmt.Errorf("send backup of chunk %d to %s: %w", oldest.c.Seq, m.who(to), err)
		}
	}
	return nil
}

func (m *manager) send(ctx context.Context, to int, f *flight) error {
	f.rank = to
	m.sent++
	var begin time.Time
	if m.tr != nil {
		begin = time.Now()
	}
	err := m.t.Send(ctx, to, Msg{Kind: KindTask, Seq: f.c.Seq, Data: f.c.Data, Attempt: f.c.Attempt})
	if m.tr != nil {
		m.tr.span(0, 0, "send chunk "+strconv.FormatUint(f.c.Seq, 10)+" to rank "+strconv.Itoa(to), "send", begin, time.Since(begin), f.c.Seq, f.c.Attempt)
	}
	if err != nil {
		return fmt.Errorf("send chunk %d to %s: %w", f.c.Seq, m.who(to), err)
	}
	return nil
}

// handle checks one message from a worker and acts on it.
func (m *manager) handle(msg Msg) error {
	if err := m.checkFrom(msg); err != nil {
		return err
	}
	if msg.Kind == KindFail {
		return m.gaveUp(msg, "")
	}
	if msg.Kind == KindAsk && m.cfg.Mode == Pull {
		if err := m.countAsk(msg.From); err != nil {
			return err
		}
		m.slots.push(msg.From)
		return nil
	}
	if msg.Kind != KindResult && msg.Kind != KindError && (msg.Kind != KindSkip || m.draining == 0) {
		return fmt.Errorf("%s: unexpected %s message (chunk %d, %d bytes)", m.who(msg.From), msg.Kind, msg.Seq, len(msg.Data))
	}
	if msg.Seq >= m.nextSeq {
		return fmt.Errorf("%s: %s for chunk %d, which was never issued", m.who(msg.From), msg.Kind, msg.Seq)
	}
	f, ok := m.inflight.get(msg.Seq)
	if !ok || (f.rank != msg.From && f.backup != msg.From) {
		if r, late := m.late[msg.Seq]; late && r == msg.From {
			// The losing copy of a backed-up chunk: drop it, free its credit.
			delete(m.late, msg.Seq)
			m.credit(msg.From)
			return nil
		}
		if !ok {
			return fmt.Errorf("%s: %s for chunk %d, which is already done (duplicate)", m.who(msg.From), msg.Kind, msg.Seq)
		}
		return fmt.Errorf("%s: %s for chunk %d, which is held by %s", m.who(msg.From), msg.Kind, msg.Seq, m.who(f.rank))
	}
	m.credit(msg.From)
	if msg.Kind == KindSkip {
		return m.skipped(msg.From, msg.Seq, f)
	}
	if m.tr != nil {
		now := time.Now()
		name, cat := "chunk "+strconv.FormatUint(msg.Seq, 10), "chunk"
		if msg.Kind == KindError {
			name, cat = name+" failed", "error"
		}
		m.tr.span(msg.From, msg.Thread, name, cat, now.Add(-msg.Work), msg.Work, msg.Seq, f.c.Attempt)
	}
	other := f.rank
	if other == msg.From {
		other = f.backup
	}
	if msg.Kind == KindError {
		if other > 0 {
			// The other copy may still succeed; forget this one.
			f.rank, f.backup, f.failed = other, 0, msg.From
			return nil
		}
		if f.c.Attempt >= m.cfg.Retries {
			cause := string(msg.Data)
			if f.c.Attempt > 0 {
				cause = fmt.Sprintf("failed %d times, last: %s", f.c.Attempt+1, msg.Data)
			}
			if !m.cfg.KeepGoing {
				return fmt.Errorf("%s: chunk %d: %s", m.who(msg.From), msg.Seq, cause)
			}
			// --keep-going: record the poison chunk, leave it out of the output, go on.
			m.failed = append(m.failed, FailedChunk{Seq: msg.Seq, Who: m.who(msg.From), Cause: cause})
			m.inflight.remove(msg.Seq)
			return m.deliver(msg.From, msg.Seq, nil, true)
		}
		f.c.Attempt++
		f.rank, f.failed = -1, msg.From
		m.retryq = append(m.retryq, msg.Seq)
		m.st.Retries++
		return nil
	}
	m.inflight.remove(msg.Seq)
	m.free = append(m.free, f)
	if other > 0 {
		m.late[msg.Seq] = other
	}
	if m.sized != nil {
		m.sizer.observe(f.items, msg.Work)
	}
	m.st.PerWorker[msg.From]++
	m.doneItems.Add(uint64(f.items))
	if msg.frame != nil {
		// Distinct slots: the chunks issued and not yet written are fewer than the bound.
		m.frames[msg.Seq%uint64(len(m.frames))] = msg.frame
	}
	done := m.arrived(msg.Seq, msg.Data)
	if done != nil && !errors.Is(done, ErrDone) {
		return done
	}
	if err := m.deliver(msg.From, msg.Seq, msg.Data, false); err != nil {
		return err
	}
	return done
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

// drain stops issuing chunks: the source is done, and the workers are told (drainWorkers,
// from the loop) to hand back the chunks they have not started; those running complete.
func (m *manager) drain() {
	m.srcDone = true
	if m.draining == 0 {
		m.draining = 1
	}
}

// drainWorkers tells every worker of the drain, and leaves out the chunks waiting for a
// retry: no chunk starts from now on, and each one that does not run leaves a hole, so
// that the results after it are still written.
func (m *manager) drainWorkers(ctx context.Context) error {
	m.draining = 2
	if err := m.broadcastKind(ctx, KindDrain, nil); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	for _, seq := range m.retryq {
		if f, ok := m.inflight.get(seq); ok && f.rank == -1 {
			if err := m.skipped(-1, seq, f); err != nil {
				return err
			}
		}
	}
	m.retryq = m.retryq[:0]
	return nil
}

// skipped leaves out chunk seq, which worker from handed back unstarted (from -1: it
// waited for a retry), unless another copy of it still runs.
func (m *manager) skipped(from int, seq uint64, f *flight) error {
	other := 0
	switch from {
	case f.rank:
		other = f.backup
	case f.backup:
		other = f.rank
	}
	if other > 0 {
		f.rank, f.backup = other, 0 // the other copy runs on
		return nil
	}
	m.inflight.remove(seq)
	m.free = append(m.free, f)
	m.st.Skipped++
	return m.deliver(from, seq, nil, true)
}

// deliver passes a result (or, failed, the hole a poison chunk leaves) to the Sink: at once
// when unordered, otherwise through the reorder buffer.
func (m *manager) deliver(from int, seq uint64, out []byte, failed bool) error {
	if failed {
		m.holes[seq] = true
	}
	if m.cfg.Unordered {
		if failed {
			return m.leftOut(seq)
		}
		return m.put(seq, out)
	}
	if err := m.ro.Put(seq, out); err != nil {
		return fmt.Errorf("%s: %w", m.who(from), err)
	}
	for {
		seq, out, ok := m.ro.Pop()
		if !ok {
			return nil
		}
		if m.holes[seq] {
			delete(m.holes, seq)
			if err := m.leftOut(seq); err != nil {
				return err
			}
			continue
		}
		if err := m.put(seq, out); err != nil {
			return err
		}
	}
}

// leftOut tells a GapSink that chunk seq is left out of the output.
func (m *manager) leftOut(seq uint64) error {
	if g, ok := m.plan.Sink.(GapSink); ok {
		if err := g.LeftOut(seq); err != nil {
			return fmt.Errorf("write chunk %d (left out): %w", seq, err)
		}
	}
	return nil
}

// credit gives back the credit a worker's answer frees (in pull mode the answer asks for
// the next chunk: checkFrom made sure of it).
func (m *manager) credit(r int) { m.slots.push(r) }

// gaveUp is the error of worker msg.From, which gave up (KindFail: its host, a NUL, and
// why), prefixed with what it was doing.
func (m *manager) gaveUp(msg Msg, doing string) error {
	host, why, ok := strings.Cut(string(msg.Data), "\x00")
	if !ok {
		return fmt.Errorf("%s: malformed fail message (%d bytes)", m.who(msg.From), len(msg.Data))
	}
	if m.hosts[msg.From] == "" {
		m.hosts[msg.From] = host
	}
	return fmt.Errorf("%s: %s%s", m.who(msg.From), doing, why)
}

// countAsk counts a KindAsk from worker r in pull mode. A worker asks so for its first
// threads x window chunks, after its ready message, and for every later chunk in the
// answer that frees the slot (Msg.Ask): an ask beyond those is an error.
func (m *manager) countAsk(r int) error {
	if m.threads[r] == 0 {
		return fmt.Errorf("%s: asked for a chunk before it announced itself ready", m.who(r))
	}
	if m.asked[r]++; m.asked[r] > m.threads[r]*m.cfg.Window {
		return fmt.Errorf("%s: asked for more chunks than its %d threads x %d window", m.who(r), m.threads[r], m.cfg.Window)
	}
	return nil
}

// put hands one result to the Sink; ErrDrain stops issuing, ErrDone ends the job.
func (m *manager) put(seq uint64, out []byte) error {
	m.st.Chunks++
	m.doneChunks.Add(1)
	m.st.BytesOut += uint64(len(out))
	var begin time.Time
	if m.tr != nil {
		begin = time.Now()
	}
	err := m.plan.Sink.Put(seq, out)
	if i := seq % uint64(len(m.frames)); m.frames[i] != nil {
		// The Sink is done with out: its receive buffer goes back to the pool.
		putFrame(m.frames[i])
		m.frames[i] = nil
	}
	if m.tr != nil {
		m.tr.span(0, 1, "write chunk "+strconv.FormatUint(seq, 10), "write", begin, time.Since(begin), seq, 0)
	}
	if errors.Is(err, ErrDrain) {
		m.drain()
		return nil
	}
	if err != nil && !errors.Is(err, ErrDone) {
		return fmt.Errorf("write chunk %d: %w", seq, err)
	}
	return err
}

// checkFrom refuses a message whose sender is not a worker rank.
func (m *manager) checkFrom(msg Msg) error {
	if msg.From < 1 || msg.From >= m.t.Size() {
		return fmt.Errorf("message from unknown rank %d (kind %s)", msg.From, msg.Kind)
	}
	switch {
	case msg.Ask && (m.cfg.Mode != Pull || !msg.Kind.answer()):
		return fmt.Errorf("%s: asked for a chunk on a %s message (chunk %d) in %s mode", m.who(msg.From), msg.Kind, msg.Seq, m.cfg.Mode)
	case !msg.Ask && m.cfg.Mode == Pull && msg.Kind.answer():
		return fmt.Errorf("%s: %s for chunk %d without the ask for the next that pull mode wants", m.who(msg.From), msg.Kind, msg.Seq)
	}
	return nil
}

// who names a rank and its host for messages.
func (m *manager) who(r int) string {
	if r >= 0 && r < len(m.hosts) && m.hosts[r] != "" {
		return fmt.Sprintf("rank %d on %s", r, m.hosts[r])
	}
	return fmt.Sprintf("rank %d", r)
}

// broadcastKind sends one message of kind to every worker, in rank order.
func (m *manager) broadcastKind(ctx context.Context, k Kind, data []byte) error {
	for r := 1; r < m.t.Size(); r++ {
		if err := m.t.Send(ctx, r, Msg{Kind: k, Data: data}); err != nil {
			return fmt.Errorf("send %s to %s: %w", k, m.who(r), err)
		}
	}
	return nil
}

// recv receives the next message, past the interruptions of a live source (for the
// receives outside loop, which has chunks to issue when interrupted).
func (m *manager) recv(ctx context.Context) (Msg, error) {
	for {
		msg, err := m.t.Recv(ctx)
		if err != errInterrupted {
			return msg, err
		}
	}
}

// stopAll tells every worker to stop and waits until each acknowledges, dropping the
// results still on their way, so no rank is left waiting and no send is left pending.
// It runs on every path out of the manager; after a transport failure it gives up at once.
//
// When the job's context is cancelled (a signal: the launcher is ending the job, and will
// kill this rank soon, after 1 s with mpirun), it waits cancelledStopWait at most, so that
// rank 0 can still say why the job ended. It returns the ranks that did not acknowledge the
// stop.
func (m *manager) stopAll(ctx context.Context, cause error) (silent []string) {
	if m.plan == nil { // workers got an abort (or the transport is gone)
		return nil
	}
	wait := stopTimeout
	if ctx.Err() != nil {
		wait = min(wait, cancelledStopWait)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	defer cancel()
	if m.broadcastKind(ctx, KindStop, nil) != nil {
		return nil
	}
	acked := make([]bool, m.t.Size())
	for left := m.t.Size() - 1; left > 0; {
		msg, err := m.recv(ctx)
		if err != nil {
			if cause == nil && m.cfg.Log != nil {
				fmt.Fprintf(m.cfg.Log, "stop: %v\n", err)
			}
			for r := 1; r < len(acked); r++ {
				if !acked[r] {
					silent = append(silent, m.who(r))
				}
			}
			return silent
		}
		if msg.Kind == KindStop && msg.From > 0 && msg.From < len(acked) && !acked[msg.From] {
			acked[msg.From] = true
			left--
		}
	}
	return nil
}

// cancelledStopWait bounds the wait for the workers' acknowledgements of a stop that a
// cancellation (a signal) caused: those alive answer within a few milliseconds.
const cancelledStopWait = 300 * time.Millisecond

// StopUnanswered is the error of a run that a cancellation (a signal) ended while some
// worker ranks did not answer the manager's stop: most likely they had died before it
// (killed, out of memory), and the launcher is ending the job because of that.
type StopUnanswered struct {
	Err   error
	Ranks []string // "rank R on HOST"
}

func (e *StopUnanswered) Error() string { return e.Err.Error() + "; " + e.Detail() }

// Detail names the ranks that did not answer.
func (e *StopUnanswered) Detail() string {
	return strings.Join(e.Ranks, ", ") + " did not answer the stop (gone before it: killed, out of memory?)"
}

func (e *StopUnanswered) Unwrap() error { return e.Err }

// FailedChunk is a chunk left out of the output by --keep-going.
type FailedChunk struct {
	Seq   uint64
	Who   string // "rank R on HOST"
	Cause string
}

// PartialError is the result of a --keep-going run in which some chunks failed every try:
// the output is complete but for them.
type PartialError struct{ Failed []FailedChunk }

func (e *PartialError) Error() string {
	var b strings.Builder
	were := "were"
	if len(e.Failed) == 1 {
		were = "was"
	}
	fmt.Fprintf(&b, "%s failed and %s left out of the output:", plural(len(e.Failed), "chunk"), were)
	for i, f := range e.Failed {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, " chunk %d (%s: %s);", f.Seq, f.Who, f.Cause)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// progress starts the goroutine that reports progress, if asked; the returned function
// stops it after a final report.
func (m *manager) progress() func() {
	if m.cfg.Progress <= 0 || m.cfg.OnProgress == nil || m.plan == nil {
		return func() {}
	}
	total := m.plan.Total
	snap := func() Progress {
		return Progress{
			Elapsed: time.Since(m.start), Chunks: m.doneChunks.Load(), TotalChunks: total,
			Items: m.doneItems.Load(), InFlight: int(max(m.inFlight.Load(), 0)), Workers: len(m.threads) - 1,
		}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(m.cfg.Progress)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				m.cfg.OnProgress(snap(), false)
			case <-done:
				m.cfg.OnProgress(snap(), true)
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
