package rank

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mw-hpc/mw/internal/frame"
)

// errAborted ends a worker whose manager failed before any work; the manager reports why.
var errAborted = errors.New("manager aborted the job")

// maxSetup bounds the setup a worker accepts (16 GiB): a larger announced length is a
// corrupt message, not a reason to allocate.
const maxSetup = 16 << 30

// worker is a worker rank's protocol as a step function: it takes the manager's frames,
// the results its computing goroutines return and the clock's ticks, and records what to do:
// frames for the manager (its outbox: every answer ready goes in one frame), chunks to
// compute, computations to cancel. It makes no transport call, starts no goroutine and reads
// no clock: the owner loop (workerLoop) drives it under MPI and in process, and the
// simulator drives it for each simulated worker. Used by one goroutine.
type worker struct {
	cfg     Config
	host    string
	out     *outbox
	phase   wphase
	threads int
	held    int // chunks received and not yet answered
	limit   int // most chunks held at once: threads x window

	setupLen  uint64 // settingUp: the setup's announced length, for the owner loop to fetch
	toCompute []task // chunks for the computing goroutines, taken by the owner loop
	reclaim   bool   // a drain came: the owner loop hands back the chunks not started (unstarted)
	cancel    bool   // the job stopped: the owner loop cancels the computations
	draining  bool
	err       error // why the worker gave up, once it did
	size      int   // ranks in the world (0 in the simulator: it checks no stop's list)
	lost      []int // the ranks the manager's stop names lost, for the transport to forget
	// ready is the ready message until it goes, first of all: a worker of one thread that
	// has its first chunk (push mode) sends it with that chunk's answer, so that a farm of
	// 100,000 such costs its manager 100,000 frames fewer in the deal, but readyWait after
	// it started at the latest (the manager's status names the hosts from it). One of more
	// threads sends it at once: the manager deals its other threads' chunks on it.
	ready    *record
	readyDue monoTime
	lastSent monoTime // when the last frame for the manager was queued (heartbeats)
	heard    monoTime // when the last frame from the manager came

	in    *inFrame   // the frame being handled, set by the owner loop (nil: not recycled)
	spare []*inFrame // holders to reuse
}

// task is a chunk to compute and the manager's ticket for it.
type task struct {
	c      Chunk
	ticket uint32
	in     *inFrame // the frame its data lies in
}

// inFrame is a received frame whose tasks are still computed: it goes back to package
// frame once the last of them is answered.
type inFrame struct {
	buf  []byte
	refs int
}

// holdFrame returns the holder of a frame received, for onFrame.
func (w *worker) holdFrame(buf []byte) *inFrame {
	var h *inFrame
	if n := len(w.spare); n > 0 {
		h, w.spare = w.spare[n-1], w.spare[:n-1]
	} else {
		h = &inFrame{}
	}
	h.buf, h.refs = buf, 1 // onFrame's own hold, let go by releaseFrame
	return h
}

// releaseFrame lets go of one hold on h: the last gives the frame back.
func (w *worker) releaseFrame(h *inFrame) {
	if h == nil {
		return
	}
	if h.refs--; h.refs == 0 {
		frame.Put(h.buf)
		h.buf = nil
		w.spare = append(w.spare, h)
	}
}

// computed is what a computing goroutine returns for a task.
type computed struct {
	task
	out    []byte
	err    error
	work   time.Duration
	thread int
}

// wphase is where a worker is in a run.
type wphase uint8

const (
	awaitingSetup wphase = iota // waiting for the manager's setup announcement (or abort)
	settingUp                   // the owner loop fetches the setup and makes the Worker
	serving                     // computing chunks
	givenUp                     // told the manager why it gives up; waiting for the stop
	ended                       // stopped (or aborted): the loop ends
)

func newWorker(cfg Config, host string, now monoTime) *worker {
	return &worker{cfg: cfg, host: host, out: newOutbox(1), lastSent: now, heard: now}
}

// onFrame handles one frame from rank from; only the manager sends to workers. A bad
// record makes the worker give up (the manager reports why and ends the job).
func (w *worker) onFrame(now monoTime, from int, frame []byte) {
	if from != 0 {
		w.giveUp(now, fmt.Errorf("unexpected message from rank %d (only the manager sends to workers)", from))
		return
	}
	w.heard = now
	err := eachRecord(0, frame, func(r record) error {
		switch w.phase {
		case awaitingSetup:
			return w.onSetup(r)
		case serving:
			return w.onServing(now, r)
		case settingUp:
			return w.onSettingUp(now, r)
		case givenUp:
			w.onGivenUp(now, r)
		}
		return nil
	})
	if err != nil {
		w.giveUp(now, err)
	}
}

