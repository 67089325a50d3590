package mpi_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mw-hpc/mw/internal/mpitest"
	"github.com/mw-hpc/mw/internal/mpitest/mpirun"
	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
)

// eagerDefault makes TestMain raise the shared-memory eager limit with SetParamDefault before
// MPI starts (TestSetParamDefaultTakesEffect passes it to its ranks).
var eagerDefault = flag.Bool("eager-default", false, "set btl_<shared memory BTL>_eager_limit to 32768 with mpi.SetParamDefault before MPI starts")

func TestMain(m *testing.M) {
	flag.Parse()
	if *eagerDefault {
		if _, err := mpi.SetParamDefault(eagerParam(), "32768"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(mpitest.Main(m))
}

// eagerParam is the shared-memory transport's eager limit.
func eagerParam() string { return "btl_" + mpi.SharedMemoryBTL() + "_eager_limit" }

// TestSetParamDefaultTakesEffect: with Open MPI's default eager limit (4 KiB) a 16 KiB send
// cannot complete before the receiver matches it (rendezvous); with SetParamDefault's 32 KiB
// before Start, it completes (eager) while the receiver is still in a barrier, as soon as
// the receiver's progress hands the fragment back.
func TestSetParamDefaultTakesEffect(t *testing.T) {
	if mpi.Implementation() != mpi.OpenMPI {
		t.Skipf("MCA parameters are Open MPI's; built against %v (TestSetParamDefault checks it sets nothing)", mpi.Implementation())
	}
	if _, ok := os.LookupEnv("OMPI_MCA_" + eagerParam()); ok {
		t.Skipf("the environment sets OMPI_MCA_%s", eagerParam())
	}
	t.Run("default", func(t *testing.T) { mpitest.Run(t, 2, "TestRanksEagerSend") })
	t.Run("set", func(t *testing.T) { mpitest.Run(t, 2, "TestRanksEagerSend", "-eager-default") })
}

// TestRanksEagerSend is TestSetParamDefaultTakesEffect's inner test: rank 1 sends 16 KiB and
// tests it before rank 0, waiting in a barrier, receives it: 10,000 times at Open MPI's
// eager limit (it cannot complete: no count makes it), until done with the raised limit
// (which needs rank 0's progress, however late it comes under load; the deadline only ends
// a send that never completes).
func TestRanksEagerSend(t *testing.T) {
	mpitest.Inner(t)
	if _, err := mpi.SetParamDefault("mw_test_param", "1"); err == nil {
		t.Error("SetParamDefault after Start: no error")
	}
	w := mpi.World()
	msg := fill(16<<10, 3)
	if w.Rank() == 1 {
		req, err := w.Isend(msg, 0, 7)
		if err != nil {
			t.Fatal(err)
		}
		done := false
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; !done && (i < 10000 || *eagerDefault && time.Now().Before(deadline)); i++ {
			if done, err = req.Test(); err != nil {
				t.Fatal(err)
			}
		}
		if done != *eagerDefault {
			t.Errorf("16 KiB send done before the receiver matched it: %v; want %v (eager limit set: %v)", done, *eagerDefault, *eagerDefault)
		}
		if err := w.Barrier(); err != nil {
			t.Fatal(err)
		}
		if _, err := req.Wait(); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := w.Barrier(); err != nil {
		t.Fatal(err)
	}
	if w.Rank() == 0 {
		got, _, err := w.RecvFixed(make([]byte, len(msg)), 1, 7)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Error("rank 0 received other bytes than rank 1 sent")
		}
	}
}

// TestSetParamDefault: the environment's value wins; otherwise the default is set. Built
// against another MPI than Open MPI, nothing is set. (TestRanksEagerSend checks that it is
// refused after Start.)
func TestSetParamDefault(t *testing.T) {
	const key = "OMPI_MCA_mw_test_param"
	t.Setenv(key, "user")
	if set, err := mpi.SetParamDefault("mw_test_param", "mw"); set || err != nil || os.Getenv(key) != "user" {
		t.Errorf("with %s=user: set %v, err %v, now %q", key, set, err, os.Getenv(key))
	}
	os.Unsetenv(key) // t.Setenv restores it at the end
	set, err := mpi.SetParamDefault("mw_test_param", "mw")
	if mpi.Implementation() != mpi.OpenMPI {
		if _, ok := os.LookupEnv(key); set || err != nil || ok {
			t.Errorf("built against %v: set %v, err %v, %s set: %v", mpi.Implementation(), set, err, key, ok)
		}
		return
	}
	if !set || err != nil || os.Getenv(key) != "mw" {
		t.Errorf("unset: set %v, err %v, now %q", set, err, os.Getenv(key))
	}
}

// TestImplementation: the build tag chose the MPI the test launcher belongs to, and the
// library describes itself before MPI starts (and in every rank: TestMPILibraryVersion).
func TestImplementation(t *testing.T) {
	impl, l := mpi.Implementation(), mpirun.Current()
	if impl.String() != l.MPI {
		t.Errorf("built against %v; this build's tags (%q) select %s", impl, l.Tags, l.MPI)
	}
	checkLibraryVersion(t)
	major, minor, release := mpi.Version()
	t.Logf("%v %d.%d.%d; library: %.60q", impl, major, minor, release, mpi.LibraryVersion())
	if major < 3 {
		t.Errorf("Version() = %d.%d.%d: MPI-3 calls need Open MPI 1.7+ or MPICH 3+", major, minor, release)
	}
	wantBTL := map[mpi.Impl]string{mpi.OpenMPI: "vader", mpi.MPICH: ""}[impl]
	if major >= 5 && impl == mpi.OpenMPI {
		wantBTL = "sm"
	}
	if got := mpi.SharedMemoryBTL(); got != wantBTL {
		t.Errorf("SharedMemoryBTL() = %q, want %q", got, wantBTL)
	}
}

// checkLibraryVersion: LibraryVersion names the implementation it was built against, in
// text (without the NUL Open MPI counts in its length).
func checkLibraryVersion(t *testing.T) {
	v := mpi.LibraryVersion()
	if want := map[mpi.Impl]string{mpi.OpenMPI: "Open MPI", mpi.MPICH: "MPICH"}[mpi.Implementation()]; !strings.Contains(v, want) || strings.ContainsRune(v, 0) {
		t.Errorf("LibraryVersion() = %.80q, want it to name %q", v, want)
	}
}

// TestErrorMsg: an error is one line, the class's name first, under either MPI's texts.
func TestErrorMsg(t *testing.T) {
	for _, tt := range []struct{ class, text, want string }{
		{"MPI_ERR_RANK", "MPI_ERR_RANK: invalid rank", "MPI_ERR_RANK: invalid rank"},
		{"MPI_ERR_RANK", "Invalid rank, error stack:\ninternal_Send(120): MPI_Send(buf=0x55, count=1, MPI_BYTE, 99, 0, MPI_COMM_WORLD) failed\ninternal_Send(78).: Invalid rank has value 99 but must be nonnegative and less than 1",
			"MPI_ERR_RANK: Invalid rank has value 99 but must be nonnegative and less than 1"},
		{"MPI_ERR_OTHER", "Other MPI error", "MPI_ERR_OTHER: Other MPI error"},
		{"", "something odd", "something odd"},
		{"MPI_ERR_TAG", "", "MPI_ERR_TAG"},
		{"", "", "MPI error code 77"},
	} {
		if got := mpi.ErrorMsg(tt.class, tt.text, 77); got != tt.want {
			t.Errorf("ErrorMsg(%q, %q) = %q, want %q", tt.class, tt.text, got, tt.want)
		}
	}
}

// TestUnderMpirun runs the inner tests (TestMPI*) under mpirun with 2, 3 and 4 ranks.
func TestUnderMpirun(t *testing.T) {
	for _, np := range []int{2, 3, 4} {
		t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) {
			mpitest.Run(t, np, "TestMPI.*")
		})
	}
}

