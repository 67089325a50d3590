package taskfarm

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mw-hpc/mw/internal/human"
)

// pool is a worker rank's cores and GPUs, shared out to its tasks as they start: each
// running task has cores and devices of its own, never another's. Requests are served in
// the order they come (HyperQueue's model without priorities): a task starts as soon as
// what it asks for is free, unless a task that came before it is still waiting, so that a
// large request is never starved by a stream of small ones. Safe for concurrent use.
type pool struct {
	cores []int    // the rank's cores; nil when cores are not counted
	devs  []string // the rank's GPUs; nil when none
	mu    sync.Mutex
	coreUsed,
	devUsed []bool
	freeCores, freeDevs int
	queue               []*poolWaiter
}

// grant is what a task was given: core numbers and device names.
type grant struct {
	cores []int
	devs  []string
}

type poolWaiter struct {
	cpus, gpus int
	ready      chan grant // buffered: release never waits for the waiter
}

func newPool(cores []int, devs []string) *pool {
	return &pool{cores: cores, devs: devs, coreUsed: make([]bool, len(cores)), devUsed: make([]bool, len(devs)),
		freeCores: len(cores), freeDevs: len(devs)}
}

// acquire waits until cpus cores and gpus devices are free and takes them, or until ctx is
// done. A request larger than the rank's is an error at once.
func (p *pool) acquire(ctx context.Context, cpus, gpus int) (grant, error) {
	if cpus > len(p.cores) || gpus > len(p.devs) {
		return grant{}, fmt.Errorf("asks for %s and %s; this rank has %s (%s) and %s", human.Plural(cpus, "core"), human.Plural(gpus, "GPU"),
			human.Plural(len(p.cores), "core"), cpuListText(p.cores), human.Plural(len(p.devs), "GPU"))
	}
	p.mu.Lock()
	if len(p.queue) == 0 && p.fits(cpus, gpus) {
		g := p.take(cpus, gpus)
		p.mu.Unlock()
		return g, nil
	}
	w := &poolWaiter{cpus: cpus, gpus: gpus, ready: make(chan grant, 1)}
	p.queue = append(p.queue, w)
	p.mu.Unlock()
	select {
	case g := <-w.ready:
		return g, nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	if i := slices.Index(p.queue, w); i >= 0 {
		p.queue = slices.Delete(p.queue, i, i+1)
		p.serve() // the tasks behind it may fit now
		p.mu.Unlock()
		return grant{}, ctx.Err()
	}
	p.mu.Unlock()
	p.release(<-w.ready) // granted as ctx ended
	return grant{}, ctx.Err()
}

// release gives a task's cores and devices back, and starts the waiting tasks that fit.
func (p *pool) release(g grant) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range g.cores {
		i := slices.Index(p.cores, c)
		p.coreUsed[i] = false
		p.freeCores++
	}
	for _, d := range g.devs {
		i := slices.Index(p.devs, d)
		p.devUsed[i] = false
		p.freeDevs++
	}
	p.serve()
}

// serve grants the waiting requests in order, while the first fits. Called with mu held.
func (p *pool) serve() {
	for len(p.queue) > 0 && p.fits(p.queue[0].cpus, p.queue[0].gpus) {
		w := p.queue[0]
		p.queue = p.queue[1:]
		w.ready <- p.take(w.cpus, w.gpus)
	}
}

func (p *pool) fits(cpus, gpus int) bool { return cpus <= p.freeCores && gpus <= p.freeDevs }

// take marks the lowest free cores and devices used. Called with mu held, when they fit.
func (p *pool) take(cpus, gpus int) grant {
	var g grant
	for i := 0; len(g.cores) < cpus; i++ {
		if !p.coreUsed[i] {
			p.coreUsed[i] = true
			g.cores = append(g.cores, p.cores[i])
		}
	}
	for i := 0; len(g.devs) < gpus; i++ {
		if !p.devUsed[i] {
			p.devUsed[i] = true
			g.devs = append(g.devs, p.devs[i])
		}
	}
	p.freeCores -= cpus
	p.freeDevs -= gpus
	return g
}

// cpuListText writes cores as Linux writes a CPU list: 0-3,8.
func cpuListText(cores []int) string {
	var b strings.Builder
	for i := 0; i < len(cores); {
		j := i
		for j+1 < len(cores) && cores[j+1] == cores[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cores[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(cores[j]))
		}
		i = j + 1
	}
	return b.String()
}
