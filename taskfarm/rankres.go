package taskfarm

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mw-hpc/mw/internal/human"
	"github.com/mw-hpc/mw/launch"
)

// share is --cpus-per-task or --gpus-per-task: what each task asks for unless a --tasks
// file's #MW line says otherwise; a number, or replacement strings ({3}: a column of the
// input) composed for each task.
type share struct {
	flag string
	text string // as given; "" not given
	n    int    // the number, when not a template
	tmpl bool
	min  int
	max  int
}

// parse checks the value: a number from min to max, or one holding replacement strings.
func (s *share) parse() error {
	if s.text == "" || strings.Contains(s.text, "{") {
		s.tmpl = s.text != ""
		return nil
	}
	n, err := strconv.Atoi(s.text)
	if err != nil || n < s.min || n > s.max {
		return fmt.Errorf("%s %s: must be a number from %d to %d, or replacement strings such as {2}", s.flag, s.text, s.min, s.max)
	}
	s.n = n
	return nil
}

func (s *share) given() bool { return s.text != "" }

// rankResources are the cores and GPUs a computing rank shares out to its tasks.
type rankResources struct {
	cores []int    // the CPUs the rank may run on (its binding)
	devs  []string // its GPUs (--gpus), nil without
	where string   // where the GPUs were found, for messages
	err   error    // what keeps the rank from running tasks as asked: its worker fails with it
}

// resolveResources checks --gpus, --cpus-per-task and --gpus-per-task, and makes {gpu} a
// replacement string when the ranks have GPUs to share.
func (o *options) resolveResources() error {
	if o.gpus != "" && o.gpus != "auto" {
		if _, err := parseGPUCount(o.gpus); err != nil {
			return err
		}
	}
	o.cpuShare = share{flag: "--cpus-per-task", text: o.cpuShare.text, min: 1, max: maxTaskCPUs}
	o.gpuShare = share{flag: "--gpus-per-task", text: o.gpuShare.text, min: 0, max: maxTaskGPUs}
	if err := o.cpuShare.parse(); err != nil {
		return err
	}
	if err := o.gpuShare.parse(); err != nil {
		return err
	}
	if o.gpuShare.given() && o.gpus == "" {
		return fmt.Errorf("--gpus-per-task %s needs --gpus N or --gpus auto: the GPUs each rank shares out", o.gpuShare.text)
	}
	if o.gpus != "" {
		if _, taken := o.rpl["{gpu}"]; !taken {
			o.rpl["{gpu}"] = rplGPU
		}
	}
	return nil
}

// findResources finds this rank's cores and, with --gpus, its GPUs; on the manager of a
// world of several ranks (which runs no task), nothing.
func (o *options) findResources(rank int) *rankResources {
	if rank == 0 && launch.FromEnv().Size > 1 {
		return nil
	}
	res := &rankResources{}
	res.cores, res.err = rankCores()
	if res.err == nil && o.gpus != "" {
		res.devs, res.where, res.err = rankDevices(o.gpus, systemProbe)
	}
	if res.err == nil && o.cpuShare.n > len(res.cores) {
		res.err = fmt.Errorf("--cpus-per-task %d: this rank may use %s (%s)%s", o.cpuShare.n, human.Plural(len(res.cores), "core"),
			cpuListText(res.cores), bindingHint(len(res.cores)))
	}
	return res
}

// bindingHint says how to give a rank more cores when its launcher bound it to fewer than
// its node has.
func bindingHint(cores int) string {
	if node := nodeCPUs(); node > cores {
		return fmt.Sprintf(", of the node's %d: its launcher bound it; mpirun --bind-to none, or srun --cpus-per-task=N, gives it more", node)
	}
	return ""
}

// resourceSlots is the tasks a rank can run at once by its cores and GPUs: its cores over
// --cpus-per-task, its GPUs over --gpus-per-task (1 by default); 0 when neither bounds it
// (or the shares vary by task).
func (o *options) resourceSlots(res *rankResources) int {
	if res == nil || res.err != nil {
		return 0
	}
	n := 0
	if o.cpuShare.n > 0 {
		n = len(res.cores) / o.cpuShare.n
	}
	if o.gpus != "" && !o.gpuShare.tmpl {
		per := o.gpuShare.n
		if !o.gpuShare.given() {
			per = 1
		}
		if per > 0 && (n == 0 || len(res.devs)/per < n) {
			n = len(res.devs) / per
		}
	}
	if n == 0 && (o.cpuShare.n > 0 || o.gpus != "") {
		n = 1
	}
	return n
}

// bindingWarning is the warning of a rank that runs more tasks at once than the cores its
// launcher bound it to ("" when it does not).
func (o *options) bindingWarning(res *rankResources, threads int) string {
	if res == nil || res.err != nil || threads <= len(res.cores) || o.cpuShare.given() {
		return ""
	}
	node := nodeCPUs()
	if node <= len(res.cores) {
		return "" // every core of the node: -j above it is the user's choice
	}
	return fmt.Sprintf("%d tasks at once share the %s this rank may use (%s) of the node's %d: its launcher bound it; mpirun --bind-to none (srun --cpu-bind=none) lets them spread, or give --cpus-per-task",
		threads, human.Plural(len(res.cores), "core"), cpuListText(res.cores), node)
}

// taskShare is what a task asks for of a share: the job's own request (a --tasks file's
// #MW line) when it has one, else the share's number or template composed for the job.
func (w *worker) taskShare(s share, t *template, own int, has bool, v *jobVars) (int, error) {
	switch {
	case has:
		return own, nil
	case !s.tmpl:
		return s.n, nil
	}
	text := strings.TrimSpace(t.compose(v, composeMode{}))
	n, err := strconv.Atoi(text)
	if err != nil || n < s.min || n > s.max {
		return 0, fmt.Errorf("%s %s is %q for this task: not a number from %d to %d", s.flag, s.text, text, s.min, s.max)
	}
	return n, nil
}

// resources waits for the cores and GPUs the task asks for and takes them; ok is false
// when it asks for none (and the rank has no GPU to hide from it).
func (w *worker) resources(ctx context.Context, j *job, v *jobVars) (g grant, ok bool, err error) {
	if w.pool == nil {
		return grant{}, false, nil
	}
	cpus, err := w.taskShare(w.o.cpuShare, w.cpuT, j.req.cpus, j.req.cpus > 0, v)
	if err != nil {
		return grant{}, false, err
	}
	gpus, err := w.taskShare(w.o.gpuShare, w.gpuT, j.req.gpus, j.req.gpusSet, v)
	if err != nil {
		return grant{}, false, err
	}
	if w.o.gpus != "" && !j.req.gpusSet && !w.o.gpuShare.given() {
		gpus = 1
	}
	if cpus == 0 && gpus == 0 && w.o.gpus == "" {
		return grant{}, false, nil
	}
	if gpus > 0 && w.o.gpus == "" {
		return grant{}, false, fmt.Errorf("asks for %s: give the ranks theirs with --gpus N or --gpus auto", human.Plural(gpus, "GPU"))
	}
	g, err = w.pool.acquire(ctx, cpus, gpus)
	return g, err == nil, err
}
