package cpuclock

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClocksAdvanceWithWork: spinning on a locked thread moves the thread's clock, and the
// process's clock by at least as much.
func TestClocksAdvanceWithWork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, p0 := Thread(), Process()
	x := uint64(1)
	for Thread()-t0 < 5*time.Millisecond {
		x = x*6364136223846793005 + 1
	}
	_ = x
	spent := Thread() - t0
	require.GreaterOrEqual(t, spent, 5*time.Millisecond)
	require.GreaterOrEqual(t, Process()-p0, spent/2, "getrusage is coarser than the thread clock")
}
