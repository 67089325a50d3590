package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mw-hpc/mw/rank"
)

// DefaultStatusEvery is how often --status replaces its file unless --status-every says.
const DefaultStatusEvery = 2 * time.Second

// Status is the --status file's layout (stable field names for scripts). The workload's
// own part (Report.Status) follows under its key.
type Status struct {
	Workload string    `json:"workload"`
	State    string    `json:"state"` // starting, running, done, partial, failed, stopped
	Error    string    `json:"error,omitempty"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	Every    float64   `json:"update_every_seconds"`
	Elapsed  float64   `json:"elapsed_seconds"`
	Workers  int       `json:"workers"`
	Chunks   uint64    `json:"chunks_done"`
	Total    int64     `json:"chunks_total"` // -1: not known
	InFlight int       `json:"chunks_in_flight"`
	Items    uint64    `json:"items_done"`
	Rate     float64   `json:"chunks_per_second"`
	ETA      float64   `json:"eta_seconds"` // -1: not known
	// While running: each host's chunks in flight, and the chunks in flight longest.
	Running []HostLoad   `json:"running_per_host,omitempty"`
	Longest []LongFlight `json:"longest_in_flight,omitempty"`
	Lost    []LostRank   `json:"lost_workers,omitempty"`
}

// LostRank is a worker rank lost during the run (rank.LostWorker).
type LostRank struct {
	Rank     int     `json:"rank"`
	Host     string  `json:"host"`
	At       float64 `json:"at_seconds"` // from the run's start
	How      string  `json:"how"`
	Reissued int     `json:"chunks_issued_again"`
}

// LostRanks are a run's lost workers as the status file has them.
func LostRanks(lost []rank.LostWorker) []LostRank {
	var out []LostRank
	for _, l := range lost {
		out = append(out, LostRank{Rank: l.Rank, Host: l.Host, At: l.At.Seconds(), How: l.How, Reissued: l.Reissued})
	}
	return out
}

// HostLoad is a host's worker ranks and their chunks in flight.
type HostLoad struct {
	Host   string `json:"host"`
	Ranks  int    `json:"ranks"`
	Chunks int    `json:"chunks_in_flight"`
}

// LongFlight is one of the chunks in flight longest: sent to a rank (computing there, or
// queued) Seconds ago.
type LongFlight struct {
	Chunk   uint64  `json:"chunk"`
	Rank    int     `json:"rank"`
	Host    string  `json:"host"`
	Seconds float64 `json:"seconds"`
	Backup  bool    `json:"backup,omitempty"`
}

// HostLoads sums a progress report's ranks by host, in host order.
func HostLoads(running []rank.RankLoad) []HostLoad {
	var hosts []HostLoad
	at := map[string]int{}
	for _, l := range running {
		i, ok := at[l.Host]
		if !ok {
			i = len(hosts)
			at[l.Host] = i
			hosts = append(hosts, HostLoad{Host: l.Host})
		}
		hosts[i].Ranks++
		hosts[i].Chunks += l.Chunks
	}
	slices.SortFunc(hosts, func(a, b HostLoad) int { return strings.Compare(a.Host, b.Host) })
	return hosts
}

// LongFlights are a progress report's chunks in flight longest, as of its snapshot.
func LongFlights(p rank.Progress) []LongFlight {
	var out []LongFlight
	for _, f := range p.Longest {
		out = append(out, LongFlight{Chunk: f.Seq, Rank: f.Rank, Host: f.Host, Seconds: max(p.Elapsed-f.Sent, 0).Seconds(), Backup: f.Backup})
	}
	return out
}

// The states of a run in its status file.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateDone     = "done"
	StatePartial  = "partial" // complete but for the chunks --keep-going left out
	StateFailed   = "failed"
	StateStopped  = "stopped" // by a signal
)

// statusWriter keeps a run's --status file: a JSON snapshot replaced whole (a temporary
// file in the same directory renamed onto it), so that a reader on any node that shares
// the filesystem reads one whole snapshot or the one before. update runs on the engine's
// progress goroutine, start and finish on the manager's.
type statusWriter struct {
	path  string
	every time.Duration
	rep   Report
	mu    sync.Mutex
	head  Status
	last  rank.Progress
}

// newStatusWriter writes the first snapshot (state starting), so that a bad path fails the
// run before any work.
func newStatusWriter(path, name string, every time.Duration, rep Report) (*statusWriter, error) {
	if !regularOrNew(path) {
		return nil, fmt.Errorf("--status %s: not a regular file; give a file name (it is replaced every %v)", path, every)
	}
	host, _ := os.Hostname()
	s := &statusWriter{path: followLinks(path), every: every, rep: rep, head: Status{Workload: name, State: StateStarting,
		Host: host, PID: os.Getpid(), Started: time.Now(), Every: every.Seconds(), Total: -1, ETA: -1}}
	s.last.TotalChunks = -1
	if err := s.write(nil); err != nil {
		return nil, err
	}
	return s, nil
}

// progress is the engine's progress callback: it writes a snapshot of the running job (the
// fanout calls it every s.every); the final call only keeps the numbers for finish.
func (s *statusWriter) progress(p rank.Progress, final bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = p
	if final {
		return
	}
	s.head.State = StateRunning
	var part any
	if s.rep.Status != nil {
		part = s.rep.Status(p)
	}
	s.write(part) // a failed snapshot is not the job's failure: the next one may work
}

// finish writes the last snapshot: how the run ended.
func (s *statusWriter) finish(st rank.Stats, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var partial *rank.PartialError
	switch {
	case err == nil:
		s.head.State = StateDone
	case errors.As(err, &partial):
		s.head.State = StatePartial
	case errors.Is(err, context.Canceled):
		s.head.State, s.head.Error = StateStopped, err.Error()
	default:
		s.head.State, s.head.Error = StateFailed, err.Error()
	}
	p := s.last
	p.Elapsed, p.Chunks, p.InFlight, p.Lost = st.Wall, st.Chunks, 0, st.Lost
	s.last = p
	var part any
	if s.rep.Status != nil {
		part = s.rep.Status(p)
	}
	return s.write(part)
}

// write replaces the file with the snapshot of s.last and part. Called with s.mu held.
func (s *statusWriter) write(part any) error {
	st := s.head
	p := s.last
	st.Updated = time.Now()
	st.Elapsed, st.Workers, st.Chunks, st.Total = p.Elapsed.Seconds(), p.Workers, p.Chunks, p.TotalChunks
	st.InFlight, st.Items = p.InFlight, p.Items
	st.Running, st.Longest, st.Lost = HostLoads(p.Running), LongFlights(p), LostRanks(p.Lost)
	st.Rate, st.ETA = rateAndETA(p.Chunks, p.TotalChunks, p.Elapsed)
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		b, err = appendPart(b, s.rep.Key, part)
	}
	if err != nil {
		return fmt.Errorf("--status: %w", err)
	}
	return replaceFile(s.path, append(b, '\n'))
}

// rateAndETA is done units per second and the seconds left for total (-1 when unknown).
func rateAndETA(done uint64, total int64, elapsed time.Duration) (rate, eta float64) {
	eta = -1
	if secs := elapsed.Seconds(); secs > 0 {
		rate = float64(done) / secs
	}
	if total >= 0 && int64(done) <= total && rate > 0 {
		eta = float64(total-int64(done)) / rate
	}
	return rate, eta
}

// replaceFile writes b to a temporary file next to path and renames it onto path.
func replaceFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("--status: %w", err)
	}
	temps.add(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o666 &^ umask)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	temps.remove(f.Name(), err != nil)
	if err != nil {
		return fmt.Errorf("--status %s: %w", path, err)
	}
	return nil
}

// progressFanout calls each of several progress consumers at its own interval, from the
// one progress goroutine of the engine, which ticks at the shortest of them.
type progressFanout struct {
	every []time.Duration
	calls []func(rank.Progress, bool)
	next  []time.Duration
}

func (f *progressFanout) add(every time.Duration, call func(rank.Progress, bool)) {
	if every > 0 && call != nil {
		f.every, f.calls, f.next = append(f.every, every), append(f.calls, call), append(f.next, every)
	}
}

// config returns the engine's progress interval and callback (0 and nil for none).
func (f *progressFanout) config() (time.Duration, func(rank.Progress, bool)) {
	if len(f.calls) == 0 {
		return 0, nil
	}
	tick := f.every[0]
	for _, e := range f.every {
		tick = min(tick, e)
	}
	return tick, func(p rank.Progress, final bool) {
		for i, call := range f.calls {
			if final || p.Elapsed >= f.next[i] {
				f.next[i] = p.Elapsed + f.every[i]
				call(p, final)
			}
		}
	}
}
