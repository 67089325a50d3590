package mpi_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mw-hpc/mw/internal/mpitest"
	"github.com/mw-hpc/mw/internal/mpitest/mpirun"
	"github.com/mw-hpc/mw/mpi"
)

// TestLostState: a rank killed, aborted or ended non-zero is lost; one that ended with
// status 0 (after MPI_Finalize or without it), one running, one ending is not.
func TestLostState(t *testing.T) {
	for s, want := range map[uint8]bool{
		0: false, 2: false, 5: false, 6: false, // unknown or ending, launching, running, connected
		20: false, 55: false, // ended after MPI_Finalize, ended with 0 without it
		51: true, 52: true, 53: true, 54: true, 58: true, 62: true, 63: true, // killed, aborted, by a signal, non-zero...
	} {
		if got := mpi.LostState(s); got != want {
			t.Errorf("lostState(%d) = %v, want %v", s, got, want)
		}
	}
}

// TestWatchPause: the watch asks every interval, less often where every recent query was
// slow (a large job), but not after one slowed down (a busy machine).
func TestWatchPause(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		took []time.Duration
		want time.Duration
	}{
		{nil, 250 * ms},
		{[]time.Duration{ms / 2, 2 * ms}, 250 * ms},
		{[]time.Duration{ms, ms, 60 * ms}, 250 * ms},
		{[]time.Duration{20 * ms, 30 * ms, 20 * ms}, time.Second},
		{[]time.Duration{ms, 20 * ms, 20 * ms, 20 * ms, 20 * ms, 20 * ms, 20 * ms, 20 * ms, 20 * ms}, time.Second}, // the fast one is 8 queries old
	} {
		if got := mpi.WatchPause(250*ms, tt.took...); got != tt.want {
			t.Errorf("after queries of %v: pause %v, want %v", tt.took, got, tt.want)
		}
	}
}

// TestWatchLostRefused: WatchLost needs MPI running, and Open MPI.
func TestWatchLostRefused(t *testing.T) {
	if mpi.IsOn() {
		t.Skip("MPI runs in this process")
	}
	_, err := mpi.WatchLost(time.Second, func(int) {})
	want := mpi.ErrNotRunning
	if mpi.Implementation() != mpi.OpenMPI {
		want = mpi.ErrNoNotice
	}
	if !errors.Is(err, want) {
		t.Errorf("WatchLost before Start: %v, want %v", err, want)
	}
}

// TestPMIxABI: mw_pmix.h's types and constants are PMIx's, where pmix.h is installed.
func TestPMIxABI(t *testing.T) {
	flags, err := exec.Command("pkg-config", "--cflags", "pmix").Output()
	if err != nil {
		t.Skip("no pmix.h (pkg-config pmix) to compare with")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	bin := filepath.Join(t.TempDir(), "pmixabi")
	args := append(strings.Fields(string(flags)), "-I.", "-o", bin, filepath.Join("testdata", "pmixabi.c"))
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %v: %v\n%s", args, err, out)
	}
	if out, err := exec.Command(bin).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
}

