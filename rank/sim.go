package rank

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/mw-hpc/mw/internal/cpuclock"
	"github.com/mw-hpc/mw/internal/frame"
)

// This file simulates the engine at a scale this machine cannot hold: the real manager
// (its owner loop and step function, unchanged) runs against a simNet of thousands of
// simulated worker ranks, on a virtual clock. Each simulated worker runs the real worker
// step function: the protocol is the same code as under MPI; only the network, the
// computing threads and the clock are modelled.
//
// Why a virtual clock: 100,000 workers cannot be goroutines that really sleep (their
// timers, stacks and the scheduler would be what is measured), and a wall clock would make
// every result depend on the machine's load. So time is a discrete-event clock: the
// manager's clock advances by the CPU time its own goroutine really spends between
// transport calls (the thread's CPU clock, so other processes on the machine do not count),
// or by a fixed cost per frame for deterministic tests; every frame costs the modelled
// latency, bandwidth and per-message overhead; a chunk takes its items' modelled time on one
// of its worker's threads; a Wait with nothing arrived jumps the clock to the next event.

// NetModel is the simulated network: LogGP's latency L, overhead o and gap per byte 1/B.
// A message of n bytes sent at time s by a rank whose link is idle arrives at s + Overhead +
// n/Bandwidth + Latency and is ready for the receiver Overhead later. The manager's link is
// shared: its sends leave one after the other, and messages to it are serialized on its
// incoming link and by its receive overhead, in arrival order. Between two ranks messages
// never overtake (MPI's ordering rule).
type NetModel struct {
	Latency   time.Duration // one-way wire latency
	Bandwidth float64       // bytes per second of one link
	Overhead  time.Duration // CPU time of the transport per message at each end (send or receive)
}

// NetLocal is MPI on the development machine as mw's binding sees it (Open MPI 4.1.4, shared
// memory between 2 cores, scripts/bench/pingpong.sh): half round trip 0.35 us at 8 bytes
// (C: 0.18 us), split as 175 ns of wire latency and 85 ns of overhead at each end; 8.1 GB/s
// at 1 MiB.
var NetLocal = NetModel{Latency: 175 * time.Nanosecond, Bandwidth: 8.1e9, Overhead: 85 * time.Nanosecond}

// NetCluster is a cluster interconnect: 2 us latency and 10 GB/s, with the same CPU
// overhead per message as NetLocal.
var NetCluster = NetModel{Latency: 2 * time.Microsecond, Bandwidth: 10e9, Overhead: NetLocal.Overhead}

// SimConfig describes one simulated run.
type SimConfig struct {
	Workers int      // simulated worker ranks
	Threads int      // computing threads per worker rank (default 1)
	Net     NetModel // the network (default NetLocal)
	Engine  Config   // the configuration (Window, Mode, Backups, ...); Threads is ignored
	Items   uint64   // items in the job
	Chunk   int      // items per chunk; 0 for the engine's automatic sizing (--chunk auto)
	Item    time.Duration
	// ItemTime, when not nil, is the compute time of item i (it overrides Item). It must be
	// a pure function of i, so runs are reproducible.
	ItemTime func(i uint64) time.Duration
	// ResultBytes is the size of an item's result (default 24, a selftest line).
	ResultBytes int
	// ManagerCost, when > 0, charges the manager this much virtual time per frame it sends
	// or receives instead of its measured CPU time: a deterministic run, for tests.
	ManagerCost time.Duration
	// ManagerSpeed divides the manager's measured CPU time (2 = a core twice as fast as
	// this one); 0 means 1.
	ManagerSpeed float64
	// MemEvery, when > 0, samples the live heap (after a GC) every MemEvery frames the
	// manager receives; SimResult.PeakHeap is the largest sample.
	MemEvery int
	// Lost is the fraction of the workers lost during the run, each at a moment drawn
	// (from Seed) over the ideal makespan; a lost worker sends nothing more, and what it
	// held is lost with it. The manager finds out by the launcher's notice, NoticeDelay
	// after the loss (default 125 ms: half of mpitransport's poll), or, with ByTimeout, by
	// the worker's silence (Engine.WorkerTimeout; the live workers send heartbeats).
	Lost        float64
	ByTimeout   bool
	NoticeDelay time.Duration
	Seed        uint64
}

