package taskfarm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// pacer spaces a worker rank's task starts for --delay: the ranks together start one task
// per delay, as GNU parallel does on one machine. Each of n worker ranks starts at most one
// task per n x delay, the i-th rank's first one i x delay after the run starts. Safe for
// concurrent use.
type pacer struct {
	mu       sync.Mutex
	next     time.Time
	interval time.Duration
}

func newPacer(delay time.Duration, index, ranks int) *pacer {
	return &pacer{next: time.Now().Add(time.Duration(index) * delay), interval: time.Duration(max(ranks, 1)) * delay}
}

// wait returns when this rank may start its next task (false if ctx ended first).
func (p *pacer) wait(ctx context.Context) bool {
	p.mu.Lock()
	at := p.next
	now := time.Now()
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// memWatch is --memfree on a worker rank: no task starts while less memory than the limit
// is available, and while less than half of it is, the youngest of several running tasks
// is stopped (its context cancelled with errMemoryLow: its kill sequence runs) and run
// again later, as GNU parallel does. Safe for concurrent use.
type memWatch struct {
	limit int64
	quit  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	live  map[*memTask]bool
}

// memTask is a running task as memWatch sees it.
type memTask struct {
	started time.Time
	cancel  context.CancelCauseFunc
}

// errMemoryLow stops a task for --memfree; it runs again.
var errMemoryLow = errors.New("stopped for --memfree: less than half of it is available")

// memAvailable reads MemAvailable from /proc/meminfo (bytes); -1 when it cannot.
var memAvailable = func() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := bytes.Fields(s.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemAvailable:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

// memPoll is how often --memfree looks at the free memory.
var memPoll = time.Second

func newMemWatch(limit int64) *memWatch {
	m := &memWatch{limit: limit, quit: make(chan struct{}), live: map[*memTask]bool{}}
	go m.watch()
	return m
}

// waitFree returns when enough memory is available to start a task (false if ctx ended).
func (m *memWatch) waitFree(ctx context.Context) bool {
	for {
		if a := memAvailable(); a < 0 || a >= m.limit {
			return true
		}
		t := time.NewTimer(memPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// add registers a starting task; done unregisters it.
func (m *memWatch) add(cancel context.CancelCauseFunc) (done func()) {
	t := &memTask{started: time.Now(), cancel: cancel}
	m.mu.Lock()
	m.live[t] = true
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.live, t)
		m.mu.Unlock()
	}
}

// watch stops the youngest of several running tasks while memory is below half the limit.
func (m *memWatch) watch() {
	tick := time.NewTicker(memPoll)
	defer tick.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-tick.C:
		}
		if a := memAvailable(); a < 0 || a >= m.limit/2 {
			continue
		}
		m.mu.Lock()
		var youngest *memTask
		for t := range m.live {
			if youngest == nil || t.started.After(youngest.started) {
				youngest = t
			}
		}
		if youngest != nil && len(m.live) > 1 {
			delete(m.live, youngest)
			youngest.cancel(errMemoryLow)
		}
		m.mu.Unlock()
	}
}

func (m *memWatch) stop() { m.once.Do(func() { close(m.quit) }) }

// taskDir is the directory a task runs in as the shell sees it: $PWD when it names the
// directory (the logical path the user sees), else its physical path, as dash sets PWD.
func taskDir(dir string) string {
	target := dir
	if target == "" {
		target = "."
	}
	fi, err := os.Stat(target)
	if err != nil {
		return ""
	}
	if pwd := os.Getenv("PWD"); dir == "" && len(pwd) > 0 && pwd[0] == '/' {
		if pi, err := os.Stat(pwd); err == nil && os.SameFile(fi, pi) {
			return pwd
		}
	}
	if dir == "" {
		wd, _ := syscall.Getwd()
		return wd
	}
	abs, err := evalAbs(dir)
	if err != nil {
		return ""
	}
	return abs
}

// evalAbs is dir's absolute physical path.
func evalAbs(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