// fill returns n bytes that differ with seed and position.
func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7+i>>8)
	}
	return b
}

const mib = 1 << 20

var sizes = []struct {
	name string
	n    int
}{{"0B", 0}, {"1B", 1}, {"1MiB", mib}}

// Tests that need no MPI, in the ordinary go test process.

func TestThreadLevelString(t *testing.T) {
	for _, tt := range []struct {
		l    mpi.ThreadLevel
		want string
	}{
		{mpi.ThreadSingle, "MPI_THREAD_SINGLE"},
		{mpi.ThreadFunneled, "MPI_THREAD_FUNNELED"},
		{mpi.ThreadSerialized, "MPI_THREAD_SERIALIZED"},
		{mpi.ThreadMultiple, "MPI_THREAD_MULTIPLE"},
		{mpi.ThreadLevel(9), "ThreadLevel(9)"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.l.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNotRunning(t *testing.T) {
	if mpitest.Under() {
		t.Skip("MPI is running in this process")
	}
	if mpi.IsOn() || mpi.WorldRank() != 0 || mpi.WorldSize() != 1 {
		t.Fatalf("before Start: IsOn=%v WorldRank=%d WorldSize=%d", mpi.IsOn(), mpi.WorldRank(), mpi.WorldSize())
	}
	w := mpi.World()
	if w.Rank() != 0 || w.Size() != 1 {
		t.Errorf("World before Start: rank %d size %d, want 0 1", w.Rank(), w.Size())
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"MPI_Send", func() error { return w.Send([]byte("x"), 0, 0) }},
		{"MPI_Mprobe", func() error { _, _, err := w.Recv(0, 0); return err }},
		{"MPI_Improbe", func() error { _, _, _, err := w.TryRecv(nil, 0, 0); return err }},
		{"MPI_Recv", func() error { _, _, err := w.RecvFixed(nil, 0, 0); return err }},
		{"MPI_Iprobe", func() error { _, _, err := w.Iprobe(0, 0); return err }},
		{"MPI_Isend", func() error { _, err := w.Isend(nil, 0, 0); return err }},
		{"MPI_Isend", func() error { _, err := w.IsendTest(new(mpi.Request), nil, 0, 0); return err }},
		{"MPI_Bcast", func() error { return w.Bcast(nil, 0) }},
		{"MPI_Barrier", func() error { return w.Barrier() }},
		{"MPI_Abort", func() error { return w.Abort(3) }},
		{"MPI_Finalize", mpi.Stop},
		{"MPI_Get_processor_name", func() error { _, err := mpi.Processor(); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, mpi.ErrNotRunning) || !strings.Contains(err.Error(), "mpi: "+c.name+": ") {
				t.Errorf("err = %v, want ErrNotRunning naming %s", err, c.name)
			}
		})
	}
	if _, err := mpi.Start(mpi.ThreadLevel(7)); err == nil {
		t.Error("Start(ThreadLevel(7)) did not fail")
	}
}

func ExampleThreadLevel_String() {
	fmt.Println(mpi.ThreadFunneled)
	// Output: MPI_THREAD_FUNNELED
}

// Example shows the shape of a program: one goroutine, locked to its OS thread, makes every
// MPI call. Run it with `mpirun -np 2`.
func Example() {
	// In main, or in func init() { runtime.LockOSThread() }:
	// runtime.LockOSThread()
	if _, err := mpi.Start(mpi.ThreadFunneled); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer mpi.Stop()
	w := mpi.World()
	switch w.Rank() {
	case 0:
		if err := w.Send([]byte("hello"), 1, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	case 1:
		msg, st, err := w.Recv(mpi.AnySource, mpi.AnyTag)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		fmt.Printf("%q from rank %d\n", msg, st.Source)
	}
}

// Inner tests, in every rank under mpirun.

func TestMPIStart(t *testing.T) {
	mpitest.Inner(t)
	g := mpitest.Granted()
	t.Logf("granted %v", g)
	if g < mpi.ThreadSerialized {
		t.Errorf("granted %v, asked for %v", g, mpi.ThreadSerialized)
	}
	if !mpi.IsOn() {
		t.Error("IsOn() = false")
	}
	l := launch.FromEnv()
	w := mpi.World()
	if mpi.WorldRank() != l.Rank || w.Rank() != l.Rank || mpi.WorldSize() != l.Size || w.Size() != l.Size {
		t.Errorf("WorldRank %d, World().Rank %d, WorldSize %d, World().Size %d; the launcher (%v) says rank %d of %d",
			mpi.WorldRank(), w.Rank(), mpi.WorldSize(), w.Size(), l.By, l.Rank, l.Size)
	}
	if _, err := mpi.Start(mpi.ThreadSingle); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Errorf("second Start: err = %v, want already started", err)
	}
	if p, err := mpi.Processor(); err != nil || p == "" {
		t.Errorf("Processor() = %q, %v", p, err)
	}
	checkLibraryVersion(t)
}

func TestMPISendRecv(t *testing.T) {
	mpitest.Inner(t)
	w := mpi.World()
	for i, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			tag := 100 + i
			want := fill(sz.n, byte(i))
			switch w.Rank() {
			case 0:
				// Send, then get it back three ways.
				for _, how := range []string{"Recv", "RecvInto small", "RecvInto big", "RecvFixed"} {
					if err := w.Send(want, 1, tag); err != nil {
						t.Fatal(err)
					}
					var got []byte
					var st mpi.Status
					var err error
					switch how {
					case "Recv":
						got, st, err = w.Recv(1, tag)
					case "RecvInto small":
						got, st, err = w.RecvInto(make([]byte, 0, sz.n/2), 1, tag)
					case "RecvInto big":
						buf := make([]byte, 3, sz.n+10)
						got, st, err = w.RecvInto(buf, 1, tag)
						if err == nil && sz.n > 0 && &got[0] != &buf[:1][0] {
							t.Errorf("RecvInto with room for the message did not reuse buf")
						}
					case "RecvFixed":
						buf := make([]byte, sz.n+10)
						got, st, err = w.RecvFixed(buf, 1, tag)
						if err == nil && sz.n > 0 && &got[0] != &buf[0] {
							t.Errorf("RecvFixed did not receive into buf")
						}
					}
					if err != nil {
						t.Fatalf("%s: %v", how, err)
					}
					if st != (mpi.Status{Source: 1, Tag: tag, Count: sz.n}) {
						t.Errorf("%s: status %+v", how, st)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s: got %d bytes back, want the %d sent", how, len(got), len(want))
					}
				}
			case 1:
				for range 4 {
					got, st, err := w.Recv(0, tag)
					if err != nil {
						t.Fatal(err)
					}
					if st != (mpi.Status{Source: 0, Tag: tag, Count: sz.n}) || !bytes.Equal(got, want) {
						t.Errorf("got %d bytes, status %+v; want %d bytes from 0", len(got), st, sz.n)
					}
					if err := w.Send(got, 0, tag); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

func TestMPIAnySource(t *testing.T) {
	mpitest.Inner(t)
	w := mpi.World()
	if w.Size() < 3 {
		t.Skip("needs 3 ranks")
	}
	// Different lengths, one eager and one rendezvous, so a mix-up shows.
	length := map[int]int{1: 1000, 2: 70000}
	const tag = 200
	switch r := w.Rank(); r {
	case 0:
		seen := map[int]bool{}
		buf := make([]byte, 0, 4096) // fits rank 1's message only
		for range 2 {
			got, st, err := w.RecvInto(buf, mpi.AnySource, mpi.AnyTag)
			if err != nil {
				t.Fatal(err)
			}
			if seen[st.Source] || length[st.Source] == 0 {
				t.Fatalf("unexpected message from rank %d (seen %v)", st.Source, seen)
			}
			seen[st.Source] = true
			if st.Tag != tag || st.Count != length[st.Source] || !bytes.Equal(got, fill(length[st.Source], byte(st.Source))) {
				t.Errorf("from rank %d: %d bytes, status %+v; want %d bytes of its pattern", st.Source, len(got), st, length[st.Source])
			}
		}
	case 1, 2:
		if err := w.Send(fill(length[r], byte(r)), 0, tag); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMPIIsend(t *testing.T) {
	mpitest.Inner(t)
	w := mpi.World()
	for i, how := range []string{"Wait", "Test"} {
		t.Run(how, func(t *testing.T) {
			tag := 300 + i
			want := fill(mib, byte(10+i))
			switch w.Rank() {
			case 0:
				req, err := w.Isend(want, 1, tag)
				if err != nil {
					t.Fatal(err)
				}
				if how == "Wait" {
					if _, err := req.Wait(); err != nil {
						t.Fatal(err)
					}
				} else {
					deadline := time.Now().Add(20 * time.Second)
					for {
						done, err := req.Test()
						if err != nil {
							t.Fatal(err)
						}
						if done {
							break
						}
						if time.Now().After(deadline) {
							t.Fatal("Isend not done after 20s")
						}
					}
				}
				// A completed request stays completed.
				if done, err := req.Test(); !done || err != nil {
					t.Errorf("Test after completion = %v, %v", done, err)
				}
				if _, err := req.Wait(); err != nil {
					t.Errorf("Wait after completion: %v", err)
				}
				// And an empty one.
				req, err = w.Isend(nil, 1, tag)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := req.Wait(); err != nil {
					t.Fatal(err)
				}
			case 1:
				got, st, err := w.Recv(0, tag)
				if err != nil {
					t.Fatal(err)
				}
				if st.Count != mib || !bytes.Equal(got, want) {
					t.Errorf("got %d bytes (status %+v), want the 1 MiB sent", len(got), st)
				}
				if got, _, err = w.Recv(0, tag); err != nil || len(got) != 0 {
					t.Errorf("empty Isend: got %d bytes, %v", len(got), err)
				}
			}
		})
	}
}

// TestMPIIsendTest: one Request serves send after send; a send MPI cannot finish before
// its receiver is there (1 MiB, sent in rendezvous) is left to Wait, and meanwhile the
// Request refuses another send.
func TestMPIIsendTest(t *testing.T) {
	mpitest.Inner(t)
	w := mpi.World()
	const tag = 350
	small, big := fill(8, 7), fill(mib, 8)
	switch w.Rank() {
	case 0:
		r := new(mpi.Request)
		for _, msg := range [][]byte{small, big} {
			done, err := w.IsendTest(r, msg, 1, tag)
			if err != nil {
				t.Fatal(err)
			}
			if len(msg) == mib {
				if done {
					t.Fatal("1 MiB send done before its receiver called MPI")
				}
				if _, err := w.IsendTest(r, small, 1, tag); err == nil || !strings.Contains(err.Error(), "still in use") {
					t.Errorf("IsendTest on a Request in use: %v, want an error", err)
				}
			}
			if err := w.Barrier(); err != nil { // the receiver starts after each send
				t.Fatal(err)
			}
			if !done {
				if _, err := r.Wait(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if done, err := w.IsendTest(r, nil, 1, tag); err != nil {
			t.Fatal(err)
		} else if !done {
			if _, err := r.Wait(); err != nil {
				t.Fatal(err)
			}
		}
	case 1:
		for _, want := range [][]byte{small, big} {
			if err := w.Barrier(); err != nil {
				t.Fatal(err)
			}
			got, _, err := w.Recv(0, tag)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("got %d bytes, %v; want the %d sent", len(got), err, len(want))
			}
		}
		if got, _, err := w.Recv(0, tag); err != nil || len(got) != 0 {
			t.Errorf("empty IsendTest: got %d bytes, %v", len(got), err)
		}
	default:
		for range 2 {
			if err := w.Barrier(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestMPISmallSendsAreCopied: a send of up to SendCopy bytes leaves the caller's buffer
// free when IsendTest returns, done or not. Rank 0 sends 2,000 such messages from one
// buffer, rewriting it after each, while rank 1 does not receive yet (it sleeps first, so
// that its queue fills and Open MPI holds later sends back: those would go out from the
// rewritten buffer, were it not a copy); rank 1 then finds each message as sent.
func TestMPISmallSendsAreCopied(t *testing.T) {
	mpitest.Inner(t)
	w := mpi.World()
	const tag, n = 360, 2000
	msg := func(i int, b []byte) []byte {
		for k := range b {
			b[k] = byte(i + k)
		}
		return b
	}
	switch w.Rank() {
	case 0:
		reqs := make([]mpi.Request, n)
		buf := make([]byte, mpi.SendCopy)
		held := 0
		for i := range reqs {
			done, err := w.IsendTest(&reqs[i], msg(i, buf), 1, tag)
			if err != nil {
				t.Fatal(err)
			}
			if !done {
				held++
			}
			clear(buf)
		}
		t.Logf("%d of %d sends not done at once", held, n)
		if err := w.Barrier(); err != nil {
			t.Fatal(err)
		}
		for i := range reqs {
			if _, err := reqs[i].Wait(); err != nil {
				t.Fatal(err)
			}
		}
	case 1:
		time.Sleep(200 * time.Millisecond) // not a timing condition: see above
		if err := w.Barrier(); err != nil {
			t.Fatal(err)
		}
		want := make([]byte, mpi.SendCopy)
		for i := range n {
			got, _, err := w.Recv(0, tag)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, msg(i, want)) {
				t.Fatalf("message %d: got %v..., want %v...", i, got[:4], want[:4])
			}
		}
	default:
		if err := w.Barrier(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMPITryRecv(t *testing.T) {
	mpitest.Inner(t)
	w := mpi.World()
	const tag = 400
	buf := make([]byte, 0, 64)
	if _, _, ok, err := w.TryRecv(buf, mpi.AnySource, mpi.AnyTag); ok || err != nil {
		t.Fatalf("TryRecv with nothing pending: ok=%v err=%v", ok, err)
	}
	if ok, _, err := w.Iprobe(mpi.AnySource, mpi.AnyTag); ok || err != nil {
		t.Fatalf("Iprobe with nothing pending: ok=%v err=%v", ok, err)
	}
	if err := w.Barrier(); err != nil { // nothing is pending anywhere before rank 1 sends
		t.Fatal(err)
	}
	switch w.Rank() {
	case 0:
		want := fill(100, 40) // bigger than buf: TryRecv allocates
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, st, err := w.Iprobe(1, tag)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				if st != (mpi.Status{Source: 1, Tag: tag, Count: len(want)}) {
					t.Errorf("Iprobe status %+v", st)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no message after 20s")
			}
		}
		got, st, ok, err := w.TryRecv(buf, mpi.AnySource, tag)
		if err != nil || !ok {
			t.Fatalf("TryRecv after Iprobe saw a message: ok=%v err=%v", ok, err)
		}
		if st != (mpi.Status{Source: 1, Tag: tag, Count: len(want)}) || !bytes.Equal(got, want) {
			t.Errorf("TryRecv: %d bytes, status %+v", len(got), st)
		}
		if _, _, ok, _ := w.TryRecv(buf, mpi.AnySource, mpi.AnyTag); ok {
			t.Error("TryRecv found a second message")
		}
	case 1:
		if err := w.Send(fill(100, 40), 0, tag); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMPIBcast(t *testing.T) {
	mpitest.Inner(t)
	w := mpi.World()
	cases := append(sizes[:len(sizes):len(sizes)], struct {
		name string
		n    int
	}{"1MiB+3 in pieces of 100000", mib + 3})
	for i, sz := range cases {
		t.Run(sz.name, func(t *testing.T) {
			if strings.Contains(sz.name, "pieces") {
				defer mpi.SetBcastChunk(100000)()
			}
			root := w.Size() - 1
			want := fill(sz.n, byte(50+i))
			buf := make([]byte, sz.n)
			if w.Rank() == root {
				copy(buf, want)
			}
			if err := w.Bcast(buf, root); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, want) {
				t.Errorf("rank %d: buffer differs from root's after Bcast", w.Rank())
			}
		})
	}
	if err := w.Bcast(nil, 0); err != nil {
		t.Errorf("Bcast(nil): %v", err)
	}
}

func TestMPIBarrier(t *testing.T) {
	mpitest.Inner(t)
	for range 3 {
		if err := mpi.World().Barrier(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMPIErrors(t *testing.T) {
	mpitest.Inner(t)
	w := mpi.World()
	calls := []struct {
		name, call, class string
		do                func() error
	}{
		{"Send to rank 99", "MPI_Send", "MPI_ERR_RANK", func() error { return w.Send([]byte("x"), 99, 0) }},
		{"Send with tag -5", "MPI_Send", "MPI_ERR_TAG", func() error { return w.Send(nil, 0, -5) }},
		{"Isend to rank 99", "MPI_Isend", "MPI_ERR_RANK", func() error { _, err := w.Isend([]byte("x"), 99, 0); return err }},
		{"Recv from rank 99", "MPI_Mprobe", "MPI_ERR_RANK", func() error { _, _, err := w.Recv(99, 0); return err }},
		{"TryRecv from rank 99", "MPI_Improbe", "MPI_ERR_RANK", func() error { _, _, _, err := w.TryRecv(nil, 99, 0); return err }},
		{"RecvFixed from rank 99", "MPI_Recv", "MPI_ERR_RANK", func() error { _, _, err := w.RecvFixed(nil, 99, 0); return err }},
		{"RecvFixed of 10 bytes into 4", "MPI_Recv", "MPI_ERR_TRUNCATE", func() error {
			if err := w.Send(make([]byte, 10), w.Rank(), 77); err != nil {
				return err
			}
			_, _, err := w.RecvFixed(make([]byte, 4), w.Rank(), 77)
			return err
		}},
		{"Iprobe from rank 99", "MPI_Iprobe", "MPI_ERR_RANK", func() error { _, _, err := w.Iprobe(99, 0); return err }},
		{"Bcast from root 99", "MPI_Bcast", "MPI_ERR_ROOT", func() error { return w.Bcast(make([]byte, 4), 99) }},
		{"Send to rank 1<<40", "MPI_Send", "MPI_ERR_RANK", func() error { return w.Send(nil, 1<<40, 0) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			var me *mpi.Error
			if !errors.As(err, &me) || me.Call != c.call {
				t.Fatalf("err = %v, want an *mpi.Error from %s", err, c.call)
			}
			t.Log(err)
			if want := "mpi: " + c.call + ": " + c.class; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q, want one line starting %q", err, want)
			}
		})
	}
}

// TestMPIAllocs checks that the hot path allocates nothing: sends to self, received with
// RecvInto and TryRecv into a buffer with room.
func TestMPIAllocs(t *testing.T) {
	mpitest.Inner(t)
	w := mpi.World()
	me := w.Rank()
	const tag = 500
	out := fill(8, 1)
	buf := make([]byte, 64)
	var err error
	allocs := testing.AllocsPerRun(100, func() {
		if err = w.Send(out, me, tag); err != nil {
			return
		}
		if _, _, err = w.RecvInto(buf, me, tag); err != nil {
			return
		}
		if err = w.Send(out, me, tag); err != nil {
			return
		}
		if _, _, _, err = w.TryRecv(buf, me, tag); err != nil {
			return
		}
		_, _, _, err = w.TryRecv(buf, me, tag)
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per Send+RecvInto+Send+TryRecv+TryRecv, want 0", allocs)
	}
	r := new(mpi.Request)
	allocs = testing.AllocsPerRun(100, func() {
		var done bool
		if done, err = w.IsendTest(r, out, me, tag); err != nil {
			return
		}
		if _, _, err = w.RecvInto(buf, me, tag); err != nil || done {
			return
		}
		_, err = r.Wait()
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per IsendTest+RecvInto with a Request used again, want 0", allocs)
	}
}

// Benchmarks of the hot path, in one rank sending to itself. They run only in a rank:
//
//	go test -c -o /tmp/mpi.test ./mpi
//	MW_MPITEST=1 mpirun -np 1 /tmp/mpi.test -test.run '^$' -test.bench . -test.benchmem

func BenchmarkMPISendRecvInto8(b *testing.B)          { benchSendRecv(b, 8) }
func BenchmarkMPIIsendRecvIntoWait44032(b *testing.B) { benchIsendRecv(b, 44032) }
func BenchmarkMPITryRecvNone(b *testing.B)            { benchTryRecvNone(b) }

// benchSendRecv sends n bytes to this rank and receives them with RecvInto, b.N times. n
// must be small enough for MPI to send eagerly, or Send waits for a receive forever.
func benchSendRecv(b *testing.B, n int) {
	mpitest.Inner(b)
	b.ReportAllocs()
	w := mpi.World()
	buf := make([]byte, n)
	b.SetBytes(int64(n))
	for b.Loop() {
		if err := w.Send(buf, w.Rank(), 600); err != nil {
			b.Fatal(err)
		}
		if _, _, err := w.RecvInto(buf, w.Rank(), 600); err != nil {
			b.Fatal(err)
		}
	}
}

// benchIsendRecv sends n bytes to this rank with Isend, receives them with RecvInto and
// waits for the send, b.N times.
func benchIsendRecv(b *testing.B, n int) {
	mpitest.Inner(b)
	b.ReportAllocs()
	w := mpi.World()
	out, in := make([]byte, n), make([]byte, n)
	b.SetBytes(int64(n))
	for b.Loop() {
		req, err := w.Isend(out, w.Rank(), 602)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := w.RecvInto(in, w.Rank(), 602); err != nil {
			b.Fatal(err)
		}
		if _, err := req.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTryRecvNone polls with TryRecv when nothing is pending, b.N times.
func benchTryRecvNone(b *testing.B) {
	mpitest.Inner(b)
	b.ReportAllocs()
	w := mpi.World()
	buf := make([]byte, 64)
	for b.Loop() {
		if _, _, ok, err := w.TryRecv(buf, mpi.AnySource, 601); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