// SimResult is what a simulated run predicts.
type SimResult struct {
	Stats       Stats         // the manager's own report (Wall is virtual time)
	Makespan    time.Duration // virtual time from the manager's start to Run's return
	Work        time.Duration // compute time of every item, summed (each item once)
	Efficiency  float64       // Work / (Workers x Threads x Makespan)
	ManagerBusy time.Duration // virtual time charged to the manager's goroutine
	Messages    uint64        // frames the manager sent and received
	Records     uint64        // records in them: a chunk or an answer each, mostly
	Real        time.Duration // real time the simulation took
	PeakHeap    uint64        // largest live heap sampled (MemEvery), bytes
	Chunks      uint64        // chunks read from the source (retries and backups not counted)
	MaxChunk    int           // most items in one chunk issued
	// Where the lost efficiency went: the worker threads' idle time (thread-seconds; their
	// sum is Workers x Threads x Makespan - Work), and the moments that split the run.
	Idle       SimIdle
	Dealt      time.Duration // when the last thread started its first chunk
	SourceDone time.Duration // when the last chunk left the source
	Written    time.Duration // when the last result reached the Sink (the stop follows)
}

// SimIdle splits the worker threads' idle time by phase.
type SimIdle struct {
	Start  time.Duration // before each thread's first chunk (dealing the first window)
	Middle time.Duration // between chunks, while the source still had chunks
	Tail   time.Duration // after the last chunk left the source: uneven ends, and the stop
}

// MsgRate is the manager's message rate over the run, frames per virtual second.
func (r SimResult) MsgRate() float64 { return float64(r.Messages) / r.Makespan.Seconds() }

// Capacity is the record rate the manager sustains when it never waits: records (chunks
// sent, answers received) per second of its charged time.
func (r SimResult) Capacity() float64 { return float64(r.Records) / r.ManagerBusy.Seconds() }

// ExpItemTime returns item times drawn from an exponential distribution of the given mean,
// a pure function of the item number and seed.
func ExpItemTime(mean time.Duration, seed uint64) func(uint64) time.Duration {
	return func(i uint64) time.Duration {
		u := (float64(splitmix(i^seed*0x9e3779b97f4a7c15)>>11) + 0.5) / (1 << 53)
		return time.Duration(-math.Log(u) * float64(mean))
	}
}

