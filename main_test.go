package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/internal/mwtest"
	"github.com/mw-hpc/mw/selftest"
)

// oracle is selftest's expected output, computed here from the checksum definition.
func oracle(items int) []byte {
	var b bytes.Buffer
	for i := 0; i < items; i++ {
		fmt.Fprintf(&b, "%d %016x\n", i, selftest.Checksum(uint64(i)))
	}
	return b.Bytes()
}

func TestSelftestSameBytesEveryNP(t *testing.T) {
	const items = 3000
	want := oracle(items)
	for np := 1; np <= 4; np++ {
		for _, flags := range [][]string{{"--chunk", "1", "--window", "1"}, {"--chunk", "7", "--window", "3"}, {"--chunk", "auto"}} {
			t.Run(fmt.Sprintf("np=%d/%s", np, strings.Join(flags, "")), func(t *testing.T) {
				args := append([]string{"selftest", "--items", strconv.Itoa(items), "--quiet"}, flags...)
				r := mwtest.MPIRun(t, np, nil, args...)
				require.Equal(t, 0, r.Code, "stderr: %s", r.Stderr)
				require.Equal(t, want, r.Stdout)
				require.Empty(t, r.Stderr)
			})
		}
	}
}

func TestSelftestOutputFileAndStats(t *testing.T) {
	dir := t.TempDir()
	out, stats := filepath.Join(dir, "out.txt"), filepath.Join(dir, "stats.json")
	r := mwtest.MPIRun(t, 3, nil, "selftest", "--items", "500", "--chunk", "10", "-o", out, "--stats", stats)
	require.Equal(t, 0, r.Code, "stderr: %s", r.Stderr)
	require.Empty(t, r.Stdout)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, oracle(500), got)
	js, err := os.ReadFile(stats)
	require.NoError(t, err)
	require.Contains(t, string(js), `"chunks": 50`)
	require.Contains(t, string(js), `"workers": 2`)
	require.Regexp(t, `^selftest: 50 chunks in .* 2 workers x \d+ threads?`, string(r.Stderr))
}

// errorLine returns the lines mw printed on stderr, without mpirun's banners.
func mwLines(stderr []byte) []string {
	var out []string
	for _, l := range strings.Split(string(stderr), "\n") {
		if strings.HasPrefix(l, "mw") || strings.HasPrefix(l, "Run 'mw") {
			out = append(out, l)
		}
	}
	return out
}

