package rank

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSizerBoundsAPause: one sample of the manager's time per message that a pause inflates
// (1 ms against 500 ns) moves the average by at most a fifth, so the next chunk stays about
// as large; a lasting change is followed all the same.
func TestSizerBoundsAPause(t *testing.T) {
	z := sizer{slots: 10000}
	z.observe(1, 10*time.Millisecond)
	for range 20 {
		z.manager(500 * time.Nanosecond)
	}
	before := z.next(-1)
	z.manager(time.Millisecond)
	require.InDelta(t, 600, z.perMsg, 1, "one sample counts for at most twice the average")
	require.LessOrEqual(t, z.next(-1), before+1)
	for range 40 {
		z.manager(5 * time.Microsecond)
	}
	require.InDelta(t, 5000, z.perMsg, 50, "a lasting change is followed")
}
