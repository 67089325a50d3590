package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/rank"
)

// testDeadline bounds every wait of these tests.
const testDeadline = 30 * time.Second

// TestStatusFileReadableAtEveryMoment: while one goroutine replaces the status file as
// fast as it can, another reads it as fast as it can: every read is a whole snapshot.
func TestStatusFileReadableAtEveryMoment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.status")
	part := func(p rank.Progress) any {
		return map[string]any{"n": p.Chunks, "pad": strings.Repeat("x", int(p.Chunks%5000))}
	}
	s, err := newStatusWriter(path, "job", time.Second, Report{Key: "extra", Status: part})
	require.NoError(t, err)
	const snapshots = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range snapshots {
			s.progress(rank.Progress{Elapsed: time.Duration(i) * time.Millisecond, Chunks: uint64(i * 97), TotalChunks: -1}, false)
		}
	}()
	reads, last := 0, uint64(0)
	deadline := time.After(testDeadline)
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		case <-deadline:
			t.Fatal("writer still writing at the deadline")
		default:
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		st, raw, err := ParseStatus(b)
		require.NoError(t, err, "read %d: %q", reads, b)
		if st.State == StateRunning {
			require.Contains(t, raw, "extra")
		}
		require.GreaterOrEqual(t, st.Chunks, last, "snapshots go forward")
		last = st.Chunks
		reads++
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp-*"))
	require.Empty(t, left, "no temporary file left behind")
	t.Logf("%d whole reads during %d snapshots", reads, snapshots)
}

func TestStatusRefusesSpecialFiles(t *testing.T) {
	_, err := newStatusWriter(os.DevNull, "job", time.Second, Report{})
	require.ErrorContains(t, err, "not a regular file")
	_, err = newStatusWriter(filepath.Join(t.TempDir(), "no", "such", "dir"), "job", time.Second, Report{})
	require.Error(t, err)
}

func TestProgressFanoutCallsEachAtItsInterval(t *testing.T) {
	var f progressFanout
	var fast, slow []time.Duration
	f.add(100*time.Millisecond, func(p rank.Progress, final bool) { fast = append(fast, p.Elapsed) })
	f.add(time.Second, func(p rank.Progress, final bool) { slow = append(slow, p.Elapsed) })
	f.add(0, nil)
	every, call := f.config()
	require.Equal(t, 100*time.Millisecond, every)
	for i := 1; i <= 25; i++ {
		call(rank.Progress{Elapsed: time.Duration(i) * 100 * time.Millisecond}, false)
	}
	call(rank.Progress{Elapsed: 2560 * time.Millisecond}, true)
	require.Len(t, fast, 26)
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 2560 * time.Millisecond}, slow)
	var none progressFanout
	every, call = none.config()
	require.Zero(t, every)
	require.Nil(t, call)
}

func TestAppendPart(t *testing.T) {
	obj, _ := json.MarshalIndent(struct {
		A int `json:"a"`
	}{1}, "", "  ")
	got, err := appendPart(obj, "tasks", map[string]int{"done": 3})
	require.NoError(t, err)
	require.Equal(t, "{\n  \"a\": 1,\n  \"tasks\": {\n    \"done\": 3\n  }\n}", string(got))
	var back map[string]any
	require.NoError(t, json.Unmarshal(got, &back))
	same, err := appendPart(obj, "tasks", nil)
	require.NoError(t, err)
	require.Equal(t, obj, same)
	_, err = appendPart(obj, "tasks", 7)
	require.ErrorContains(t, err, "not a JSON object")
	got, err = appendPart([]byte("{}"), "k", struct{}{})
	require.NoError(t, err)
	require.Equal(t, "{\n  \"k\": {}\n}", string(got))
}

