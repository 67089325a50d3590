package rank

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/mw-hpc/mw/internal/cpuclock"
)

// This file simulates the engine at a scale this machine cannot hold: the real manager
// (runManager, unchanged) runs against a SimNet of thousands of simulated workers, on a
// virtual clock.
//
// Why a virtual clock: 100,000 workers cannot be goroutines that really sleep (their
// timers, stacks and the scheduler would be what is measured), and a wall clock would make
// every result depend on the machine's load. So the workers are event-driven state
// machines inside the SimNet that speak the worker protocol (setup -> ready [+ asks],
// task -> result after the chunk's virtual compute time [+ ask], stop -> stop), and time is
// a discrete-event clock: the manager's clock advances by the CPU time its own goroutine
// really spends between transport calls (the thread's CPU clock, so other processes on the
// machine do not count), or by a fixed cost per call for deterministic tests; every message
// costs the modelled latency, bandwidth and per-message overhead; a Recv with nothing
// arrived jumps the clock to the next arrival. The manager's code, its data structures and
// its real per-message cost are therefore what the simulation measures; the network and the
// workers are the model.

// NetModel is the simulated network: LogGP's latency L, overhead o and gap per byte 1/B.
// A message of n bytes (header included) sent at time s by a rank whose link is idle
// arrives at s + Overhead + n/Bandwidth + Latency and is ready for the receiver Overhead
// later. The manager's link is shared: its sends leave one after the other, and messages to
// it are serialized on its incoming link and by its receive overhead, in arrival order.
// Between two ranks messages never overtake (MPI's ordering rule).
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
	Threads int      // computing threads per worker (default 1)
	Net     NetModel // the network (default NetLocal)
	Engine  Config   // the manager's configuration (Window, Mode, Backups, ...); Threads is ignored
	Items   uint64   // items in the job
	Chunk   int      // items per chunk; 0 for the engine's automatic sizing (--chunk auto)
	Item    time.Duration
	// ItemTime, when not nil, is the compute time of item i (it overrides Item). It must be
	// a pure function of i, so runs are reproducible.
	ItemTime func(i uint64) time.Duration
	// ResultBytes is the size of an item's result (default 24, a selftest line).
	ResultBytes int
	// ManagerCost, when > 0, charges the manager this much virtual time per transport call
	// instead of its measured CPU time: a deterministic run, for tests.
	ManagerCost time.Duration
	// ManagerSpeed divides the manager's measured CPU time (2 = a core twice as fast as
	// this one); 0 means 1.
	ManagerSpeed float64
	// MemEvery, when > 0, samples the live heap (after a GC) every MemEvery messages the
	// manager receives; SimResult.PeakHeap is the largest sample.
	MemEvery int
}

// SimResult is what a simulated run predicts.
type SimResult struct {
	Stats       Stats         // the manager's own report (Wall is real time)
	Makespan    time.Duration // virtual time from the manager's start to Run's return
	Work        time.Duration // compute time of every item, summed (each item once)
	Efficiency  float64       // Work / (Workers x Threads x Makespan)
	ManagerBusy time.Duration // virtual time charged to the manager's goroutine
	Messages    uint64        // messages the manager sent and received
	Real        time.Duration // real time the simulation took
	PeakHeap    uint64        // largest live heap sampled (MemEvery), bytes
	Chunks      uint64        // chunks issued (fresh, retried and backups)
	MaxChunk    int           // most items in one chunk issued
}

// MsgRate is the manager's message rate over the run, messages per virtual second.
func (r SimResult) MsgRate() float64 { return float64(r.Messages) / r.Makespan.Seconds() }

// Capacity is the message rate the manager sustains when it never waits: messages per
// second of its charged time.
func (r SimResult) Capacity() float64 { return float64(r.Messages) / r.ManagerBusy.Seconds() }

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

// Simulate runs the real manager against a SimNet of sc.Workers simulated workers and
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
	cfg.Progress, cfg.OnProgress, cfg.Trace = 0, nil, nil
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	net := NewSimNet(sc, cfg)
	job := net.job(sc)
	begin := time.Now()
	net.start()
	st, err := Run(ctx, net, job, cfg)
	net.mu.Lock()
	net.enter()
	res := SimResult{
		Stats: st, Makespan: time.Duration(net.now), Work: time.Duration(net.chunkWork(0, sc.Items)),
		ManagerBusy: time.Duration(net.busy), Messages: net.msgsIn + net.msgsOut,
		Real: time.Since(begin), PeakHeap: net.peakHeap, Chunks: net.tasks, MaxChunk: net.maxChunk,
	}
	if err == nil && net.err != nil {
		err = net.err
	}
	net.mu.Unlock()
	if res.Makespan > 0 {
		res.Efficiency = float64(res.Work) / (float64(sc.Workers*net.threads) * float64(res.Makespan))
	}
	return res, err
}

