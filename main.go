// Command mw turns an MPI allocation into a manager-workers machine.
//
//	mpirun -np N mw <workload> [flags]
//
// Every rank runs the same program. Rank 0 is the manager: it cuts the ordered input into
// numbered chunks, pushes them to the worker ranks, gathers the results and writes them in
// input order. With -np 1 the manager does the work itself and writes the same bytes.
//
// Workloads: interp (ultrasonic frame interpolation), overlay (polygon overlay of two
// rectangle maps), exec (a task farm of shell commands), selftest (the engine's own test).
// `mw gen` makes synthetic inputs. `mw <workload> -h` documents each one.
//
// Exit codes: 0 success, 1 runtime error, 2 usage error (mw exec: GNU parallel's codes).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/mw-hpc/mw/cli"
)

// gcPercent is mw's garbage-collector target unless GOGC is set: chunks and results of a
// few hundred KiB churn through the heap while the live heap stays small (bounded by the
// workers times the window), so collecting at five times the live heap rather than twice
// spares most collections for little memory (interp at -np 2: 8.7k -> 16k frames/s).
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal stops the run, which cleans up. A second one ends mw at once: a
		// read waiting for input (a terminal, a FIFO) never sees the first. Its outputs'
		// temporary files go, and it dies by the signal, as by default.
		sig := <-sigs
		stop(fmt.Errorf("%v signal received", sig))
		sig = <-sigs
		cli.RemoveTemporaryFiles()
		signal.Reset(sig)
		syscall.Kill(os.Getpid(), sig.(syscall.Signal))
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop(nil)
	os.Exit(code)
}