func TestSelftestWorkerFailureEndsJob(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"error", []string{"--fail-at", "377"}, `^mw: selftest: rank \d on \S+: chunk 37: item 377: injected failure \(--fail-at\)$`},
		{"panic", []string{"--panic-at", "377"}, `^mw: selftest: rank \d on \S+: chunk 37: panic: item 377: injected panic \(--panic-at\) \[.*selftest\.go:\d+\]$`},
	}
	for _, tc := range cases {
		for _, np := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/np=%d", tc.name, np), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out.txt")
				args := append([]string{"selftest", "--items", "100000", "--chunk", "10", "--quiet", "-o", out}, tc.args...)
				r := mwtest.MPIRun(t, np, nil, args...)
				require.Equal(t, 1, r.Code, "stderr: %s", r.Stderr)
				lines := mwLines(r.Stderr)
				require.Len(t, lines, 1, "stderr: %s", r.Stderr)
				want := tc.want
				if np == 1 {
					want = strings.Replace(want, `rank \d`, `the worker`, 1) // in process, no rank of its own
				}
				require.Regexp(t, want, lines[0])
				_, err := os.Stat(out)
				require.True(t, os.IsNotExist(err), "a failed run left its output file")
				matches, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".out.txt.tmp-*"))
				require.Empty(t, matches, "a failed run left its temporary file")
			})
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"selftest", "--window", "0"}, "mw: selftest: --window 0: must be at least 1"},
		{[]string{"selftest", "--threads", "100000"}, "mw: selftest: --threads 100000: must be 0 (automatic) to 65536"},
		{[]string{"selftest", "--threads", "2", "--window", "1000000000"}, "mw: selftest: --window 1000000000: 2 threads x 1000000000 chunks in flight are more than the 1048576"},
		{[]string{"selftest", "-o", "x.txt", "--journal", "x.txt"}, "mw: selftest: --journal x.txt: is the file -o names too"},
		{[]string{"selftest", "--bogus"}, "mw: selftest: unknown flag --bogus"},
		{[]string{"selftest", "--chunk", "0"}, `mw: selftest: --chunk 0: must be a whole number of items, at least 1, or auto`},
		{[]string{"nosuch"}, `mw: unknown workload "nosuch"`},
		{[]string{"gen"}, "mw: gen: say what to generate: "},
		{[]string{}, "mw: no workload given"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for _, np := range []int{1, 2} {
				r := mwtest.MPIRun(t, np, nil, tc.args...)
				require.Equal(t, 2, r.Code, "stderr: %s", r.Stderr)
				lines := mwLines(r.Stderr)
				require.NotEmpty(t, lines)
				require.True(t, strings.HasPrefix(lines[0], tc.want), "got %q, want prefix %q", lines[0], tc.want)
				require.Empty(t, r.Stdout)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	r := mwtest.Run(t, nil, "-h")
	require.Equal(t, 0, r.Code)
	require.Contains(t, string(r.Stdout), "selftest")
	r = mwtest.Run(t, nil, "selftest", "-h")
	require.Equal(t, 0, r.Code)
	require.Contains(t, string(r.Stdout), "--items")
	require.Contains(t, string(r.Stdout), "-window")
	// Every workload's help: its usage, then the flags under one heading, on stdout.
	for _, w := range [][]string{{"selftest"}, {"interp"}, {"overlay"}, {"exec"}, {"gen", "frames"}, {"gen", "map"}} {
		r = mwtest.Run(t, nil, append(w, "-h")...)
		require.Equal(t, 0, r.Code, "%v -h: %s", w, r.Stderr)
		require.Equal(t, 1, strings.Count(string(r.Stdout), "\nflags:\n"), "%v -h:\n%s", w, r.Stdout)
	}
	r = mwtest.Run(t, nil, "version")
	require.Equal(t, 0, r.Code)
	require.Regexp(t, `^mw \S+\n(Open MPI|MPICH)`, string(r.Stdout)) // then the MPI library's version
}

// TestKilledWorkerEndsJob kills one worker rank with SIGKILL in the middle of a run, once
// every rank is past its start: the launcher must end the whole job with a non-zero exit,
// well within 10 seconds, saying what happened, and the job must leave no output looking
// complete. Open MPI's mpirun sends rank 0 SIGTERM (SIGCONT, SIGTERM and SIGKILL
// odls_base_sigkill_timeout apart, 1 s by default: 2 here, for a loaded machine), and rank
// 0 names the rank that did not answer its stop, even under mpirun -q. MPICH's hydra
// SIGKILLs every other rank at once (strace on rank 0: "killed by SIGKILL", even under
// mpiexec -disable-auto-cleanup) and prints its banner on stdout, with the killed rank's
// exit code; rank 0 has no time to say anything.
func TestKilledWorkerEndsJob(t *testing.T) {
	bin := mwtest.Binary(t)
	dir := t.TempDir()
	// killed runs mw with args under the launcher with 3 ranks, kills rank 2 once started
	// says every rank is past its start, and checks that the launcher ends the job and says
	// why; it returns the job's stdout and stderr.
	killed := func(t *testing.T, started func(stdout []byte) bool, args ...string) (stdout, stderr string) {
		t.Helper()
		cmd := mwtest.Job{NP: 3, OpenMPI: []string{"-q", "--mca", "odls_base_sigkill_timeout", "2"}}.Cmd(bin, args...)
		var so, se mwtest.SyncBuffer
		cmd.Stdout, cmd.Stderr = &so, &se
		require.NoError(t, cmd.Start())
		defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for deadline := time.Now().Add(mwtest.Deadline); !started(so.Bytes()); time.Sleep(10 * time.Millisecond) {
			select {
			case err := <-exited:
				t.Fatalf("the job ended before the kill (%v)\nstderr: %s", err, se.Bytes())
			default:
			}
			require.True(t, time.Now().Before(deadline), "the job did not get under way\nstderr: %s", se.Bytes())
		}
		victim := findRank(bin, 2)
		require.NotZero(t, victim, "rank 2 is gone already")
		require.NoError(t, syscall.Kill(victim, syscall.SIGKILL))
		var err error
		select {
		case err = <-exited:
		case <-time.After(10 * time.Second):
			t.Fatalf("the launcher still running 10 s after a worker was killed\nstderr: %s", se.Bytes())
		}
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "the launcher must exit non-zero")
		stdout, stderr = string(so.Bytes()), string(se.Bytes())
		if mwtest.OpenMPI() {
			require.Regexp(t, `(?m)^mw: \w+: stopped: terminated signal received; rank 2 on \S+ did not answer the stop `+
				`\(gone before it: killed, out of memory\?\); run mpirun --enable-recovery to finish the job without a lost worker$`, stderr)
		} else {
			require.Contains(t, stdout, "=   BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES\n", "stderr: %s", stderr)
			require.Contains(t, stdout, "=   EXIT CODE: 9\n", "stderr: %s", stderr)
		}
		return stdout, stderr
	}

	t.Run("exec-stdout", func(t *testing.T) {
		// Tasks printing to stdout: every rank is past its start once the first task's
		// output is there.
		tasks := filepath.Join(dir, "tasks")
		require.NoError(t, os.WriteFile(tasks, []byte(strings.Repeat("x\n", 100000)), 0o644))
		stdout, _ := killed(t, func(so []byte) bool { return len(so) > 0 },
			"exec", "--quiet", "-j", "1", "-a", tasks, "-q", "--", "sh", "-c", "echo $MW_TASK; exec sleep 0.01")
		require.NotContains(t, stdout, "\n100000\n", "the last task's output, after the kill")
	})
	t.Run("selftest-file", func(t *testing.T) {
		// A file with a journal: every rank is past its start once the journal records a
		// chunk written; the output stays partial, for --resume.
		out := filepath.Join(dir, "out.txt")
		journal := out + ".journal"
		killed(t, func([]byte) bool {
			b, _ := os.ReadFile(journal)
			return bytes.Contains(b, []byte("\nc "))
		}, "selftest", "--items", "100000", "--chunk", "10", "--cost", "1ms", "--quiet", "-o", out, "--journal", journal)
		_, err := os.Stat(out)
		require.True(t, os.IsNotExist(err), "the killed job left its output %s looking complete", out)
		_, err = os.Stat(filepath.Join(dir, ".out.txt.partial"))
		require.NoError(t, err, "the killed job left no partial output for --resume")
		b, err := os.ReadFile(journal)
		require.NoError(t, err)
		require.NotRegexp(t, `(?m)^r `, string(b), "the journal records a complete output")
	})
}

