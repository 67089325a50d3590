package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpitransport"
)

// Main runs a program's body on every rank of its job and ends the process: call it from
// main, with main's whole body. It starts MPI (when a launcher started the process with
// peers), runs body with a context that SIGINT and SIGTERM cancel, and at the end of body
// waits until every rank is there, stops MPI and exits: 0 when every rank succeeded; 1
// after an error, which rank 0 prints as "<program>: <error>"; 2 after a panic, which the
// panicking rank prints as Go does.
//
// Every rank must make the same collective calls (Map, Stream, Broadcast, Execute, Run) in
// the same order. A rank that does not (it returned early, panicked, or called something
// else) ends the job at once, with rank 0's message naming it and what it did: the job
// never hangs on it. Under mpirun the collective calls refuse to run outside Main.
func Main(body func(ctx context.Context) error) {
	os.Exit(runMain(body))
}

func runMain(body func(ctx context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w, err := startMain()
	if err != nil {
		if IsManager() {
			fmt.Fprintf(os.Stderr, "%s: %v\n", progName(), err)
		}
		return 1
	}
	pos, bodyErr, stack := runBody(ctx, w, body)
	stop() // a second signal now ends the process at once
	me := w.t.Rank()
	reported := false
	verdict := w.end(context.Background(), pos, func(verdict error) {
		reported = report(stack, pos, bodyErr, verdict)
	})
	if stack != nil && me != 0 {
		report(stack, pos, nil, nil) // before MPI stops: every rank is still there
	}
	cerr := w.t.Close()
	switch {
	case stack != nil:
		return 2
	case bodyErr != nil || verdict != nil:
		return 1
	case cerr != nil:
		if me == 0 && !reported {
			fmt.Fprintf(os.Stderr, "%s: %v\n", progName(), cerr)
		}
		return 1
	}
	return 0
}

// report prints how the job ended, on rank 0 (and a panic on the rank that panicked):
// the panic as Go prints one, else the body's error (but a cancellation's: a signal), else
// the verdict. It reports whether it printed.
func report(stack []byte, pos position, bodyErr, verdict error) bool {
	switch {
	case stack != nil:
		fmt.Fprintf(os.Stderr, "panic: %s [recovered by pool.Main on rank %d]\n\n%s", pos.what, launch.FromEnv().Rank, stack)
	case bodyErr != nil && !errors.Is(bodyErr, context.Canceled):
		fmt.Fprintf(os.Stderr, "%s: %v\n", progName(), bodyErr)
	case bodyErr == nil && verdict != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", progName(), verdict)
	default:
		return false
	}
	return true
}

// startMain starts the transport for Main and makes its world this process's.
func startMain() (*world, error) {
	worldMu.Lock()
	defer worldMu.Unlock()
	if theWorld != nil {
		if theWorld.main {
			return nil, errors.New("pool.Main called twice")
		}
		theWorld.main = true
		return theWorld, nil
	}
	t, err := mpitransport.Start()
	if err != nil {
		return nil, err
	}
	theWorld = newWorld(t, true)
	return theWorld, nil
}

// runBody runs body and says how it ended: its position at the end (returned, with its
// error; or panicked), its error, and the stack of its panic.
func runBody(ctx context.Context, w *world, body func(ctx context.Context) error) (pos position, err error, stack []byte) {
	defer func() {
		if v := recover(); v != nil {
			stack = debug.Stack()
			pos = position{state: atPanic, what: fmt.Sprint(v), where: panicSite()}
		}
	}()
	err = body(ctx)
	return position{state: atEnd, err: errorBytes(err)}, err, nil
}

// panicSite is "file:line" of the panic being recovered: the first frame of the stack
// outside the runtime and this package's Main.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, "github.com/mw-hpc/mw/pool.") {
			return filepath.Base(f.File) + fmt.Sprintf(":%d", f.Line)
		}
		if !more {
			return "?"
		}
	}
}

// IsManager reports whether this process is rank 0, the manager (true too when no
// launcher started it), as its launcher says (see package launch).
func IsManager() bool { return launch.FromEnv().Rank == 0 }

// noticef prints a line on stderr, named by the program.
func noticef(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s: pool: %s\n", progName(), fmt.Sprintf(format, args...))
}

func progName() string {
	if len(os.Args) == 0 || os.Args[0] == "" {
		return "mw"
	}
	return filepath.Base(os.Args[0])
}
