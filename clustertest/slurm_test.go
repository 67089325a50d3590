package clustertest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// slurm is a local one-node Slurm started by scripts/slurm/local-slurm.sh.
type slurm struct {
	dir string
	env []string // MW_SLURM_*, SLURM_CONF
}

// startSlurm starts the local Slurm, or skips the test where it cannot run; the test's
// cleanup stops it by the pids it wrote.
func startSlurm(t *testing.T) *slurm {
	t.Helper()
	needRoot(t)
	dir := stateDir(t, "mw-slurm-")
	s := &slurm{dir: dir, env: []string{
		"MW_SLURM_DIR=" + dir,
		"MW_SLURM_PORT=" + strconv.Itoa(freePorts(t)),
		// Room for all the test's jobs at once (3 tasks each) on 2 cores: they are small.
		"MW_SLURM_CPUS=12",
		"SLURM_CONF=" + filepath.Join(dir, "slurm.conf"),
	}}
	pidf := []string{filepath.Join(dir, "munged.pid"), filepath.Join(dir, "slurmctld.pid"), filepath.Join(dir, "slurmd.pid")}
	t.Cleanup(func() {
		pids := pidFiles(pidf...)
		r := run(t, 60*time.Second, s.env, script("slurm/local-slurm.sh"), "down")
		if r.Code != 0 {
			t.Errorf("local-slurm.sh down: %s", r)
		}
		killLeftovers(t, pids)
	})
	r := run(t, 60*time.Second, s.env, script("slurm/local-slurm.sh"), "up")
	if r.Code == skipCode {
		skipLoudly(t, "local Slurm cannot run here: %s", strings.TrimSpace(string(r.Stderr)))
	}
	require.Equal(t, 0, r.Code, "local-slurm.sh up: %s\nslurmctld.log:\n%s", r, tail(filepath.Join(dir, "log", "slurmctld.log")))
	t.Logf("local Slurm up in %v", r.Took.Round(time.Millisecond))
	return s
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// cmd runs a Slurm client command.
func (s *slurm) cmd(t *testing.T, name string, args ...string) result {
	t.Helper()
	return run(t, 30*time.Second, s.env, name, args...)
}

// job is a submitted batch job.
type job struct {
	name, id, dir string
	state         string // the final JobState
}

// submit submits an sbatch script of scripts/slurm/ with its arguments, sized for the
// local node (sbatch's options override the script's #SBATCH lines), and returns the job.
func (s *slurm) submit(t *testing.T, name, dir, scriptName string, env []string, args ...string) *job {
	t.Helper()
	return s.sbatch(t, name, dir, env, append([]string{script("slurm/" + scriptName)}, args...)...)
}

// submitWrap submits a batch job of one command line (sbatch --wrap), sized and named as
// submit does, its stdout and stderr in the files that the scripts name.
func (s *slurm) submitWrap(t *testing.T, name, dir string, env []string, argv ...string) *job {
	t.Helper()
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return s.sbatch(t, name, dir, env, "--output=%x-%j.out", "--error=%x-%j.err", "--wrap", strings.Join(words, " "))
}

// sbatch submits a job of 3 tasks of 1 CPU on the node with the arguments that follow
// sbatch's options, and returns it.
func (s *slurm) sbatch(t *testing.T, name, dir string, env []string, args ...string) *job {
	t.Helper()
	full := append([]string{"--parsable", "--job-name=" + name, "--chdir=" + dir,
		"--nodes=1", "--ntasks-per-node=3", "--cpus-per-task=1", "--time=5"}, args...)
	r := run(t, 30*time.Second, append(s.env, env...), "sbatch", full...)
	require.Equal(t, 0, r.Code, "sbatch %v: %s", full, r)
	id := strings.TrimSpace(strings.SplitN(string(r.Stdout), ";", 2)[0])
	require.Regexp(t, `^\d+$`, id)
	return &job{name: name, id: id, dir: dir}
}

var jobState = regexp.MustCompile(`\bJobState=(\S+)`)

// wait polls the jobs' states (scontrol -o show job, which sees the end sooner than
// sbatch --wait) until every one has ended, or fails at the deadline.
func (s *slurm) wait(t *testing.T, deadline time.Duration, jobs ...*job) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		pending := 0
		for _, j := range jobs {
			if j.state != "" {
				continue
			}
			r := s.cmd(t, "scontrol", "-o", "show", "job", j.id)
			m := jobState.FindStringSubmatch(string(r.Stdout))
			require.NotNil(t, m, "scontrol show job %s: %s", j.id, r)
			switch m[1] {
			case "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING":
				pending++
			default:
				j.state = m[1]
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(end) {
			q := s.cmd(t, "squeue")
			t.Fatalf("%d jobs still not ended after %v:\n%s\nslurmd.log:\n%s", pending, deadline, q.Stdout, tail(filepath.Join(s.dir, "log", "slurmd.log")))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// sacct returns the job's State and ExitCode as `sacct -c` (the jobcomp/filetxt record)
// reports them, polling until the record is there.
func (s *slurm) sacct(t *testing.T, j *job) (state, exit string) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := s.cmd(t, "sacct", "-c", "-j", j.id, "-n", "-P", "-o", "JobID,State,ExitCode")
		for _, l := range strings.Split(string(r.Stdout), "\n") {
			f := strings.Split(strings.TrimSpace(l), "|")
			if len(f) == 3 && f[0] == j.id {
				return f[1], f[2]
			}
		}
		if time.Now().After(end) {
			t.Fatalf("sacct -c has no record of job %s after 20 s: %s", j.id, r)
		}
	}
}

// out and errOut are the job's --output and --error files (%x-%j.out, %x-%j.err).
func (j *job) out() string    { return filepath.Join(j.dir, j.name+"-"+j.id+".out") }
func (j *job) errOut() string { return filepath.Join(j.dir, j.name+"-"+j.id+".err") }

// TestSlurmBatchScripts submits every sbatch script of scripts/slurm/ to a local one-node
// Slurm: each job must end COMPLETED with the bytes of a local run; jobs whose work fails
// must end FAILED with mw's exit code in sacct. With them, mw built against MPICH runs
// under srun --mpi=pmi2 (the PMI that Debian's Slurm and MPICH share; under pmix or plain
// srun MPI makes each MPICH rank a world of its own, which mw refuses): one world of 3
// ranks, with the same bytes and the same failure. Then a journaled job cancelled with scancel midway and resubmitted with
// --resume must complete with the bytes of an uninterrupted run.
func TestSlurmBatchScripts(t *testing.T) {
	s := startSlurm(t)
	bin := openMPIBinary(t)
	work := t.TempDir()
	in := makeInputs(t, work)
	env := []string{"MW=" + bin}
	mpich := ""
	t.Run("srun-pmi2", func(t *testing.T) {
		needMPICH(t)
		mpich = mpichBinary(t)
	})

	type check struct {
		j        *job
		state    string // COMPLETED or FAILED
		exit     string // sacct's ExitCode
		file     string // the output to compare ("" is the job's .out file)
		want     []byte
		errMatch string // a line the job's stderr must have
		noFile   string // an output that a failed run must not leave
		stats    string // --stats of a run that must be one world of 3 ranks
	}
	p := func(name string) string { return filepath.Join(work, name) }
	// All the jobs at once (the node has room): the test takes as long as the slowest.
	checks := []check{
		{j: s.submit(t, "selftest", work, "selftest.sbatch", env, p("selftest.txt"), "--items", strconv.Itoa(in.Items), "--chunk", "100"),
			state: "COMPLETED", exit: "0:0", file: p("selftest.txt"), want: in.Selftest,
			errMatch: `^selftest: 200 chunks in .* 2 workers x 1 thread on `},
		{j: s.submit(t, "interp", work, "interp.sbatch", env, in.Frames, p("interp.pgm")),
			state: "COMPLETED", exit: "0:0", file: p("interp.pgm"), want: in.Interp, errMatch: `^interp: \d+ chunks in `},
		{j: s.submit(t, "overlay", work, "overlay.sbatch", env, in.MapA, in.MapB, p("overlay.csv")),
			state: "COMPLETED", exit: "0:0", file: p("overlay.csv"), want: in.Overlay, errMatch: `^overlay: \d+ chunks in `},
		{j: s.submit(t, "exec", work, "exec.sbatch", env, in.Tasks),
			state: "COMPLETED", exit: "0:0", want: in.Exec, errMatch: `^exec: 30 tasks in `},
		{j: s.submit(t, "srun-interp", work, "srun-pmix.sbatch", env, "interp", "-i", in.Frames, "-o", p("srun-interp.pgm")),
			state: "COMPLETED", exit: "0:0", file: p("srun-interp.pgm"), want: in.Interp, errMatch: `^interp: \d+ chunks in .* 2 workers x 1 thread`},
		{j: s.submit(t, "srun-selftest", work, "srun-pmix.sbatch", env, "selftest", "--items", strconv.Itoa(in.Items), "--chunk", "100"),
			state: "COMPLETED", exit: "0:0", want: in.Selftest},
		// Failures: mw's exit code is the job's.
		{j: s.submit(t, "selftest-fail", work, "selftest.sbatch", env, p("fail.txt"), "--items", "5000", "--chunk", "10", "--fail-at", "777"),
			state: "FAILED", exit: "1:0", noFile: p("fail.txt"),
			errMatch: `^mw: selftest: rank [12] on \S+: chunk 77: item 777: injected failure \(--fail-at\)$`},
		{j: s.submit(t, "exec-fail", work, "exec.sbatch", env, in.BadTasks),
			state: "FAILED", exit: strconv.Itoa(badTasks) + ":0"},
		{j: s.submit(t, "srun-fail", work, "srun-pmix.sbatch", env, "selftest", "--items", "5000", "--chunk", "10", "--fail-at", "777", "-o", p("srun-fail.txt")),
			state: "FAILED", exit: "1:0", noFile: p("srun-fail.txt"),
			errMatch: `^mw: selftest: rank [12] on \S+: chunk 77: item 777: injected failure \(--fail-at\)$`},
	}
	if mpich != "" {
		srun := []string{"srun", "--mpi=pmi2", "--kill-on-bad-exit=1", mpich, "selftest"}
		checks = append(checks,
			check{j: s.submitWrap(t, "pmi2-selftest", work, nil, append(srun, "--items", strconv.Itoa(in.Items), "--chunk", "100", "--stats", p("pmi2.stats.json"))...),
				state: "COMPLETED", exit: "0:0", want: in.Selftest, stats: p("pmi2.stats.json"),
				errMatch: `^selftest: 200 chunks in .* 2 workers x 1 thread on `},
			check{j: s.submitWrap(t, "pmi2-fail", work, nil, append(srun, "--items", "5000", "--chunk", "10", "--fail-at", "777", "-o", p("pmi2-fail.txt"))...),
				state: "FAILED", exit: "1:0", noFile: p("pmi2-fail.txt"),
				errMatch: `^mw: selftest: rank [12] on \S+: chunk 77: item 777: injected failure \(--fail-at\)$`},
			// Under PMIx, which MPICH does not speak, MPI makes each rank a world of one:
			// mw sees it, and every rank refuses, naming the PMI to use.
			check{j: s.submitWrap(t, "pmix-mpich", work, nil, "srun", "--mpi=pmix", mpich, "selftest", "--items", "100", "-o", p("pmix-mpich.txt")),
				state: "FAILED", exit: "1:0", noFile: p("pmix-mpich.txt"),
				errMatch: `^mw: selftest: start MPI: MPI says this process is rank 0 of 1, but PMIx started it as rank 0 of 3: .*--mpi=pmi2 for MPICH\)$`})
	}
	jobs := make([]*job, len(checks))
	for i, c := range checks {
		jobs[i] = c.j
	}
	start := time.Now()
	s.wait(t, 150*time.Second, jobs...)
	t.Logf("%d jobs ended in %v", len(jobs), time.Since(start).Round(time.Millisecond))

	for _, c := range checks {
		t.Run(c.j.name, func(t *testing.T) {
			stderr := readFile(t, c.j.errOut())
			require.Equal(t, c.state, c.j.state, "job %s (%s) ended %s\nstderr:\n%s", c.j.id, c.j.name, c.j.state, stderr)
			state, exit := s.sacct(t, c.j)
			require.Equal(t, c.state, state, "sacct -c State")
			require.Equal(t, c.exit, exit, "sacct -c ExitCode\nstderr:\n%s", stderr)
			if c.errMatch != "" {
				require.Regexp(t, "(?m)"+c.errMatch, string(stderr))
			}
			if c.want != nil {
				file := c.file
				if file == "" {
					file = c.j.out()
				}
				sameBytes(t, c.want, readFile(t, file), c.j.name+" output "+filepath.Base(file))
			}
			if c.noFile != "" {
				_, err := os.Stat(c.noFile)
				require.True(t, os.IsNotExist(err), "a failed run left its output file %s", c.noFile)
			}
			if c.stats != "" {
				// One world: rank 0 of 3 managed 2 workers (in worlds of one, each rank
				// would run the whole job alone, and print it once more).
				var st stats
				require.NoError(t, json.Unmarshal(readFile(t, c.stats), &st))
				require.Equal(t, 2, st.Workers, "workers in --stats")
				require.Len(t, st.Hosts, 3, "ranks' hosts in --stats")
			}
		})
	}
	// On the same Slurm (its start and stop cost seconds), once the jobs above have ended.
	t.Run("scancel-resume", func(t *testing.T) { cancelResume(t, s, work, env) })
	t.Run("lost-worker", func(t *testing.T) { lostWorker(t, s, work, env) })
}

// lostWorker kills a worker rank of a selftest.sbatch job midway (sbatch --no-kill, mpirun
// --enable-recovery): the job must end COMPLETED with the bytes of an uninterrupted run,
// its run report and --stats naming the rank.
func lostWorker(t *testing.T, s *slurm, work string, env []string) {
	const items = 6000 // 2 workers of 1 thread: 3 s of 1 ms items
	want := uninterrupted(t, items)
	out, journal := filepath.Join(work, "lost.txt"), filepath.Join(work, "lost.journal")
	args := append(append([]string{out}, selftestArgs(items)...), "--journal", journal)
	j := s.submit(t, "lost", work, "selftest.sbatch", env, args...)
	t.Cleanup(func() {
		if j.state == "" {
			s.cmd(t, "scancel", j.id)
		}
		killAll(t, jobProcs(j.id))
	})
	waitJournal(t, journal, faultAt, 60*time.Second, func() string { return "" })
	victim := jobRank(j.id, 2)
	require.NotZero(t, victim, "rank 2 of job %s is gone before the fault", j.id)
	require.NoError(t, syscall.Kill(victim, syscall.SIGKILL))
	s.wait(t, 60*time.Second, j)
	stderr := readFile(t, j.errOut())
	require.Equal(t, "COMPLETED", j.state, "job %s ended %s\nstderr:\n%s", j.id, j.state, stderr)
	state, exit := s.sacct(t, j)
	require.Equal(t, "COMPLETED 0:0", state+" "+exit, "sacct -c")
	sameBytes(t, want, readFile(t, out), "the output of a job that lost rank 2")
	require.Regexp(t, `(?m)^selftest: .*; 1 worker lost: rank 2 on \S+ at `, string(stderr), "the run report names the lost rank")
	var st stats
	require.NoError(t, json.Unmarshal(readFile(t, out+".stats.json"), &st))
	require.Len(t, st.Lost, 1)
	require.Equal(t, 2, st.Lost[0].Rank)
	t.Logf("job %s lost rank 2 at %.3fs (%s) and completed", j.id, st.Lost[0].At, st.Lost[0].How)
}

// jobRank returns the pid of MPI rank r of Slurm job id (mpirun's rank, by its environment),
// or 0.
func jobRank(id string, r int) int {
	for pid := range jobProcs(id) {
		env, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
		if bytes.Contains(env, []byte("\x00OMPI_COMM_WORLD_RANK="+strconv.Itoa(r)+"\x00")) {
			return pid
		}
	}
	return 0
}

// cancelResume cancels a journaled selftest job with scancel midway, then resubmits the
// same job with --resume: the resumed job must end COMPLETED with the bytes of an
// uninterrupted run, writing only the chunks that the cancelled job had not.
func cancelResume(t *testing.T, s *slurm, work string, env []string) {
	// 3 ranks of 1 CPU: 2 workers of 1 thread, at most 2000 items of 1 ms a second: the
	// whole job takes 5 s or more, the cancel comes after faultAt chunks (1 s or less).
	const items = 10000
	total := items / faultChunk
	want := uninterrupted(t, items)
	out, journal := filepath.Join(work, "resume.txt"), filepath.Join(work, "resume.journal")
	args := append([]string{out}, selftestArgs(items)...)
	args = append(args, "--journal", journal)

	var jobs []*job
	t.Cleanup(func() {
		// A job still running when the test fails: end it and its processes by pid.
		for _, j := range jobs {
			if j.state == "" {
				s.cmd(t, "scancel", j.id)
			}
			killAll(t, jobProcs(j.id))
		}
	})
	cancelled := s.submit(t, "cancelled", work, "selftest.sbatch", env, args...)
	jobs = append(jobs, cancelled)
	start := time.Now()
	waitJournal(t, journal, faultAt, 60*time.Second, func() string {
		r := s.cmd(t, "scontrol", "-o", "show", "job", cancelled.id)
		if m := jobState.FindStringSubmatch(string(r.Stdout)); m != nil && m[1] != "PENDING" && m[1] != "CONFIGURING" && m[1] != "RUNNING" {
			return "job " + cancelled.id + " is " + m[1] + "\nstderr:\n" + tail(cancelled.errOut())
		}
		return ""
	})
	r := s.cmd(t, "scancel", cancelled.id)
	require.Equal(t, 0, r.Code, "scancel: %s", r)
	s.wait(t, 30*time.Second, cancelled)
	require.Equal(t, "CANCELLED", cancelled.state, "job %s after scancel\nstderr:\n%s", cancelled.id, tail(cancelled.errOut()))
	s.gone(t, cancelled)
	n := checkFaulted(t, out, journal, total)
	t.Logf("job %s cancelled after %d of %d chunks, its processes gone, in %v", cancelled.id, n, total, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	resumed := s.submit(t, "resumed", work, "selftest.sbatch", env, append(args, "--resume")...)
	jobs = append(jobs, resumed)
	s.wait(t, 60*time.Second, resumed)
	stderr := readFile(t, resumed.errOut())
	require.Equal(t, "COMPLETED", resumed.state, "job %s (--resume) ended %s\nstderr:\n%s", resumed.id, resumed.state, stderr)
	require.Regexp(t, `(?m)^selftest: \d+ chunks in `, string(stderr), "the resumed job's run report")
	checkResumed(t, out, journal, out+".stats.json", want, total, n)
	t.Logf("job %s resumed and completed in %v", resumed.id, time.Since(start).Round(time.Millisecond))
}

// jobProcs returns the processes of a Slurm job (the batch script, mpirun, the ranks: every
// process with the job's SLURM_JOB_ID in its environment), by pid.
func jobProcs(id string) map[int]string {
	procs := map[int]string{}
	paths, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range paths {
		env, err := os.ReadFile(filepath.Join(p, "environ"))
		if err != nil || !bytes.Contains(env, []byte("\x00SLURM_JOB_ID="+id+"\x00")) && !bytes.HasPrefix(env, []byte("SLURM_JOB_ID="+id+"\x00")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		if alive(pid) {
			comm, _ := os.ReadFile(filepath.Join(p, "comm"))
			procs[pid] = strings.TrimSpace(string(comm))
		}
	}
	return procs
}

// gone waits until every process of an ended job is gone (Slurm signals them: SIGTERM, then
// SIGKILL after KillWait, 5 s), at most 15 s, then kills by pid any left: a rank left alive
// would keep its hold on the output, and the manager its lock on the journal.
func (s *slurm) gone(t *testing.T, j *job) {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left := jobProcs(j.id)
		if len(left) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Logf("job %s ended, but its processes %v still run 15 s later: killing them", j.id, left)
			killAll(t, left)
			return
		}
	}
}
