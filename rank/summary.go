package rank

import (
	"fmt"
	"strings"

	"github.com/mw-hpc/mw/internal/human"
)

// Summary is the run report's one-line form, e.g.
// "selftest: 1000 chunks in 1.2s (812 chunks/s), 1.0 MB in, 3.0 MB out (2.4 MB/s); 2 workers x 1 thread on a,b;
// manager CPU 0.30s (25% of a core); chunks per worker 1:500 2:500".
func (s Stats) Summary(name string) string {
	var b strings.Builder
	secs := s.Wall.Seconds()
	rate := func(n float64) float64 {
		if secs <= 0 {
			return 0
		}
		return n / secs
	}
	fmt.Fprintf(&b, "%s: %d chunks", name, s.Chunks)
	var computed uint64
	for _, n := range s.PerWorker {
		computed += n
	}
	if computed > s.Chunks {
		// Results that were never written: the job ended early (--halt now, a search's
		// success) while they waited for an earlier chunk.
		fmt.Fprintf(&b, " written of %d computed", computed)
	}
	fmt.Fprintf(&b, " in %s (%.0f chunks/s), %s in, %s out (%s/s)", s.Wall.Round(1e6), rate(float64(s.Chunks)),
		human.Bytes(s.BytesIn), human.Bytes(s.BytesOut), human.Bytes(uint64(rate(float64(s.BytesOut)))))
	fmt.Fprintf(&b, "; %s x %s", human.Plural(s.Workers, "worker"), human.Plural(s.Threads, "thread"))
	if hs := human.Hosts(s.Hosts); len(hs) > 0 {
		fmt.Fprintf(&b, " on %s", strings.Join(hs, ","))
	}
	if s.ManagerCPU > 0 && secs > 0 {
		who := "manager"
		if s.Alone {
			who = "process" // the workers' threads too
		}
		fmt.Fprintf(&b, "; %s CPU %.2fs", who, s.ManagerCPU.Seconds())
		if secs >= 0.1 { // over a few milliseconds, start-up noise
			fmt.Fprintf(&b, " (%.0f%% of a core)", 100*s.ManagerCPU.Seconds()/secs)
		}
	}
	if s.Retries > 0 {
		fmt.Fprintf(&b, "; %d retries", s.Retries)
	}
	if s.LeftOut > 0 {
		fmt.Fprintf(&b, "; %d left out (failed every try)", s.LeftOut)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(&b, "; %d left out unstarted (drain)", s.Skipped)
	}
	if len(s.PerWorker) > 2 || len(s.PerWorker) > 1 && s.PerWorker[0] > 0 {
		b.WriteString("; chunks per worker")
		for r := range s.PerWorker {
			if r > 0 || s.PerWorker[0] > 0 {
				fmt.Fprintf(&b, " %d:%d", r, s.PerWorker[r])
			}
		}
	}
	if l := lostReport(s.Lost); l != "" {
		b.WriteString("; " + l)
	}
	return b.String()
}
