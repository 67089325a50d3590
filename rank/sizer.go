package rank

import (
	"math"
	"time"

	"github.com/mw-hpc/mw/partition"
)

// sizer chooses chunk sizes for a SizedSource (--chunk auto), as guided self-scheduling
// does: large chunks while much work remains, smaller ones towards the end so that the
// tail stays short (half a slot's share of what remains, and at most 10 ms of work), but
// never so small that the manager cannot keep up. Its measures, taken as the
// run goes: the time per item and the result's bytes per item (from the workers' answers),
// and the manager's own time per chunk moved.
//
// Before any result came, every chunk of the first windows is the same size (firstSize).
// Then a chunk holds:
//   - at most hi items: the larger of four times base (the manager a quarter busy with
//     every slot computing), ten times the manager's cost per chunk, and 10 ms of work;
//   - within that, half a slot's share of what remains (factoring's rule: each round of
//     chunks takes half of what remains);
//   - at least base items, the size at which the manager is busy all the time with every
//     slot computing: smaller chunks leave workers waiting for their next; and at least
//     ten times the manager's cost per chunk while a slot's share of what remains is more;
//   - with ordered output, at most what keeps the results of every chunk in flight within
//     the reorder buffer's memory: a result past it goes to a file and back, which costs
//     the manager several times a chunk's messages.
type sizer struct {
	slots   int     // computing threads in all
	window  int     // chunks in flight per thread (Config.Window)
	perItem float64 // ns per item, moving average
	perByte float64 // result bytes per item, moving average
	perMsg  float64 // ns of manager time per chunk moved, averaged over sizerHorizon
	// observed counts the results measured, msgs the chunks moved in the manager's rounds
	// sampled.
	observed, msgs int
	// first is what remained when the first chunk was sized (0: none was yet): chunks
	// issued before a result came are sized from it.
	first int64
	// joinedThreads are the threads of the joinedRanks worker ranks that announced
	// themselves; a rank yet to do so counts at the latest one's threads.
	joinedThreads, joinedRanks int
	reorderMem                 float64 // ordered output: the reorder buffer's memory bound; 0 unordered
}

const (
	sizerAlpha  = 0.2
	sizerWarmup = 8 // samples of the manager's time before they bound a chunk's size
	// sizerHorizon is the span of the manager's own time its cost per chunk is averaged
	// over: long enough that a pause (the garbage collector, another process on its core)
	// in a round of a busy manager does not double the size of the chunks that follow,
	// short enough to follow a lasting change within a run.
	sizerHorizon = float64(10 * time.Millisecond)
	maxChunk     = 1 << 20
	firstChunk   = 8   // most items in a chunk issued before any was measured
	firstSlots   = 128 // ... unless the farm has more than firstChunk x firstSlots slots
	maxChunkWork = float64(10 * time.Millisecond)
)

func ewma(old, x float64, first bool) float64 {
	if first {
		return x
	}
	return old + sizerAlpha*(x-old)
}

// start prepares the sizing for a farm of workers ranks under cfg, each counted at
// cfg.Threads threads (one when the ranks choose theirs) until it announces its threads.
func (z *sizer) start(workers int, cfg Config) {
	z.slots, z.window, z.reorderMem = max(1, workers*max(cfg.Threads, 1)), cfg.Window, 0
	switch {
	case cfg.Unordered:
	case cfg.ReorderMem > 0:
		z.reorderMem = float64(cfg.ReorderMem)
	default:
		z.reorderMem = partition.DefaultReorderMem
	}
}

// joined counts a worker rank of th threads that announced itself, of workers in all:
// until every rank has, the others count at th threads each, so that the first chunks are
// sized for the whole farm, not for the few ranks that joined first.
func (z *sizer) joined(th, workers int) {
	z.joinedThreads += th
	z.joinedRanks++
	z.slots = max(1, z.joinedThreads+(workers-z.joinedRanks)*th)
}