// findRank returns the pid of the process running bin as MPI rank r, or 0.
func findRank(bin string, r int) int { return mwtest.FindRank(bin, r) }

func TestSelftestPullAndFind(t *testing.T) {
	want := oracle(2000)
	for _, np := range []int{1, 3} {
		r := mwtest.MPIRun(t, np, nil, "selftest", "--items", "2000", "--chunk", "3", "--mode", "pull", "--quiet")
		require.Equal(t, 0, r.Code, "stderr: %s", r.Stderr)
		require.Equal(t, want, r.Stdout, "pull mode, np %d", np)

		// --find ends the job early and successfully, right after the line of item 777.
		r = mwtest.MPIRun(t, np, nil, "selftest", "--items", "100000000", "--chunk", "10", "--find", "777", "--quiet")
		require.Equal(t, 0, r.Code, "stderr: %s", r.Stderr)
		require.Equal(t, oracle(778), r.Stdout, "find, np %d", np)
	}
}

func TestSelftestBackupsOvertakeAStraggler(t *testing.T) {
	stats := filepath.Join(t.TempDir(), "stats.json")
	r := mwtest.MPIRun(t, 4, nil, "selftest", "--items", "60", "--chunk", "1", "--cost", "2ms", "--slow-rank", "1", "--stats", stats, "--quiet")
	require.Equal(t, 0, r.Code, "stderr: %s", r.Stderr)
	require.Equal(t, oracle(60), r.Stdout)
	js, err := os.ReadFile(stats)
	require.NoError(t, err)
	require.Regexp(t, `"backups": [1-9]`, string(js))
}