// SimNet is rank 0's Transport onto a network of simulated workers (see the comment at the
// top of this file). Concurrency: one goroutine, the manager's, is meant to call it, locked
// to its OS thread when the manager's CPU time is measured (Simulate does both); calls are
// serialized by a mutex, so a second goroutine (a progress reporter) is safe but its time
// is not charged.
type SimNet struct {
	mu      sync.Mutex
	model   NetModel
	workers int
	threads int
	window  int
	pull    bool
	item    int64
	itemFn  func(uint64) time.Duration
	resB    int

	// Virtual time, in nanoseconds.
	now      int64 // the manager's clock
	busy     int64 // charged to the manager
	fixed    int64 // ManagerCost
	speed    float64
	lastCPU  int64     // the manager thread's CPU clock when it last entered a SimNet call
	inside   time.Time // when it did
	simTime  int64     // time it then spent inside the SimNet, not charged
	calib    int64     // cost of one CPU clock read, not charged
	txFree   int64     // the manager's outgoing link is busy until then
	linkFree int64     // the manager's incoming link is busy until then
	rxFree   int64     // the manager's receive overhead is busy until then

	events evHeap
	nextID uint64
	inbox  []simEvent // messages arrived at the manager, in order; head at ihead
	ihead  int

	ws    []simWorker
	queue []simTask // each worker's task queue: qcap entries from w*qcap
	qcap  int

	zeros []byte // result data (read-only, shared)
	ready []byte // every worker's ready message

	msgsIn, msgsOut uint64
	tasks           uint64
	maxChunk        int
	closed          bool
	err             error // a protocol violation seen by a simulated worker
	memEvery, recvs int
	peakHeap        uint64
}

type simWorker struct {
	head, n int32 // queued tasks
	busy    int32 // threads computing
	stopped bool
	ready   bool
}

type simTask struct {
	seq     uint64
	work    int64
	items   int32
	attempt uint8
}

const (
	evWorker  uint8 = iota // a message reaches a worker
	evDone                 // a worker's thread finishes a chunk
	evManager              // a message reaches the manager's link
)

type simEvent struct {
	t       int64
	id      uint64
	seq     uint64
	work    int64
	rank    int32
	bytes   int32 // tasks and results: the chunk's items; ready: the data's length
	ev      uint8
	kind    Kind
	attempt uint8
	thread  uint16
	ask     bool // answers in pull mode: Msg.Ask
}

var (
	_ Transport = (*SimNet)(nil)
	_ costClock = (*SimNet)(nil)
)

// NewSimNet returns the manager's end of a simulated network of sc.Workers workers that
// follow cfg's window and mode. Simulate is the usual way in.
func NewSimNet(sc SimConfig, cfg Config) *SimNet {
	n := &SimNet{
		model: sc.Net, workers: sc.Workers, threads: max(sc.Threads, 1), window: max(cfg.Window, 1),
		pull: cfg.Mode == Pull, item: int64(sc.Item), itemFn: sc.ItemTime, resB: sc.ResultBytes,
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
	n.qcap = n.threads * n.window
	n.queue = make([]simTask, (sc.Workers+1)*n.qcap)
	n.ready = binary.LittleEndian.AppendUint32(nil, uint32(n.threads))
	n.ready = append(n.ready, "sim"...)
	n.events = make(evHeap, 0, 2*sc.Workers+16)
	return n
}

// start calibrates the CPU clock and starts charging the calling goroutine.
func (n *SimNet) start() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fixed == 0 {
		n.calib = math.MaxInt64
		for i := 0; i < 1000; i++ {
			a := int64(cpuclock.Thread())
			n.calib = min(n.calib, int64(cpuclock.Thread())-a)
		}
		n.lastCPU, n.inside = int64(cpuclock.Thread()), time.Now()
	}
	n.exit()
}

// enter charges the manager for its CPU time since it last left a SimNet call. The thread's
// CPU clock is read once per call (a system call); the SimNet's own time since the previous
// read, measured on the cheap wall clock, and the cost of one read are not charged.
func (n *SimNet) enter() {
	d := n.fixed
	if d == 0 {
		cpu := int64(cpuclock.Thread())
		n.inside = time.Now()
		d = max(cpu-n.lastCPU-n.simTime-n.calib, 0)
		if n.speed != 1 {
			d = int64(float64(d) / n.speed)
		}
		n.lastCPU = cpu
	}
	n.now += d
	n.busy += d
}

