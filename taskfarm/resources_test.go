package taskfarm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mw-hpc/mw/internal/mwtest"
)

// TestPoolServesInOrder: a request that does not fit waits, and the requests after it wait
// behind it even when they would fit (no large request starves); what is granted is never
// granted twice at once; a request larger than the rank fails at once.
func TestPoolServesInOrder(t *testing.T) {
	p := newPool([]int{0, 1, 2, 3}, []string{"a", "b"})
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	first, err := p.acquire(ctx, 3, 1)
	if err != nil || !slices.Equal(first.cores, []int{0, 1, 2}) || !slices.Equal(first.devs, []string{"a"}) {
		t.Fatalf("first grant %+v, %v", first, err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	grants := make(chan grant, 2)
	start := func(name string, cpus, gpus int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := p.acquire(ctx, cpus, gpus)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			grants <- g
		}()
	}
	start("big", 4, 0)
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.queue) == 1 })
	start("small", 1, 1) // fits now, but waits behind big
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.queue) == 2 })
	p.release(first)
	g := <-grants
	if !slices.Equal(order, []string{"big"}) || len(g.cores) != 4 {
		t.Fatalf("granted %v first (%+v), want big", order, g)
	}
	p.release(g)
	g = <-grants
	wg.Wait()
	if !slices.Equal(order, []string{"big", "small"}) || !slices.Equal(g.devs, []string{"a"}) {
		t.Fatalf("order %v, grant %+v", order, g)
	}
	p.release(g)
	if p.freeCores != 4 || p.freeDevs != 2 {
		t.Fatalf("free %d cores %d devices after every release", p.freeCores, p.freeDevs)
	}
	if _, err := p.acquire(ctx, 5, 0); err == nil || !strings.Contains(err.Error(), "this rank has 4 cores (0-3) and 2 GPUs") {
		t.Fatalf("too large a request: %v", err)
	}
}