// TestJournalResumeAfterKill kills the whole job (SIGKILL to mpirun's process group) at a
// point chosen by each seed, once the journal has that many lines, resumes it with the same
// journal and checks that the final output equals an uninterrupted run, byte for byte.
func TestJournalResumeAfterKill(t *testing.T) {
	const items = 3000
	want := oracle(items)
	bin := mwtest.Binary(t)
	for seed := 1; seed <= 6; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			out, jr := filepath.Join(dir, "out.txt"), filepath.Join(dir, "run.journal")
			chunk, killAt := "7", 5+(seed*97)%300 // journal lines before the kill
			if seed%2 == 0 {
				chunk, killAt = "auto", 3+seed%20 // chunk sizes chosen by the engine, replayed on resume
			}
			args := []string{"selftest", "--items", strconv.Itoa(items), "--chunk", chunk, "--cost", "200us", "-o", out, "--journal", jr, "--quiet"}
			np := 2 + seed%3

			cmd := mwtest.Job{NP: np}.Cmd(bin, args...)
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			deadline := time.After(60 * time.Second)
		wait:
			for {
				select {
				case <-exited:
					t.Fatalf("the run ended before the kill point (%d lines)", killAt)
				case <-deadline:
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					t.Fatal("the journal never reached the kill point")
				case <-time.After(2 * time.Millisecond):
					if b, err := os.ReadFile(jr); err == nil && bytes.Count(b, []byte("\n")) >= killAt {
						break wait
					}
				}
			}
			// The whole job: mpirun and every rank (the ranks have process groups of their own).
			require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
			for r := 0; r < np; r++ {
				if pid := findRank(bin, r); pid > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			<-exited
			_, err := os.Stat(out)
			require.True(t, os.IsNotExist(err), "a killed run must not leave its output looking complete")

			r := mwtest.MPIRun(t, np, nil, append(args, "--resume")...)
			require.Equal(t, 0, r.Code, "resume: %s", r.Stderr)
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Equal(t, want, got)

			// Resuming a complete job does nothing; another command's journal is refused.
			r = mwtest.MPIRun(t, np, nil, append(args, "--resume")...)
			require.Equal(t, 0, r.Code, "%s", r.Stderr)
			require.Contains(t, string(r.Stderr), "complete: nothing to do")
			other := append([]string{}, args...)
			other[4] = "8" // --chunk 8
			r = mwtest.MPIRun(t, np, nil, append(other, "--resume")...)
			require.Equal(t, 1, r.Code)
			require.Contains(t, string(r.Stderr), "was written by a different command")
		})
	}
}

// TestReportFilesCheckedFirst: a --trace or --stats file that cannot be made fails the job
// before any work, on every rank (a manager that returned alone left its workers waiting
// for it: a hang), with a line naming the flag, and no output; the trace may go to stdout.
func TestReportFilesCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	for _, flag := range []string{"--trace", "--stats"} {
		for _, np := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/np=%d", flag, np), func(t *testing.T) {
				bad := filepath.Join(dir, "no-such-dir", "report.json")
				r := mwtest.MPIRun(t, np, nil, "selftest", "--items", "1000", "-o", out, flag, bad, "--quiet")
				require.Equal(t, 1, r.Code, "%s", r.Stderr)
				require.Equal(t, []string{"mw: selftest: " + flag + " " + bad + ": create output: open " + filepath.Dir(bad) + "/.report.json.tmp-"}, trimAfter(mwLines(r.Stderr), "tmp-"))
				require.NoFileExists(t, out)
			})
		}
	}
	r := mwtest.MPIRun(t, 3, nil, "selftest", "--items", "10", "-o", out, "--trace", "-", "--quiet")
	require.Equal(t, 0, r.Code, "%s", r.Stderr)
	var events []map[string]any
	require.NoError(t, json.Unmarshal(r.Stdout, &events), "the trace on stdout")
	require.NotEmpty(t, events)
}

// trimAfter cuts each line after the first sep (a temporary file's random name).
func trimAfter(lines []string, sep string) []string {
	for i, l := range lines {
		if j := strings.Index(l, sep); j >= 0 {
			lines[i] = l[:j+len(sep)]
		}
	}
	return lines
}

