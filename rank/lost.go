package rank

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/mw-hpc/mw/internal/human"
)

// Lost workers. A worker rank is lost when the manager has not heard from it for
// Config.WorkerTimeout (every rank sends its peer a heartbeat after a third of that without
// other traffic), or when the transport says so (the launcher's notice). The chunks it held
// go back to the front of the queue, their places in the output kept, and are issued to
// the other workers; the manager sends it nothing more and drops anything it still sends,
// so a worker that froze and wakes up changes no byte of the output. When the last worker
// is lost, the manager computes the rest itself (local.go). Config.FailOnLostWorker ends
// the job at the first loss instead.

// ranks is what the manager knows of its peers' presence. Indexed by rank.
type ranks struct {
	joined       int        // workers that announced themselves (ready)
	lostUnjoined int        // workers lost before they announced themselves
	heard        []monoTime // when a frame last came from each
	told         []monoTime // when a frame last went to each
	lost         []bool
	lostCount    int
	forget       []int    // ranks lost since the owner loop last told the transport
	nextScan     monoTime // when tick next looks at every rank
	lastTick     monoTime // when tick was last called
	stoppedAt    monoTime // when the stop went out
	lostList     []byte   // the ranks lost, 4 bytes each: a stop's data (parseLostRanks)
	localStarted bool     // rank 0's own worker runs (every other was lost)
}

func newRanks(n int, now monoTime) ranks {
	r := ranks{heard: make([]monoTime, n), told: make([]monoTime, n), lost: make([]bool, n)}
	for i := range r.heard {
		r.heard[i], r.told[i] = now, now
	}
	return r
}

// tick looks at every worker when a scan is due: one unheard for the timeout is lost, one
// told nothing for a heartbeat's interval gets a heartbeat (so that it knows the manager is
// there), and issues the backups of chunks that straggle by now. It returns when it is next
// due.
func (m *manager) tick(now monoTime) monoTime {
	timeout, every := m.cfg.heartbeats()
	if away := now.Sub(m.lastTick); away > every && m.lastTick != 0 {
		// The owner loop was away that long (the workload's Source or Sink kept it): what
		// the workers sent meanwhile waits unread. Each gets a fresh interval.
		for r := range m.heard {
			m.heard[r] = max(m.heard[r], now.Add(-every))
		}
	}
	m.lastTick = now
	if m.phase == stopping {
		return m.tickStopping(now, timeout)
	}
	if m.phase == finished {
		return m.nextScan
	}
	if now < m.nextScan {
		if m.backupAt != 0 && now >= m.backupAt {
			m.now = now
			m.advance() // a chunk straggles now: an idle worker gets its backup
		}
		return m.wakeAt()
	}
	m.now = now
	m.nextScan = now.Add(every / 2)
	for r := 1; r < m.size; r++ {
		switch {
		case m.lost[r] || m.acked[r] || !m.announced(r): // nothing may go before the setup's announcement
		case now.Sub(m.heard[r]) > timeout:
			m.lose(r, "unheard for "+timeout.String())
		case now.Sub(m.told[r]) >= every && !m.released[r]:
			m.out.add(r, record{kind: kindHeartbeat})
		}
	}
	m.advance()
	return m.wakeAt()
}

// wakeAt is when tick wants to be called next: the next scan, or a chunk's backup.
func (m *manager) wakeAt() monoTime {
	if m.backupAt != 0 {
		return min(m.nextScan, m.backupAt)
	}
	return m.nextScan
}

// stopGrace is how long a worker has to answer the stop before it is taken for lost (at
// most the worker timeout): a live worker's owner loop answers within milliseconds, and
// the output is committed only once every worker has answered or is lost, so a worker that
// died near the end must not hold the job for the whole timeout.
const stopGrace = time.Second

// tickStopping takes a worker that has not answered the stop within stopGrace for lost.
func (m *manager) tickStopping(now monoTime, timeout time.Duration) monoTime {
	grace := min(stopGrace, timeout)
	due := m.stoppedAt.Add(grace)
	if now < due {
		return due
	}
	m.now = now
	for r := 1; r < m.size && m.phase == stopping; r++ {
		if !m.lost[r] && !m.acked[r] {
			m.lose(r, "no answer to the stop in "+grace.String())
		}
	}
	return now.Add(grace)
}

// allReported reports whether every worker joined or was lost: a job ends only then, so
// that a worker that cannot start (its setup refused, say) fails the job however soon the
// others did the work.
func (m *manager) allReported() bool { return m.joined+m.lostUnjoined >= m.size-1 }

// sent records that a frame went to rank to at now (the owner loop calls it).
func (m *manager) sent(to int, now monoTime) { m.told[to] = now }