// onSetup handles the manager's first record: the setup's length, or an abort.
func (w *worker) onSetup(r record) error {
	switch {
	case r.kind == kindAbort || r.kind == kindStop:
		w.phase = ended
		return nil
	case r.kind != kindSetup || len(r.data) != 8 || r.ask:
		return fmt.Errorf("wait for setup: unexpected %s message from the manager (%d bytes)", r.kind, len(r.data))
	}
	n := binary.LittleEndian.Uint64(r.data)
	if n > maxSetup {
		return fmt.Errorf("wait for setup: announced %d bytes, more than the %d limit", n, uint64(maxSetup))
	}
	w.setupLen, w.phase = n, settingUp
	return nil
}

// started is the owner loop's word that the setup arrived and the Worker is made, with
// threads computing goroutines: the worker announces itself (and asks, in pull mode).
func (w *worker) started(now monoTime, threads int) {
	w.threads, w.limit, w.phase = threads, threads*w.cfg.Window, serving
	if w.draining { // a drain came while it set up: the chunks that came with the setup go back
		held := w.toCompute
		w.toCompute = nil
		defer func() {
			for _, t := range held {
				w.unstarted(now, t)
			}
		}()
	}
	ready := make([]byte, 4, 4+len(w.host))
	binary.LittleEndian.PutUint32(ready, uint32(threads))
	w.ready, w.readyDue = &record{kind: kindReady, data: append(ready, w.host...)}, now.Add(readyWait)
	if threads > 1 || w.cfg.Mode == Pull || len(w.toCompute) == 0 {
		w.sendReady(now)
	}
	for i := 0; w.cfg.Mode == Pull && i < w.limit; i++ {
		w.send(now, record{kind: kindAsk})
	}
}

// onServing handles a record while the worker computes chunks.
func (w *worker) onServing(now monoTime, r record) error {
	if r.ask {
		return fmt.Errorf("the manager's %s message (chunk %d) asks for a chunk: only workers ask", r.kind, r.seq)
	}
	switch r.kind {
	case kindStop:
		return w.onStop(now, r)
	case kindTask:
		return w.accept(now, r, w.limit)
	case kindDrain:
		// Chunks not started go back; those running complete.
		w.draining, w.reclaim = true, true
	case kindHeartbeat:
	default:
		return fmt.Errorf("unexpected %s message from the manager (chunk %d)", r.kind, r.seq)
	}
	return nil
}

// onSettingUp handles a record while the Worker is made: the manager may stop the job (or
// check it is there), but sends no chunk before the worker announces itself.
func (w *worker) onSettingUp(now monoTime, r record) error {
	switch r.kind {
	case kindStop:
		return w.onStop(now, r)
	case kindDrain:
		w.draining = true
	case kindHeartbeat:
	case kindTask:
		// The first window comes with the setup, as for one thread: held until started.
		return w.accept(now, r, w.cfg.Window)
	default:
		return fmt.Errorf("unexpected %s message from the manager while setting up (chunk %d)", r.kind, r.seq)
	}
	return nil
}

// accept takes task record r, within a window of limit chunks held: to compute, or back
// unstarted during a drain.
func (w *worker) accept(now monoTime, r record, limit int) error {
	if w.held++; w.held > limit {
		return fmt.Errorf("manager sent chunk %d beyond the window of %d", r.seq, limit)
	}
	t := task{c: Chunk{Seq: r.seq, Data: r.data, Attempt: r.attempt, Lost: r.thread}, ticket: r.ticket, in: w.in}
	if w.in != nil {
		w.in.refs++
	}
	if w.draining && w.phase == serving {
		w.unstarted(now, t)
		return nil
	}
	w.toCompute = append(w.toCompute, t)
	return nil
}

// onGivenUp waits for the manager's stop after the worker gave up, dropping anything else.
func (w *worker) onGivenUp(now monoTime, r record) {
	switch r.kind {
	case kindStop:
		_ = w.onStop(now, r) // a bad list: it has given up already
	case kindAbort:
		w.phase = ended
	}
}

