package pool

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/internal/frame"
	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpitransport"
	"github.com/mw-hpc/mw/rank"
)

// world is this process's place in the job: its transport and, when the job has several
// ranks, its place in the sequence of collective calls that every rank makes in the same
// order (sequence.go). Collective calls on one rank run one at a time: a second one while
// another runs (from another goroutine, or from inside a Stream loop or an Execute body)
// is an error at once, never a wait.
type world struct {
	t    rank.Transport
	main bool // Main started it: the sequence's end is Main's

	mu   sync.Mutex   // held by the collective call under way
	busy atomic.Value // what holds mu (a string), for the error of a call that finds it held

	// The sequence, used by the collective call that holds mu (or by Main at the end).
	n     uint64 // rank 0: the calls announced; a worker: the last call it answered
	calls int    // collective calls this rank made
	held  *ctl   // a worker: a message that came early, for the next wait
	over  error  // a worker: rank 0 ended the sequence while this rank was in a call
	hosts []string
	gone  []bool // rank 0: workers the engine lost in a run, out of the sequence since
}

var (
	worldMu  sync.Mutex
	theWorld *world
)

// joinWorld returns the world of this process for a collective call named call: the one
// Main started, or else, in a process that is the only rank of its job, a world of one. A
// process with peers outside Main is refused at once, on every rank alike.
func joinWorld(call string) (*world, error) {
	worldMu.Lock()
	defer worldMu.Unlock()
	if theWorld != nil {
		return theWorld, nil
	}
	if l := launch.FromEnv(); l.Launched() && l.Size != 1 {
		return nil, fmt.Errorf("%s called outside pool.Main in rank %d of an MPI job: wrap main's body in pool.Main, which keeps the ranks in step and stops MPI at the end", call, l.Rank)
	}
	t, err := mpitransport.Start()
	if err != nil {
		return nil, err
	}
	theWorld = newWorld(t, false)
	return theWorld, nil
}

func newWorld(t rank.Transport, main bool) *world {
	w := &world{t: t, main: main}
	if t.Rank() == 0 {
		w.hosts, w.gone = make([]string, t.Size()), make([]bool, t.Size())
		w.hosts[0] = t.Host()
	}
	return w
}

// acquire takes the world for one collective call, or fails at once when another holds
// it. release gives it back.
func (w *world) acquire(call string) (release func(), err error) {
	if !w.mu.TryLock() {
		holder, _ := w.busy.Load().(string)
		return nil, fmt.Errorf("%s: called while %s runs on this rank: collective calls run one at a time", call, holder)
	}
	w.busy.Store(call)
	return w.mu.Unlock, nil
}

// lose takes the workers the engine lost in a run out of the sequence: rank 0 sends them
// nothing more and waits for none of them.
func (w *world) lose(lost []rank.LostWorker) {
	for _, l := range lost {
		if l.Rank > 0 && l.Rank < len(w.gone) {
			w.gone[l.Rank] = true
		}
	}
}

// workers calls f for each worker rank still in the sequence, until f fails.
func (w *world) workers(f func(r int) error) error {
	for r := 1; r < w.t.Size(); r++ {
		if !w.gone[r] {
			if err := f(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// alone reports whether the job has a single rank (no sequence to keep).
func (w *world) alone() bool { return w.t.Size() == 1 }

// who names rank r for messages.
func (w *world) who(r int) string {
	if r < len(w.hosts) && w.hosts[r] != "" {
		return fmt.Sprintf("rank %d on %s", r, w.hosts[r])
	}
	return fmt.Sprintf("rank %d", r)
}

// callAt describes a collective call as every rank must make it (what) and where this rank
// made it (where, skip frames above the caller of the function that calls it).
func callAt(skip int, name string, types []reflect.Type, fn any) position {
	var b strings.Builder
	b.WriteString(name)
	if len(types) > 0 {
		b.WriteByte('[')
		for i, t := range types {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.String())
		}
		b.WriteByte(']')
	}
	if fn != nil {
		fmt.Fprintf(&b, "(%s)", funcName(fn))
	}
	return position{state: atCall, what: b.String(), where: caller(skip + 1)}
}

// funcName is the name of the function fn (a closure's is its enclosing function's, with
// .funcN), the same on every rank of one program.
func funcName(fn any) string {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return "nil"
	}
	if f := runtime.FuncForPC(v.Pointer()); f != nil {
		return f.Name()
	}
	return "?"
}

// caller is "file:line" of the caller skip frames above caller's own caller.
func caller(skip int) string {
	_, file, line, ok := runtime.Caller(skip + 2)
	if !ok {
		return "?"
	}
	if i := strings.LastIndexByte(file, '/'); i >= 0 {
		file = file[i+1:]
	}
	return fmt.Sprintf("%s:%d", file, line)
}

// own runs step as this rank's owner loop (see rank.Transport), woken when ctx ends.
func (w *world) own(ctx context.Context, step func() error) error {
	defer context.AfterFunc(ctx, w.t.Wake)()
	return w.t.Own(step)
}

// send sends m to rank to; call it from the owner loop.
func (w *world) send(to int, m ctl) error {
	b := appendCtl(nil, m)
	f := frame.Get(len(b))
	copy(f, b)
	return w.t.Send(to, f)
}

// patience is how long a wait for another rank lasts before this rank says, once, on
// stderr, that it waits (a rank computing for long between two calls is no fault, but a
// rank that never comes is one this rank cannot see).
var patience = 30 * time.Second

// next returns the next control message; call it from the owner loop. It waits for one
// until ctx ends (waiting says what for, for the notice past patience). Frames that are
// not pool's (the engine's, left over from a run) are dropped.
func (w *world) next(ctx context.Context, waiting func() string) (int, ctl, error) {
	start := time.Now()
	told := false
	for {
		if err := ctx.Err(); err != nil {
			return 0, ctl{}, err
		}
		from, f, ok, err := w.t.Recv()
		if err != nil {
			return 0, ctl{}, err
		}
		if !ok {
			if !told && time.Since(start) > patience {
				told = true
				noticef("rank %d has waited %v %s", w.t.Rank(), patience, waiting())
			}
			if err := w.t.Wait(rank.WaitHint{Within: time.Second}); err != nil {
				return 0, ctl{}, err
			}
			continue
		}
		m, err := parseCtl(f)
		frame.Put(f)
		switch {
		case err == errNotCtl:
			continue
		case err != nil:
			return 0, ctl{}, fmt.Errorf("%s: %w", w.who(from), err)
		}
		return from, m, nil
	}
}