// ParetoItemTime returns item times from a Pareto distribution of the given mean and shape
// alpha > 1 (a long tail: alpha 1.5 gives a few items hundreds of times the mean).
func ParetoItemTime(mean time.Duration, alpha float64, seed uint64) func(uint64) time.Duration {
	xm := float64(mean) * (alpha - 1) / alpha
	return func(i uint64) time.Duration {
		u := (float64(splitmix(i^seed*0x9e3779b97f4a7c15)>>11) + 0.5) / (1 << 53)
		return time.Duration(xm / math.Pow(u, 1/alpha))
	}
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Simulate runs the real manager against a simNet of sc.Workers simulated workers and
// returns the predicted run. The calling goroutine becomes the manager, locked to its OS
// thread for the duration so that its CPU clock measures it alone.
func Simulate(ctx context.Context, sc SimConfig) (SimResult, error) {
	if sc.Workers < 1 {
		return SimResult{}, fmt.Errorf("simulate: workers %d: must be at least 1", sc.Workers)
	}
	if sc.Items < 1 {
		return SimResult{}, errors.New("simulate: no items")
	}
	cfg := sc.Engine
	if cfg.Window == 0 {
		cfg.Window = DefaultConfig().Window
	}
	cfg.Threads = max(sc.Threads, 1)
	cfg.Progress, cfg.OnProgress, cfg.Trace = 0, nil, nil
	if err := cfg.validate(); err != nil {
		return SimResult{}, fmt.Errorf("simulate: %w", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	net := newSimNet(sc, cfg)
	begin := time.Now()
	net.start()
	st, err := runManager(ctx, net, net.job(sc), cfg)
	net.mu.Lock()
	defer net.mu.Unlock()
	net.enter()
	res := SimResult{
		Stats: st, Makespan: time.Duration(net.now_), Work: time.Duration(net.chunkWork(0, sc.Items)),
		ManagerBusy: time.Duration(net.busy), Messages: net.msgsIn + net.msgsOut, Records: net.records,
		Real: time.Since(begin), PeakHeap: net.peakHeap, Chunks: net.tasks, MaxChunk: net.maxChunk,
		Dealt: time.Duration(net.dealt), SourceDone: time.Duration(net.srcDoneAt), Written: time.Duration(net.written),
	}
	net.closeIdle(net.now_)
	res.Idle = net.idle
	if err == nil && net.err != nil {
		err = net.err
	}
	if res.Makespan > 0 {
		res.Efficiency = float64(res.Work) / (float64(sc.Workers*cfg.Threads) * float64(res.Makespan))
	}
	return res, err
}

// simNet is rank 0's Transport onto a network of simulated worker ranks (see the comment at
// the top of this file). Concurrency: the manager's owner loop calls it, locked to its OS
// thread when its CPU time is measured (Simulate does both); calls are serialized by a
// mutex, so another goroutine (a progress reporter) is safe but its time is not charged.
type simNet struct {
	mu      sync.Mutex
	model   NetModel
	threads int
	item    int64
	itemFn  func(uint64) time.Duration
	resB    int

	// Virtual time, in nanoseconds.
	now_      int64 // the manager's clock
	busy      int64 // charged to the manager
	fixed     int64 // ManagerCost
	speed     float64
	lastCPU   int64     // the manager thread's CPU clock when it last entered a simNet call
	entered   time.Time // the wall clock then
	left      time.Time // the wall clock when it last left one
	simTime   int64     // the wall time it then spent inside the simNet, not charged
	calibWall int64     // an empty call's span on the wall clock (calibrate)
	calibCPU  int64     // and on the thread's CPU clock, which counts the clock's read
	owed      int64     // calls found cheaper than the calibration, to take off the next (< 0)
	txFree    int64     // the manager's outgoing link is busy until then
	linkFree  int64     // the manager's incoming link is busy until then
	rxFree    int64     // the manager's receive overhead is busy until then

	events evHeap
	nextID uint64
	inbox  []simEvent // frames arrived at the manager, in order; head at ihead
	ihead  int

	ws    []simWorker // by rank; 0 unused
	zeros []byte      // result data (read-only, shared)

	msgsIn, msgsOut uint64
	records         uint64
	tasks           uint64
	maxChunk        int
	closed          bool
	err             error // a protocol violation seen by a simulated worker
	notices         []int // workers lost, for the manager's Lost (LossNotifier)
	tick            int64 // a worker's tick interval, when workers send heartbeats (0: none)
	memEvery, recvs int
	peakHeap        uint64

	idle      SimIdle // the worker threads' idle time so far, by phase
	dealt     int64   // the latest first start of a thread
	srcDoneAt int64   // when the last chunk left the source (srcDone)
	srcDone   bool
	written   int64 // when the Sink got the latest result
}

// simWorker is one simulated worker rank: the real worker step function, and its threads
// modelled as a queue of chunks and a count of threads computing.
type simWorker struct {
	w       *worker
	queue   []simTask // chunks waiting for a thread, oldest first
	busy    int       // threads computing
	dead    bool      // lost (SimConfig.Lost): it hears and sends nothing
	started int       // threads that have started a chunk
	idle    []int64   // since when each thread that finished a chunk and started none since is idle
}

// simTask is a chunk a simulated worker holds: its task (its data let go: the frame it
// came in went back to its pool) and the first item and count its data said.
type simTask struct {
	task
	first uint64
}

const (
	evWorker  uint8 = iota // a frame reaches a worker
	evDone                 // a worker's thread finishes a chunk
	evManager              // a frame reaches the manager's link
	evLose                 // a worker is lost
	evNotice               // the launcher tells the manager of a lost worker
	evTick                 // a worker's clock ticks (heartbeats)
	evReady                // a worker's ready message is due (readyWait)
)

type simEvent struct {
	t      int64
	id     uint64
	rank   int32
	ev     uint8
	thread uint16
	frame  []byte  // evWorker, evManager
	task   simTask // evDone
	work   int64   // evDone
}

var (
	_ Transport    = (*simNet)(nil)
	_ costClock    = (*simNet)(nil)
	_ LossNotifier = (*simNet)(nil)
)

// newSimNet returns the manager's end of a simulated network of sc.Workers workers that
// follow cfg's window and mode.
func newSimNet(sc SimConfig, cfg Config) *simNet {
	n := &simNet{
		model: sc.Net, threads: cfg.Threads, item: int64(sc.Item), itemFn: sc.ItemTime, resB: sc.ResultBytes,
		fixed: int64(sc.ManagerCost), speed: sc.ManagerSpeed, memEvery: sc.MemEvery,
	}
	if n.model == (NetModel{}) {
		n.model = NetLocal
	}
	if n.resB <= 0 {
		n.resB = 24
	}
	if n.speed <= 0 {
		n.speed = 1
	}
	n.ws = make([]simWorker, sc.Workers+1)
	for r := 1; r <= sc.Workers; r++ {
		n.ws[r].w = newWorker(cfg, "sim", 0)
	}
	n.events = make(evHeap, 0, 2*sc.Workers+16)
	n.planLosses(sc, cfg)
	return n
}

// planLosses schedules the losses SimConfig.Lost asks for, and with ByTimeout the workers'
// heartbeats.
func (n *simNet) planLosses(sc SimConfig, cfg Config) {
	k := int(math.Round(sc.Lost * float64(sc.Workers)))
	if k <= 0 {
		return
	}
	ideal := float64(n.chunkWork(0, sc.Items)) / float64(sc.Workers*cfg.Threads)
	notice := int64(sc.NoticeDelay)
	if notice == 0 {
		notice = int64(125 * time.Millisecond)
	}
	for i := range k {
		r := 1 + int(splitmix(sc.Seed^uint64(i)*0x51ed27)%uint64(sc.Workers))
		at := int64(float64(splitmix(sc.Seed+uint64(i)+1)>>11) / (1 << 53) * ideal)
		n.push(simEvent{ev: evLose, t: at, rank: int32(r)})
		if !sc.ByTimeout {
			n.push(simEvent{ev: evNotice, t: at + notice, rank: int32(r)})
		}
	}
	if sc.ByTimeout {
		_, every := cfg.heartbeats()
		n.tick = int64(every)
		for r := 1; r <= sc.Workers; r++ {
			n.push(simEvent{ev: evTick, t: n.tick, rank: int32(r)})
		}
	}
}

// Lost implements LossNotifier: the workers the launcher has told of by now.
func (n *simNet) Lost() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.notices
	n.notices = nil
	return l
}

// Forget implements LossNotifier: nothing is pending in the model.
func (n *simNet) Forget(int) {}

// start calibrates the charge and starts charging the calling goroutine.
func (n *simNet) start() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fixed == 0 {
		n.calibrate()
	}
	n.exit()
}

// calibrate measures an empty simNet call's span on both clocks (see enter): the clock
// reads, the lock and the bookkeeping are the simulator's, not the manager's; enter takes
// off the median of many empty calls.
func (n *simNet) calibrate() {
	walls, cpus := make([]int64, 2001), make([]int64, 2001)
	n.entered, n.lastCPU = time.Now(), int64(cpuclock.Thread())
	n.exit()
	for i := range walls {
		n.mu.Unlock()
		n.mu.Lock()
		wall, cpu := time.Now(), int64(cpuclock.Thread())
		walls[i], cpus[i] = n.spans(wall, cpu)
		n.entered, n.lastCPU = wall, cpu
		n.exit()
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	n.calibWall, n.calibCPU = walls[len(walls)/2], cpus[len(cpus)/2]
}

// spans is the manager's time since its last simNet call, on the wall clock (from the
// call's end) and on the thread's CPU clock (from the call's start, less the wall time
// spent inside it).
func (n *simNet) spans(wall time.Time, cpu int64) (int64, int64) {
	// A preemption inside the simNet counts on the wall clock only: the CPU span is
	// then at least 0.
	return int64(wall.Sub(n.left)), max(cpu-n.lastCPU-n.simTime, 0)
}

// enter charges the manager for its time since it last left a simNet call: the smaller of
// its span on the wall clock, read first and cheaply (no system call), and on the thread's
// CPU clock (a system call, which costs more after the simulator's work has taken the
// caches), which does not count a preemption; each less an empty call's. A call found
// cheaper than the calibration is owed to the next: the clock never goes back, and the
// charges' sum is not biased by the noise of each. On the fixed clock, frames are charged
// where they are sent or received (charge).
func (n *simNet) enter() {
	if n.fixed != 0 {
		return
	}
	wall, cpu := time.Now(), int64(cpuclock.Thread())
	w, c := n.spans(wall, cpu)
	n.owed += min(w-n.calibWall, c-n.calibCPU)
	n.entered, n.lastCPU = wall, cpu
	if n.owed <= 0 {
		return
	}
	d := n.owed
	n.owed = 0
	if n.speed != 1 {
		d = int64(float64(d) / n.speed)
	}
	n.now_ += d
	n.busy += d
}

// charge charges the fixed cost of one frame, on the fixed clock.
func (n *simNet) charge() {
	n.now_ += n.fixed
	n.busy += n.fixed
}

func (n *simNet) exit() {
	if n.fixed == 0 {
		n.left = time.Now()
		n.simTime = int64(n.left.Sub(n.entered))
	}
}

func (n *simNet) transfer(bytes int) int64 {
	return int64(float64(bytes) / n.model.Bandwidth * 1e9)
}

func (n *simNet) push(e simEvent) {
	e.id = n.nextID
	n.nextID++
	n.events.push(e)
}

// Rank is 0: the simNet is the manager's end.
func (n *simNet) Rank() int { return 0 }

// Size is the number of ranks: the manager and the simulated workers.
func (n *simNet) Size() int { return len(n.ws) }

// Host names the simulated machine.
func (n *simNet) Host() string { return "sim" }

// Own runs the manager's loop on the calling goroutine.
func (n *simNet) Own(loop func() error) error { return loop() }

// Close ends the network; later calls fail with ErrClosed.
func (n *simNet) Close() error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	return nil
}

// Broadcast from the manager costs nothing in the model (the simulated job has no setup).
func (n *simNet) Broadcast(root int, _ []byte) error {
	if root != 0 {
		return fmt.Errorf("simulated broadcast from rank %d: only the manager broadcasts", root)
	}
	return nil
}

// Wake does nothing: the manager's Wait never blocks for real.
func (n *simNet) Wake() {}

// now implements costClock: the virtual time.
func (n *simNet) now() monoTime {
	n.mu.Lock()
	defer n.mu.Unlock()
	return monoTime(n.now_)
}

// managerTime implements costClock: the virtual time charged to the manager so far, up to
// its latest call. It charges nothing itself: it reads no clock.
func (n *simNet) managerTime() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return time.Duration(n.busy)
}

