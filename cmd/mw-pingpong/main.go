// Command mw-pingpong measures the mpi package's ping-pong between ranks 0 and 1; it is the Go
// twin of scripts/bench/pingpong.c, with the same sizes, iteration counts and output.
//
// Usage:
//
//	mpirun -np 2 mw-pingpong [-thread single|funneled|serialized|multiple] [-recv fixed|probe] [scale [trials]]
//
// For each size (0, 8, 44032 = one 168x256 frame plus header, 1 MiB) rank 0 sends a message
// to rank 1 with Communicator.Send and waits for it to come back with RecvFixed (one
// MPI_Recv, as pingpong.c does) or, with -recv probe, RecvInto (MPI_Mprobe and MPI_Mrecv,
// as pingpong.c -mprobe does),
// iters(size)*scale times after a warm-up, in `trials` trials (default 5). It prints one line
// per size with the best trial's half round-trip latency in microseconds and bandwidth in
// MB/s (1e6 bytes/s), after a line with the cost of an empty cgo call on rank 0:
//
//	# cgo call 31.0 ns
//	size iters us MB/s
//
// MPI is started with the -thread level, MPI_THREAD_SINGLE by default, as pingpong.c's MPI_Init
// does: only the main goroutine, locked to the main thread, calls MPI. With Open MPI 4.1 any
// higher level turns on its internal locking, which costs some 40 ns per small message here;
// MPICH locks only at MPI_THREAD_MULTIPLE. Built with -tags mpich it runs under MPICH
// (MPI=mpich scripts/bench/pingpong.sh).
//
// Ranks other than 0 and 1 only take part in the barriers. scripts/bench/pingpong.sh runs
// both programs and prints them side by side.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/mw-hpc/mw/internal/mpimain"
	"github.com/mw-hpc/mw/mpi"
)

// MPI is called from the main goroutine only, locked to the main thread from the start.
func init() { runtime.LockOSThread() }

var (
	sizes = []int{0, 8, 44032, 1 << 20}
	iters = []int{100000, 100000, 20000, 1000}
)

// errUsage marks a usage error (exit code 2).
var errUsage = errors.New("usage: mpirun -np 2 mw-pingpong [-thread single|funneled|serialized|multiple] [-recv fixed|probe] [scale [trials]]")

var levels = map[string]mpi.ThreadLevel{
	"single":     mpi.ThreadSingle,
	"funneled":   mpi.ThreadFunneled,
	"serialized": mpi.ThreadSerialized,
	"multiple":   mpi.ThreadMultiple,
}

func main() {
	os.Exit(mpimain.End("mw-pingpong", run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr), errUsage, os.Stderr))
}

func run(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mw-pingpong", flag.ContinueOnError)
	fs.SetOutput(stderr)
	thread := fs.String("thread", "single", "MPI thread level: single, funneled, serialized or multiple")
	how := fs.String("recv", "fixed", "receive with RecvFixed (fixed: MPI_Recv) or RecvInto (probe: MPI_Mprobe, MPI_Mrecv)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	level, ok := levels[*thread]
	if !ok {
		return fmt.Errorf("%w: bad -thread %q", errUsage, *thread)
	}
	recv := func(w *mpi.Communicator, buf []byte, from int) error {
		_, _, err := w.RecvFixed(buf, from, 1)
		return err
	}
	switch *how {
	case "fixed":
	case "probe":
		recv = func(w *mpi.Communicator, buf []byte, from int) error {
			_, _, err := w.RecvInto(buf, from, 1)
			return err
		}
	default:
		return fmt.Errorf("%w: bad -recv %q", errUsage, *how)
	}
	args = fs.Args()
	scale, trials := 1.0, 5
	var err error
	if len(args) > 2 {
		return errUsage
	}
	if len(args) > 0 {
		if scale, err = strconv.ParseFloat(args[0], 64); err != nil || scale <= 0 {
			return fmt.Errorf("%w: bad scale %q", errUsage, args[0])
		}
	}
	if len(args) > 1 {
		if trials, err = strconv.Atoi(args[1]); err != nil || trials < 1 {
			return fmt.Errorf("%w: bad trials %q", errUsage, args[1])
		}
	}
	if _, err := mpi.Start(level); err != nil {
		return err
	}
	w := mpi.World()
	if w.Size() < 2 {
		return fmt.Errorf("%w: needs at least 2 ranks, have %d", errUsage, w.Size())
	}
	rank := w.Rank()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = 1
	}
	if rank == 0 {
		fmt.Fprintf(stdout, "# cgo call %.1f ns\n", cgoCost()*1e9)
		fmt.Fprintf(stdout, "%8s %8s %10s %10s\n", "size", "iters", "us", "MB/s")
	}
	for s, n := range sizes {
		it := max(int(float64(iters[s])*scale), 1)
		warm := it/10 + 1
		best := math.Inf(1)
		for range trials {
			if err := w.Barrier(); err != nil {
				return err
			}
			var t0 time.Time
			for i := -warm; i < it; i++ {
				if i == 0 {
					t0 = time.Now()
				}
				switch rank {
				case 0:
					if err := w.Send(buf[:n], 1, 1); err != nil {
						return err
					}
					if err := recv(w, buf[:n], 1); err != nil {
						return err
					}
				case 1:
					if err := recv(w, buf[:n], 0); err != nil {
						return err
					}
					if err := w.Send(buf[:n], 0, 1); err != nil {
						return err
					}
				}
			}
			t := time.Since(t0).Seconds() / float64(it) / 2
			best = min(best, t)
		}
		if rank == 0 {
			fmt.Fprintf(stdout, "%8d %8d %10.3f %10.1f\n", n, it, best*1e6, float64(n)/(best*1e6))
		}
	}
	return nil
}

// cgoCost is the best time of an empty cgo call (mpi.Nop) over 5 trials of a million calls,
// in seconds. A ping-pong pays about one on each message's path: the return from the receive
// and the entry into the send that answers it.
func cgoCost() float64 {
	const n = 1_000_000
	best := math.Inf(1)
	for range 5 {
		t0 := time.Now()
		for range n {
			mpi.Nop()
		}
		best = min(best, time.Since(t0).Seconds()/n)
	}
	return best
}
