package rank

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/cpuclock"
)

// raceBuild reports whether the test binary has the race detector, which makes the
// simulation about ten times slower: the tests then use smaller sizes.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// small reports whether the tests should keep the simulations small.
func small() bool { return testing.Short() || raceBuild() }

// idealNet has no latency, no overhead and infinite bandwidth.
var idealNet = NetModel{Bandwidth: math.Inf(1)}

func simulate(t *testing.T, sc SimConfig) SimResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	r, err := Simulate(ctx, sc)
	require.NoError(t, err)
	return r
}

func engine(window int, mode Mode, backups bool) Config {
	cfg := DefaultConfig()
	cfg.Window, cfg.Mode, cfg.Backups = window, mode, backups
	return cfg
}

// TestSimModel checks the simulation against makespans worked out by hand, on a
// deterministic clock (a fixed cost per manager call).
func TestSimModel(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name     string
		sc       SimConfig
		makespan time.Duration // expected, within tol
		tol      float64
	}{
		{
			// 10 workers compute 10 items each back to back: the window hides the round trip.
			name:     "window hides round trip",
			sc:       SimConfig{Workers: 10, Items: 100, Item: ms, Chunk: 1, Net: idealNet, Engine: engine(2, Push, false), ManagerCost: 1},
			makespan: 10 * ms, tol: 0.001,
		},
		{
			// Window 1: every item waits for a round trip of 2 x 100 us; the first item comes
			// with the setup, and the stop takes a round trip.
			name: "window 1 pays the round trip",
			sc: SimConfig{Workers: 10, Items: 100, Item: ms, Chunk: 1, Engine: engine(1, Push, false), ManagerCost: 1,
				Net: NetModel{Latency: 100 * time.Microsecond, Bandwidth: math.Inf(1)}},
			makespan: 10*(ms+200*time.Microsecond) + 200*time.Microsecond, tol: 0.01,
		},
		{
			// Chunks of 5 items: 2 chunks per worker of 5 ms each.
			name:     "chunks",
			sc:       SimConfig{Workers: 10, Items: 100, Item: ms, Chunk: 5, Net: idealNet, Engine: engine(1, Push, false), ManagerCost: 1},
			makespan: 10 * ms, tol: 0.001,
		},
		{
			// Bandwidth: a 1000-item result of 1 KB per item takes 1 ms on a 1 GB/s link.
			name: "bandwidth",
			sc: SimConfig{Workers: 1, Items: 1000, Item: 0, Chunk: 1000, ResultBytes: 1000, Engine: engine(1, Push, false), ManagerCost: 1,
				Net: NetModel{Bandwidth: 1e9}},
			makespan: ms, tol: 0.01,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := simulate(t, tc.sc)
			require.InEpsilon(t, tc.makespan.Seconds(), r.Makespan.Seconds(), tc.tol, "makespan %v", r.Makespan)
			require.EqualValues(t, (tc.sc.Items+uint64(tc.sc.Chunk)-1)/uint64(tc.sc.Chunk), r.Stats.Chunks)
		})
	}
}

// TestSimSaturatedManager: at 1 us of manager time per frame, 100,000 empty chunks keep the
// manager busy the whole run, and its frames carry several records each (every chunk ready
// for a worker in one frame, every answer a worker has ready in one), in push and pull mode.
func TestSimSaturatedManager(t *testing.T) {
	for _, mode := range []Mode{Push, Pull} {
		r := simulate(t, SimConfig{Workers: 100, Items: 100000, Item: 1, Chunk: 1, Net: idealNet, Engine: engine(2, mode, false), ManagerCost: time.Microsecond})
		require.InEpsilon(t, r.Makespan.Seconds(), r.ManagerBusy.Seconds(), 0.01, "%s: busy %v of %v", mode, r.ManagerBusy, r.Makespan)
		require.EqualValues(t, 100000, r.Stats.Chunks)
		require.Greater(t, float64(r.Records), 1.2*float64(r.Messages), "%s: %d records in %d frames", mode, r.Records, r.Messages)
	}
}