// Send queues frame f for simulated worker to: it leaves when the manager's link is free.
func (n *simNet) Send(to int, f []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.enter()
	defer n.exit()
	switch {
	case n.closed:
		return ErrClosed
	case n.err != nil:
		return n.err
	case to < 1 || to >= len(n.ws):
		return fmt.Errorf("send to rank %d: no such rank (size %d)", to, len(n.ws))
	}
	n.charge()
	tx := max(n.now_, n.txFree) + int64(n.model.Overhead) + n.transfer(len(f))
	n.txFree = tx
	n.push(simEvent{ev: evWorker, t: tx + int64(n.model.Latency), rank: int32(to), frame: f})
	n.msgsOut++
	n.records += uint64(recordsIn(f))
	return nil
}

// Recv returns the next frame that has arrived at the manager by now, if any.
func (n *simNet) Recv() (int, []byte, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.enter()
	defer n.exit()
	if n.closed {
		return 0, nil, false, ErrClosed
	}
	n.advance(n.now_)
	if n.err != nil {
		return 0, nil, false, n.err
	}
	if n.ihead == len(n.inbox) || n.inbox[n.ihead].t > n.now_ {
		return 0, nil, false, nil
	}
	e := n.inbox[n.ihead]
	n.inbox[n.ihead] = simEvent{}
	n.ihead++
	if n.ihead > 1024 && 2*n.ihead > len(n.inbox) {
		k := copy(n.inbox, n.inbox[n.ihead:])
		clear(n.inbox[k:])
		n.inbox, n.ihead = n.inbox[:k], 0
	}
	n.charge()
	n.msgsIn++
	n.records += uint64(recordsIn(e.frame))
	if n.memEvery > 0 {
		if n.recvs++; n.recvs%n.memEvery == 0 {
			n.sampleHeap()
		}
	}
	return int(e.rank), e.frame, true, nil
}