// TestKeepGoingLeavesOutPoisonChunks: the chunk that fails every try is left out of the
// output, named on stderr (exit 1), and counted in the run report, which a run that
// completed so still writes.
func TestKeepGoingLeavesOutPoisonChunks(t *testing.T) {
	dir := t.TempDir()
	out, stats := filepath.Join(dir, "out.txt"), filepath.Join(dir, "stats.json")
	r := mwtest.MPIRun(t, 3, nil, "selftest", "--items", "100", "--chunk", "10", "--fail-at", "42", "--retries", "1", "--keep-going", "-o", out, "--stats", stats, "--quiet")
	require.Equal(t, 1, r.Code, "%s", r.Stderr)
	js, err := os.ReadFile(stats)
	require.NoError(t, err, "no run report for a run that completed with a chunk left out")
	var report struct {
		Chunks, Retries uint64
		LeftOut         uint64 `json:"left_out"`
	}
	require.NoError(t, json.Unmarshal(js, &report))
	require.Equal(t, uint64(9), report.Chunks)
	require.Equal(t, uint64(1), report.Retries)
	require.Equal(t, uint64(1), report.LeftOut)
	lines := mwLines(r.Stderr)
	require.Len(t, lines, 1)
	require.Regexp(t, `^mw: selftest: 1 chunk failed and was left out of the output: chunk 4 \(rank \d on \S+: failed 2 times, last: item 42: injected failure \(--fail-at\)\)$`, lines[0])
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	want := oracle(100)
	cut := bytes.Split(want, []byte("\n"))
	require.Equal(t, append(bytes.Join(cut[:40], []byte("\n")), append([]byte("\n"), bytes.Join(cut[50:], []byte("\n"))...)...), got)
}

// TestOrphanedRanksStop kills mpirun alone with SIGKILL: its ranks, left without their
// launcher, must notice and exit by themselves instead of running on unseen.
func TestOrphanedRanksStop(t *testing.T) {
	bin := mwtest.Binary(t)
	cmd := mwtest.Job{NP: 3}.Cmd(bin, "selftest", "--items", "100000000", "--chunk", "1", "--cost", "1ms", "--quiet", "-o", filepath.Join(t.TempDir(), "out"))
	require.NoError(t, cmd.Start())
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	for deadline := time.Now().Add(30 * time.Second); findRank(bin, 2) == 0; time.Sleep(50 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "no worker rank appeared")
	}
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		alive := 0
		for r := 0; r < 3; r++ {
			if findRank(bin, r) > 0 {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		if time.Now().After(deadline) {
			for r := 0; r < 3; r++ {
				if pid := findRank(bin, r); pid > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			t.Fatalf("%d ranks still running 10 s after mpirun was killed", alive)
		}
	}
}

// TestTraceHasEveryChunkOncePerAttempt checks the --trace file: valid Chrome Trace Event
// JSON in which every chunk has exactly one span per attempt (two for a chunk that failed
// once and was retried) on a worker rank's track, and one write span.
func TestTraceHasEveryChunkOncePerAttempt(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "trace.json")
	r := mwtest.MPIRun(t, 3, nil, "selftest", "--items", "300", "--chunk", "4", "--fail-at", "101", "--retries", "1",
		"--keep-going", "--backups=false", "--trace", trace, "-o", os.DevNull, "--quiet")
	require.Equal(t, 1, r.Code, "%s", r.Stderr) // chunk 25 (items 100-103) fails twice
	data, err := os.ReadFile(trace)
	require.NoError(t, err)
	var events []struct {
		Name, Cat, Ph string
		Pid, Tid      int
		Ts, Dur       float64
		Args          struct{ Seq, Attempt int }
	}
	require.NoError(t, json.Unmarshal(data, &events))
	attempts := map[int][]int{}
	writes := map[int]int{}
	for _, e := range events {
		switch e.Cat {
		case "chunk", "error":
			require.Contains(t, []int{1, 2}, e.Pid, "chunk spans are on worker tracks")
			require.GreaterOrEqual(t, e.Dur, 0.0)
			attempts[e.Args.Seq] = append(attempts[e.Args.Seq], e.Args.Attempt)
		case "write":
			writes[e.Args.Seq]++
		}
	}
	require.Len(t, attempts, 75)
	for seq, a := range attempts {
		if seq == 25 {
			require.ElementsMatch(t, []int{0, 1}, a, "the failed chunk: once per attempt")
			require.Zero(t, writes[seq], "the failed chunk is not written")
			continue
		}
		require.Equal(t, []int{0}, a, "chunk %d", seq)
		require.Equal(t, 1, writes[seq], "chunk %d written once", seq)
	}
}

