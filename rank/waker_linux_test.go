package rank

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestBellWakesASleeperThroughAnotherMapping: a peer rings a sleeper through its own mapping
// of the sleeper's page, as ranks on one host do; the sleep ends rung, long before its
// timeout (an hour, so a lost ring hangs the test).
func TestBellWakesASleeperThroughAnotherMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bell")
	own, err := mapPage(path, true)
	require.NoError(t, err)
	peer, err := mapPage(path, false)
	require.NoError(t, err)
	k, err := newWaker()
	require.NoError(t, err)
	k.use(own)
	b := bell{(*atomic.Uint32)(unsafe.Pointer(&peer[0]))}

	woken := make(chan bool)
	var asleep atomic.Bool
	go func() { woken <- k.sleep(time.Hour, func() bool { asleep.Store(true); return false }) }()
	for !asleep.Load() {
		time.Sleep(time.Millisecond)
	}
	for {
		b.ring() // rings only once the sleep is announced; then the futex returns at once
		select {
		case w := <-woken:
			require.True(t, w, "rung by the peer")
			require.Equal(t, awake, k.word.Load())
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}