// Wait jumps the clock to the next arrival at the manager (h.Within at most), running the
// simulated workers meanwhile.
func (n *simNet) Wait(h WaitHint) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.enter()
	defer n.exit()
	limit := int64(math.MaxInt64)
	if h.Within > 0 {
		limit = n.now_ + int64(h.Within)
	}
	for {
		if n.ihead < len(n.inbox) {
			n.now_ = max(n.now_, min(n.inbox[n.ihead].t, limit))
			return nil
		}
		if len(n.events) == 0 {
			if limit == math.MaxInt64 {
				return errors.New("simulation: the manager waits for a message that no worker will send")
			}
			n.now_ = limit
			return nil
		}
		t := n.events[0].t
		if t > limit {
			n.now_ = limit
			return nil
		}
		n.now_ = max(n.now_, t)
		n.advance(n.now_)
		if n.err != nil {
			return n.err
		}
	}
}

// advance applies every event due by t.
func (n *simNet) advance(t int64) {
	for len(n.events) > 0 && n.events[0].t <= t && n.err == nil {
		n.process(n.events.pop())
	}
}

func (n *simNet) chunkWork(first, count uint64) int64 {
	if n.itemFn == nil {
		return n.item * int64(count)
	}
	var w int64
	for i := first; i < first+count; i++ {
		w += int64(n.itemFn(i))
	}
	return w
}