// observe records a result: items computed in work, with a result of bytes.
func (z *sizer) observe(items int, work time.Duration, bytes int) {
	if items < 1 {
		items = 1
	}
	first := z.observed == 0
	z.perItem = ewma(z.perItem, float64(work.Nanoseconds())/float64(items), first)
	z.perByte = ewma(z.perByte, float64(bytes)/float64(items), first)
	z.observed++
}

// manager records the manager's time per chunk over a round that moved n chunks (its
// handling of the answers and the sends they led to): a sample of d per chunk, weighed by
// the round's share of sizerHorizon. A sample counts for at most twice the average: a pause
// (the garbage collector, the manager's core taken by another process) says nothing of the
// cost per chunk, and one such sample would otherwise multiply the next chunks' size. The
// first samples (cold caches, tables still growing) cost many times the steady state: until
// sizerWarmup chunks were moved, the average is the least sample, and it does not bound a
// chunk's size. A sample of zero says nothing, and is left out.
func (z *sizer) manager(d time.Duration, n int) {
	x := float64(d.Nanoseconds())
	if x <= 0 || n < 1 {
		return // no measure (a clock too coarse, or a charge the simulator left out)
	}
	first := z.msgs == 0
	z.msgs += n
	switch {
	case first:
		z.perMsg = x
	case z.msgs <= sizerWarmup:
		z.perMsg = math.Min(z.perMsg, x)
	default:
		w := 1 - math.Exp(-x*float64(n)/sizerHorizon)
		z.perMsg += w * (math.Min(x, 2*z.perMsg) - z.perMsg)
	}
}

// next is the size of the next chunk given the items remaining (-1 unknown).
func (z *sizer) next(remaining int64) int {
	if z.observed == 0 {
		return z.firstSize(remaining)
	}
	perItem := math.Max(z.perItem, 1)
	perMsgItems := 10 * z.perMsg / perItem // ten times the manager's cost per chunk, in items
	base, hi := 0.0, 0.0
	if z.msgs >= sizerWarmup {
		base = float64(z.slots) * z.perMsg / perItem
		hi = math.Max(4*base, perMsgItems)
	}
	n := math.Max(hi, maxChunkWork/perItem)
	if remaining > 0 {
		share := math.Ceil(float64(remaining) / float64(2*z.slots))
		slotShare := math.Ceil(float64(remaining) / float64(z.slots))
		low := math.Max(base, math.Min(perMsgItems, slotShare))
		n = math.Max(low, math.Min(n, share))
		n = math.Min(n, float64(remaining))
	}
	n = math.Min(n, z.reorderBound())
	return int(math.Max(1, math.Min(n, maxChunk)))
}

// firstSize is the size of a chunk issued before any result came: guided self-scheduling's
// quarter of a slot's share of what remained at the first such chunk, at most firstChunk
// items, or an item per firstSlots slots on a large farm (its manager must handle every
// slot's first answer before it knows the items' cost), and one item when the total is
// unknown. Single items would come back first from the shortest ones and make the sizer
// overestimate the next chunks (TestSimAutoFirstChunks). Such chunks have one size however
// much remains when each is dealt (until the slots change: a rank announces its threads),
// since chunks dealt later but smaller would end first, and with ordered output the
// reorder buffer would hold their results until the first chunks end.
func (z *sizer) firstSize(remaining int64) int {
	if z.first == 0 {
		z.first = remaining
	}
	if z.first <= 0 {
		return 1
	}
	share := math.Ceil(float64(z.first) / float64(4*z.slots))
	return int(math.Max(1, math.Min(math.Max(firstChunk, float64(z.slots/firstSlots)), share)))
}

// reorderBound is the most items a chunk may hold so that the results of every chunk in
// flight (slots x window of them) fit the reorder buffer's memory, once a result's bytes
// per item are known; +Inf with unordered output.
func (z *sizer) reorderBound() float64 {
	if z.reorderMem <= 0 || z.perByte <= 0 {
		return math.Inf(1)
	}
	return z.reorderMem / (float64(z.slots*max(z.window, 1)) * z.perByte)
}