// TestSimDeterministic: on the fixed-cost clock two runs predict the same makespan, with
// random item times, backups, and fixed or automatic chunk sizes (the sizer reads the
// simulator's clock: costClock).
func TestSimDeterministic(t *testing.T) {
	for _, chunk := range []int{4, 0} {
		sc := SimConfig{Workers: 50, Items: 5000, ItemTime: ExpItemTime(time.Millisecond, 1), Chunk: chunk,
			Net: NetCluster, Engine: engine(2, Push, true), ManagerCost: 500 * time.Nanosecond}
		a, b := simulate(t, sc), simulate(t, sc)
		require.Equal(t, a.Makespan, b.Makespan, "chunk %d", chunk)
		require.Equal(t, a.Messages, b.Messages, "chunk %d", chunk)
		require.Equal(t, a.MaxChunk, b.MaxChunk, "chunk %d", chunk)
		require.Greater(t, a.Efficiency, 0.5)
		require.Less(t, a.Efficiency, 1.0)
	}
}

// TestSimSizerReadsTheSimulatedClock: automatic chunk sizes follow the manager's time as
// the simulator charges it (costClock), not the wall clock, which counts the simulator's
// own work and nothing of the charged cost. At 1 ms a manager call, chunks of 1 ms items
// must grow until the manager keeps up (the cap is a slot's share of what remains: 32).
func TestSimSizerReadsTheSimulatedClock(t *testing.T) {
	for _, mode := range []Mode{Push, Pull} {
		r := simulate(t, SimConfig{Workers: 100, Items: 3200, Item: time.Millisecond, Net: idealNet,
			Engine: engine(2, mode, false), ManagerCost: time.Millisecond})
		require.GreaterOrEqual(t, r.MaxChunk, 16, "%s", mode)
	}
}

// TestSimAutoChunkingAtScale: the engine's chunk sizes keep 10,000 workers with 10 ms
// items busy (issue 9's goal for the simulated manager), on the fixed-cost clock at a
// manager cost near the one measured (about 200 ns per transport call). The sizer used to
// read the wall clock, which counted the simulator's own work: chunks of up to 30 items,
// and 66% efficiency.
func TestSimAutoChunkingAtScale(t *testing.T) {
	workers := 10000
	if small() {
		workers = 2000
	}
	r := simulate(t, SimConfig{Workers: workers, Items: uint64(32 * workers), Item: 10 * time.Millisecond,
		Engine: engine(2, Push, false), ManagerCost: 200 * time.Nanosecond})
	require.GreaterOrEqual(t, r.Efficiency, 0.9, "largest chunk %d", r.MaxChunk)
	// With 16 items a worker the first chunks (a quarter of a worker's share) are 4 items,
	// so the largest chunk is a measured one: it stays at 4 or less.
	r = simulate(t, SimConfig{Workers: workers, Items: uint64(16 * workers), Item: 10 * time.Millisecond,
		Engine: engine(2, Push, false), ManagerCost: 200 * time.Nanosecond})
	require.LessOrEqual(t, r.MaxChunk, 4)
}

// TestSimAutoFirstChunks: items of irregular length, few per worker, under --chunk auto.
// First chunks of one item came back first from the shortest items, and the sizer, which
// took them for the typical item, made the next chunks 30 items where 8 is a quarter of a
// worker's share: 53% efficiency. First chunks of guided self-scheduling's share measure
// the work better.
func TestSimAutoFirstChunks(t *testing.T) {
	r := simulate(t, SimConfig{Workers: 1000, Items: 32 * 1000, Item: time.Millisecond, ItemTime: ExpItemTime(time.Millisecond, 7),
		Engine: engine(2, Push, false), ManagerCost: 300 * time.Nanosecond})
	require.GreaterOrEqual(t, r.Efficiency, 0.7, "largest chunk %d", r.MaxChunk)
	require.LessOrEqual(t, r.MaxChunk, 20)
}