func (n *SimNet) exit() {
	if n.fixed == 0 {
		n.simTime = int64(time.Since(n.inside))
	}
}

func (n *SimNet) transfer(bytes int) int64 {
	return int64(float64(bytes) / n.model.Bandwidth * 1e9)
}

func (n *SimNet) push(e simEvent) {
	e.id = n.nextID
	n.nextID++
	n.events.push(e)
}

// Rank is 0: the SimNet is the manager's end.
func (n *SimNet) Rank() int { return 0 }

// Size is the number of ranks: the manager and the simulated workers.
func (n *SimNet) Size() int { return n.workers + 1 }

// Host names the simulated machine.
func (n *SimNet) Host() string { return "sim" }

// Close ends the network; later calls fail with ErrClosed.
func (n *SimNet) Close() error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	return nil
}

// Broadcast from the manager costs nothing in the model (the simulated job has no setup).
func (n *SimNet) Broadcast(ctx context.Context, root int, data []byte) error {
	if root != 0 {
		return fmt.Errorf("simulated broadcast from rank %d: only the manager broadcasts", root)
	}
	return nil
}

// managerTime implements costClock: the virtual time charged to the manager so far, up to
// its latest Send or Recv. It charges nothing itself: it reads no clock.
func (n *SimNet) managerTime() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return time.Duration(n.busy)
}

// Send queues m for simulated worker to: it leaves when the manager's link is free.
func (n *SimNet) Send(ctx context.Context, to int, m Msg) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.enter()
	defer n.exit()
	if n.closed {
		return ErrClosed
	}
	if n.err != nil {
		return n.err
	}
	if to < 1 || to > n.workers {
		return fmt.Errorf("send to rank %d: no such rank (size %d)", to, n.workers+1)
	}
	e := simEvent{ev: evWorker, rank: int32(to), kind: m.Kind, seq: m.Seq, attempt: uint8(m.Attempt)}
	if m.Kind == KindTask {
		if len(m.Data) != 16 {
			return fmt.Errorf("simulated task of %d bytes, want 16", len(m.Data))
		}
		first, count := binary.LittleEndian.Uint64(m.Data), binary.LittleEndian.Uint64(m.Data[8:])
		e.work, e.bytes = n.chunkWork(first, count), int32(count)
		n.tasks++
		n.maxChunk = max(n.maxChunk, int(count))
	}
	tx := max(n.now, n.txFree) + int64(n.model.Overhead) + n.transfer(HeaderLen+len(m.Data))
	n.txFree = tx
	e.t = tx + int64(n.model.Latency)
	n.push(e)
	n.msgsOut++
	return nil
}

func (n *SimNet) chunkWork(first, count uint64) int64 {
	if n.itemFn == nil {
		return n.item * int64(count)
	}
	var w int64
	for i := first; i < first+count; i++ {
		w += int64(n.itemFn(i))
	}
	return w
}

// Recv returns the next message to arrive at the manager, advancing the virtual clock to
// its arrival when none has arrived yet.
func (n *SimNet) Recv(ctx context.Context) (Msg, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.enter()
	defer n.exit()
	if n.closed {
		return Msg{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return Msg{}, err
	}
	for {
		for len(n.events) > 0 && n.events[0].t <= n.now {
			n.process(n.events.pop())
		}
		if n.err != nil {
			return Msg{}, n.err
		}
		if n.ihead < len(n.inbox) && n.inbox[n.ihead].t <= n.now {
			break
		}
		next := int64(math.MaxInt64)
		if n.ihead < len(n.inbox) {
			next = n.inbox[n.ihead].t
		}
		if len(n.events) > 0 {
			next = min(next, n.events[0].t)
		}
		if next == math.MaxInt64 {
			return Msg{}, errors.New("simulation: the manager waits for a message that no worker will send")
		}
		n.now = next
	}
	e := n.inbox[n.ihead]
	n.ihead++
	if n.ihead > 1024 && 2*n.ihead > len(n.inbox) {
		k := copy(n.inbox, n.inbox[n.ihead:])
		n.inbox, n.ihead = n.inbox[:k], 0
	}
	n.msgsIn++
	m := Msg{From: int(e.rank), Kind: e.kind, Seq: e.seq, Attempt: int(e.attempt), Work: time.Duration(e.work), Thread: int(e.thread), Ask: e.ask}
	switch e.kind {
	case KindResult:
		m.Data = n.result(int(e.bytes) * n.resB)
	case KindReady:
		m.Data = n.ready
	}
	if n.memEvery > 0 {
		if n.recvs++; n.recvs%n.memEvery == 0 {
			n.sampleHeap()
		}
	}
	return m, nil
}

func (n *SimNet) result(size int) []byte {
	if size > len(n.zeros) {
		n.zeros = make([]byte, max(size, 2*len(n.zeros)))
	}
	return n.zeros[:size:size]
}

func (n *SimNet) sampleHeap() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n.peakHeap = max(n.peakHeap, ms.HeapAlloc)
}