// onStop ends the worker on the manager's stop, which names the ranks lost.
func (w *worker) onStop(now monoTime, r record) error {
	if w.size > 0 {
		lost, err := parseLostRanks(r.data, w.size)
		if err != nil {
			return err
		}
		w.lost = lost
	}
	w.stop(now)
	return nil
}

// stop ends the worker: computations still running are cancelled, and their results
// dropped (they would follow the acknowledgement, which must be the last frame).
func (w *worker) stop(now monoTime) {
	w.cancel, w.phase = true, ended
	w.toCompute = w.toCompute[:0]
	w.send(now, record{kind: kindStop})
}

// giveUp tells the manager why this worker gives up (a bad message, a setup or a Worker it
// could not make), so that the manager reports it and ends the job, and waits for the
// manager's stop: a worker that only quit would leave the manager waiting for its chunks.
func (w *worker) giveUp(now monoTime, err error) {
	if w.phase == givenUp || w.phase == ended {
		return
	}
	w.err, w.phase = err, givenUp
	w.cancel = true
	w.toCompute = w.toCompute[:0]
	w.send(now, record{kind: kindFail, data: []byte(w.host + "\x00" + err.Error())})
}

// done takes a computing goroutine's answer for a chunk: its result or its error.
func (w *worker) done(now monoTime, c computed) {
	if w.phase != serving {
		return // stopped or given up: nothing more goes out
	}
	w.held--
	r := record{kind: kindResult, seq: c.c.Seq, ticket: c.ticket, data: c.out, work: c.work, thread: c.thread}
	if c.err != nil {
		r = record{kind: kindError, seq: c.c.Seq, ticket: c.ticket, data: []byte(c.err.Error())}
	}
	w.answer(now, r) // copies the result, which may alias the chunk's data, into the outbox
	w.releaseFrame(c.in)
}

// unstarted hands a chunk back to the manager unstarted (a drain).
func (w *worker) unstarted(now monoTime, t task) {
	if w.phase != serving {
		return
	}
	w.held--
	w.answer(now, record{kind: kindSkip, seq: t.c.Seq, ticket: t.ticket})
	w.releaseFrame(t.in)
}

// answer queues the answer to a chunk; in pull mode it asks for the next chunk too.
func (w *worker) answer(now monoTime, r record) {
	r.ask = w.cfg.Mode == Pull
	w.send(now, r)
}

func (w *worker) send(now monoTime, r record) {
	w.sendReady(now)
	w.out.add(0, r)
	w.lastSent = now
}

// sendReady queues the ready message if it has not gone yet.
func (w *worker) sendReady(now monoTime) {
	if w.ready != nil {
		w.out.add(0, *w.ready)
		w.ready, w.lastSent = nil, now
	}
}

// readyWait bounds how long a worker's ready message waits for its first answer.
const readyWait = 100 * time.Millisecond

// managerTimeouts is how many worker timeouts a worker waits, unheard by the manager, before
// it takes the manager for lost and stops: a manager's owner loop may wait that long in its
// Source (input from a pipe that comes slowly) or Sink, and a worker that left too soon
// would cost the job its workers.
const managerTimeouts = 10

// tick sends the manager a heartbeat when the worker has sent it nothing for a heartbeat's
// interval, and reports an error once the manager has been unheard for managerTimeouts
// worker timeouts (a manager killed while the launcher keeps the job alive). Before the
// setup arrives it does neither: the manager sends it only once its Open is done (a
// workload that validates its input first). It returns when the next tick is due.
func (w *worker) tick(now monoTime) (monoTime, error) {
	timeout, every := w.cfg.heartbeats()
	if w.phase == awaitingSetup || w.phase == ended {
		return now.Add(every), nil
	}
	if unheard := now.Sub(w.heard); unheard > managerTimeouts*timeout {
		return 0, fmt.Errorf("the manager (rank 0) has been unheard for %v: this rank stops", unheard.Round(time.Second))
	}
	if now.Sub(w.lastSent) >= every {
		w.send(now, record{kind: kindHeartbeat})
	}
	next := min(w.lastSent.Add(every), w.heard.Add(managerTimeouts*timeout))
	if w.ready != nil && now >= w.readyDue {
		w.sendReady(now)
	} else if w.ready != nil {
		next = min(next, w.readyDue)
	}
	return next, nil
}
