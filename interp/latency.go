package interp

import (
	"fmt"
	"math/bits"
	"sync"
	"time"
)

// Latency tracks per-frame latency in real-time mode: the Source stamps each frame's
// arrival, the Sink measures arrival-to-written for each frame in order. Memory is bounded
// whatever the run's length: percentiles come from a log-linear histogram whose buckets
// are at most 1/64 (1.6%) wide; the maximum is exact. Safe for concurrent use.
type Latency struct {
	mu       sync.Mutex
	pending  []time.Time // arrival stamps of frames not yet written, oldest first
	deadline time.Duration
	counts   [histBuckets]uint64
	n        uint64
	missed   uint64
	max      time.Duration
}

const (
	histSub     = 64 // buckets per power of two
	histBuckets = (64 - 6 + 1) * histSub
)

// NewLatency returns a tracker whose frames miss their deadline when later than deadline.
func NewLatency(deadline time.Duration) *Latency { return &Latency{deadline: deadline} }

// Arrive records that the next frame arrived at t.
func (l *Latency) Arrive(t time.Time) {
	l.mu.Lock()
	l.pending = append(l.pending, t)
	l.mu.Unlock()
}

// Written records that the n oldest pending frames were written at t.
func (l *Latency) Written(n int, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n = min(n, len(l.pending))
	for _, a := range l.pending[:n] {
		l.record(t.Sub(a))
	}
	// Shift rather than reslice so the backing array does not grow without bound.
	l.pending = l.pending[:copy(l.pending, l.pending[n:])]
}

func (l *Latency) record(d time.Duration) {
	d = max(d, 0)
	l.counts[bucket(uint64(d))]++
	l.n++
	l.max = max(l.max, d)
	if d > l.deadline {
		l.missed++
	}
}

// bucket maps v to its histogram bucket: exact below 64, then 64 buckets per power of two.
func bucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	return (e+1)*histSub + int(v>>e) - histSub
}

// bucketHigh is the largest value of bucket i.
func bucketHigh(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	m := uint64(i%histSub + histSub)
	return (m+1)<<e - 1
}

// Quantile returns the latency below which a fraction q of the frames fall (the upper
// edge of its bucket, at most the maximum), 0 when nothing was recorded.
func (l *Latency) Quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return 0
	}
	rank := uint64(q*float64(l.n) + 0.5)
	rank = min(max(rank, 1), l.n)
	var seen uint64
	for i, c := range l.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketHigh(i)), l.max)
		}
	}
	return l.max
}

// Count, Missed and Max report the frames written, those later than the deadline, and the
// worst latency.
func (l *Latency) Count() uint64  { l.mu.Lock(); defer l.mu.Unlock(); return l.n }
func (l *Latency) Missed() uint64 { l.mu.Lock(); defer l.mu.Unlock(); return l.missed }
func (l *Latency) Max() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

// LatencyFigures are the real-time figures in the run's --stats and --status (stable
// field names for scripts).
type LatencyFigures struct {
	FPS      float64 `json:"frames_per_second"`
	Frames   uint64  `json:"frames"`
	P50      float64 `json:"p50_seconds"`
	P99      float64 `json:"p99_seconds"`
	Max      float64 `json:"max_seconds"`
	Missed   uint64  `json:"missed"`
	Deadline float64 `json:"deadline_seconds"`
}

// Figures are the latency figures so far, for a stream paced at fps.
func (l *Latency) Figures(fps float64) LatencyFigures {
	return LatencyFigures{FPS: fps, Frames: l.Count(), P50: l.Quantile(0.5).Seconds(), P99: l.Quantile(0.99).Seconds(),
		Max: l.Max().Seconds(), Missed: l.Missed(), Deadline: l.deadline.Seconds()}
}

// Report is the one-line real-time summary.
func (l *Latency) Report(name string, fps float64) string {
	return fmt.Sprintf("%s: real time: %d frames at %g/s: latency p50 %s, p99 %s, max %s; %d missed the %s deadline",
		name, l.Count(), fps, roundDur(l.Quantile(0.5)), roundDur(l.Quantile(0.99)), roundDur(l.Max()),
		l.Missed(), roundDur(l.deadline))
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
