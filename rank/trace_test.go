package rank

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// traceEvent is one event of a --trace file, as a viewer reads it.
type traceEvent struct {
	Name, Cat, Ph string
	Pid, Tid      int
	ID            uint64
	Ts, Dur       float64
	Args          map[string]any
}

// attemptKey names an attempt at a chunk: its try, the workers lost before it, its copy.
type attemptKey struct {
	seq           uint64
	attempt, lost int
	copy          string
}

func (e traceEvent) key() attemptKey {
	num := func(k string) int { v, _ := e.Args[k].(float64); return int(v) }
	cp, _ := e.Args["copy"].(string)
	return attemptKey{seq: uint64(num("seq")), attempt: num("attempt"), lost: num("lost_workers"), copy: cp}
}

// attemptCats are the categories of an attempt's span (tracechunks.go).
var attemptCats = map[string]bool{"chunk": true, "error": true, "late": true, "lost": true, "abandoned": true}

// tracedRun is a run's trace, read back and checked for what holds in every trace: each
// send has exactly one span of what became of it, each flow starts at a send, ends once,
// steps at most once, and lies inside a span of its track; process names are unique.
type tracedRun struct {
	events   []traceEvent
	attempts map[attemptKey][]traceEvent // by attempt: its span (exactly one)
	writes   map[uint64]int
}

func readTrace(t *testing.T, data []byte) *tracedRun {
	t.Helper()
	tr := &tracedRun{attempts: map[attemptKey][]traceEvent{}, writes: map[uint64]int{}}
	require.NoError(t, json.Unmarshal(data, &tr.events), "%s", data)
	sends := map[attemptKey]int{}
	spans := map[[2]int][]traceEvent{}
	processes := map[int]int{}
	for _, e := range tr.events {
		switch {
		case e.Ph == "M" && e.Name == "process_name":
			processes[e.Pid]++
		case e.Ph != "X":
		case e.Cat == "send":
			sends[e.key()]++
		case e.Cat == "write":
			tr.writes[e.key().seq]++
		case attemptCats[e.Cat]:
			tr.attempts[e.key()] = append(tr.attempts[e.key()], e)
		}
		if e.Ph == "X" {
			spans[[2]int{e.Pid, e.Tid}] = append(spans[[2]int{e.Pid, e.Tid}], e)
		}
	}
	for pid, n := range processes {
		require.Equal(t, 1, n, "process %d named %d times", pid, n)
	}
	for k, n := range sends {
		require.Equal(t, 1, n, "%+v sent %d times", k, n)
		require.Len(t, tr.attempts[k], 1, "attempt %+v: one span of what became of it", k)
	}
	for k := range tr.attempts {
		require.Contains(t, sends, k, "a span of attempt %+v, never sent", k)
	}
	tr.checkFlows(t, spans)
	return tr
}

// checkFlows checks every flow: one start on the send track, one end, at most one step,
// each event inside a span of its track.
func (tr *tracedRun) checkFlows(t *testing.T, spans map[[2]int][]traceEvent) {
	t.Helper()
	phases := map[uint64]string{}
	for _, e := range tr.events {
		if e.Cat != "attempt" {
			continue
		}
		phases[e.ID] += e.Ph
		if e.Ph == "s" {
			require.Equal(t, [2]int{0, 0}, [2]int{e.Pid, e.Tid}, "a flow starts at a send")
		}
		inside := false
		for _, s := range spans[[2]int{e.Pid, e.Tid}] {
			inside = inside || s.Ts <= e.Ts && e.Ts <= s.Ts+s.Dur
		}
		require.True(t, inside, "flow event %+v is in no span of its track", e)
	}
	for id, p := range phases {
		require.Contains(t, []string{"sf", "stf"}, p, "flow %d", id)
	}
}

// spansOf returns the attempt spans of chunk seq.
func (tr *tracedRun) spansOf(seq uint64) []traceEvent {
	var out []traceEvent
	for k, es := range tr.attempts {
		if k.seq == seq {
			out = append(out, es...)
		}
	}
	return out
}

// TestTraceEveryAttempt: a straggler's copy (never answered: abandoned at the end), the
// backup that won, a failed try and its retry each have their span, marked by copy and try,
// with flows from send to computation to write.
func TestTraceEveryAttempt(t *testing.T) {
	const chunks = 60
	h := newHarness(3, chunks)
	var stuck atomic.Int64
	stuck.Store(-1)
	h.work = func(ctx context.Context, r int, c Chunk) ([]byte, error) {
		if r == 1 && stuck.CompareAndSwap(-1, int64(c.Seq)) {
			<-ctx.Done() // the straggler holds its first chunk until the stop
			return nil, ctx.Err()
		}
		if c.Seq == 11 && c.Attempt == 0 {
			return nil, errors.New("transient")
		}
		return digest(c.Data), nil
	}
	var trace bytes.Buffer
	cfg := cfgWith(1, 1)
	cfg.Backups, cfg.Retries, cfg.Trace = true, 1, &trace
	_, err, _ := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, chunks)
	tr := readTrace(t, trace.Bytes())

	s := uint64(stuck.Load())
	require.NotEqual(t, uint64(11), s)
	straggler := tr.attempts[attemptKey{seq: s, copy: "first"}]
	require.Len(t, straggler, 1)
	require.Equal(t, "abandoned", straggler[0].Cat)
	require.Equal(t, 1, straggler[0].Pid)
	backup := tr.attempts[attemptKey{seq: s, copy: "backup"}]
	require.Len(t, backup, 1)
	require.Equal(t, "chunk", backup[0].Cat)
	require.Contains(t, []int{2, 3}, backup[0].Pid)

	require.Equal(t, "error", tr.attempts[attemptKey{seq: 11, copy: "first"}][0].Cat)
	require.Equal(t, "transient", tr.attempts[attemptKey{seq: 11, copy: "first"}][0].Args["error"])
	require.Equal(t, "chunk", tr.attempts[attemptKey{seq: 11, attempt: 1, copy: "first"}][0].Cat)
	for seq := range uint64(chunks) {
		require.Equal(t, 1, tr.writes[seq], "chunk %d written once", seq)
		if seq != s && seq != 11 {
			require.Len(t, tr.spansOf(seq), 1, "chunk %d", seq)
		}
	}
}

