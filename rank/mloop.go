package rank

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/internal/cpuclock"
	"github.com/mw-hpc/mw/internal/frame"
)

// managerLoop is rank 0's owner loop: the one goroutine that makes every call on the
// transport. It feeds the manager's step function what arrives (frames, the clock, a live
// source's notice), sends what the manager queued, and waits when there is nothing to do.
type managerLoop struct {
	t       Transport
	m       *manager
	clock   func() monoTime
	ready   atomic.Bool // a live source has a chunk ready
	own     ownClock
	stopBy  monoTime // stopping: when to give up on the acknowledgements
	stopped bool     // the stop's deadline is set
	job     Job
	ctx     context.Context
	local   *localWorker // rank 0's own worker, once every other is lost
	// sendFirst: a round sends what a frame led to before it polls again (CoreSharer).
	sendFirst bool
}

// framesPerRound bounds the frames taken per round of the loop, so that sends and the
// clock's checks interleave with a flood of arrivals.
const framesPerRound = 64

func runManager(ctx context.Context, t Transport, job Job, cfg Config) (Stats, error) {
	l := &managerLoop{t: t, clock: clockOf(t), job: job, ctx: ctx, sendFirst: sharesCores(t)}
	m := newManager(cfg, t.Size(), t.Host(), l.clock())
	l.m = m
	l.own.cc, _ = t.(costClock)
	cpu0 := cpuclock.Process()
	slept0, rung0 := sleepsOf(t)
	if cfg.Trace != nil {
		m.tr = newTracer(cfg.Trace, m.start, l.clock)
	}
	plan, err := job.Open(ctx)
	if err == nil && plan != nil {
		if live, ok := plan.Source.(LiveSource); ok {
			live.SetNotify(func() { l.ready.Store(true); t.Wake() })
		}
	}
	m.begin(plan, err)
	defer context.AfterFunc(ctx, t.Wake)()
	stopProgress := m.progress(t.Wake)
	if oerr := t.Own(func() error { return l.loop(ctx) }); oerr != nil && m.err == nil {
		m.err = oerr
	}
	m.publishCounts() // the final report's
	stopProgress()
	err = l.result(ctx)
	m.st.Wall = l.clock().Sub(m.start)
	m.st.ManagerCPU = cpuclock.Process() - cpu0
	slept, rung := sleepsOf(t)
	m.st.Wakeups, m.st.RungWakeups = slept-slept0, rung-rung0
	// Rank 0's own worker (every other lost) counts as rank 0's.
	m.st.PerWorker[0] += m.st.PerWorker[m.size]
	m.st.PerWorker, m.st.Hosts = m.st.PerWorker[:m.size], m.hosts[:m.size]
	m.st.LeftOut = uint64(len(m.failed))
	if m.ro != nil {
		rs := m.ro.Stats()
		m.st.MaxReorder, m.st.Spilled, m.st.SpilledBytes = rs.MaxHeld, rs.Spilled, rs.SpilledBytes
		m.ro.Close()
	}
	return m.st, err
}

// result is the run's error: the manager's, the trace's, the chunks left out, or the
// workers that did not answer a stop that a signal caused.
func (l *managerLoop) result(ctx context.Context) error {
	m := l.m
	err := m.err
	if m.tr != nil {
		m.traceAbandoned(l.clock())
		if terr := m.tr.close(); err == nil && terr != nil {
			err = fmt.Errorf("write trace: %w", terr)
		}
	}
	if err == nil && len(m.failed) > 0 {
		err = &PartialError{Failed: m.failed}
	}
	if silent := m.silent(); m.plan != nil && len(silent) > 0 && l.stopped {
		switch {
		case err != nil && ctx.Err() != nil:
			err = &StopUnanswered{Err: err, Ranks: silent}
		case err == nil && m.cfg.Log != nil:
			fmt.Fprintf(m.cfg.Log, "stop: %s did not answer\n", strings.Join(silent, ", "))
		}
	}
	return err
}

// loop runs until the manager has finished: the workers acknowledged its stop, or the
// stop's deadline passed, or the transport failed.
func (l *managerLoop) loop(ctx context.Context) error {
	m := l.m
	l.flush(l.clock())
	if m.phase == running && len(m.plan.Setup) > 0 {
		if err := l.t.Broadcast(0, m.plan.Setup); err != nil {
			m.transportFailed(fmt.Errorf("broadcast setup: %w", err))
		}
	}
	defer l.local.stop()
	for m.phase != finished {
		now := l.clock()
		if ctx.Err() != nil && m.phase < stopping {
			m.fail(ctx.Err())
		}
		if m.sized != nil {
			l.own.begin(m.messages(), l.clock)
		}
		got := l.receive(now)
		if l.ready.Load() && l.ready.Swap(false) {
			m.sourceReady(now)
		}
		l.notices(now)
		m.dealMore(now)
		next := m.tick(now)
		m.publishCounts()
		m.publishDetail()
		l.checkStop(ctx, now)
		sent := l.flush(now)
		if m.sized != nil {
			l.own.end(m.messages(), l.clock, &m.sizer)
		}
		if sent || got || m.phase == finished {
			continue
		}
		if err := l.t.Wait(l.hint(now, next)); err != nil {
			m.transportFailed(err)
		}
	}
	l.notices(l.clock()) // a rank lost in the last round: nothing must wait for it
	return nil
}

