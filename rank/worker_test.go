package rank

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// kindsSent is what worker w's outbox holds, frame by frame, by kind.
func kindsSent(t *testing.T, w *worker) [][]kind {
	t.Helper()
	var frames [][]kind
	for _, o := range w.out.seal() {
		var ks []kind
		require.NoError(t, eachRecord(0, o.frame, func(r record) error { ks = append(ks, r.kind); return nil }))
		frames = append(frames, ks)
	}
	return frames
}

// TestReadyGoesWithTheFirstAnswer: a worker of one thread that got its first chunk with
// the setup (push mode) sends its ready message in the frame of that chunk's answer, not
// in a frame of its own, unless readyWait passes first; one of several threads, one in pull mode and one without a chunk
// send it at once, since the manager waits on it for their other chunks, or for their end.
func TestReadyGoesWithTheFirstAnswer(t *testing.T) {
	announce := func(w *worker, chunks int) {
		var f []byte
		f = appendRecord(f, record{kind: kindSetup, data: make([]byte, 8)})
		for i := range chunks {
			f = appendRecord(f, record{kind: kindTask, seq: uint64(i), ticket: uint32(i)})
		}
		w.onFrame(0, 0, f)
		require.Equal(t, settingUp, w.phase)
	}

	w := newWorker(engine(2, Push, false), "h", 0)
	announce(w, 2)
	w.started(0, 1)
	require.Empty(t, kindsSent(t, w), "the ready waits for the first answer")
	w.done(1, computed{task: w.toCompute[0]})
	require.Equal(t, [][]kind{{kindReady, kindResult}}, kindsSent(t, w))
	w.done(2, computed{task: w.toCompute[1]})
	require.Equal(t, [][]kind{{kindResult}}, kindsSent(t, w), "the ready goes once")

	w = newWorker(engine(2, Push, false), "h", 0)
	announce(w, 2)
	w.started(0, 1)
	next, err := w.tick(monoTime(readyWait - 1))
	require.NoError(t, err)
	require.Equal(t, monoTime(readyWait), next, "the tick comes back for the ready")
	require.Empty(t, kindsSent(t, w))
	_, err = w.tick(monoTime(readyWait))
	require.NoError(t, err)
	require.Equal(t, [][]kind{{kindReady}}, kindsSent(t, w), "readyWait after the start, it goes alone")

	for name, c := range map[string]struct {
		mode            Mode
		threads, chunks int
	}{"threads": {Push, 2, 2}, "pull": {Pull, 1, 0}, "no chunk": {Push, 1, 0}} {
		w := newWorker(engine(2, c.mode, false), "h", 0)
		announce(w, c.chunks)
		w.started(0, c.threads)
		sent := kindsSent(t, w)
		require.NotEmpty(t, sent, name)
		require.Equal(t, kindReady, sent[0][0], name)
	}
}
