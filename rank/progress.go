package rank

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// progress starts the goroutine that reports progress, if asked; the returned function
// stops it after a final report. wake wakes the owner loop (Transport.Wake).
func (m *manager) progress(wake func()) func() {
	if m.cfg.Progress <= 0 || m.cfg.OnProgress == nil || m.plan == nil {
		return func() {}
	}
	total := m.plan.Total
	m.detail.ready = make(chan struct{}, 1)
	snap := func(final bool) Progress {
		p := Progress{
			Elapsed: monoNow().Sub(m.start), Chunks: m.doneChunks.Load(), TotalChunks: total,
			Items: m.doneItems.Load(), InFlight: int(max(m.inFlight.Load(), 0)), Workers: max(m.size-1, 1),
		}
		if final { // the owner loop has ended: its stats are the caller's to read
			p.Lost = slices.Clone(m.st.Lost)
		} else {
			p.Running, p.Longest, p.Lost = m.detail.ask(wake)
		}
		return p
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(m.cfg.Progress)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				m.cfg.OnProgress(snap(false), false)
			case <-done:
				m.cfg.OnProgress(snap(true), true)
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// progressDetail is the part of a Progress that only the manager's goroutine can see (its
// flights): the progress goroutine asks for it, and the owner loop publishes it at its
// next round, so the loop pays one atomic load per round when nobody asks.
type progressDetail struct {
	want    atomic.Bool
	ready   chan struct{} // a publish since the last ask (capacity 1)
	mu      sync.Mutex
	running []RankLoad
	longest []InFlight
	lost    []LostWorker
}

// detailWait bounds the wait for the owner loop's publish: a loop held in the workload's
// Sink leaves the progress report with the detail it published before.
const detailWait = 200 * time.Millisecond

// ask asks the owner loop for the detail and returns it, or the last one published.
func (d *progressDetail) ask(wake func()) ([]RankLoad, []InFlight, []LostWorker) {
	select {
	case <-d.ready:
	default:
	}
	d.want.Store(true)
	wake()
	t := time.NewTimer(detailWait)
	select {
	case <-d.ready:
	case <-t.C:
	}
	t.Stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.running), slices.Clone(d.longest), slices.Clone(d.lost)
}

// publishCounts publishes the counts the progress goroutine reads, once a round of the
// owner loop rather than at every chunk.
func (m *manager) publishCounts() {
	m.doneChunks.Store(m.st.Chunks)
	m.doneItems.Store(m.itemsDone)
	m.inFlight.Store(int64(m.flights.len()))
}

// publishDetail publishes the detail of the chunks in flight, if the progress goroutine
// asked for it.
func (m *manager) publishDetail() {
	if !m.detail.want.Load() {
		return
	}
	m.detail.want.Store(false)
	running, longest := m.flightDetail()
	m.detail.mu.Lock()
	m.detail.running, m.detail.longest = running, longest
	m.detail.lost = append(m.detail.lost[:0], m.st.Lost...)
	m.detail.mu.Unlock()
	select {
	case m.detail.ready <- struct{}{}:
	default:
	}
}

// flightDetail lists each worker's chunks in flight (releases.holding) and finds the
// longest in flight.
func (m *manager) flightDetail() ([]RankLoad, []InFlight) {
	var longest []InFlight
	add := func(f *flight, r int, mark sendMark, backup bool) {
		c := InFlight{Seq: f.c.Seq, Rank: r, Host: m.hosts[r], Sent: mark.at.Sub(m.start), Backup: backup}
		i := len(longest)
		for i > 0 && longest[i-1].Sent > c.Sent {
			i--
		}
		if i < ProgressLongest {
			longest = slices.Insert(longest, i, c)[:min(len(longest)+1, ProgressLongest)]
		}
	}
	for _, f := range m.flights.byTicket {
		if f.live && f.rank > 0 {
			add(f, f.rank, f.sent, false)
		}
		if f.live && f.backup > 0 {
			add(f, f.backup, f.backupSent, true)
		}
	}
	var running []RankLoad
	for r := 1; r <= m.size; r++ {
		if m.threads[r] > 0 && !m.lost[r] {
			running = append(running, RankLoad{Rank: r, Host: m.hosts[r], Chunks: m.holding[r]})
		}
	}
	return running, longest
}
