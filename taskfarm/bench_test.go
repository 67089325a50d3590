package taskfarm

import (
	"context"
	"testing"
)

// benchTasks runs b.N tasks of words through one worker, one task per chunk, as a worker
// rank's thread does: the worker's own cost per task on top of starting the process.
func benchTasks(b *testing.B, m mode, words ...string) {
	cfg := workerConfig{tmpl: parseTemplate(words, m), tmpdir: b.TempDir(), limit: DefaultBuffer, rank: 1, host: "h"}
	w, err := newWorker(cfg, setup{managerHost: "h", ntasks: -1})
	if err != nil {
		b.Fatal(err)
	}
	c := chunkOf(1, "x")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.run(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTaskTrue(b *testing.B)      { benchTasks(b, modeArgv, "true") }
func BenchmarkTaskTrueShell(b *testing.B) { benchTasks(b, modeShell, "true") }
