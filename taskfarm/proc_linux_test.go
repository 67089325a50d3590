package taskfarm

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestProcessWaitNoPidfd: without pidfds (an old kernel), tasks are waited for with wait4.
func TestProcessWaitNoPidfd(t *testing.T) {
	noPidfd.Store(true)
	defer noPidfd.Store(false)
	testProcessWait(t)
}

// TestGroupSignalsOnlyUnreaped: every signal to a task's process group is sent while the
// task is unreaped (alive or a zombie), so the group id cannot have been reused by then.
// The tasks end at the first TERM of their timeout; the rest of the kill sequence used to
// follow 200 ms later, after the task had been reaped.
func TestGroupSignalsOnlyUnreaped(t *testing.T) {
	var mu sync.Mutex
	var signals, late []string
	old := signalGroup
	signalGroup = func(pgid int, sig syscall.Signal) error {
		_, err := os.Stat("/proc/" + strconv.Itoa(pgid))
		mu.Lock()
		signals = append(signals, fmt.Sprint(pgid, sig))
		if err != nil {
			late = append(late, fmt.Sprintf("%s to group %d after its leader was reaped", sig, pgid))
		}
		mu.Unlock()
		return old(pgid, sig)
	}
	defer func() { signalGroup = old }()

	w, _ := testWorker(t, "sleep")
	w.cfg.timeout = 20 * time.Millisecond
	rs := runChunk(t, w, chunkOf(1, "300", "300", "300"))
	// The sequences that outlive the chunk would have sent their second TERM by now.
	time.Sleep(2 * defaultTermSeq[0].wait)
	for i, r := range rs {
		if !r.timedOut() || r.signal != uint64(syscall.SIGTERM) {
			t.Errorf("task %d: timedOut %v signal %d, want a timeout by TERM", i+1, r.timedOut(), r.signal)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(signals) < len(rs) {
		t.Errorf("signals %v: want at least one per task", signals)
	}
	for _, l := range late {
		t.Error(l)
	}
}