// notices tells the manager of the ranks the transport knows lost (the launcher's notice),
// and the transport of the ranks the manager took for lost, which it must never wait for.
func (l *managerLoop) notices(now monoTime) {
	m := l.m
	if n, ok := l.t.(LossNotifier); ok {
		for _, r := range n.Lost() {
			m.now = max(m.now, now)
			m.lose(r, "the launcher's notice")
		}
	}
	for _, r := range m.forget {
		if f, ok := l.t.(LossNotifier); ok {
			f.Forget(r)
		}
	}
	m.forget = m.forget[:0]
}

// receive takes the frames that have arrived, up to framesPerRound, to the manager. It
// reports whether any came.
func (l *managerLoop) receive(now monoTime) bool {
	m := l.m
	for k := 0; k < framesPerRound && m.phase != finished; k++ {
		from, f, ok, err := l.t.Recv()
		if err != nil {
			m.transportFailed(fmt.Errorf("receive: %w", err))
			return true
		}
		if !ok {
			from, f, ok = l.local.recv()
		}
		if !ok {
			return k > 0
		}
		if m.onFrame(now, from, f) {
			frame.Put(f)
		}
		if l.sendFirst && m.out.pending() {
			return true // see CoreSharer
		}
	}
	return true
}

// recordsIn counts the records of frame f.
func recordsIn(f []byte) int {
	n := 0
	for len(f) >= recordHeader {
		size := recordHeader + int(uint32(f[20])|uint32(f[21])<<8|uint32(f[22])<<16|uint32(f[23])<<24)
		if size > len(f) {
			break
		}
		f = f[size:]
		n++
	}
	return n
}

// flush sends every frame the manager queued, at now; it reports whether any went.
func (l *managerLoop) flush(now monoTime) bool {
	m := l.m
	if !m.out.pending() {
		return false
	}
	for _, o := range m.out.seal() {
		switch {
		case m.dead || m.lost[o.to] && m.phase == running:
			frame.Put(o.frame) // the transport failed, or the rank is lost (but for the stop)
		case o.to == m.size:
			if l.local == nil {
				l.local = startLocal(l) // every worker is lost: this is its setup
			}
			l.local.send(o.frame)
		default:
			m.sent(o.to, now)
			if err := l.t.Send(o.to, o.frame); err != nil {
				m.transportFailed(fmt.Errorf("send to %s: %w", m.who(o.to), err))
			}
		}
	}
	return true
}

// checkStop keeps the stop's deadline: the workers have stopTimeout to acknowledge a stop
// (cancelledStopWait after a signal: the launcher is ending the job, and rank 0 must still
// say why before it is killed).
func (l *managerLoop) checkStop(ctx context.Context, now monoTime) {
	if l.m.phase != stopping {
		return
	}
	if !l.stopped {
		wait := stopTimeout
		if ctx.Err() != nil {
			wait = min(wait, cancelledStopWait)
		}
		l.stopBy, l.stopped = now.Add(wait), true
	}
	if now.After(l.stopBy) {
		l.m.phase = finished
	}
}

// hint says how long the loop may wait (until the next scan of the workers, or the
// stop's deadline) and why it waits.
func (l *managerLoop) hint(now, next monoTime) WaitHint {
	h := WaitHint{Within: l.m.cfg.WakeWithin}
	within := func(t monoTime) {
		if left := t.Sub(now); h.Within == 0 || left < h.Within {
			h.Within = max(left, time.Microsecond)
		}
	}
	within(next)
	if l.stopped {
		within(l.stopBy)
	}
	return h
}

// sourceReady is a live source's notice that a chunk is ready.
func (m *manager) sourceReady(now monoTime) {
	m.now = now
	m.advance()
}

// advance issues what can be issued and ends the run once every chunk is written.
func (m *manager) advance() {
	m.issue()
	m.releaseIdle()
	m.settle()
}

// cancelledStopWait bounds the wait for the workers' acknowledgements of a stop that a
// cancellation (a signal) caused: those alive answer within a few milliseconds.
const cancelledStopWait = 300 * time.Millisecond

// ownClock measures the manager's own time per chunk, for the sizer (--chunk auto): the
// time of each round of the loop (receiving answers, the step function's work, the sends it
// led to), on the monotonic clock or as its transport charges it (costClock), divided by
// the chunks it moved: its answers handled, or its chunks issued where more (a worker that
// joins gets its whole window at once). Used by the owner loop.
type ownClock struct {
	cc    costClock
	start time.Duration // own time at the start of the round
	moved int           // the manager's messages() then
}

func (c *ownClock) read(clock func() monoTime) time.Duration {
	if c.cc != nil {
		return c.cc.managerTime()
	}
	return time.Duration(clock())
}

// begin marks the start of a round; moved is the manager's messages() count.
func (c *ownClock) begin(moved int, clock func() monoTime) { c.start, c.moved = c.read(clock), moved }

// end records a round, if it moved chunks.
func (c *ownClock) end(moved int, clock func() monoTime, z *sizer) {
	if n := moved - c.moved; n > 0 {
		z.manager((c.read(clock)-c.start)/time.Duration(n), n)
	}
}
