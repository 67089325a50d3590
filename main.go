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
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