// TestPoolCancelledWaiterLetsOthersThrough: a waiting request whose task is stopped leaves
// the queue, and the request behind it is served.
func TestPoolCancelledWaiterLetsOthersThrough(t *testing.T) {
	p := newPool([]int{0, 1}, nil)
	ctx := context.Background()
	held, _ := p.acquire(ctx, 1, 0)
	wctx, stop := context.WithCancel(ctx)
	errs := make(chan error, 1)
	go func() { _, err := p.acquire(wctx, 2, 0); errs <- err }()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.queue) == 1 })
	got := make(chan grant, 1)
	go func() { g, _ := p.acquire(ctx, 1, 0); got <- g }()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.queue) == 2 })
	stop()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	select {
	case g := <-got:
		if !slices.Equal(g.cores, []int{1}) {
			t.Fatalf("grant %+v", g)
		}
	case <-time.After(testDeadline):
		t.Fatal("the request behind the cancelled one was never served")
	}
	p.release(held)
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFindDevices(t *testing.T) {
	fake := func(env map[string]string, outputs map[string]string, files ...string) probe {
		return probe{
			lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			output: func(name string, _ ...string) ([]byte, error) {
				if out, ok := outputs[name]; ok {
					return []byte(out), nil
				}
				return nil, errors.New("not found")
			},
			glob: func(pattern string) ([]string, error) {
				var m []string
				for _, f := range files {
					if ok, _ := filepath.Match(pattern, f); ok {
						m = append(m, f)
					}
				}
				return m, nil
			},
		}
	}
	smi := "GPU 0: NVIDIA A100 (UUID: GPU-a)\nGPU 1: NVIDIA A100 (UUID: GPU-b)\n"
	rocm := "============ ROCm System Management Interface ============\nGPU[0]\t\t: Device ID: 0x740c\nGPU[1]\t\t: Device ID: 0x740c\nGPU[1]\t\t: Other\n"
	tests := []struct {
		name, spec string
		p          probe
		want       []string
		wantErr    string
	}{
		{"cuda variable", "auto", fake(map[string]string{"CUDA_VISIBLE_DEVICES": "2, 3,3", "SLURM_JOB_GPUS": "0"}, nil), []string{"2", "3"}, ""},
		{"uuids", "auto", fake(map[string]string{"CUDA_VISIBLE_DEVICES": "GPU-a,MIG-b"}, nil), []string{"GPU-a", "MIG-b"}, ""},
		{"slurm", "auto", fake(map[string]string{"SLURM_STEP_GPUS": "4,5"}, map[string]string{"nvidia-smi": smi}), []string{"4", "5"}, ""},
		{"nvidia-smi", "auto", fake(nil, map[string]string{"nvidia-smi": smi}), []string{"0", "1"}, ""},
		{"rocm-smi", "auto", fake(nil, map[string]string{"rocm-smi": rocm}), []string{"0", "1"}, ""},
		{"device files", "auto", fake(nil, nil, "/dev/nvidia1", "/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia10"), []string{"0", "1", "10"}, ""},
		{"amd files", "auto", fake(nil, nil, "/dev/kfd", "/dev/dri/renderD128", "/dev/dri/renderD129"), []string{"0", "1"}, ""},
		{"none", "auto", fake(nil, nil), nil, "no GPU found"},
		{"hidden", "auto", fake(map[string]string{"CUDA_VISIBLE_DEVICES": ""}, nil), nil, "may use no GPU (CUDA_VISIBLE_DEVICES=)"},
		{"count of found", "1", fake(map[string]string{"ROCR_VISIBLE_DEVICES": "7,8"}, nil), []string{"7"}, ""},
		{"count without any", "3", fake(nil, nil), []string{"0", "1", "2"}, ""},
		{"more than found", "3", fake(map[string]string{"CUDA_VISIBLE_DEVICES": "0,1"}, nil), nil, "this rank sees 2 (CUDA_VISIBLE_DEVICES=0,1)"},
		{"bad count", "0", fake(nil, nil), nil, "must be auto or a number"},
	}
	for _, tt := range tests {
		got, _, err := rankDevices(tt.spec, tt.p)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %v, %v; want an error saying %q", tt.name, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	got, err := parseCPUList("0-3,8,10-11")
	if err != nil || !slices.Equal(got, []int{0, 1, 2, 3, 8, 10, 11}) || cpuListText(got) != "0-3,8,10-11" {
		t.Fatalf("%v, %v", got, err)
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "0-99999999"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// exclusiveScript holds each of the resources its task was given (the words of $2) as a
// directory in $1 that no other running task may hold (exit 7 if one does), logs them
// with the task's device variables, then waits until $3 tasks have started (exit 8 if
// they never do): the tasks of the first round all run at once, each with its own.
const exclusiveScript = `d=$1; for r in $2; do mkdir "$d/held.$r" || exit 7; done
echo "task $MW_TASK:$2;$CUDA_VISIBLE_DEVICES;$ROCR_VISIBLE_DEVICES;$ZE_AFFINITY_MASK" >> "$d/log"
touch "$d/in.$MW_TASK"; n=0
while [ $(ls "$d" | grep -c '^in\.') -lt $3 ]; do n=$((n+1)); [ $n -gt 3000 ] && exit 8; sleep 0.01; done
for r in $2; do rmdir "$d/held.$r"; done`

// logged reads the exclusive script's log: per task, what it held and its three device
// variables.
func logged(t *testing.T, dir string) map[string][4]string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	out := map[string][4]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		task, rest, _ := strings.Cut(l, ":")
		f := strings.Split(rest, ";")
		if len(f) != 4 {
			t.Fatalf("log line %q", l)
		}
		out[task] = [4]string{f[0], f[1], f[2], f[3]}
	}
	return out
}

// TestEachTaskItsOwnGPUs: a rank given CUDA_VISIBLE_DEVICES=3,5,7,9 runs four tasks at a
// time, each seeing one of them in the three variables and {gpu}, none shared; a --tasks
// file's #MW gpus=2 gives two each, gpus=0 none (the variables empty).
func TestEachTaskItsOwnGPUs(t *testing.T) {
	t.Setenv("CUDA_VISIBLE_DEVICES", "3,5,7,9")
	dir := t.TempDir()
	got := runInproc(t, 2, "", "--quiet", "--gpus", "auto", "-q", "--", "sh", "-c", exclusiveScript, "sh", dir, "{gpu}", "4", ":::", "1", "2", "3", "4", "5", "6", "7", "8")
	if got.code != 0 {
		t.Fatalf("exit %d stderr %q", got.code, got.stderr)
	}
	log := logged(t, dir)
	if len(log) != 8 {
		t.Fatalf("%d tasks logged: %v", len(log), log)
	}
	for task, f := range log {
		if !slices.Contains([]string{"3", "5", "7", "9"}, f[0]) || f[1] != f[0] || f[2] != f[0] || f[3] != f[0] {
			t.Errorf("%s saw %q", task, f)
		}
	}

	dir = t.TempDir()
	script, tasks := filepath.Join(dir, "exclusive.sh"), filepath.Join(dir, "tasks")
	os.WriteFile(script, []byte(exclusiveScript), 0o644)
	twoGPUs := fmt.Sprintf("sh %s %s \"$(echo $CUDA_VISIBLE_DEVICES | tr , ' ')\" 2\n", script, dir)
	os.WriteFile(tasks, []byte("#MW gpus=2\n"+twoGPUs+twoGPUs+"#MW gpus=0\necho \"none: [$CUDA_VISIBLE_DEVICES]\"\n"), 0o644)
	got = runInproc(t, 1, "", "--quiet", "--gpus", "auto", "--tasks", tasks)
	if got.code != 0 || got.stdout != "none: []\n" {
		t.Fatalf("#MW gpus: exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
	log = logged(t, dir)
	var all []string
	for task, f := range log {
		held := strings.Fields(f[0])
		if len(held) != 2 || f[1] != strings.Join(held, ",") {
			t.Errorf("%s saw %q", task, f)
		}
		all = append(all, held...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []string{"3", "5", "7", "9"}) {
		t.Errorf("the two tasks held %v together, want every device once", all)
	}
}

// TestEachTaskItsOwnCores: under taskset -c 0,1, --cpus-per-task 1 runs two tasks at a
// time, each bound to one of the cores (its children too), none shared; a rank bound to
// one core warns that -j 2 shares it, and refuses --cpus-per-task 2.
func TestEachTaskItsOwnCores(t *testing.T) {
	if cores, err := rankCores(); err != nil || !slices.Contains(cores, 0) || !slices.Contains(cores, 1) {
		t.Skipf("needs cores 0 and 1 (this process may use %v)", cores)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "exclusive.sh")
	os.WriteFile(script, []byte(exclusiveScript), 0o644)
	cmd := fmt.Sprintf(`sh %s %s "$(grep Cpus_allowed_list /proc/self/status | cut -f2 | tr , ' ')" 2 #`, script, dir)
	r := mwtest.Command(t, nil, "taskset", "-c", "0,1", mwtest.Binary(t), "exec", "--quiet", "--cpus-per-task", "1", cmd, ":::", "1", "2", "3", "4")
	if r.Code != 0 {
		t.Fatalf("exit %d stderr %q", r.Code, r.Stderr)
	}
	for task, f := range logged(t, dir) {
		if f[0] != "0" && f[0] != "1" {
			t.Errorf("%s ran on cores %q, want one of 0 and 1", task, f[0])
		}
	}
	r = mwtest.Command(t, nil, "taskset", "-c", "0", mwtest.Binary(t), "exec", "--quiet", "-j", "2", "true", ":::", "1")
	if r.Code != 0 || !strings.Contains(string(r.Stderr), "warning: 2 tasks at once share the 1 core this rank may use (0) of the node's") {
		t.Errorf("-j 2 on one core: exit %d stderr %q", r.Code, r.Stderr)
	}
	r = mwtest.Command(t, nil, "taskset", "-c", "0", mwtest.Binary(t), "exec", "--quiet", "--cpus-per-task", "2", "true", ":::", "1")
	if r.Code != 255 || !strings.Contains(string(r.Stderr), "--cpus-per-task 2: this rank may use 1 core (0)") {
		t.Errorf("--cpus-per-task 2 on one core: exit %d stderr %q", r.Code, r.Stderr)
	}
}

// TestEachTaskItsOwnGPUsMPI: a worker rank given its devices by mpirun -x shares them out.
func TestEachTaskItsOwnGPUsMPI(t *testing.T) {
	needMPI(t)
	dir := t.TempDir()
	job := mwtest.Job{NP: 2, Unbound: true, Env: []string{"CUDA_VISIBLE_DEVICES=0,1"}, OpenMPI: []string{"-q"}}
	r := job.Run(t, nil, mwtest.Binary(t), "exec", "--quiet",
		"--gpus", "auto", "-q", "--", "sh", "-c", exclusiveScript, "sh", dir, "{gpu}", "2", ":::", "1", "2", "3")
	if r.Code != 0 {
		t.Fatalf("exit %d stderr %q", r.Code, r.Stderr)
	}
	for task, f := range logged(t, dir) {
		if f[0] != "0" && f[0] != "1" || f[1] != f[0] {
			t.Errorf("%s saw %q", task, f)
		}
	}
}

// TestRequestsThatCannotBeMet: a task whose request is not a number, or more than its rank
// has, fails alone (126, saying why); the others run.
func TestRequestsThatCannotBeMet(t *testing.T) {
	cores, err := rankCores()
	if err != nil {
		t.Fatal(err)
	}
	too := fmt.Sprint(len(cores) + 1)
	got := runInproc(t, 1, "", "--quiet", "--colsep", ",", "--cpus-per-task", "{2}", "--joblog", filepath.Join(t.TempDir(), "log"),
		"echo {1}", ":::", "a,1", "b,x", "c,"+too, "d,1")
	if got.code != 2 || got.stdout != "a\nd\n" || !strings.Contains(got.stderr, `task 2: --cpus-per-task {2} is "x" for this task`) ||
		!strings.Contains(got.stderr, "task 3: asks for "+too+" cores and 0 GPUs; this rank has") {
		t.Errorf("exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
	got = runInproc(t, 1, "", "--quiet", "--tasks", "-")
	if got.code != 0 {
		t.Errorf("empty --tasks: exit %d", got.code)
	}
	tasks := filepath.Join(t.TempDir(), "tasks")
	os.WriteFile(tasks, []byte("#MW gpus=1\necho x\n"), 0o644)
	got = runInproc(t, 1, "", "--quiet", "--tasks", tasks)
	if got.code != 1 || !strings.Contains(got.stderr, "task 1: asks for 1 GPU: give the ranks theirs with --gpus N or --gpus auto") {
		t.Errorf("a GPU without --gpus: exit %d stderr %q", got.code, got.stderr)
	}
}