// lose takes worker r for lost, found as how says: its chunks go to the others.
func (m *manager) lose(r int, how string) {
	if r < 1 || r >= m.size || m.lost[r] || m.acked[r] || m.phase == finished {
		return // an acknowledged stop: the worker ended as asked, whatever the launcher says
	}
	m.lost[r] = true
	m.lostCount++
	m.lostList = binary.LittleEndian.AppendUint32(m.lostList, uint32(r))
	if m.released[r] {
		m.releasedN--
	}
	if m.threads[r] == 0 {
		m.lostUnjoined++
	}
	m.forget = append(m.forget, r)
	lw := LostWorker{Rank: r, Host: m.hosts[r], At: m.now.Sub(m.start), How: how}
	if m.phase == stopping {
		if !m.acked[r] {
			m.acknowledged()
		}
		m.recordLost(lw)
		return
	}
	if m.cfg.FailOnLostWorker {
		m.recordLost(lw)
		m.fail(fmt.Errorf("%s was lost (%s); --lost-workers fail ends the job at the first loss", m.who(r), how))
		return
	}
	lw.Reissued = m.reclaim(r)
	m.dropLoad(r)
	m.recordLost(lw)
	if m.cfg.Log != nil {
		fmt.Fprintf(m.cfg.Log, "%s was lost (%s); %s issued again\n", m.who(r), how, human.Plural(lw.Reissued, "chunk"))
	}
	if m.lostCount+m.releasedN == m.size-1 && m.phase == running && (m.releasedN == 0 || m.flights.len() > 0) {
		m.startLocal() // no worker left to compute what remains
	}
}

// recordLost adds lw to the run's stats and its trace.
func (m *manager) recordLost(lw LostWorker) {
	m.st.Lost = append(m.st.Lost, lw)
	if m.tr != nil {
		m.tr.lost(lw, m.now)
	}
}

// reclaim takes back the chunks lost worker r held: a chunk with a copy elsewhere (a
// backup) runs on there; the others go to the front of the retry queue, in order, unless a
// chunk has now lost Config.CrashLimit workers (it fails, as one that failed every try).
// It returns how many chunks r held.
func (m *manager) reclaim(r int) int {
	held := 0
	var back []*flight
	for _, f := range m.flights.byTicket {
		if !f.live {
			continue
		}
		if f.rank != r && f.backup != r {
			continue
		}
		mark, backup := f.copyOf(r)
		m.traceUnanswered(r, f.c, mark, backup, "lost")
		if f.rank == r {
			held++
		}
		if f.backup > 0 {
			f.dropCopy(r) // the other copy runs on
			continue
		}
		f.c.Lost++
		f.rank = -1
		if m.cfg.CrashLimit > 0 && f.c.Lost >= m.cfg.CrashLimit {
			m.crashed(r, f)
			continue
		}
		back = append(back, f)
	}
	slices.SortFunc(back, func(a, b *flight) int { return cmpSeq(a.c.Seq, b.c.Seq) })
	m.retryq = append(back, m.retryq...)
	for seq, lc := range m.late {
		if lc.rank == r {
			m.traceUnanswered(r, lc.c, lc.sent, lc.backup, "lost")
			delete(m.late, seq)
		}
	}
	m.slots.removeAll(r)
	return held
}

// crashed fails flight f, whose chunk took Config.CrashLimit workers with it, the last r.
func (m *manager) crashed(r int, f *flight) {
	cause := fmt.Sprintf("%d workers were lost while they held it (--crash-limit %d), the last %s", f.c.Lost, m.cfg.CrashLimit, m.who(r))
	if !m.cfg.KeepGoing {
		m.fail(fmt.Errorf("chunk %d: %s", f.c.Seq, cause))
		return
	}
	m.failed = append(m.failed, FailedChunk{Seq: f.c.Seq, Who: m.who(r), Cause: cause})
	seq := f.c.Seq
	m.flights.remove(f)
	if err := m.deliverGap(r, seq); err != nil {
		m.end(err)
	}
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lostReport is the run report's line on the lost workers, "" when none was lost.
func lostReport(lost []LostWorker) string {
	if len(lost) == 0 {
		return ""
	}
	s := fmt.Sprintf("%s lost:", human.Plural(len(lost), "worker"))
	for i, l := range lost {
		if i == 5 {
			return s + fmt.Sprintf(" and %d more", len(lost)-i)
		}
		host := ""
		if l.Host != "" {
			host = " on " + l.Host
		}
		s += fmt.Sprintf(" rank %d%s at %v (%s, %s issued again);", l.Rank, host, l.At.Round(time.Millisecond), l.How, human.Plural(l.Reissued, "chunk"))
	}
	return s[:len(s)-1]
}

// startLocal starts rank 0's own worker (the owner loop does, seeing localStarted): every
// worker rank is lost, and the manager computes the rest itself. It gets a setup of no
// bytes: the job's setup is handed to it directly.
func (m *manager) startLocal() {
	m.localStarted = true
	m.heard[m.size] = m.now
	var n [8]byte
	m.out.add(m.size, record{kind: kindSetup, data: n[:]})
}

// parseLostRanks reads a stop's data (ranks.lostList: every worker knows not to wait for
// those ranks as its process ends, since MPI_Finalize may wait for a lost rank) from the
// manager of a world of size.
func parseLostRanks(data []byte, size int) ([]int, error) {
	if len(data)%4 != 0 {
		return nil, fmt.Errorf("a stop message of %d bytes, not a list of ranks", len(data))
	}
	var rs []int
	for ; len(data) > 0; data = data[4:] {
		r := binary.LittleEndian.Uint32(data)
		if r < 1 || uint64(r) >= uint64(size) {
			return nil, fmt.Errorf("a stop message names rank %d, not a worker of %d ranks", r, size)
		}
		rs = append(rs, int(r))
	}
	return rs, nil
}