func TestPrintStatus(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := Status{Workload: "job", State: StateRunning, Host: "no-such-host", PID: 42, Started: start, Updated: start.Add(90 * time.Second),
		Every: 2, Elapsed: 90, Workers: 4, Chunks: 300, Total: 1200, InFlight: 8, Rate: 3.3333, ETA: 270}
	raw := map[string]json.RawMessage{"extra": json.RawMessage(`{"x": 1}`)}
	part := StatusPart{Key: "extra", Print: func(w io.Writer, r json.RawMessage) error {
		_, err := fmt.Fprintf(w, "extra: %s\n", r)
		return err
	}}
	var b bytes.Buffer
	require.NoError(t, PrintStatus(&b, st, raw, part, start.Add(92*time.Second)))
	require.Equal(t, "job: running on no-such-host (pid 42) for 1m30s; updated 2s ago (every 2s)\n"+
		"chunks: 300/1200 (25.0%) done, 8 in flight, 4 workers; 3.33 chunks/s, ETA 4m30s\n"+
		"extra: {\"x\": 1}\n", b.String())

	// The hosts' load and the longest in flight, from a progress report; a part that shows
	// them itself keeps them from being printed twice.
	p := rank.Progress{Elapsed: 90 * time.Second,
		Running: []rank.RankLoad{{Rank: 2, Host: "n2", Chunks: 3}, {Rank: 1, Host: "n1", Chunks: 2}, {Rank: 3, Host: "n2", Chunks: 1}},
		Longest: []rank.InFlight{{Seq: 17, Rank: 2, Host: "n2", Sent: 30 * time.Second}, {Seq: 17, Rank: 3, Host: "n2", Sent: 80 * time.Second, Backup: true}}}
	st.Running, st.Longest = HostLoads(p.Running), LongFlights(p)
	require.Equal(t, []HostLoad{{Host: "n1", Ranks: 1, Chunks: 2}, {Host: "n2", Ranks: 2, Chunks: 4}}, st.Running)
	b.Reset()
	require.NoError(t, PrintStatus(&b, st, raw, part, start.Add(92*time.Second)))
	require.Contains(t, b.String(), "4 workers; 3.33 chunks/s, ETA 4m30s\n"+
		"  host ranks in flight\n  n1       1         2\n  n2       2         4\n"+
		"longest in flight (sent to a worker: computing there, or queued):\n"+
		"  chunk 17           1m0s  rank 2 on n2\n  chunk 17            10s  rank 3 on n2 (backup copy)\nextra:")
	b.Reset()
	part.ShowsFlights = true
	require.NoError(t, PrintStatus(&b, st, raw, part, start.Add(92*time.Second)))
	require.NotContains(t, b.String(), "longest")
	st.Running, st.Longest, part.ShowsFlights = nil, nil, false

	// Lost workers, whatever the part shows.
	st.Lost = LostRanks([]rank.LostWorker{{Rank: 3, Host: "n2", At: 75 * time.Second, How: "the launcher's notice", Reissued: 4}})
	b.Reset()
	require.NoError(t, PrintStatus(&b, st, raw, part, start.Add(92*time.Second)))
	require.Contains(t, b.String(), "ETA 4m30s\nlost: rank 3 on n2 at 1m15s (the launcher's notice), 4 chunks issued again\n")
	st.Lost = nil

	b.Reset()
	require.NoError(t, PrintStatus(&b, st, raw, part, start.Add(time.Hour)))
	require.Contains(t, b.String(), "no update for 58m30s: the run may be gone")

	b.Reset()
	st.State, st.Error, st.Total = StateFailed, "rank 2 on n2: chunk 7: boom", -1
	require.NoError(t, PrintStatus(&b, st, raw, StatusPart{}, start.Add(100*time.Second)))
	require.Equal(t, "job: failed on no-such-host (pid 42) in 1m30s, 10s ago\n  error: rank 2 on n2: chunk 7: boom\nchunks: 300 done\n", b.String())
}

func TestDurAndSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{35 * time.Microsecond: "35µs", 4270 * time.Microsecond: "4.27ms", 850 * time.Millisecond: "850ms",
		4200 * time.Millisecond: "4.2s", 83 * time.Second: "1m23s", 3*time.Hour + 5*time.Minute + 20*time.Second: "3h5m0s", -2 * time.Second: "-2s"} {
		require.Equal(t, want, Dur(d))
	}
	require.NotEmpty(t, Dur(math.MinInt64))
	require.Equal(t, time.Duration(math.MaxInt64), Seconds(1e300))
	require.Equal(t, time.Duration(-math.MaxInt64), Seconds(-1e300))
	require.Equal(t, time.Duration(0), Seconds(math.NaN()))
	require.Equal(t, 1500*time.Millisecond, Seconds(1.5))
	for r, want := range map[float64]string{0: "0", 0.05: "0.050", 3.21: "3.21", 14.8: "14.8", 12345.6: "12346"} {
		require.Equal(t, want, Rate(r))
	}
}

func TestParseStatusRefusesOtherFiles(t *testing.T) {
	for _, bad := range []string{"", "{", "[]", `{"workload": "x"}`, `{"workload": "x", "state": "odd"}`,
		`{"workload": "x", "state": "done"}`, `{"workload": "", "state": "done", "started": "2026-01-02T03:04:05Z", "updated": "2026-01-02T03:04:05Z"}`} {
		_, _, err := ParseStatus([]byte(bad))
		require.Error(t, err, "%q", bad)
	}
}

