package taskfarm

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

// testSink is a sink with the given halt policy and joblog, printing to out and its own
// messages to msgs.
func testSink(halt string, joblog *os.File, out, msgs io.Writer) *sink {
	o := &options{haltText: halt, timeoutText: "2s"}
	o.halt, _ = parseHalt(halt)
	s := newSink(o, &cli.Env{Stdout: out, Stderr: out}, joblog, -1, &runtimes{})
	s.msgs = msgs
	return s
}

func packRecords(rs ...record) []byte {
	var out []byte
	for i := range rs {
		out = partition.Pack(out, appendRecord(nil, &rs[i]))
	}
	return out
}

// arriveAndPut hands a chunk to the sink as the engine does when its turn has come at once:
// Arrived, then Put; it returns Arrived's halt (or any error).
func arriveAndPut(s *sink, seq uint64, out []byte) error {
	halt := s.Arrived(seq, out)
	if halt != nil && halt != rank.ErrDone && halt != rank.ErrDrain {
		return halt
	}
	if err := s.Put(seq, out); err != nil {
		return err
	}
	return halt
}

func TestSinkOutputAndJoblog(t *testing.T) {
	// stdout and stderr share one buffer, as with 2>&1: each task's stdout comes whole,
	// then its stderr, then the next task's.
	var both, msgs bytes.Buffer
	dir := t.TempDir()
	jl, err := openJoblog(filepath.Join(dir, "log"), false, joblogEnd{cutAt: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := testSink("never", jl, &both, &msgs)
	err = arriveAndPut(s, 0, packRecords(
		record{seq: 1, host: "h", cmd: "a", stdout: []byte("out1\n"), stderr: []byte("err1\n")},
		record{seq: 2, host: "h", cmd: "b", exit: 3, stderr: []byte("err2")},
	))
	if err != nil {
		t.Fatal(err)
	}
	if err := arriveAndPut(s, 1, packRecords(record{seq: 3, host: "h", cmd: "c", exit: -1, signal: 15, flags: flagTimedOut, stdout: []byte("x")})); err != nil {
		t.Fatal(err)
	}
	jl.Close()
	if got, want := both.String(), "out1\nerr1\nerr2x"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if !strings.Contains(msgs.String(), "mw: exec: task 3: killed by --timeout 2s: c") {
		t.Errorf("messages %q", msgs.String())
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	lines := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
	if len(lines) != 4 || lines[0]+"\n" != joblogHeader {
		t.Fatalf("joblog %q", log)
	}
	for i, want := range []string{"\t0\t5\t0\t0\ta", "\t0\t0\t3\t0\tb", "\t0\t1\t-1\t15\tc"} {
		if !strings.HasSuffix(lines[i+1], want) || !strings.HasPrefix(lines[i+1], string(rune('1'+i))+"\th\t") {
			t.Errorf("joblog line %q, want it to end with %q", lines[i+1], want)
		}
	}
	if c := s.tally.exitCode(); c != 2 {
		t.Errorf("exit %d, want 2", c)
	}
	if err := s.Arrived(2, []byte{5, 1}); err == nil {
		t.Error("bad result arrived: no error")
	}
	if err := s.Put(2, []byte{5, 1}); err == nil {
		t.Error("bad result put: no error")
	}
}

func TestSinkHalt(t *testing.T) {
	tests := []struct {
		halt    string
		want    error
		printed string
	}{
		{"now,fail=1", rank.ErrDone, "1 2 "},     // the third record, after the failure, is dropped
		{"soon,fail=1", rank.ErrDrain, "1 2 3 "}, // in-flight tasks still print
		{"never", nil, "1 2 3 "},
	}
	for _, tt := range tests {
		t.Run(tt.halt, func(t *testing.T) {
			var out, msgs bytes.Buffer
			s := testSink(tt.halt, nil, &out, &msgs)
			spill := filepath.Join(t.TempDir(), "spill")
			os.WriteFile(spill, []byte("3 "), 0o644)
			err := arriveAndPut(s, 0, packRecords(
				record{seq: 1, stdout: []byte("1 ")},
				record{seq: 2, exit: 4, stdout: []byte("2 ")},
				record{seq: 3, flags: flagStdoutSpill, stdout: []byte(spill), stdoutLen: 2},
			))
			if err != tt.want {
				t.Errorf("Arrived: %v, want %v", err, tt.want)
			}
			if out.String() != tt.printed {
				t.Errorf("printed %q, want %q", out.String(), tt.printed)
			}
			if _, err := os.Stat(spill); !os.IsNotExist(err) {
				t.Error("spill file of a task left behind")
			}
			if tt.halt != "never" && !strings.Contains(msgs.String(), "--halt "+tt.halt+": task 2 failed (exit 4)") {
				t.Errorf("message %q", msgs.String())
			}
			if c := s.tally.exitCode(); c != 4 && tt.halt != "never" || tt.halt == "never" && c != 1 {
				t.Errorf("exit %d", c)
			}
			// After soon fired, later chunks print and do not fire again.
			if tt.want == rank.ErrDrain {
				if err := arriveAndPut(s, 1, packRecords(record{seq: 4, exit: 1, stdout: []byte("4")})); err != nil {
					t.Errorf("Put after drain: %v", err)
				}
				if c := s.tally.exitCode(); c != 4 {
					t.Errorf("exit status changed to %d", c)
				}
			}
		})
	}
}

func TestSinkSpillUnreadable(t *testing.T) {
	var out bytes.Buffer
	s := testSink("never", nil, &out, &out)
	err := s.Put(0, packRecords(record{seq: 1, host: "other", flags: flagStdoutSpill, stdout: []byte("/nonexistent/mw-x"), stdoutLen: 9}))
	if err == nil || !strings.Contains(err.Error(), "--tmpdir") || !strings.Contains(err.Error(), "other") {
		t.Errorf("error %v, want one pointing at --tmpdir and the host", err)
	}
}

// --halt now fires as tasks finish, though task 1 has not finished; the chunks that
// arrived behind task 1 are never printed (the engine drops them, as GNU parallel -k
// prints nothing after a job it killed), and their spill files are removed when the job
// ends.
func TestSinkHaltNowDropsWaitingChunks(t *testing.T) {
	var out, msgs bytes.Buffer
	s := testSink("now,fail=1", nil, &out, &msgs)
	dir := t.TempDir()
	spill := filepath.Join(dir, spillPrefix("r")+"2-1.out")
	os.WriteFile(spill, []byte("big"), 0o644)
	// Chunk 1 (task 2, spilled) finishes first, then chunk 2 (task 3) fails; chunk 0 (task
	// 1) is still running.
	if err := s.Arrived(1, packRecords(record{seq: 2, flags: flagStdoutSpill, stdout: []byte(spill), stdoutLen: 3})); err != nil {
		t.Fatal(err)
	}
	if err := s.Arrived(2, packRecords(record{seq: 3, exit: 5, stdout: []byte("three")})); err != rank.ErrDone {
		t.Fatalf("Arrived: %v, want ErrDone", err)
	}
	if !strings.Contains(msgs.String(), "--halt now,fail=1: task 3 failed (exit 5): stopping the running tasks") {
		t.Errorf("message %q", msgs.String())
	}
	if c := s.tally.exitCode(); c != 5 {
		t.Errorf("exit %d, want 5", c)
	}
	removeSpills(dir, "r") // as rank 0 does when the job ends
	if _, err := os.Stat(spill); !os.IsNotExist(err) {
		t.Error("spill file of a task never printed left behind")
	}
	if out.String() != "" {
		t.Errorf("printed %q, want nothing", out.String())
	}
}

// --halt soon drains the job while task 1 waits unstarted on a worker that was slow to
// start, and tasks 2 and 3 ran elsewhere: task 1 is left out, and 2 and 3 are printed
// and logged in their turn all the same (so that --resume runs task 1 only).
func TestSinkDrainKeepsTasksAfterALeftOutOne(t *testing.T) {
	var out, msgs bytes.Buffer
	path := filepath.Join(t.TempDir(), "log")
	jl, err := openJoblog(path, false, joblogEnd{cutAt: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := testSink("soon,fail=1", jl, &out, &msgs)
	two, three := packRecords(record{seq: 2, cmd: "b", stdout: []byte("two\n")}), packRecords(record{seq: 3, cmd: "c", exit: 4})
	if err := s.Arrived(1, two); err != nil {
		t.Fatal(err)
	}
	if err := s.Arrived(2, three); err != rank.ErrDrain {
		t.Fatalf("Arrived: %v, want ErrDrain", err)
	}
	// The engine then delivers in input order: chunk 0 left out, chunks 1 and 2.
	if err := s.LeftOut(0); err != nil {
		t.Fatal(err)
	}
	for i, chunk := range [][]byte{two, three} {
		if err := s.Put(uint64(i+1), chunk); err != nil {
			t.Fatal(err)
		}
	}
	jl.Close()
	if out.String() != "two\n" {
		t.Errorf("printed %q, want task 2's output", out.String())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done, _, err := readJoblog(f, false)
	if err != nil {
		t.Fatal(err)
	}
	if done.has(1) || !done.has(2) || !done.has(3) {
		t.Errorf("joblog has tasks 1 %v, 2 %v, 3 %v; want 2 and 3 only", done.has(1), done.has(2), done.has(3))
	}
}

// removeSpills removes this run's spill files left in the tmpdir, and nothing else.
func TestRemoveSpills(t *testing.T) {
	dir := t.TempDir()
	mine := []string{spillPrefix("abc") + "7-1.out", spillPrefix("abc") + "9-2.err"}
	others := []string{spillPrefix("abd") + "7-1.out", "mw-exec-", "notes.txt"}
	for _, f := range append(append([]string{}, mine...), others...) {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removeSpills(dir, "abc")
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != len(others) {
		t.Errorf("left %v, want %v", left, others)
	}
	for _, f := range mine {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind", f)
		}
	}
}
