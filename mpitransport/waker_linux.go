//go:build cgo

package mpitransport

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mw-hpc/mw/mpi"
)

// waker puts the goroutine that owns MPI to sleep for a precise time, and lets others wake
// it at once: any goroutine of this process (a send queued, a live source's chunk ready) and,
// once setupBells has shared it, the ranks on the same host that send to this one (a bell).
//
// The owner sleeps on a futex word. Go's own timers are too coarse for this (measured here: a
// 20 us time.Sleep on a locked thread takes about 1 ms); the futex's timeout is precise to
// the thread's timer slack, which preciseTimers lowers from 50 us to 1 us. The word lives in
// a page of its own, anonymous until setupBells moves it to a file in /dev/shm that peers map.
//
// Concurrency: sleep is called by one goroutine at a time: the one that receives (the
// owner, or a worker's rescue while the owner computes; their transport serializes them).
// wake is called by any goroutine, and peers ring from other processes.
type waker struct {
	word    *atomic.Uint32 // awake, sleeping, woken or rung
	ringers *atomic.Uint32 // how many peers mapped the page (counted by setupBells)
	kicked  atomic.Bool    // wake was called since the last sleep
}

// The futex word's states.
const (
	awake    uint32 = 0
	sleeping uint32 = 1 // the owner sleeps, or is about to: wake it
	woken    uint32 = 2 // woken by a goroutine of this process, before or during its sleep
	rung     uint32 = 3 // woken by a peer rank's bell
)

const (
	futexWait = 0 // FUTEX_WAIT, shared: the word may be in a page other processes map
	futexWake = 1
	pageSize  = 4096
	ringersAt = 64 // offset of the ringers count: its own cache line
)

func newWaker() (*waker, error) {
	page, err := unix.Mmap(-1, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("map the waker's page: %w", err)
	}
	k := &waker{}
	k.use(page)
	return k, nil
}

// use puts the waker's word in page (before any sleep or wake). The page is never
// unmapped: a late wake must not touch a hole.
func (k *waker) use(page []byte) {
	k.word = (*atomic.Uint32)(unsafe.Pointer(&page[0]))
	k.ringers = (*atomic.Uint32)(unsafe.Pointer(&page[ringersAt]))
}

// preciseTimers lowers the calling thread's timer slack (it must stay locked to it).
func preciseTimers() { _ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0) }

// sleep waits up to d, or until woken, unless ready reports work first. ready is called
// after the sleep is announced, so that a wake (or a peer's message, whose sender rings
// after sending) coming after ready's check is never missed. It reports whether it waited
// at all, and whether a peer's bell ended the wait.
//
// The orders that make this hold: the sleeper stores its word, then reads (ready); a waker
// writes (queues its work, then sets kicked; a peer, its message), then reads the word. On
// amd64 the atomic store is a full barrier. On arm64 a store-release followed by a
// load-acquire is ordered, but ready's plain reads (a channel's length) are not: kicked,
// read with an atomic swap, is what a wake from this process is sure to be seen by.
func (k *waker) sleep(d time.Duration, ready func() bool) (waited, byPeer bool) {
	k.word.Store(sleeping)
	if k.kicked.Swap(false) || ready() {
		k.word.Store(awake)
		return false, false
	}
	ts := unix.NsecToTimespec(int64(d))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(k.word)), futexWait, uintptr(sleeping), uintptr(unsafe.Pointer(&ts)), 0, 0)
	return true, k.word.Swap(awake) == rung
}

// wake ends the owner's sleep, if it sleeps, or else keeps the next one from starting.
func (k *waker) wake() {
	k.kicked.Store(true)
	ringWord(k.word, woken)
}

// ringWord wakes the sleeper on word, if it sleeps, leaving state (woken or rung) for it to
// see. A caller that has just sent a message by other means must order that send before
// ringWord's first read (bell.ring does).
func ringWord(word *atomic.Uint32, state uint32) {
	if word.Load() == sleeping && word.CompareAndSwap(sleeping, state) {
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWake, 1, 0, 0, 0)
	}
}

// bell is a peer rank's futex word, mapped from its page: ring it after sending to that
// rank. The zero bell (a peer on another host) rings nothing.
type bell struct{ word *atomic.Uint32 }

// fenceWord is the target of the read-modify-write that orders a send before a ring.
var fenceWord atomic.Uint32

