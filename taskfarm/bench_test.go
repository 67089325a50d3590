package taskfarm

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// benchTasks runs b.N tasks of words through one worker, one task per chunk, from jobs
// goroutines at once, as a worker rank's threads do: the worker's own cost per task on
// top of starting the process. cpu-µs/task is this process's CPU time (user and system,
// all threads, not the tasks'), the cost that matters on a machine with few cores.
func benchTasks(b *testing.B, jobs int, args ...string) {
	w, _ := testWorker(b, args...)
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	b.ResetTimer()
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := next.Add(1); seq <= int64(b.N); seq = next.Add(1) {
				if _, err := w.run(context.Background(), chunkOf(uint64(seq), "x")); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/task")
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A line that needs no shell runs without one; a redirection needs the shell.
func BenchmarkTaskTrue(b *testing.B)      { benchTasks(b, 1, "true") }
func BenchmarkTaskTrueJ2(b *testing.B)    { benchTasks(b, 2, "true") }
func BenchmarkTaskTrueShell(b *testing.B) { benchTasks(b, 1, "true > /dev/null") }
