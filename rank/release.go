package rank

// Releasing idle workers. Once the source is done, a worker that holds no chunk has nothing
// more to do unless a retry or a backup comes its way: the manager sends it the stop then
// (its release), rather than every stop at the end, so that on a large farm the stops and
// their acknowledgements overlap the tail of the run instead of following it (100,000
// workers: 200,000 frames, some 5% of a run of a second). While others compute, one idle
// worker is kept for a retry or a backup; should every worker not released be lost with
// chunks unanswered, the manager computes them itself (local.go).
//
// A released worker's process ends early. A loss after its release is not named in its
// stop; under Open MPI's recovery MPI_Finalize then has no fence (mpitransport), so that
// loss cannot hold it, and without recovery a loss ends the whole job anyway.

// releases is what the manager knows of the workers' load for releasing them. Indexed by
// rank.
type releases struct {
	holding   []int  // chunk copies sent to each and not answered
	busy      int    // workers holding a chunk
	released  []bool // sent the stop early
	releasedN int
	idle      []int // workers that fell idle in this step, to consider at its end
}

func newReleases(n int) releases {
	return releases{holding: make([]int, n), released: make([]bool, n)}
}

// sentTo counts a chunk copy sent to worker r.
func (m *manager) sentTo(r int) {
	if m.holding[r]++; m.holding[r] == 1 {
		m.busy++
	}
}

// answeredBy frees the credit of a chunk copy worker r answered (or handed back).
func (m *manager) answeredBy(r int) {
	m.slots.push(r)
	if m.holding[r]--; m.holding[r] == 0 {
		m.busy--
		m.idle = append(m.idle, r) // the source may run dry later in this step
	}
}

// dropLoad forgets what lost worker r held: its chunks went back to the queue.
func (m *manager) dropLoad(r int) {
	if m.holding[r] > 0 {
		m.holding[r] = 0
		m.busy--
	}
}

// releaseIdle releases the workers that fell idle in this step and still are, once the
// source is done and no retry waits, keeping one idle worker while others compute.
func (m *manager) releaseIdle() {
	idle := m.idle
	m.idle = m.idle[:0]
	if m.phase != running || !m.srcDone || len(m.retryq) > 0 || m.localStarted || m.flights.len() == 0 {
		return
	}
	for _, r := range idle {
		kept := m.size - 1 - m.lostCount - m.releasedN // workers not lost nor released
		if kept-1 < m.busy+1 {
			return
		}
		if r < m.size && m.holding[r] == 0 && !m.released[r] && !m.lost[r] && m.threads[r] > 0 {
			m.released[r] = true
			m.releasedN++
			m.st.Released++
			m.out.add(r, record{kind: kindStop, data: m.lostList})
		}
	}
}

// takeSlotNot takes the oldest free credit of a worker not released and not avoid (0: any),
// dropping those of released workers on the way: they stay in the ring until they come up,
// since taking them out at each release would scan a ring of a credit per busy worker.
func (m *manager) takeSlotNot(avoid int) (int, bool) {
	for {
		r, ok := m.slots.takeNot(avoid)
		if !ok || !m.released[r] {
			return r, ok
		}
	}
}
