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
	firstChunk   = 8 // most items in a chunk issued before any was measured
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

// manager records the manager's time spent on one result (handling it and issuing more).
// A sample counts for at most twice the average: a pause (the garbage collector, the
// manager's core taken by another process) says nothing of the cost per message, and one
// such sample would otherwise multiply the next chunks' size (simulated 10,000 workers x
// 100 ms items: 66-84% efficiency, largest chunk 13-24, without the bound; 99.8% and 1-5
// with it). The first samples (cold caches, maps still growing) cost many times the
// steady state: until sizerWarmup of them came, the average is their least, and it does
// not bound a chunk's size (simulated 100,000 workers x 100 ms items: a first sample of
// 22 us against some 400 ns later made the first chunks 30 items, and 57% efficiency). A
// sample of zero says nothing, and is left out.
func (z *sizer) manager(d time.Duration) {
	x := float64(d.Nanoseconds())
	if x <= 0 {
		return // no measure (a clock too coarse, or a charge the simulator left out)
	}
	z.msgs++
	switch {
	case z.msgs == 1:
		z.perMsg = x
	case z.msgs <= sizerWarmup:
		z.perMsg = math.Min(z.perMsg, x)
	default:
		z.perMsg = ewma(z.perMsg, math.Min(x, 2*z.perMsg), false)
	}
}

// next is the size of the next chunk given the items remaining (-1 unknown).
func (z *sizer) next(remaining int64) int {
	// Guided self-scheduling's share of what remains: a quarter of a slot's share.
	share := math.Ceil(float64(remaining) / float64(4*z.slots))
	if z.observed == 0 {
		// Nothing measured yet: guided self-scheduling's share, at most firstChunk items.
		// Single items would come back first from the shortest ones and make the sizer
		// overestimate the next chunks (TestSimAutoFirstChunks).
		if remaining <= 0 {
			return 1
		}
		return int(math.Max(1, math.Min(firstChunk, share)))
	}
	perItem := math.Max(z.perItem, 1)
	floor := 0.0
	if z.msgs >= sizerWarmup {
		floor = math.Max(4*float64(z.slots), 10) * z.perMsg / perItem
	}
	// Above the floor: a share of what remains, but no chunk longer than maxChunkWork, so
	// that computing, sending and writing overlap.
	n := math.Max(floor, maxChunkWork/perItem)
	if remaining > 0 {
		// The floor never leaves workers without a chunk: at most a slot's share of what remains.
		floor = math.Min(floor, math.Ceil(float64(remaining)/float64(z.slots)))
		n = math.Max(floor, math.Min(n, share))
		n = math.Min(n, float64(remaining))
	}
	return int(math.Max(1, math.Min(n, maxChunk)))
}