// process applies one event at its time.
func (n *simNet) process(e simEvent) {
	switch e.ev {
	case evManager:
		avail := max(e.t, n.rxFree) + int64(n.model.Overhead)
		n.rxFree = avail
		e.t = avail
		n.inbox = append(n.inbox, e)
	case evWorker:
		if !n.ws[e.rank].dead {
			n.ws[e.rank].w.onFrame(monoTime(e.t), 0, e.frame)
			n.act(int(e.rank), e.t)
		}
		frame.Put(e.frame) // act took what it needed of the chunks' data
	case evDone:
		s := &n.ws[e.rank]
		s.busy--
		s.idle = append(s.idle, e.t)
		if !s.dead {
			s.w.done(monoTime(e.t), computed{task: e.task.task, out: n.result(e.task.c.Items), work: time.Duration(e.work), thread: int(e.thread)})
			n.act(int(e.rank), e.t)
		}
	default:
		n.processLoss(e)
	}
}

// processLoss applies a loss, the launcher's notice of one, or a worker's tick (for its
// heartbeats, or for its ready message).
func (n *simNet) processLoss(e simEvent) {
	s := &n.ws[e.rank]
	switch {
	case e.ev == evLose:
		s.dead, s.queue = true, nil
	case e.ev == evNotice:
		n.notices = append(n.notices, int(e.rank))
	case (e.ev == evTick || e.ev == evReady && s.w.ready != nil) && !s.dead && s.w.phase != ended:
		if _, err := s.w.tick(monoTime(e.t)); err == nil {
			n.act(int(e.rank), e.t)
		}
		if e.ev == evTick {
			n.push(simEvent{ev: evTick, t: e.t + n.tick, rank: e.rank})
		}
	}
}

