package selftest

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/cpuclock"
)

// TestBurnCostsCPUTime: --burn D costs D of CPU time per item, whatever else shares the
// core. Four burns of 20 ms on one P use at least 80 ms of CPU between them; burns that
// ran to a deadline on the wall clock shared the core and used about a quarter of that.
func TestBurnCostsCPUTime(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const d, n = 20 * time.Millisecond, 4
	before := cpuclock.Process()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); burn(d) }()
	}
	wg.Wait()
	require.GreaterOrEqual(t, cpuclock.Process()-before, n*d)
}
