//go:build !linux

package taskfarm

import (
	"errors"
	"runtime"
)

// rankCores is CPUs 0 to NumCPU-1: without Linux's affinity calls, every CPU.
func rankCores() ([]int, error) {
	cores := make([]int, runtime.NumCPU())
	for i := range cores {
		cores[i] = i
	}
	return cores, nil
}

// nodeCPUs is the CPUs Go counts.
func nodeCPUs() int { return runtime.NumCPU() }

// pinThread is not supported here.
func pinThread([]int) error { return errors.New("binding tasks to cores needs Linux") }