// process applies one event at its time.
func (n *SimNet) process(e simEvent) {
	w := &n.ws[e.rank]
	switch e.ev {
	case evManager:
		avail := max(e.t, n.rxFree) + int64(n.model.Overhead)
		n.rxFree = avail
		e.t = avail
		n.inbox = append(n.inbox, e)
	case evDone:
		w.busy--
		if w.stopped {
			return
		}
		n.workerSend(e.t, simEvent{rank: e.rank, kind: KindResult, seq: e.seq, work: e.work, bytes: e.bytes, thread: e.thread, ask: n.pull})
		n.startNext(e.rank, e.t)
	case evWorker:
		if w.stopped {
			return
		}
		switch e.kind {
		case KindSetup:
			w.ready = true
			n.workerSend(e.t, simEvent{rank: e.rank, kind: KindReady, bytes: int32(len(n.ready))})
			for i := 0; n.pull && i < n.qcap; i++ {
				n.workerSend(e.t, simEvent{rank: e.rank, kind: KindAsk})
			}
		case KindTask:
			if !w.ready || int(w.n) == n.qcap {
				n.err = fmt.Errorf("simulation: manager sent chunk %d to rank %d beyond its window of %d", e.seq, e.rank, n.qcap)
				return
			}
			q := n.queue[int(e.rank)*n.qcap:][:n.qcap]
			q[(int(w.head)+int(w.n))%n.qcap] = simTask{seq: e.seq, work: e.work, items: e.bytes, attempt: e.attempt}
			w.n++
			if int(w.busy) < n.threads {
				n.startNext(e.rank, e.t+int64(n.model.Overhead))
			}
		case KindDrain:
			// Hand back the queued tasks, oldest first.
			q := n.queue[int(e.rank)*n.qcap:][:n.qcap]
			for ; w.n > 0; w.n-- {
				n.workerSend(e.t, simEvent{rank: e.rank, kind: KindSkip, seq: q[w.head].seq, ask: n.pull})
				w.head = (w.head + 1) % int32(n.qcap)
			}
		case KindStop:
			w.stopped = true
			n.workerSend(e.t, simEvent{rank: e.rank, kind: KindStop})
		case KindAbort:
			w.stopped = true
		default:
			n.err = fmt.Errorf("simulation: rank %d got an unexpected %s message", e.rank, e.kind)
		}
	}
}

// startNext starts the oldest queued task of rank r on a free thread at time t.
func (n *SimNet) startNext(r int32, t int64) {
	w := &n.ws[r]
	if w.n == 0 || int(w.busy) >= n.threads {
		return
	}
	q := n.queue[int(r)*n.qcap:][:n.qcap]
	task := q[w.head]
	w.head = int32((int(w.head) + 1) % n.qcap)
	w.n--
	thread := w.busy
	w.busy++
	n.push(simEvent{ev: evDone, t: t + task.work, rank: r, seq: task.seq, work: task.work, bytes: task.items, attempt: task.attempt, thread: uint16(thread)})
}

// workerSend sends e from a worker at time t to the manager, over the manager's link.
func (n *SimNet) workerSend(t int64, e simEvent) {
	size := HeaderLen + int(e.bytes)
	if e.kind == KindResult {
		size = HeaderLen + int(e.bytes)*n.resB
	}
	arrive := max(t+int64(n.model.Overhead)+int64(n.model.Latency), n.linkFree) + n.transfer(size)
	n.linkFree = arrive
	e.ev, e.t = evManager, arrive
	n.push(e)
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
func (n *SimNet) job(sc SimConfig) Job {
	return Job{
		Name: "sim",
		Open: func(context.Context) (*Plan, error) {
			src := &simSource{items: sc.Items, per: uint64(max(sc.Chunk, 1))}
			p := &Plan{Source: src, Sink: simSink{}, Total: -1}
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

type simSource struct{ items, per, next, seq uint64 }

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
	return c, nil
}

type simSized struct{ *simSource }

func (s simSized) NextN(k int) (Chunk, error) { return s.nextN(uint64(max(k, 1))) }
func (s simSized) Remaining() int64           { return int64(s.items - s.next) }

type simSink struct{}

func (simSink) Put(uint64, []byte) error { return nil }