// FuzzStatusFile: whatever a status file holds, mw status says what is wrong with it or
// prints it, and never panics.
func FuzzStatusFile(f *testing.F) {
	f.Add([]byte(`{"workload": "exec", "state": "running", "started": "2026-01-02T03:04:05Z", "updated": "2026-01-02T03:04:06Z", "every": 2, "chunks_total": -1, "eta_seconds": -1, "tasks": {"total": 3}}`))
	f.Add([]byte(`{"workload": "x", "state": "done", "started": "2026-01-02T03:04:05Z", "updated": "2026-01-02T03:04:05Z", "elapsed_seconds": -1e300, "eta_seconds": 1e300}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, raw, err := ParseStatus(b)
		if err != nil {
			return
		}
		part := StatusPart{Key: "tasks", Print: func(w io.Writer, r json.RawMessage) error { return nil }}
		if err := PrintStatus(io.Discard, st, raw, part, time.Now()); err != nil {
			t.Fatal(err)
		}
	})
}

// countdownSource issues n one-item chunks.
type countdownSource struct{ next, n uint64 }

func (s *countdownSource) Next() (rank.Chunk, error) {
	if s.next == s.n {
		return rank.Chunk{}, io.EOF
	}
	s.next++
	return rank.Chunk{Seq: s.next - 1, Data: []byte{byte(s.next)}, Items: 1}, nil
}

type discardSink struct{}

func (discardSink) Put(uint64, []byte) error { return nil }

// TestRunJobKeepsTheStatusAndTheReport runs a job whose chunks wait until the status file
// says running: the file goes from running to done, and the workload's report reaches the
// report line, --stats and --status.
func TestRunJobKeepsTheStatusAndTheReport(t *testing.T) {
	dir := t.TempDir()
	status, stats := filepath.Join(dir, "run.status"), filepath.Join(dir, "stats.json")
	seen := make(chan struct{})
	var once sync.Once
	job := rank.Job{Name: "job",
		Open: func(context.Context) (*rank.Plan, error) {
			return &rank.Plan{Source: &countdownSource{n: 5}, Sink: discardSink{}, Total: 5}, nil
		},
		NewWorker: func([]byte) (rank.Worker, error) {
			return func(ctx context.Context, c rank.Chunk) ([]byte, error) {
				select {
				case <-seen:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return c.Data, nil
			}, nil
		}}
	var errOut bytes.Buffer
	env := &Env{Stdout: io.Discard, Stderr: &errOut, Transport: func() (rank.Transport, error) { return rank.Solo(), nil }}
	ef := &EngineFlags{Mode: "push", Window: 1, Status: status, StatusEvery: 10 * time.Millisecond, Stats: stats,
		Report: Report{Key: "things", Summary: func(st rank.Stats) string { return fmt.Sprintf("job: %d things", st.Chunks) },
			Stats:  func(st rank.Stats) any { return map[string]uint64{"things": st.Chunks} },
			Status: func(p rank.Progress) any { return map[string]uint64{"seen": p.Chunks} }}}
	go func() {
		deadline := time.Now().Add(testDeadline)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(status); err == nil && bytes.Contains(b, []byte(`"state": "running"`)) {
				once.Do(func() { close(seen) })
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	_, err := RunJob(ctx, env, job, ef)
	require.NoError(t, err)
	require.Equal(t, "job: 5 things\n", errOut.String())
	b, err := os.ReadFile(status)
	require.NoError(t, err)
	st, raw, err := ParseStatus(b)
	require.NoError(t, err)
	require.Equal(t, StateDone, st.State)
	require.Equal(t, uint64(5), st.Chunks)
	require.JSONEq(t, `{"seen": 5}`, string(raw["things"]))
	b, err = os.ReadFile(stats)
	require.NoError(t, err)
	var js map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &js))
	require.JSONEq(t, `{"things": 5}`, string(js["things"]))
	require.JSONEq(t, `5`, string(js["chunks"]))
}

// TestRunJobStatusSaysWhyItFailed: a job that fails leaves its status file saying so.
func TestRunJobStatusSaysWhyItFailed(t *testing.T) {
	status := filepath.Join(t.TempDir(), "run.status")
	job := rank.Job{Name: "job",
		Open: func(context.Context) (*rank.Plan, error) { return nil, errors.New("no input here") },
		NewWorker: func([]byte) (rank.Worker, error) {
			return func(context.Context, rank.Chunk) ([]byte, error) { return nil, nil }, nil
		}}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Transport: func() (rank.Transport, error) { return rank.Solo(), nil }}
	ef := &EngineFlags{Mode: "push", Window: 1, Status: status, StatusEvery: time.Second, Quiet: true}
	_, err := RunJob(context.Background(), env, job, ef)
	require.ErrorContains(t, err, "no input here")
	b, err := os.ReadFile(status)
	require.NoError(t, err)
	st, _, err := ParseStatus(b)
	require.NoError(t, err)
	require.Equal(t, StateFailed, st.State)
	require.Contains(t, st.Error, "no input here")
}
