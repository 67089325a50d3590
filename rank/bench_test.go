package rank

import (
	"context"
	"io"
	"testing"
	"time"
)

// emptySource yields n empty chunks.
type emptySource struct{ n, next uint64 }

func (s *emptySource) Next() (Chunk, error) {
	if s.next >= s.n {
		return Chunk{}, io.EOF
	}
	s.next++
	return Chunk{Seq: s.next - 1, Data: nil}, nil
}

type discardSink struct{}

func (discardSink) Put(uint64, []byte) error { return nil }

// benchEngine runs b.N empty chunks through the engine on an in-process network: the
// engine's own cost per chunk, without MPI.
func benchEngine(b *testing.B, workers, window int) { benchEngineCfg(b, workers, window, nil) }

func benchEngineCfg(b *testing.B, workers, window int, tune func(*Config)) {
	job := Job{
		Name: "bench",
		Open: func(context.Context) (*Plan, error) {
			return &Plan{Source: &emptySource{n: uint64(b.N)}, Sink: discardSink{}, Total: -1}, nil
		},
		NewWorker: func([]byte) (Worker, error) {
			return func(context.Context, Chunk) ([]byte, error) { return nil, nil }, nil
		},
	}
	cfg := DefaultConfig()
	cfg.Window, cfg.Threads, cfg.Backups = window, 1, false
	if tune != nil {
		tune(&cfg)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := RunInProcess(context.Background(), workers, job, cfg); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
}

func BenchmarkEngine2Workers1Window(b *testing.B)  { benchEngine(b, 2, 1) }
func BenchmarkEngine2Workers16Window(b *testing.B) { benchEngine(b, 2, 16) }
func BenchmarkEngine64Workers2Window(b *testing.B) { benchEngine(b, 64, 2) }

// Progress reporting must not slow the hot path: compare with BenchmarkEngine2Workers16Window.
func BenchmarkEngine2Workers16WindowProgress(b *testing.B) {
	benchEngineCfg(b, 2, 16, func(c *Config) {
		c.Progress = 100 * time.Millisecond // a terminal's redraw rate
		c.OnProgress = func(Progress, bool) {}
	})
}