// TestSimAutoChunkingBusyManager: --chunk auto where the manager is the bottleneck, on the
// fixed-cost clock: 2,000 single-thread workers with 1,000 items of 1 ms each at 25 us of
// manager time a frame, so that a frame to or from every worker costs it 50 ms, as for
// 100,000 workers at 500 ns a frame. Chunks shrink to base (the manager busy all the time)
// at the end, not to a whole slot's share of what remains (the first workers back would
// take it all, and the others wait), and the deal goes round the farm a chunk per worker
// at a time. The same farm as 156 ranks of 64 threads at 5 us a frame keeps its threads
// busier still. With ordered output and a reorder buffer of 8 MiB, the results of the
// chunks in flight fit it: none is spilled.
func TestSimAutoChunkingBusyManager(t *testing.T) {
	type farm struct {
		ranks, threads int
		cost           time.Duration // the manager's per frame
		floor          float64       // of efficiency
	}
	farms := []farm{{2000, 1, 25 * time.Microsecond, 0.78}}
	if !small() {
		farms = append(farms, farm{156, 64, 5 * time.Microsecond, 0.93})
	}
	for _, c := range farms {
		e := engine(2, Push, false)
		e.Unordered = true
		r := simulate(t, SimConfig{Workers: c.ranks, Threads: c.threads, Items: uint64(1000 * c.ranks * c.threads),
			Item: time.Millisecond, Net: NetCluster, Engine: e, ManagerCost: c.cost})
		require.GreaterOrEqual(t, r.Efficiency, c.floor, "%d x %d threads: largest chunk %d", c.ranks, c.threads, r.MaxChunk)
	}
	e := engine(2, Push, false)
	e.ReorderMem = 8 << 20
	r := simulate(t, SimConfig{Workers: 2000, Items: 2000 * 1000, Item: time.Millisecond, Net: NetCluster, Engine: e,
		ManagerCost: 25 * time.Microsecond})
	require.Zero(t, r.Stats.Spilled, "largest chunk %d, %d results held", r.MaxChunk, r.Stats.MaxReorder)
	require.LessOrEqual(t, r.Stats.MaxReorder, 2000*2)
}

// TestSimModes runs every mode and chunking on the measured clock: the real manager must
// finish the job against the simulated workers, and the prediction must be sane.
func TestSimModes(t *testing.T) {
	workers := 2000
	if small() {
		workers = 200
	}
	for _, mode := range []Mode{Push, Pull} {
		for _, chunk := range []int{1, 8, 0} {
			for _, backups := range []bool{false, true} {
				sc := SimConfig{Workers: workers, Items: uint64(10 * workers), Item: 10 * time.Millisecond, Chunk: chunk,
					Engine: engine(2, mode, backups), ItemTime: ExpItemTime(10*time.Millisecond, 7)}
				r := simulate(t, sc)
				require.Greater(t, r.Efficiency, 0.0)
				require.LessOrEqual(t, r.Efficiency, 1.0)
				require.Greater(t, r.Stats.Chunks, uint64(0))
				t.Logf("%s chunk %d backups %v: efficiency %.3f, %d chunks (largest %d items), manager busy %v of %v",
					mode, chunk, backups, r.Efficiency, r.Chunks, r.MaxChunk, r.ManagerBusy, r.Makespan)
			}
		}
	}
}

