// Package rank is mw's manager-workers engine, independent of any workload.
//
// Rank 0 is the manager: it pulls numbered chunks lazily from a Source, deals them to
// worker ranks over a Transport with a per-worker credit window, and hands results to a
// Sink strictly in chunk order through a bounded reorder buffer. Every other rank is a
// worker: it computes chunks with the workload's Worker function and sends the results
// back. With a single rank the manager computes the chunks itself and produces the same
// bytes.
//
// A workload author sees only Job, Plan, Chunk, Source, Worker and Sink; message kinds,
// tags and credits are the engine's business.
package rank

import (
	"context"
	"errors"

	"github.com/mw-hpc/mw/partition"
)

// Chunk is a numbered piece of ordered input (see partition.Chunk).
type Chunk = partition.Chunk

// Source yields chunks lazily, in Seq order 0, 1, 2, ... (from Plan.First on). It
// returns io.EOF after the last chunk. It is called from one goroutine only (the manager's).
type Source interface {
	Next() (Chunk, error)
}

// LiveSource is a Source whose chunks become ready over time, such as frames coming from
// a scanner at its own pace. Its Next never waits: it returns ErrNotReady when no chunk
// is ready yet. Before the first Next the manager calls SetNotify with a function that
// the source must call, from any goroutine, whenever a chunk becomes ready; the manager
// then calls Next again at once, even while it waits for results. (A Source that blocked
// in Next instead would hold back results already computed.)
type LiveSource interface {
	Source
	SetNotify(notify func())
}

// ErrNotReady is returned by a LiveSource's Next when no chunk is ready yet.
var ErrNotReady = errors.New("no chunk ready yet")

// SizedSource is a Source whose chunk sizes the engine chooses (--chunk auto): NextN
// returns the next chunk with at most n items (n >= 1) and sets its Items; Remaining is
// the number of items left, or -1 when unknown. Next is not called on a SizedSource.
type SizedSource interface {
	Source
	NextN(n int) (Chunk, error)
	Remaining() int64
}

// Worker computes the result of one chunk. It must be pure: the same chunk gives the same
// bytes, on any rank. It may be called concurrently from several goroutines (one per
// thread of a worker rank; on a rank with one thread and one core's worth of CPU, cheap
// chunks are computed by the rank's owner loop instead), and must return promptly once ctx
// is cancelled where it can: when the job stops, Run returns without waiting for the
// computations still running, whose results are dropped. c.Data is valid only during the
// call; the returned slice is owned by the engine from then on (it may be c.Data itself).
type Worker func(ctx context.Context, c Chunk) ([]byte, error)

// Sink receives results strictly in Seq order, from one goroutine (the manager's).
// The out slice is valid only during the call.
type Sink interface {
	Put(seq uint64, out []byte) error
}

// EndSink is a Sink that writes something after the last result (a closing bracket):
// End is called once, from the manager's goroutine, when every chunk has been put or
// left out (Config.KeepGoing) or the job drained; not after a failure, nor after the
// Sink itself ended the job (ErrDone).
type EndSink interface {
	Sink
	End() error
}

// ArrivalSink is a Sink that also hears of each result as it arrives, in the order chunks
// finish rather than in Seq order: a decision that must not wait for earlier, slower chunks
// (exec's --halt) belongs here. Arrived is called once per result, from the manager's
// goroutine, before that result goes to the reorder buffer (and so before its Put). It may
// return ErrDrain (start no more chunks: those being computed arrive and are put, those
// not started are left out, as ErrDrain says) or
// ErrDone (end the job: this result is still put if its turn has come, with the results it
// lets out of the reorder buffer, while those still waiting for an earlier chunk are
// dropped, never put); any other error fails the job. out is valid only during the call.
// A chunk that fails every try (Config.KeepGoing) never arrives: GapSink hears of it.
type ArrivalSink interface {
	Sink
	Arrived(seq uint64, out []byte) error
}

// TraceLabeler is a Sink that names its chunks in the trace (Config.Trace): the spans of
// an attempt at chunk c are called name, and args (a JSON object, or nil) adds its fields
// to theirs. result is the attempt's result, nil when it has none (it is being sent, it
// failed, its worker was lost, the run ended first); c.Data is nil for a chunk done already.
// The manager's goroutine calls it, with a trace only.
type TraceLabeler interface {
	Sink
	TraceLabel(c Chunk, result []byte) (name string, args []byte)
}

// GapSink is a Sink told of the chunks the output leaves out: those that failed every try
// (Config.KeepGoing) and those a drain (ErrDrain) kept from starting. LeftOut is called
// for such a chunk, from the manager's goroutine, where Put would have been (in Seq
// order, unless Config.Unordered). ErrDone ends the job as it does from Put; any other
// error it returns, ErrDrain included, fails the job.
type GapSink interface {
	Sink
	LeftOut(seq uint64) error
}

// Plan is what a workload's Open returns on the manager.
type Plan struct {
	Source Source
	Sink   Sink
	// Setup is sent once to every worker before any chunk (MPI_Bcast on MPI); it is passed
	// to Job.NewWorker on every computing rank. Nil for none.
	Setup []byte
	// Total is the number of chunks when known in advance, or -1; only for progress.
	Total int64
	// First is the Seq of the Source's first chunk, 0 but for a run that continues a job
	// (a resume): every chunk keeps the number the whole job gives it.
	First uint64
}

// Job is one run of a workload as the engine sees it.
type Job struct {
	// Name is the workload's name, used in messages ("mw: <name>: ...").
	Name string
	// Open runs on the manager (rank 0) only, before any work: it opens the input and the
	// output. An error here ends every rank before any chunk is computed.
	Open func(ctx context.Context) (*Plan, error)
	// NewWorker runs once on every computing rank (each worker rank, or the manager when it
	// runs alone) with the Plan's Setup bytes, and returns the chunk function.
	NewWorker func(setup []byte) (Worker, error)
}