// ring wakes the peer if it sleeps. The peer announces its sleep and then probes MPI; the
// ringer has written the message (in Open MPI's shared memory) and then reads the peer's
// word. Both orders must hold, so a full barrier (an atomic add, a locked instruction on
// amd64) separates the ringer's send from its read.
func (b bell) ring() {
	if b.word != nil {
		fenceWord.Add(1)
		ringWord(b.word, rung)
	}
}

// bellsOff, MW_POLL=timed, makes every rank wake on timers alone, as before bells (for
// comparisons). Rank 0 decides for the whole job.
var bellsOff = os.Getenv("MW_POLL") == "timed"

// setupBells shares this rank's waker with the ranks on its host that send to it, and maps
// theirs. mw's protocol is a star: rank 0 sends to every rank and every other rank sends to
// rank 0 only, so rank 0 maps every peer it can and the others map rank 0's page. The pages
// are files in a directory that rank 0 makes in /dev/shm, private to the user (0700, a
// random name), which only ranks on rank 0's host see: a rank on another host has no bell,
// and needs none, since it hears from rank 0 only. It returns the bells by rank (nil when
// there are none), how many ranks can ring this one and whether that is every rank that may
// send to it, so that it may sleep until rung.
//
// It is collective (a broadcast and two barriers on comm): every rank calls it once, right
// after MPI starts, and makes the same calls whatever fails locally. A rank that cannot
// create, reserve or map its page (no /dev/shm, or a full one) goes on without bells and
// polls on timers; only an MPI failure is an error. The directory lives from before the
// broadcast to the second barrier, when every page is mapped; rank 0 then removes it (a
// rank killed in between leaves it behind, a few KiB).
func setupBells(comm *mpi.Communicator, k *waker) (bs bells, err error) {
	rank, size := comm.Rank(), comm.Size()
	if size < 2 {
		return bells{}, nil
	}
	var key [8]byte // zero: no bells
	if rank == 0 && !bellsOff {
		rand.Read(key[:]) // never fails (crypto/rand since Go 1.24)
		key[0] |= 1
		if os.Mkdir(bellDir(key), 0o700) != nil {
			key = [8]byte{}
		}
	}
	if rank == 0 && key != [8]byte{} {
		defer os.RemoveAll(bellDir(key))
	}
	if err := comm.Bcast(key[:], 0); err != nil {
		return bells{}, fmt.Errorf("bells: %w", err)
	}
	if key == [8]byte{} {
		return bells{}, nil
	}
	name := func(r int) string { return filepath.Join(bellDir(key), strconv.Itoa(r)) }
	own, ownErr := mapPage(name(rank), true)
	if ownErr == nil {
		k.use(own)
	}
	if err := comm.Barrier(); err != nil {
		return bells{}, fmt.Errorf("bells: %w", err)
	}
	peers := []int{0}
	if rank == 0 {
		peers = make([]int, 0, size-1)
		for r := 1; r < size; r++ {
			peers = append(peers, r)
		}
	}
	for _, r := range peers {
		page, err := mapPage(name(r), false)
		if err != nil {
			continue // on another host, or without a page of its own
		}
		if bs.of == nil {
			bs.of = make([]bell, size)
		}
		bs.of[r] = bell{(*atomic.Uint32)(unsafe.Pointer(&page[0]))}
		(*atomic.Uint32)(unsafe.Pointer(&page[ringersAt])).Add(1)
	}
	if err := comm.Barrier(); err != nil {
		return bells{}, fmt.Errorf("bells: %w", err)
	}
	if ownErr == nil {
		bs.ringers = int(k.ringers.Load())
		bs.all = bs.ringers == len(peers)
	}
	return bs, nil
}

// bellDir is the job's directory of pages.
func bellDir(key [8]byte) string { return "/dev/shm/mw-" + hex.EncodeToString(key[:]) }

// mapPage maps the page in file path: a new file, its page reserved (a page of tmpfs is
// only allocated when first written, and a full /dev/shm would then kill the process with
// SIGBUS), when create is set; else an existing one, which must be a regular file of this
// user at least a page long.
func mapPage(path string, create bool) (page []byte, err error) {
	flags := os.O_RDWR | syscall.O_NOFOLLOW
	if create {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if create {
		defer func() {
			if err != nil {
				os.Remove(path)
			}
		}()
		if err := unix.Fallocate(int(f.Fd()), 0, 0, pageSize); err != nil {
			return nil, fmt.Errorf("reserve %s: %w", path, err)
		}
	} else {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return nil, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < pageSize || int(st.Uid) != os.Geteuid() {
			return nil, fmt.Errorf("%s: not a page of this user's", path)
		}
	}
	return unix.Mmap(int(f.Fd()), 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}