// TestMPIWatchLost (every rank, under plain mpirun): the watch starts under Open MPI and
// reports no live rank; a second one is refused; stop may be called twice. Elsewhere it is
// refused with ErrNoNotice.
func TestMPIWatchLost(t *testing.T) {
	mpitest.Inner(t)
	var mu sync.Mutex
	var lost []int
	stop, err := mpi.WatchLost(5*time.Millisecond, func(r int) { mu.Lock(); lost = append(lost, r); mu.Unlock() })
	if mpi.Implementation() != mpi.OpenMPI {
		if !errors.Is(err, mpi.ErrNoNotice) {
			t.Errorf("WatchLost under %v: %v, want ErrNoNotice", mpi.Implementation(), err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mpi.WatchLost(time.Second, func(int) {}); err == nil {
		t.Error("a second watch started")
	}
	if err := mpi.World().Barrier(); err != nil { // time for a few queries
		t.Fatal(err)
	}
	stop()
	stop()
	if len(lost) > 0 {
		t.Errorf("live ranks reported lost: %v", lost)
	}
	again, err := mpi.WatchLost(time.Second, func(int) {})
	if err != nil {
		t.Fatalf("a watch after the first stopped: %v", err)
	}
	again()
}

const envWatchKill = "MW_TEST_WATCH_KILL"

// TestWatchLostKilledRank: under mpirun --enable-recovery -np 3, rank 1 ends with status 0
// without MPI_Finalize and is not reported; rank 2 is then SIGKILLed, and rank 0's watch
// reports it (TestRanksWatchKill in each rank). mpirun exits 0 whatever its ranks do: rank
// 0's line says how the watch went.
func TestWatchLostKilledRank(t *testing.T) {
	l := mpirun.Current()
	if mpi.Implementation() != mpi.OpenMPI {
		t.Skipf("built against %v: no launcher's notice", mpi.Implementation())
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), mpitest.DefaultTimeout)
	defer cancel()
	args := append([]string{"--enable-recovery"}, l.Args(3, mpirun.Options{Unbound: true, Export: []string{"MW_MPITEST", envWatchKill}})...)
	args = append(args, exe, "-test.run", "^TestRanksWatchKill$", "-test.v")
	cmd := exec.CommandContext(ctx, l.Command, args...)
	cmd.Env = l.Env(append(os.Environ(), "MW_MPITEST=1", envWatchKill+"=1"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("mpirun %v: still running after %v\n%s", args, mpitest.DefaultTimeout, out.Bytes())
	}
	if err != nil || !strings.Contains(out.String(), "watch: lost [2]\n") {
		t.Fatalf("mpirun %v: %v\n%s", args, err, out.Bytes())
	}
	t.Logf("%s", out.Bytes())
}

// TestRanksWatchKill is TestWatchLostKilledRank's inner part. The ranks end without
// MPI_Finalize (it may wait for the killed rank).
func TestRanksWatchKill(t *testing.T) {
	if os.Getenv(envWatchKill) != "1" || !mpi.IsOn() {
		t.Skip("runs under TestWatchLostKilledRank only")
	}
	w := mpi.World()
	if err := w.Barrier(); err != nil {
		t.Fatal(err)
	}
	switch w.Rank() {
	case 1:
		var pid [8]byte
		binary.LittleEndian.PutUint64(pid[:], uint64(os.Getpid()))
		if err := w.Send(pid[:], 0, 1); err != nil {
			t.Fatal(err)
		}
		os.Exit(0)
	case 2:
		if _, _, err := w.Recv(0, 2); err != nil {
			t.Fatal(err)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	fmt.Println("watch: lost", watchKill(t, w))
	os.Exit(0)
}

// watchKill is rank 0's part: it watches, waits for rank 1's end, tells rank 2 to die, and
// returns the ranks reported once rank 2 is.
func watchKill(t *testing.T, w *mpi.Communicator) string {
	reported := make(chan int, 3)
	stop, err := mpi.WatchLost(10*time.Millisecond, func(r int) { reported <- r })
	if err != nil {
		return err.Error()
	}
	defer stop()
	b, _, err := w.Recv(1, 1)
	if err != nil {
		return err.Error()
	}
	pid := int(binary.LittleEndian.Uint64(b))
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil { // until mpirun has reaped rank 1
		if time.Now().After(deadline) {
			return "rank 1 did not end"
		}
		time.Sleep(time.Millisecond)
	}
	if err := w.Send(nil, 2, 2); err != nil {
		return err.Error()
	}
	sent := time.Now()
	var lost []int
	for len(lost) == 0 || lost[len(lost)-1] != 2 {
		select {
		case r := <-reported:
			lost = append(lost, r)
		case <-time.After(30 * time.Second):
			return fmt.Sprintf("no notice of rank 2 in 30 s; reported %v", lost)
		}
	}
	t.Logf("rank 2 reported %v after it was told to die", time.Since(sent))
	return fmt.Sprint(lost)
}

// TestAbandonKeepsBuffer: an abandoned Request keeps its pinned buffer for good (MPI may
// still use it), and the runtime does not panic over a pinned Pinner dropped; a buffer
// without a Request is collected meanwhile.
func TestAbandonKeepsBuffer(t *testing.T) {
	kept, freed := make(chan struct{}), make(chan struct{})
	func() {
		buf, other := make([]byte, 4096), make([]byte, 4096)
		runtime.AddCleanup(&buf[0], func(c chan struct{}) { close(c) }, kept)
		runtime.AddCleanup(&other[0], func(c chan struct{}) { close(c) }, freed)
		mpi.PinnedRequest(buf).Abandon()
	}()
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		runtime.GC()
		select {
		case <-freed:
			done = true
		case <-deadline:
			t.Fatal("the buffer without a Request was not collected in 10 s")
		case <-time.After(10 * time.Millisecond):
		}
	}
	runtime.GC()
	select {
	case <-kept:
		t.Fatal("the abandoned Request's buffer was collected")
	case <-time.After(50 * time.Millisecond):
	}
}
