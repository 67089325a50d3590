package rank

import "time"

// progress starts the goroutine that reports progress, if asked; the returned function
// stops it after a final report.
func (m *manager) progress() func() {
	if m.cfg.Progress <= 0 || m.cfg.OnProgress == nil || m.plan == nil {
		return func() {}
	}
	total := m.plan.Total
	snap := func() Progress {
		return Progress{
			Elapsed: monoNow().Sub(m.start), Chunks: m.doneChunks.Load(), TotalChunks: total,
			Items: m.doneItems.Load(), InFlight: int(max(m.inFlight.Load(), 0)), Workers: max(m.size-1, 1),
		}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(m.cfg.Progress)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				m.cfg.OnProgress(snap(), false)
			case <-done:
				m.cfg.OnProgress(snap(), true)
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
