package rank

import (
	"math"
	"time"
)

// sizer chooses chunk sizes for a SizedSource (--chunk auto), as guided self-scheduling
// does: large chunks while much work remains, smaller ones towards the end so that the
// tail stays short (remaining / (4 x slots), and at most 10 ms of work, or firstChunk
// items before any is measured), but never so small that messages cost more than a
// fraction of the work. That floor comes from two measurements taken as the run
// goes: the time per item (from the workers' reported compute time) and the manager's own
// time per message. A chunk must keep the manager under a quarter busy with every slot
// working, and must be at least ten times the manager's cost per message.
type sizer struct {
	slots    int     // computing threads in all
	perItem  float64 // ns per item, moving average
	perMsg   float64 // ns of manager time per result handled, moving average
	observed int
	msgs     int // samples of the manager's time taken
}

const (
	sizerAlpha   = 0.2
	sizerWarmup  = 8 // samples of the manager's time before they bound a chunk's size
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

// observe records a result: items computed in work.
func (z *sizer) observe(items int, work time.Duration) {
	if items < 1 {
		items = 1
	}
	z.perItem = ewma(z.perItem, float64(work.Nanoseconds())/float64(items), z.observed == 0)
	z.observed++
}

// manager records the manager's time per answer over a round that handled n answers (its
// handling of them and the sends they led to): n samples of d each. A sample counts for at
// most twice the average: a pause (the garbage collector, the manager's core taken by
// another process) says nothing of the cost per answer, and one such sample would otherwise
// multiply the next chunks' size (simulated 10,000 workers x 100 ms items: 66-84%
// efficiency, largest chunk 13-24, without the bound; 99.8% and 1-5 with it). The first
// samples (cold caches, tables still growing) cost many times the steady state: until
// sizerWarmup of them came, the average is their least, and it does not bound a chunk's
// size. A sample of zero says nothing, and is left out.
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
		// n samples of x: the moving average moves as far as n single samples would.
		w := 1 - math.Pow(1-sizerAlpha, float64(min(n, 64)))
		z.perMsg += w * (math.Min(x, 2*z.perMsg) - z.perMsg)
	}
}

// next is the size of the next chunk given the items remaining (-1 unknown).
func (z *sizer) next(remaining int64) int {
	// Guided self-scheduling's share of what remains: a quarter of a slot's share.
	share := math.Ceil(float64(remaining) / float64(4*z.slots))
	if z.observed == 0 {
		// Nothing measured yet: guided self-scheduling's share, at most firstChunk items, or
		// an item per firstSlots slots on a large farm: its manager must handle every slot's
		// first answer before it knows the items' cost (simulated 100,000 workers x 1 ms
		// items: chunks of 8 flooded it). Single items would come back first from the
		// shortest ones and make the sizer overestimate the next chunks
		// (TestSimAutoFirstChunks).
		if remaining <= 0 {
			return 1
		}
		return int(math.Max(1, math.Min(math.Max(firstChunk, float64(z.slots/firstSlots)), share)))
	}
	perItem := math.Max(z.perItem, 1)
	// The manager's cost per answer in items: a chunk of base items keeps it busy all the
	// time with every slot computing; the floor keeps it a quarter busy.
	base, floor := 0.0, 0.0
	if z.msgs >= sizerWarmup {
		base = float64(z.slots) * z.perMsg / perItem
		floor = math.Max(4*base, 10*z.perMsg/perItem)
	}
	// Above the floor: a share of what remains, but no chunk longer than maxChunkWork, so
	// that computing, sending and writing overlap.
	n := math.Max(floor, maxChunkWork/perItem)
	if remaining > 0 {
		// Towards the end the floor gives way to a slot's share of what remains, so that
		// no worker waits without a chunk; but never below base: a manager that cannot keep
		// up leaves every worker waiting.
		floor = math.Max(base, math.Min(floor, math.Ceil(float64(remaining)/float64(z.slots))))
		n = math.Max(floor, math.Min(n, share))
		n = math.Min(n, float64(remaining))
	}
	return int(math.Max(1, math.Min(n, maxChunk)))
}
