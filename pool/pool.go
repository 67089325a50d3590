// Package pool is mw as a Go library: a program's own functions run across the ranks of
// an MPI job (mpirun -np N ./prog), with the whole manager-workers engine underneath (package
// rank): chunks sized as the run goes, credit windows, ordered results, retries,
// stragglers' backups, progress and a trace.
//
// Every rank runs the same program. Rank 0 is the manager: it reads the input and gets the
// results; the other ranks compute. Main wraps main's body; inside it, every rank makes
// the same collective calls in the same order:
//
//   - Map applies a function to every element of a slice and returns the results in order.
//   - Stream does the same for a lazy input (an iter.Seq that only rank 0 runs) and yields
//     the results as they come (iter.Seq2), in input order or, with Unordered, as they finish.
//   - Broadcast builds a value on rank 0 (a table, parameters) and hands it to every rank,
//     sent once: the functions of later calls use it.
//   - Execute runs a body on rank 0 that submits tasks of different kinds (Submit, declared
//     with NewTask) and waits for their Futures, while the workers serve them.
//   - Run runs a rank.Job (a Source, a Worker, a Sink) for full control.
//
// A rank that leaves the sequence (returns from Main's body early, panics, or makes another
// call) ends the job at once with a line that names it and what it did: a job never hangs
// on it. A worker's error comes back to rank 0 as a *TaskError naming the rank, chunk and
// element, and errors.Is and errors.As see the sentinels and types registered with
// RegisterError and RegisterErrorType. Options set one thing each (Chunk, Retries,
// KeepGoing, Journal, Window, Threads, Pull, Progress, Trace); InProcess runs a call on
// goroutines of one process, for tests. A program started without mpirun (or with -np 1) runs every
// call in its one process and gives the same results.
//
//	func main() {
//		pool.Main(func(ctx context.Context) error {
//			squares, err := pool.Map(ctx, []int{1, 2, 3}, func(_ context.Context, x int) (int, error) {
//				return x * x, nil
//			})
//			if err != nil || !pool.IsManager() {
//				return err // the workers' squares are nil
//			}
//			fmt.Println(squares)
//			return nil
//		})
//	}
package pool

import (
	"context"

	"github.com/mw-hpc/mw/rank"
)

// Run runs job across the job's ranks (or in process, with InProcess) as one collective
// call, and returns the manager's Stats and the job's error on rank 0; a worker returns
// once the job is over, with the same error. Only rank 0 calls job.Open; every computing
// rank calls job.NewWorker. Unordered hands results to the Sink as they arrive, and
// KeepGoing leaves failed chunks out (a *rank.PartialError); a Worker's error reaches rank
// 0 as the engine's message ("rank 2 on node7: chunk 5: ..."), without its identity.
func Run(ctx context.Context, job rank.Job, opts ...Option) (rank.Stats, error) {
	s := newSettings(opts)
	if err := s.refuse("pool.Run", givenChunk|givenJournal); err != nil {
		return rank.Stats{}, err
	}
	pos := callAt(0, "pool.Run", nil, job.NewWorker)
	pos.what += " " + job.Name
	c, err := startCall(ctx, "pool.Run", pos, s)
	if err != nil {
		return rank.Stats{}, err
	}
	defer c.finish()
	return c.run(ctx, job)
}
