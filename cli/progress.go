package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/mw-hpc/mw/rank"
)

// Progress display on rank 0's stderr: on a terminal one line redrawn ten times a second;
// otherwise (a Slurm output file) a plain line every plainEvery. golang.org/x/term tells a
// terminal from a file: it is the Go team's own, small, and has no dependencies beyond x/sys.
const (
	ttyEvery   = 100 * time.Millisecond
	plainEvery = 30 * time.Second
)

// progressFor returns the interval and the callback that draw progress on w, or 0 and nil
// when w is not worth drawing on.
func progressFor(w io.Writer, name string) (time.Duration, func(rank.Progress, bool)) {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	if tty {
		return ttyEvery, func(p rank.Progress, final bool) {
			if final {
				fmt.Fprint(w, "\r\x1b[K")
				return
			}
			fmt.Fprintf(w, "\r\x1b[K%s", progressLine(name, p))
		}
	}
	return plainEvery, func(p rank.Progress, final bool) {
		if !final {
			fmt.Fprintf(w, "mw: %s: progress: %s\n", name, progressLine("", p))
		}
	}
}

// progressLine is e.g. "selftest: 1234/5000 chunks (24.7%), 812 chunks/s, ETA 4s, 2/2 workers busy".
func progressLine(name string, p rank.Progress) string {
	var b strings.Builder
	if name != "" {
		b.WriteString(name + ": ")
	}
	secs := p.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(p.Chunks) / secs
	}
	if p.TotalChunks > 0 {
		fmt.Fprintf(&b, "%d/%d chunks (%.1f%%)", p.Chunks, p.TotalChunks, 100*float64(p.Chunks)/float64(p.TotalChunks))
	} else {
		fmt.Fprintf(&b, "%d chunks", p.Chunks)
	}
	fmt.Fprintf(&b, ", %.0f chunks/s", rate)
	if p.Items > 0 && secs > 0 {
		fmt.Fprintf(&b, ", %.0f items/s", float64(p.Items)/secs)
	}
	eta := "-"
	if p.TotalChunks > 0 && rate > 0 && int64(p.Chunks) <= p.TotalChunks {
		eta = (time.Duration(float64(p.TotalChunks-int64(p.Chunks))/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(&b, ", ETA %s, %d/%d workers busy", eta, min(p.InFlight, p.Workers), p.Workers)
	return b.String()
}
