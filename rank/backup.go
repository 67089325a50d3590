package rank

import "time"

// Backups (Config.Backups): when no new chunk can be issued, an idle worker gets a copy of
// the oldest chunk still in flight that straggles (MapReduce's backup tasks); the first
// result wins and the other is dropped, so that one slow or stuck worker does not hold up
// the end of the job. A chunk straggles once it has been in flight backupSlack times as
// long as its items take to compute at the rate measured so far, per chunk of the window
// (it may wait on its worker behind others): on a farm of even chunks none does, and
// every worker idle in the tail would otherwise compute a copy of a chunk about to end
// (100,000 simulated workers: 10-14% of the run spent on copies, and the tail twice as
// long for the manager's extra frames).
const backupSlack = 2

// issueBackups gives idle workers copies of the straggling chunks, oldest first. When the
// oldest candidate does not straggle yet, it notes when it will (backupAt), for tick.
func (m *manager) issueBackups() {
	if !m.cfg.Backups || m.size <= 2 {
		return
	}
	for m.slots.len() > 0 {
		// The oldest eligible chunk: scan up from a cursor that only moves forward, since
		// a chunk below it is done, backed up already, or failed (the retries' business,
		// not a straggler) and never becomes eligible again. Amortized O(1) per backup.
		var oldest *flight
		for ; m.backupFrom < m.nextSeq; m.backupFrom++ {
			f, ok := m.issued.find(m.backupFrom)
			if ok && f.rank > 0 && f.backup == 0 && f.failed == 0 {
				oldest = f
				break
			}
		}
		if oldest == nil {
			return
		}
		if at := m.stragglesAt(oldest); at > m.now {
			m.backupAt = at
			return
		}
		to, ok := m.takeSlotNot(oldest.rank)
		if !ok {
			return
		}
		oldest.backup = to
		m.sentTo(to)
		oldest.backupSent = m.markSend(to, oldest, true)
		m.st.Backups++
		m.issuedN++
		m.out.add(to, m.task(oldest))
	}
}

// stragglesAt is when flight f counts as straggling; before any result measured the
// items' compute time, at once.
func (m *manager) stragglesAt(f *flight) monoTime {
	if m.sizer.observed == 0 {
		return f.sent.at
	}
	expect := float64(f.items) * m.sizer.perItem * float64(backupSlack*m.cfg.Window)
	return f.sent.at.Add(time.Duration(expect))
}
