package rank

import (
	"errors"
	"io"
	"time"
)

// ErrDone may be returned by Sink.Put to end the job early and successfully: the manager
// issues no more chunks, tells every worker to abandon what it holds, and Run returns nil.
var ErrDone = errors.New("job done")

// ErrDrain may be returned by Sink.Put to stop issuing new chunks while the chunks already
// in flight still complete and reach the Sink; Run then returns nil.
var ErrDrain = errors.New("job draining")

// Config tunes one run. The zero value is not valid; start from DefaultConfig.
type Config struct {
	// Window is the number of chunks in flight per worker thread (credit window).
	Window int
	// Threads is the number of goroutines computing chunks on each worker rank
	// (and on the manager when it runs alone). 0 means the rank's share of the node's CPUs.
	Threads int
	// Retries re-issues a chunk whose Worker returned an error (or panicked) up to this many
	// times, on another worker where there is one; Chunk.Attempt tells the Worker which try
	// it is. 0 fails the job at the first error.
	Retries int
	// Unordered hands results to the Sink as they arrive instead of in Seq order.
	Unordered bool
	// Log receives the manager's diagnostic lines (one per line); nil discards them.
	Log io.Writer
	// Progress, when > 0, makes the manager call OnProgress at most this often.
	Progress   time.Duration
	OnProgress func(Stats)
}

// DefaultConfig returns the defaults documented in the CLI help.
func DefaultConfig() Config {
	return Config{Window: 2}
}

// Stats is the manager's account of a run.
type Stats struct {
	Workers      int           // computing ranks (the manager itself when alone)
	Threads      int           // threads per computing rank
	Chunks       uint64        // chunks written
	BytesIn      uint64        // chunk bytes read from the Source
	BytesOut     uint64        // result bytes given to the Sink
	Wall         time.Duration // from Run's start to its return
	PerWorker    []uint64      // chunks computed per worker rank (index = rank)
	Retries      uint64        // chunks re-issued after an error
	MaxReorder   int           // most results ever held in the reorder buffer
	ReorderBound int           // the reorder buffer's bound
	Hosts        []string      // host of each rank (index = rank), when known
	ManagerCPU   time.Duration // CPU time (user + system) of the manager's process
}
