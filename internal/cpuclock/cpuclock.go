// Package cpuclock reads CPU-time clocks: the calling thread's and the whole process's.
package cpuclock

import (
	"syscall"
	"time"
	"unsafe"
)

// started is the origin of Thread's fallback.
var started = time.Now()

// Thread is the CPU time the calling OS thread has used (CLOCK_THREAD_CPUTIME_ID), read
// with a raw system call: the simulator reads it at every call its manager makes. Pin the
// goroutine to its thread (runtime.LockOSThread) between two reads that should agree.
// Where the system has no such clock it is the time since the program started.
func Thread() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return time.Since(started)
	}
	return time.Duration(ts.Nano())
}

// Process is the CPU time (user and system) the process has used so far, from getrusage;
// 0 where that fails.
func Process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
