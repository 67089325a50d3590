package taskfarm

import "testing"

// TestProcessWaitNoPidfd: without pidfds (an old kernel), tasks are waited for with wait4.
func TestProcessWaitNoPidfd(t *testing.T) {
	noPidfd.Store(true)
	defer noPidfd.Store(false)
	testProcessWait(t)
}
