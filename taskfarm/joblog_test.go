package taskfarm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAppendJoblog(t *testing.T) {
	tests := []struct {
		name string
		r    record
		want string
	}{
		{"ok", record{seq: 1, host: "node7", start: 1795465272519123456, runtime: 3_400_000, stdout: []byte("one\n"), cmd: "echo one"},
			"1\tnode7\t1795465272.519\t     0.003\t0\t4\t0\t0\techo one\n"},
		{"failed", record{seq: 12, host: "h", start: 1795465272005000000, runtime: 12_345_600_000_0, exit: 3, cmd: "exit 3"},
			"12\th\t1795465272.005\t   123.456\t0\t0\t3\t0\texit 3\n"},
		{"timeout", record{seq: 2, host: "h", start: 1000000000, runtime: 1_185_000_000, exit: -1, signal: 15, flags: flagTimedOut, cmd: "sleep 3"},
			"2\th\t1.000\t     1.185\t0\t0\t-1\t15\tsleep 3\n"},
		{"spilled size, newline in command", record{seq: 3, host: "h", start: 0, flags: flagStdoutSpill, stdoutLen: 5000000, stdout: []byte("/tmp/x"), cmd: "sh -c 'a\nb'"},
			"3\th\t0.000\t     0.000\t0\t5000000\t0\t0\tsh -c 'a\x00b'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendJoblog(nil, &tt.r))
			if got != tt.want {
				t.Errorf("joblog line\n%q\nwant\n%q", got, tt.want)
			}
			e, err := parseJoblogLine([]byte(strings.TrimSuffix(got, "\n")))
			if err != nil || e.seq != tt.r.seq || e.exit != tt.r.exit || e.signal != int64(tt.r.signal) {
				t.Errorf("parse back: %+v, %v", e, err)
			}
		})
	}
}

func TestReadJoblog(t *testing.T) {
	log := joblogHeader +
		"1\t:\t1.000\t     0.003\t0\t4\t0\t0\techo one\n" +
		"3\t:\t1.000\t     0.003\t0\t0\t1\t0\texit 1\n" +
		"4\t:\t1.000\t     0.003\t0\t0\t0\t9\tkill -9 $$\n" +
		"5\t:\t1.000\t     0.003\t0\t0\t-1\t15\tsleep 9\twith\ttabs\n" +
		"3\t:\t1.000\t     0.003\t0\t0\t0\t0\texit 1 then not\n" // a resumed retry that succeeded
	line1 := joblogHeader + "1\th\t1.0\t0\t0\t0\t0\t0\tx\n"
	clean := joblogEnd{cutAt: -1}
	tests := []struct {
		name      string
		log       string
		failed    bool
		done      []uint64
		notDone   []uint64
		end       joblogEnd
		wantError string
	}{
		{"resume", log, false, []uint64{1, 3, 4, 5}, []uint64{2, 6}, clean, ""},
		{"resume-failed", log, true, []uint64{1, 3}, []uint64{2, 4, 5, 6}, clean, ""},
		{"no header", "7\th\t1.0\t0\t0\t0\t0\t0\tx\n", false, []uint64{7}, []uint64{1}, clean, ""},
		{"empty", "", false, nil, []uint64{1}, clean, ""},
		{"cut last line is ignored and cut off", line1 + "2\th\t1.0", false, []uint64{1}, []uint64{2}, joblogEnd{cutAt: int64(len(line1))}, ""},
		{"complete last line without newline counts", joblogHeader + "1\th\t1.0\t0\t0\t0\t0\t0\tx", false, []uint64{1}, nil, joblogEnd{needsNL: true, cutAt: -1}, ""},
		{"cut header", "Seq\tHo", false, nil, []uint64{1}, joblogEnd{cutAt: 0}, ""},
		{"garbage", joblogHeader + "hello world\n", false, nil, nil, clean, "line 2"},
		{"bad exit", joblogHeader + "1\th\t1.0\t0\t0\t0\tx\t0\tc\n", false, nil, nil, clean, "Exitval"},
		{"seq 0", joblogHeader + "0\th\t1.0\t0\t0\t0\t0\t0\tc\n", false, nil, nil, clean, "Seq"},
		{"huge seq", "99999999999\th\t1.0\t0\t0\t0\t0\t0\tc\n", false, []uint64{99999999999}, []uint64{1}, clean, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, end, err := readJoblog(strings.NewReader(tt.log), tt.failed)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.done {
				if !done.has(s) {
					t.Errorf("task %d not done", s)
				}
			}
			for _, s := range tt.notDone {
				if done.has(s) {
					t.Errorf("task %d done", s)
				}
			}
			if end != tt.end {
				t.Errorf("end %+v, want %+v", end, tt.end)
			}
		})
	}
}

