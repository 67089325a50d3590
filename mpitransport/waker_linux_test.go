//go:build cgo

package mpitransport

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestBellWakesASleeperThroughAnotherMapping: a peer rings a sleeper through its own mapping
// of the sleeper's page, as ranks on one host do. The sleep, of a minute, ends rung, and a
// wake from this process ends the next one, told apart; a lost ring fails the test after
// 30 s instead of passing when the sleep times out.
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

	for _, byPeer := range []bool{true, false} {
		type result struct{ waited, byPeer bool }
		done := make(chan result)
		var asleep atomic.Bool
		go func() {
			w, p := k.sleep(time.Minute, func() bool { asleep.Store(true); return false })
			done <- result{w, p}
		}()
		for !asleep.Load() {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Millisecond) // most likely in FUTEX_WAIT by now; if not, it returns at once
		if byPeer {
			b.ring()
		} else {
			k.wake()
		}
		select {
		case r := <-done:
			require.Equal(t, result{true, byPeer}, r)
			require.Equal(t, awake, k.word.Load())
		case <-time.After(30 * time.Second):
			t.Fatalf("a sleeper on one mapping was not woken through another (by peer: %v)", byPeer)
		}
	}
	// A wake while awake keeps the next sleep from starting (its work is not slept through).
	waited, _ := k.sleep(time.Minute, func() bool { return false })
	require.False(t, waited)
}

// TestMapPageRefusesWhatIsNotAPage: a peer's page must be a regular file at least a page
// long, or mapping it (and writing to it) would fault.
func TestMapPageRefusesWhatIsNotAPage(t *testing.T) {
	dir := t.TempDir()
	_, err := mapPage(dir, false)
	require.Error(t, err, "a directory")
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("x"), 0o600))
	_, err = mapPage(short, false)
	require.ErrorContains(t, err, "not a page")
	_, err = mapPage(short, true)
	require.Error(t, err, "an existing file is never created over")
	link := filepath.Join(dir, "link")
	page, err := mapPage(filepath.Join(dir, "page"), true)
	require.NoError(t, err)
	require.Len(t, page, pageSize)
	require.NoError(t, os.Symlink(filepath.Join(dir, "page"), link))
	_, err = mapPage(link, false)
	require.Error(t, err, "a symbolic link is not followed")
}