// TestJournalCompleteOutputWithoutDone: a kill after the output got its name but before the
// journal said done leaves a journal without done and no partial file; --resume recognises
// the complete output (the journal said it was renaming it, at its length) and leaves it
// alone. Without that record, an output of the right length (a partial file renamed by
// hand after a kill) is not taken for complete.
func TestJournalCompleteOutputWithoutDone(t *testing.T) {
	dir := t.TempDir()
	out, jr := filepath.Join(dir, "out.txt"), filepath.Join(dir, "run.journal")
	args := []string{"selftest", "--items", "500", "--chunk", "7", "-o", out, "--journal", jr, "--quiet"}
	r := mwtest.Run(t, nil, args...)
	require.Equal(t, 0, r.Code, "%s", r.Stderr)
	want, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, oracle(500), want)
	j, err := os.ReadFile(jr)
	require.NoError(t, err)
	lines := strings.SplitAfter(strings.TrimSuffix(string(j), "\n"), "\n")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "done "), "journal ends with %q", lines[len(lines)-1])
	require.NoError(t, os.WriteFile(jr, []byte(strings.Join(lines[:len(lines)-1], "")), 0o644))

	r = mwtest.Run(t, nil, append(args, "--resume")...)
	require.Equal(t, 0, r.Code, "%s", r.Stderr)
	require.Contains(t, string(r.Stderr), "is complete: nothing to do")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))

	// An output of another length is not taken for complete.
	require.NoError(t, os.WriteFile(out, want[:len(want)-1], 0o644))
	r = mwtest.Run(t, nil, append(args, "--resume")...)
	require.Equal(t, 1, r.Code)
	require.Contains(t, string(r.Stderr), ".out.txt.partial, where the journaled run left its output")

	// Nor is an output of the right length without the rename record.
	require.NoError(t, os.WriteFile(out, want, 0o644))
	require.True(t, strings.HasPrefix(lines[len(lines)-2], "r "), "journal's rename record: %q", lines[len(lines)-2])
	require.NoError(t, os.WriteFile(jr, []byte(strings.Join(lines[:len(lines)-2], "")), 0o644))
	r = mwtest.Run(t, nil, append(args, "--resume")...)
	require.Equal(t, 1, r.Code)
	require.Contains(t, string(r.Stderr), ".out.txt.partial, where the journaled run left its output")
}

// TestRefusedOutputKeepsTheJournal: a fresh run whose output is refused (not a file that
// can be renamed onto, a descriptor of its own under mpirun) leaves an existing journal as
// it was, so that the run it records can still be resumed.
func TestRefusedOutputKeepsTheJournal(t *testing.T) {
	jr := filepath.Join(t.TempDir(), "run.journal")
	old := "mw-journal 1 selftest abc\nc 0 10 0000beef\n"
	require.NoError(t, os.WriteFile(jr, []byte(old), 0o644))
	for _, np := range []int{1, 3} {
		r := mwtest.MPIRun(t, np, nil, "selftest", "--items", "10", "-o", os.DevNull, "--journal", jr, "--quiet")
		require.Equal(t, 2, r.Code, "%s", r.Stderr)
		require.Contains(t, string(r.Stderr), "is not a regular file")
		got, err := os.ReadFile(jr)
		require.NoError(t, err)
		require.Equal(t, old, string(got), "the journal changed")
	}
	r := mwtest.MPIRun(t, 2, nil, "selftest", "--items", "10", "-o", "/proc/self/fd/3", "--quiet")
	require.Equal(t, 1, r.Code, "%s", r.Stderr)
	require.Contains(t, string(r.Stderr), "descriptor 3 of a rank is not the shell's")
}

