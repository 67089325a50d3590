package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/rank"
)

func TestProgressLine(t *testing.T) {
	p := rank.Progress{Elapsed: 2 * time.Second, Chunks: 50, TotalChunks: 200, Items: 500, InFlight: 7, Workers: 4}
	require.Equal(t, "job: 50/200 chunks (25.0%), 25 chunks/s, 250 items/s, ETA 6s, 4/4 workers busy", progressLine("job", p))
	p.TotalChunks = -1
	require.Equal(t, "50 chunks, 25 chunks/s, 250 items/s, ETA -, 4/4 workers busy", progressLine("", p))
}

func TestProgressNotATerminalPrintsPlainLines(t *testing.T) {
	var b bytes.Buffer
	every, show := progressFor(&b, "job")
	require.Equal(t, plainEvery, every)
	show(rank.Progress{Elapsed: time.Second, Chunks: 1, TotalChunks: 2, Workers: 1}, false)
	show(rank.Progress{}, true)
	require.Equal(t, "mw: job: progress: 1/2 chunks (50.0%), 1 chunks/s, ETA 1s, 0/1 workers busy\n", b.String())
}