// TestSimManagerMemory: the manager's live heap stays flat in the number of items and
// grows by a small constant per worker (simulated workers' own state included).
func TestSimManagerMemory(t *testing.T) {
	w1, w2 := 1000, 10000
	if small() {
		w1, w2 = 200, 2000
	}
	peakWith := func(backups bool, workers int, perWorker uint64) uint64 {
		items := perWorker * uint64(2*workers)
		r := simulate(t, SimConfig{Workers: workers, Items: items, Item: time.Millisecond, Chunk: 1, Net: idealNet,
			Engine: engine(2, Push, backups), ManagerCost: 100 * time.Nanosecond, MemEvery: int(items / 8)})
		require.EqualValues(t, items, r.Stats.Chunks)
		return r.PeakHeap
	}
	peak := func(workers int, perWorker uint64) uint64 { return peakWith(false, workers, perWorker) }
	peak(w1, 1) // warm-up: the test binary's own heap settles
	base := peak(w1, 5)
	many := peak(w1, 50)
	wide := peak(w2, 5)
	// With backups (the engine's default), whose queue once held every chunk issued.
	if backupsBase, backupsMany := peakWith(true, w1, 5), peakWith(true, w1, 200); backupsMany > backupsBase+128<<10 {
		t.Errorf("with backups, the heap grows with items: %d B at 5 items a worker, %d B at 200", backupsBase, backupsMany)
	}
	perWorker := float64(int64(wide)-int64(base)) / float64(w2-w1)
	t.Logf("live heap: %d workers x 5 items each: %d B; x 50 items: %d B; %d workers: %d B; %.0f B per worker",
		w1, base, many, w2, wide, perWorker)
	// Ten times the items: the heap grows by less than 128 KiB (GC noise), not by the items;
	// it may come out smaller (seen: 186 KB less, as a collection fell differently).
	require.Less(t, float64(int64(many)-int64(base)), float64(128<<10), "heap grows with items")
	require.Less(t, perWorker, 4096.0, "heap per worker") // the manager's books and each simulated worker's step function
	require.Greater(t, perWorker, 0.0)
}

// TestSimHeap checks the event heap's order on a deterministic shuffle.
func TestSimHeap(t *testing.T) {
	var h evHeap
	for i := 0; i < 1000; i++ {
		h.push(simEvent{t: int64(splitmix(uint64(i)) % 100), id: uint64(i)})
	}
	prev := simEvent{t: -1}
	for len(h) > 0 {
		e := h.pop()
		require.True(t, e.t > prev.t || (e.t == prev.t && e.id > prev.id), "%+v after %+v", e, prev)
		prev = e
	}
}