// TestJournalKeepGoingResume: a --keep-going run leaves a failed chunk out and its journal
// says so ("x"); killed after that chunk, it resumes past the hole to the same bytes as
// the uninterrupted run (the oracle without the failed chunk's items), and every later
// resume still reports the chunk left out (exit 1), never "complete" with exit 0.
func TestJournalKeepGoingResume(t *testing.T) {
	dir := t.TempDir()
	out, jr := filepath.Join(dir, "out.txt"), filepath.Join(dir, "run.journal")
	args := []string{"selftest", "--items", "100", "--chunk", "10", "--fail-at", "35", "--keep-going", "-o", out, "--journal", jr, "--quiet"}
	r := mwtest.Run(t, nil, args...)
	require.Equal(t, 1, r.Code, "%s", r.Stderr)
	lines := strings.SplitAfter(string(oracle(100)), "\n")
	want := strings.Join(append(lines[:30:30], lines[40:]...), "")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, want, string(got))
	j, err := os.ReadFile(jr)
	require.NoError(t, err)
	jl := strings.SplitAfter(string(j), "\n")
	require.True(t, strings.HasPrefix(jl[4], "x 3 "), "journal line 5 %q, want chunk 3 left out", jl[4])

	// Killed after chunk 4: the journal has chunks 0-4, the partial file their bytes.
	require.NoError(t, os.WriteFile(jr, []byte(strings.Join(jl[:6], "")), 0o644))
	require.NoError(t, os.Rename(out, cli.PartialPath(out)))
	for i := 0; i < 2; i++ {
		r = mwtest.Run(t, nil, append(args, "--resume")...)
		require.Equal(t, 1, r.Code, "resume %d: %s", i+1, r.Stderr)
		require.Contains(t, string(r.Stderr), "chunk 3 (an earlier run: left out")
		got, err = os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, want, string(got), "resume %d", i+1)
	}

	// Killed before chunk 3: the resume fails it itself, and names it by the job's number.
	require.NoError(t, os.WriteFile(jr, []byte(strings.Join(jl[:4], "")), 0o644))
	require.NoError(t, os.Rename(out, cli.PartialPath(out)))
	r = mwtest.Run(t, nil, append(args, "--resume")...)
	require.Equal(t, 1, r.Code, "%s", r.Stderr)
	require.Contains(t, string(r.Stderr), "chunk 3 (the worker on ") // alone: no rank of its own
	require.Contains(t, string(r.Stderr), "item 35: injected failure")
	got, err = os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, want, string(got))

	// The same without --keep-going: the job fails, naming chunk 3 (not the resumed run's
	// own chunk 0), and the journal stays resumable.
	require.NoError(t, os.WriteFile(jr, []byte(strings.Join(jl[:4], "")), 0o644))
	require.NoError(t, os.Rename(out, cli.PartialPath(out)))
	strict := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--keep-going" })
	r = mwtest.Run(t, nil, append(strict, "--resume")...)
	require.NotEqual(t, 0, r.Code)
	require.Contains(t, string(r.Stderr), "chunk 3: item 35: injected failure", "%s", r.Stderr)
}

