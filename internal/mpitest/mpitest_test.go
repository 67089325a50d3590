package mpitest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestMPIHello is an inner test: every rank checks that MPI agrees with its launcher.
func TestMPIHello(t *testing.T) {
	Inner(t)
	if !Under() {
		t.Fatal("Under() = false in a rank started by a launcher")
	}
	l := launch.FromEnv()
	if mpi.WorldSize() != l.Size || mpi.WorldRank() != l.Rank {
		t.Errorf("rank %d of %d, the launcher (%v) says %d of %d", mpi.WorldRank(), mpi.WorldSize(), l.By, l.Rank, l.Size)
	}
	if Granted() < mpi.ThreadSerialized {
		t.Errorf("granted %v", Granted())
	}
}

// TestMPIDeliberateFailure fails on rank 1 when MW_MPITEST_FAIL=1 (set by TestRunFails).
func TestMPIDeliberateFailure(t *testing.T) {
	Inner(t)
	if os.Getenv("MW_MPITEST_FAIL") != "1" {
		t.Skip("only for TestRunFails")
	}
	if mpi.WorldRank() == 1 {
		t.Error("deliberate failure on rank 1")
		return
	}
	// Rank 0 waits for a message rank 1 never sends: only the abort can end it.
	if _, _, err := mpi.World().Recv(1, 7); err != nil {
		t.Error(err)
	}
}

// TestMPIHang blocks rank 0 forever when MW_MPITEST_HANG=1 (set by TestRunDeadline).
func TestMPIHang(t *testing.T) {
	Inner(t)
	if os.Getenv("MW_MPITEST_HANG") != "1" {
		t.Skip("only for TestRunDeadline")
	}
	if mpi.WorldRank() == 0 {
		_, _, _ = mpi.World().Recv(1, 7)
	}
}

func TestUnder(t *testing.T) {
	if inner() {
		t.Skip("outer test")
	}
	if Under() {
		t.Error("Under() = true outside mpirun")
	}
	// As in a Slurm batch script.
	for _, v := range []string{"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("SLURM_PROCID", "0")
	t.Setenv("SLURM_NTASKS", "3")
	if Under() {
		t.Error("Under() = true in a Slurm batch script")
	}
	t.Setenv("PMI_RANK", "0")
	t.Setenv("PMI_SIZE", "1")
	if !Under() {
		t.Error("Under() = false with PMI_RANK=0 PMI_SIZE=1")
	}
}

func TestRun(t *testing.T) {
	for _, np := range []int{1, 3} {
		t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) {
			out := Run(t, np, "TestMPIHello")
			if n := strings.Count(out, "--- PASS: TestMPIHello"); n != np {
				t.Errorf("%d ranks passed TestMPIHello, want %d\n%s", n, np, out)
			}
		})
	}
}

// recorder is a testing.TB whose failures are recorded instead of failing the test. Run must
// be called on a goroutine of its own, as Fatalf ends it.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any) { r.Fatalf("skipped: %s", fmt.Sprint(args...)) }

// runRecorded runs Run with a recorder and returns it.
func runRecorded(t *testing.T, np int, pattern string, extraArgs ...string) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(r, np, pattern, extraArgs...)
	}()
	select {
	case <-done:
	case <-time.After(2 * DefaultTimeout):
		t.Fatal("Run did not return")
	}
	return r
}

func TestRunFails(t *testing.T) {
	t.Setenv("MW_MPITEST_FAIL", "1")
	start := time.Now()
	r := runRecorded(t, 2, "TestMPIDeliberateFailure")
	if !r.failed {
		t.Fatal("Run passed a test that failed on rank 1")
	}
	t.Logf("Run failed as it should:\n%s", r.msg)
	if !strings.Contains(r.msg, "deliberate failure on rank 1") {
		t.Errorf("Run's failure lacks the rank's output:\n%s", r.msg)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the failure took %v to end the job; the abort should be quick", d)
	}
}

func TestRunNoTests(t *testing.T) {
	r := runRecorded(t, 1, "TestNoSuchTest")
	if !r.failed || !strings.Contains(r.msg, "no test matches") {
		t.Errorf("Run with a pattern matching nothing: failed=%v\n%s", r.failed, r.msg)
	}
}

func TestRunDeadline(t *testing.T) {
	t.Setenv("MW_MPITEST_HANG", "1")
	t.Setenv(envTimeout, "3s")
	start := time.Now()
	// -test.timeout=0 turns off the ranks' own timeout, so only Run's deadline can end them.
	r := runRecorded(t, 2, "TestMPIHang", "-test.timeout=0")
	t.Logf("Run failed as it should:\n%s", r.msg)
	if !r.failed || !strings.Contains(r.msg, "still running after 3s") {
		t.Errorf("Run of a hung job: failed=%v\n%s", r.failed, r.msg)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Run took %v to give up on a 3s deadline", d)
	}
}
