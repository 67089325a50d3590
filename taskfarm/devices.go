package taskfarm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// deviceVars are the variables that say which GPUs a process may use, as CUDA, ROCm and
// oneAPI (Level Zero) read them: a rank's own tell it its devices, and each task is given
// its share in all three.
var deviceVars = []string{"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK"}

// probe is how a rank looks for its GPUs: the environment, a command's output, the device
// files. Tests give fake ones.
type probe struct {
	lookupEnv func(string) (string, bool)
	output    func(name string, args ...string) ([]byte, error) // a command's stdout
	glob      func(pattern string) ([]string, error)
}

// systemProbe looks at this process's environment, its PATH's nvidia-smi and rocm-smi
// (given a few seconds each), and /dev.
var systemProbe = probe{lookupEnv: os.LookupEnv, glob: filepath.Glob,
	output: func(name string, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, name, args...).Output()
	}}

// rankDevices is the GPUs a rank shares out to its tasks, as --gpus says: auto, every
// device the rank finds (see findDevices); N, N of them (the first N found, or 0 to N-1
// when none is found). It also says where it found them, for messages.
func rankDevices(spec string, p probe) ([]string, string, error) {
	found, where := findDevices(p)
	if spec == "auto" {
		if len(found) == 0 && where != "" {
			return nil, "", fmt.Errorf("--gpus auto: this rank may use no GPU (%s)", where)
		}
		if len(found) == 0 {
			return nil, "", errors.New("--gpus auto: no GPU found (CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES, Slurm's SLURM_STEP_GPUS, nvidia-smi, rocm-smi, /dev/nvidia*, /dev/kfd): give --gpus N")
		}
		return found, where, nil
	}
	n, err := parseGPUCount(spec)
	switch {
	case err != nil:
		return nil, "", err
	case len(found) == 0 && where != "":
		return nil, "", fmt.Errorf("--gpus %d: this rank may use no GPU (%s)", n, where)
	case len(found) == 0:
		ids := make([]string, n)
		for i := range ids {
			ids[i] = strconv.Itoa(i)
		}
		return ids, "--gpus " + spec, nil
	case len(found) < n:
		return nil, "", fmt.Errorf("--gpus %d: this rank sees %d (%s)", n, len(found), where)
	}
	return found[:n], where, nil
}

// parseGPUCount reads --gpus N.
func parseGPUCount(spec string) (int, error) {
	n, err := strconv.Atoi(spec)
	if err != nil || n < 1 || n > maxTaskGPUs {
		return 0, fmt.Errorf("--gpus %s: must be auto or a number of devices from 1 to %d", spec, maxTaskGPUs)
	}
	return n, nil
}

// findDevices finds the GPUs this rank may use, the first way that says: the variables
// its launcher or batch system set (CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES,
// HIP_VISIBLE_DEVICES, ZE_AFFINITY_MASK, Slurm's SLURM_STEP_GPUS and SLURM_JOB_GPUS),
// then nvidia-smi -L, rocm-smi, and the device files (/dev/nvidiaN; /dev/kfd with
// /dev/dri/renderD*). Devices keep the names the variables give them (indices, UUIDs).
func findDevices(p probe) ([]string, string) {
	for _, v := range []string{"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ZE_AFFINITY_MASK", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS"} {
		if s, ok := p.lookupEnv(v); ok {
			return deviceList(s), v + "=" + s
		}
	}
	if out, err := p.output("nvidia-smi", "-L"); err == nil {
		if ids := indices(nvidiaGPU, out); len(ids) > 0 {
			return ids, "nvidia-smi -L"
		}
	}
	if out, err := p.output("rocm-smi", "--showid"); err == nil {
		if ids := indices(rocmGPU, out); len(ids) > 0 {
			return ids, "rocm-smi"
		}
	}
	return deviceFiles(p.glob)
}

// deviceList reads a list of devices as the variables write it: comma separated; CUDA's
// -1 or NoDevFiles, or an empty list, is no device.
func deviceList(s string) []string {
	var ids []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" || f == "-1" || f == "NoDevFiles" {
			continue
		}
		if !slices.Contains(ids, f) {
			ids = append(ids, f)
		}
	}
	return ids
}

var (
	nvidiaGPU = regexp.MustCompile(`(?m)^GPU (\d+):`)
	rocmGPU   = regexp.MustCompile(`GPU\[(\d+)\]`)
	nvidiaDev = regexp.MustCompile(`^/dev/nvidia(\d+)$`)
)

// indices are the distinct device numbers re finds in out, in order.
func indices(re *regexp.Regexp, out []byte) []string {
	var ids []string
	for _, m := range re.FindAllSubmatch(out, -1) {
		if id := string(m[1]); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// deviceFiles finds GPUs by their device files: NVIDIA's /dev/nvidiaN, or AMD's /dev/kfd
// with one /dev/dri/renderD* per device.
func deviceFiles(glob func(string) ([]string, error)) ([]string, string) {
	files, _ := glob("/dev/nvidia*")
	var nums []int
	for _, f := range files {
		if m := nvidiaDev.FindStringSubmatch(f); m != nil {
			n, _ := strconv.Atoi(m[1])
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	var ids []string
	for _, n := range nums {
		ids = append(ids, strconv.Itoa(n))
	}
	if len(ids) > 0 {
		return ids, "/dev/nvidia*"
	}
	if kfd, _ := glob("/dev/kfd"); len(kfd) == 0 {
		return nil, ""
	}
	render, _ := glob("/dev/dri/renderD*")
	for i := range render {
		ids = append(ids, strconv.Itoa(i))
	}
	if len(ids) == 0 {
		return nil, ""
	}
	return ids, "/dev/kfd and /dev/dri/renderD*"
}

// deviceEnv is the variables that give a task its devices (none: an empty list, which
// hides every device).
func deviceEnv(devs []string) []string {
	list := strings.Join(devs, ",")
	env := make([]string, 0, len(deviceVars))
	for _, v := range deviceVars {
		env = append(env, v+"="+list)
	}
	return env
}