// TestSignalIsNamed: a SIGTERM (scancel, kill) ends a run with exit 1, rank 0 says that
// the signal stopped it, and no output file is left looking complete.
func TestSignalIsNamed(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := exec.Command(mwtest.Binary(t), "selftest", "--items", "100", "--cost", "1s", "--quiet", "-o", out)
	cmd.Env = mwtest.MPIEnv()
	var se bytes.Buffer
	cmd.Stderr = &se
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	// Once the output's temporary file exists, the run is under way (and the signal
	// handler long installed).
	deadline := time.Now().Add(mwtest.Deadline)
	for {
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the run never created its output")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 1, ee.ExitCode(), "stderr: %s", se.String())
	require.Contains(t, se.String(), "mw: selftest: stopped: terminated signal received\n")
	_, err = os.Stat(out)
	require.True(t, os.IsNotExist(err), "an interrupted run left %s", out)
}

// TestSecondSignalEndsAWaitingRead: mw reading a stdin that never comes (a FIFO, a
// terminal) cannot see the first signal, which only cancels its context; a second one ends
// it at once, by the signal (not exit 1: the run never got to clean up), and removes its
// outputs' temporary files (the --stats file is made before any work).
func TestSecondSignalEndsAWaitingRead(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("readingStdin knows amd64's system call numbers only")
	}
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pw.Close() // never written: the read waits
	dir := t.TempDir()
	cmd := exec.Command(mwtest.Binary(t), "interp", "--quiet", "-o", os.DevNull, "--stats", filepath.Join(dir, "stats.json"))
	cmd.Env = mwtest.MPIEnv()
	cmd.Stdin = pr
	require.NoError(t, cmd.Start())
	pr.Close()
	defer cmd.Process.Kill()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Once a thread of mw waits in read(0, ...), the run is under way (and the signal
	// handler long installed).
	deadline := time.After(mwtest.Deadline)
	for !readingStdin(cmd.Process.Pid) {
		select {
		case err := <-exited:
			t.Fatalf("mw ended before reading stdin: %v", err)
		case <-deadline:
			t.Fatal("mw never waited in a read of stdin")
		case <-time.After(10 * time.Millisecond):
		}
	}
	for sent := 0; ; sent++ {
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		select {
		case err := <-exited:
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee)
			ws := ee.Sys().(syscall.WaitStatus)
			require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGINT, "mw ended with %v, want the signal", err)
			require.GreaterOrEqual(t, sent, 1, "the first signal ended mw")
			left, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, left, "files left behind")
			return
		case <-deadline:
			t.Fatalf("mw still waits after %d signals", sent+1)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readingStdin reports whether a thread of process pid is in the read system call on fd 0
// (/proc/PID/task/TID/syscall: the call's number, 0 for read on amd64, then its arguments).
func readingStdin(pid int) bool {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, tk := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", pid, tk.Name()))
		if err == nil && strings.HasPrefix(string(b), "0 0x0 ") {
			return true
		}
	}
	return false
}

// TestBellsLetRanksSleepUntilRung: ranks on one host ring each other after each send, so an
// idle manager sleeps until a result comes instead of waking on timers to poll. Counted, not
// timed, over the same run with bells and with timers only (MW_POLL=timed, rank 0's choice
// for the job), both giving the oracle's bytes: the manager's sleeps (--stats
// manager_wakeups), and those a worker's ring ended (manager_rung_wakeups): every result
// comes while the manager sleeps, the two workers' at about the same time. The items take
// 3.5 of the manager's deep sleeps (rank's deepSleep, 50 ms): at 4 they ended as its fourth sleep
// timed out, and on a loaded machine the timer won the race now and then.
func TestBellsLetRanksSleepUntilRung(t *testing.T) {
	const items = 8
	dir := t.TempDir()
	wakeups := func(env string) (slept, rung float64) {
		stats := filepath.Join(dir, env+".json")
		r := mwtest.Job{NP: 3, Env: []string{"MW_POLL=" + env}}.Run(t, nil, mwtest.Binary(t),
			"selftest", "--items", strconv.Itoa(items), "--chunk", "1", "--cost", "175ms", "--quiet", "--stats", stats)
		require.Equal(t, 0, r.Code, "stderr: %s", r.Stderr)
		require.Equal(t, oracle(items), r.Stdout)
		js, err := os.ReadFile(stats)
		require.NoError(t, err)
		var st struct {
			Slept float64  `json:"manager_wakeups"`
			Rung  *float64 `json:"manager_rung_wakeups"`
		}
		require.NoError(t, json.Unmarshal(js, &st))
		require.NotNil(t, st.Rung, "no manager_rung_wakeups in %s", js)
		return st.Slept, *st.Rung
	}
	slept, rung := wakeups("rung")
	timed, timedRung := wakeups("timed")
	t.Logf("manager wake-ups: %v with bells (%v rung), %v on timers", slept, rung, timed)
	require.GreaterOrEqual(t, rung, float64(items/2), "a ring per result, or per pair of results")
	require.Less(t, slept*3, timed, "bells: %v wake-ups, timers: %v", slept, timed)
	require.Zero(t, timedRung)
}