// act carries out what worker r's step function asked for at time t: it starts the
// setup's end, queues and starts chunks, hands back those not started (a drain), and sends
// its frames.
func (n *simNet) act(r int, t int64) {
	s := &n.ws[r]
	w := s.w
	if w.phase == settingUp {
		if w.setupLen != 0 {
			n.err = fmt.Errorf("simulation: a setup of %d bytes; the simulated job has none", w.setupLen)
			return
		}
		w.started(monoTime(t), n.threads)
		if w.ready != nil {
			n.push(simEvent{ev: evReady, t: int64(w.readyDue), rank: int32(r)})
		}
	}
	for _, tk := range w.toCompute {
		if len(tk.c.Data) != 16 {
			n.err = fmt.Errorf("simulation: rank %d got a chunk of %d bytes, want 16", r, len(tk.c.Data))
			return
		}
		st := simTask{task: tk, first: binary.LittleEndian.Uint64(tk.c.Data)}
		st.c.Items = int(binary.LittleEndian.Uint64(tk.c.Data[8:]))
		st.c.Data = nil
		s.queue = append(s.queue, st)
	}
	clear(w.toCompute)
	w.toCompute = w.toCompute[:0]
	if w.reclaim { // as computeQueue.takeWaiting
		w.reclaim = false
		keep := startingNow(n.threads, s.busy, len(s.queue))
		for _, tk := range s.queue[keep:] {
			w.unstarted(monoTime(t), tk.task)
		}
		s.queue = s.queue[:keep]
	}
	if w.cancel {
		s.queue = s.queue[:0]
	}
	for s.busy < n.threads && len(s.queue) > 0 && !w.cancel {
		n.startChunk(r, t)
	}
	for _, o := range w.out.seal() {
		n.workerSend(r, t, o.frame)
	}
}

// startChunk starts the oldest queued chunk of worker r on a free thread at time t.
func (n *simNet) startChunk(r int, t int64) {
	s := &n.ws[r]
	tk := s.queue[0]
	s.queue = s.queue[1:]
	if len(s.queue) == 0 {
		s.queue = s.queue[:0:0] // let the backing array go; it regrows to the window
	}
	work := n.chunkWork(tk.first, uint64(tk.c.Items))
	n.push(simEvent{ev: evDone, t: t + work, rank: int32(r), task: tk, work: work, thread: uint16(s.busy)})
	s.busy++
	if s.started < n.threads {
		s.started++
		n.idle.Start += time.Duration(t)
		n.dealt = max(n.dealt, t)
		return
	}
	n.idleGap(s.idle[0], t)
	s.idle = s.idle[1:]
	if len(s.idle) == 0 {
		s.idle = s.idle[:0:0]
	}
}