// FuzzJoblog checks that the joblog reader never panics nor accepts a task number 0, and
// that every line the writer makes reads back as the same task.
func FuzzJoblog(f *testing.F) {
	f.Add([]byte(joblogHeader+"1\t:\t1.000\t     0.003\t0\t4\t0\t0\techo one\n2\th\t1\t1\t0\t0\t1\t0\tx"), uint64(3), int64(1), "cmd\twith\ttab\nand newline")
	f.Add([]byte("\n\n\t\t\t\t\t\t\t\t\n"), uint64(1), int64(-1), "")
	f.Fuzz(func(t *testing.T, log []byte, seq uint64, exit int64, cmd string) {
		for _, failed := range []bool{false, true} {
			done, _, err := readJoblog(bytes.NewReader(log), failed)
			if err == nil && done.has(0) {
				t.Fatal("task 0 marked done")
			}
		}
		if seq == 0 {
			return
		}
		r := record{seq: seq, exit: exit, host: "h", cmd: cmd}
		line := appendJoblog([]byte(joblogHeader), &r)
		done, end, err := readJoblog(bytes.NewReader(line), true)
		if err != nil || end != (joblogEnd{cutAt: -1}) {
			t.Fatalf("own line %q: %v", line, err)
		}
		if done.has(seq) != (exit == 0) {
			t.Fatalf("own line %q: --resume-failed says done %v", line, done.has(seq))
		}
		done, _, _ = readJoblog(bytes.NewReader(line), false)
		if !done.has(seq) {
			t.Fatalf("own line %q: task %d not done", line, seq)
		}
	})
}

// TestOpenJoblog: appending mends a log whose last line a kill cut (a newline after a line
// that reads as a task, the line cut off when it does not), so that the log reads again
// after every resume, however often the job was killed; +FILE appends; without resume the
// log starts over.
func TestOpenJoblog(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log")
	task := func(seq int) string { return fmt.Sprintf("%d\th\t1.0\t0\t0\t0\t0\t0\tx", seq) }
	write := func(f *os.File, s string) {
		t.Helper()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	resume := func(path string) {
		t.Helper()
		r, err := os.Open(strings.TrimPrefix(path, "+"))
		if err != nil {
			t.Fatal(err)
		}
		_, end, err := readJoblog(r, false)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		f, err := openJoblog(path, true, end)
		if err != nil {
			t.Fatal(err)
		}
		write(f, task(9)+"\n")
	}
	clean := joblogEnd{cutAt: -1}
	f, err := openJoblog(p, false, clean)
	if err != nil {
		t.Fatal(err)
	}
	write(f, task(1)+"\n"+task(2)[:5]) // task 2's line cut unreadable
	resume(p)
	write(must(os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0))(t), task(3)) // cut after its last field
	resume(p)
	write(must(os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0))(t), task(4)[:3])
	resume("+" + p) // GNU parallel's +FILE appends too
	want := joblogHeader + task(1) + "\n" + task(9) + "\n" + task(3) + "\n" + task(9) + "\n" + task(9) + "\n"
	if got, _ := os.ReadFile(p); string(got) != want {
		t.Errorf("joblog\n%q\nwant\n%q", got, want)
	}
	if _, end, err := readJoblog(strings.NewReader(want), false); err != nil || end != clean {
		t.Errorf("the mended log reads %+v, %v", end, err)
	}
	f, err = openJoblog(p, false, clean) // without resume it starts over
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got, _ := os.ReadFile(p); string(got) != joblogHeader {
		t.Errorf("truncated joblog %q", got)
	}
	if _, err := openJoblog(filepath.Join(dir, "no", "such", "dir"), false, clean); err == nil {
		t.Error("joblog in a missing directory: no error")
	}
}

// must returns a function that fails the test on err, or returns v.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestSeqSet(t *testing.T) {
	s := &seqSet{}
	for _, n := range []uint64{1, 63, 64, 65, 1000, denseSeqs - 1, denseSeqs, 1 << 40} {
		s.add(n)
	}
	for _, tt := range []struct {
		upTo uint64
		want int64
	}{{0, 0}, {1, 1}, {63, 2}, {64, 3}, {999, 4}, {1000, 5}, {denseSeqs, 7}, {1 << 41, 8}} {
		if got := s.countUpTo(tt.upTo); got != tt.want {
			t.Errorf("countUpTo(%d) = %d, want %d", tt.upTo, got, tt.want)
		}
	}
	if s.has(2) || !s.has(1<<40) || (*seqSet)(nil).has(1) {
		t.Error("has is wrong")
	}
}