func BenchmarkSimManager(b *testing.B) {
	b.ReportAllocs()
	r, err := Simulate(context.Background(), SimConfig{Workers: 1000, Items: uint64(b.N), Item: 1, Chunk: 1,
		Engine: engine(2, Push, false)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.Capacity(), "msgs/s")
}

// TestSimLostWorkers: a simulated run that loses 1% of its workers at random moments still
// computes every chunk once (the lost workers' chunks run elsewhere), found by the
// launcher's notice or by their silence; the report names each lost worker.
func TestSimLostWorkers(t *testing.T) {
	for _, byTimeout := range []bool{false, true} {
		e := engine(2, Push, false)
		e.WorkerTimeout = time.Second // longer than the notice's delay
		if byTimeout {
			e.WorkerTimeout = 100 * time.Millisecond
		}
		r := simulate(t, SimConfig{Workers: 1000, Items: 1000 * 1000, Item: time.Millisecond, Chunk: 10,
			Engine: e, ManagerCost: 300 * time.Nanosecond, Lost: 0.01, ByTimeout: byTimeout, Seed: 7})
		require.EqualValues(t, 100000, r.Stats.Chunks, "by timeout %v", byTimeout)
		require.Len(t, r.Stats.Lost, 10)
		how := "the launcher's notice"
		if byTimeout {
			how = "unheard for 100ms"
		}
		for _, l := range r.Stats.Lost {
			require.Equal(t, how, l.How)
		}
		require.Greater(t, r.Efficiency, 0.8, "a lost worker costs its chunks and the time to find it out")
		t.Logf("by timeout %v: efficiency %.3f, makespan %v", byTimeout, r.Efficiency, r.Makespan)
	}
}

var spinState uint64

// spin burns CPU for k steps of a generator.
func spin(k int) {
	x := spinState
	for range k {
		x = x*6364136223846793005 + 1442695040888963407
	}
	spinState = x
}

// TestSimChargesOnlyTheManager checks the measured clock: a simNet call that follows no
// work is charged (almost) nothing, and one that follows work is charged that work's CPU
// time, measured apart, also when the simulator's work in the calls (here: touching 1 MiB)
// has taken the caches. Before calibrate took off the whole empty call, each was charged
// 140 ns of the simulator's own clock reads and lock, a quarter of the manager's work per
// frame; before enter took the wall clock's span where smaller, a call after the
// simulator's work was charged 82 ns more (the CPU clock's system call on cold caches).
func TestSimChargesOnlyTheManager(t *testing.T) {
	if raceBuild() {
		t.Skip("the race detector makes the cost of an empty call vary by its median")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const calls = 50000
	caches := make([]byte, 1<<20)
	for _, steps := range []int{0, 2000} {
		begin := cpuclock.Thread()
		for range calls {
			spin(steps)
		}
		work := float64(cpuclock.Thread()-begin) / calls
		for _, touch := range []int{0, len(caches)} {
			n := newSimNet(SimConfig{Workers: 1}, Config{Window: 1, Threads: 1})
			n.start()
			for range calls {
				spin(steps)
				n.mu.Lock()
				n.enter()
				for i := 0; i < touch; i += 64 {
					caches[i]++
				}
				n.exit()
				n.mu.Unlock()
			}
			charged := float64(n.busy) / calls
			t.Logf("%d steps, %d bytes touched: %.0f ns of work, %.0f ns charged per call", steps, touch, work, charged)
			require.InDelta(t, work, charged, 0.15*work+30)
		}
	}
}

// TestSimReleasesIdleWorkers: on a farm of 2,000, the stops and their acknowledgements go
// out as workers fall idle in the tail, not after the last result, which the end then
// follows by the acknowledgements of the workers released last (about 1,000 frames: most
// fall idle in the last chunk's time), not by 4,000 frames (4 ms at 1 us a frame).
func TestSimReleasesIdleWorkers(t *testing.T) {
	const workers = 2000
	r := simulate(t, SimConfig{Workers: workers, Items: workers * 50, Item: time.Millisecond, Net: NetCluster,
		Engine: engine(2, Push, false), ManagerCost: time.Microsecond})
	require.Equal(t, r.Chunks, r.Stats.Chunks, "every chunk written")
	require.GreaterOrEqual(t, r.Stats.Released, workers-2, "all but the last worker and the one kept for a retry")
	require.Less(t, r.Makespan-r.Written, workers*time.Microsecond, "the end after the last result")
}

// TestSimBackupsOnlyForStragglers: with backups on, a farm of even chunks issues none (every
// idle worker of the tail took a copy of a chunk about to end: 10-14% of a 100,000-worker
// run spent on copies); a chunk that takes far longer than its items' measured time gets
// one.
func TestSimBackupsOnlyForStragglers(t *testing.T) {
	sc := SimConfig{Workers: 1000, Items: 100000, Chunk: 10, Item: time.Millisecond, Net: NetCluster,
		Engine: engine(2, Push, true), ManagerCost: time.Microsecond}
	even := simulate(t, sc)
	require.EqualValues(t, 10000, even.Stats.Chunks)
	require.Zero(t, even.Stats.Backups, "no chunk straggles")

	sc.ItemTime = func(i uint64) time.Duration {
		if i == 99000 {
			return time.Second
		}
		return time.Millisecond
	}
	slow := simulate(t, sc)
	require.EqualValues(t, 10000, slow.Stats.Chunks)
	require.EqualValues(t, 1, slow.Stats.Backups, "the chunk of the slow item")
}