// TestTraceLostAttempts: the copies a lost worker held span from their send to its loss,
// and run again, each with its own span.
func TestTraceLostAttempts(t *testing.T) {
	const chunks = 200
	h := newHarness(3, chunks)
	var crashed atomic.Int64
	h.work = func(_ context.Context, r int, c Chunk) ([]byte, error) {
		if c.Seq == 20 && c.Lost == 0 {
			crashed.Store(int64(r))
			h.net.Crash(r, true)
		}
		return digest(c.Data), nil
	}
	var trace bytes.Buffer
	cfg := lostCfg(2, 2)
	cfg.Trace = &trace
	st, err, _ := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, chunks)
	require.Len(t, st.Lost, 1)
	tr := readTrace(t, trace.Bytes())
	lost := 0
	for k, es := range tr.attempts {
		if es[0].Cat != "lost" {
			continue
		}
		lost++
		require.Equal(t, int(crashed.Load()), es[0].Pid)
		require.Equal(t, unansweredTrack, es[0].Tid)
		again := tr.attempts[attemptKey{seq: k.seq, attempt: k.attempt, lost: k.lost + 1, copy: "first"}]
		require.Len(t, again, 1, "chunk %d ran again", k.seq)
		require.Equal(t, "chunk", again[0].Cat)
	}
	require.Equal(t, st.Lost[0].Reissued, lost)
	require.Len(t, tr.attempts[attemptKey{seq: 20, lost: 1, copy: "first"}], 1, "chunk 20 ran again")
	var instants []traceEvent
	for _, e := range tr.events {
		if e.Ph == "i" {
			instants = append(instants, e)
		}
	}
	require.Len(t, instants, 1, "the loss, once")
	require.Equal(t, fmt.Sprintf("rank %d on inproc lost", crashed.Load()), instants[0].Name)
	require.Equal(t, map[string]any{"rank": float64(crashed.Load()), "host": "inproc", "how": "the launcher's notice",
		"chunks_issued_again": float64(st.Lost[0].Reissued)}, instants[0].Args)
}

// labelSink names chunk N "item N+1", with its result's first byte, as exec names a task.
type labelSink struct {
	*listSink
	bad bool // give args that are not a JSON object
}

func (s labelSink) TraceLabel(c Chunk, result []byte) (string, []byte) {
	if s.bad {
		return "", []byte(`[1]`)
	}
	args := fmt.Sprintf(`{"item":%d`, c.Seq+1)
	if len(c.Data) == 8 {
		args += fmt.Sprintf(`,"data":%d`, binary.LittleEndian.Uint64(c.Data))
	}
	if result != nil {
		args += fmt.Sprintf(`,"first_byte":%d`, result[0])
	}
	return fmt.Sprintf("item %d", c.Seq+1), []byte(args + "}")
}

// TestTraceLabels: a TraceLabeler's names and args are on every span of its chunks; args
// that are not a JSON object are replaced by a note, and the name falls back to "chunk N".
func TestTraceLabels(t *testing.T) {
	for _, bad := range []bool{false, true} {
		t.Run(fmt.Sprint("bad=", bad), func(t *testing.T) {
			const chunks = 30
			h := newHarness(2, chunks)
			h.sinkAs = labelSink{listSink: h.sink, bad: bad}
			var trace bytes.Buffer
			cfg := cfgWith(2, 1)
			cfg.Trace = &trace
			_, err, _ := h.run(t, cfg)
			require.NoError(t, err)
			tr := readTrace(t, trace.Bytes())
			for _, e := range tr.events {
				if e.Ph != "X" || e.Pid == 0 && e.Tid == 0 && e.Cat != "send" {
					continue
				}
				seq := e.key().seq
				if bad {
					require.Equal(t, "not a JSON object", e.Args["label_args"], "%+v", e)
					require.Contains(t, e.Name, fmt.Sprintf("chunk %d", seq))
					continue
				}
				require.Contains(t, e.Name, fmt.Sprintf("item %d", seq+1))
				require.Equal(t, float64(seq+1), e.Args["item"])
				if e.Cat == "chunk" || e.Cat == "write" {
					require.Equal(t, float64(digest(binary.LittleEndian.AppendUint64(nil, seq))[0]), e.Args["first_byte"])
				}
				if e.Cat == "send" || e.Cat == "chunk" {
					require.Equal(t, float64(seq), e.Args["data"], "the chunk's data is there until it is done")
				}
			}
		})
	}
}