// idleGap counts a thread idle from a to b: in the middle of the run, or in its tail once
// the source is done.
func (n *simNet) idleGap(a, b int64) {
	if n.srcDone && n.srcDoneAt < b {
		n.idle.Middle += time.Duration(max(n.srcDoneAt-a, 0))
		n.idle.Tail += time.Duration(b - max(a, n.srcDoneAt))
		return
	}
	n.idle.Middle += time.Duration(b - a)
}

// closeIdle counts the threads idle at the end of the run, end.
func (n *simNet) closeIdle(end int64) {
	for r := 1; r < len(n.ws); r++ {
		s := &n.ws[r]
		n.idle.Start += time.Duration(int64(n.threads-s.started) * end)
		for _, a := range s.idle {
			n.idleGap(a, end)
		}
		s.idle = nil
	}
}

// workerSend sends frame f from worker r at time t to the manager, over the manager's link.
func (n *simNet) workerSend(r int, t int64, f []byte) {
	arrive := max(t+int64(n.model.Overhead)+int64(n.model.Latency), n.linkFree) + n.transfer(len(f))
	n.linkFree = arrive
	n.push(simEvent{ev: evManager, t: arrive, rank: int32(r), frame: f})
}

func (n *simNet) result(items int) []byte {
	size := items * n.resB
	if size > len(n.zeros) {
		n.zeros = make([]byte, max(size, 2*len(n.zeros)))
	}
	return n.zeros[:size:size]
}

func (n *simNet) sampleHeap() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n.peakHeap = max(n.peakHeap, ms.HeapAlloc)
}

// evHeap is a binary min-heap of events by (time, id): ties keep their order of creation,
// so a run is deterministic.
type evHeap []simEvent

func (h evHeap) less(i, j int) bool {
	return h[i].t < h[j].t || (h[i].t == h[j].t && h[i].id < h[j].id)
}

func (h *evHeap) push(e simEvent) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *evHeap) pop() simEvent {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = simEvent{}
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// job is the simulated workload: sc.Items items cut into chunks of sc.Chunk (or sized by
// the engine), each chunk's data its first item and count; the Sink discards results.
func (n *simNet) job(sc SimConfig) Job {
	return Job{
		Name: "sim",
		Open: func(context.Context) (*Plan, error) {
			src := &simSource{items: sc.Items, per: uint64(max(sc.Chunk, 1)), net: n}
			p := &Plan{Source: src, Sink: simSink{n}, Total: -1}
			if sc.Chunk == 0 {
				p.Source = simSized{src}
			}
			return p, nil
		},
		NewWorker: func([]byte) (Worker, error) {
			return nil, errors.New("simulated workers do not compute")
		},
	}
}

type simSource struct {
	items, per, next, seq uint64
	net                   *simNet
}

func (s *simSource) Next() (Chunk, error) { return s.nextN(s.per) }

func (s *simSource) nextN(per uint64) (Chunk, error) {
	if s.next >= s.items {
		return Chunk{}, io.EOF
	}
	k := min(per, s.items-s.next)
	d := make([]byte, 16)
	binary.LittleEndian.PutUint64(d, s.next)
	binary.LittleEndian.PutUint64(d[8:], k)
	c := Chunk{Seq: s.seq, Data: d, Items: int(k)}
	s.seq++
	s.next += k
	if s.next == s.items {
		s.net.srcDone, s.net.srcDoneAt = true, s.net.now_
	}
	s.net.tasks++
	s.net.maxChunk = max(s.net.maxChunk, int(k))
	return c, nil
}

type simSized struct{ *simSource }

func (s simSized) NextN(k int) (Chunk, error) { return s.nextN(uint64(max(k, 1))) }
func (s simSized) Remaining() int64           { return int64(s.items - s.next) }

// simSink discards the results, noting when the last came.
type simSink struct{ net *simNet }

func (s simSink) Put(uint64, []byte) error {
	s.net.written = s.net.now_
	return nil
}
