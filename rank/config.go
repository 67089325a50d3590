package rank

import (
	"errors"
	"io"
	"time"
)

// ErrDone may be returned by Sink.Put to end the job early and successfully: the manager
// issues no more chunks, tells every worker to abandon what it holds, and Run returns nil
// (a *PartialError when KeepGoing left chunks out before).
var ErrDone = errors.New("job done")

// ErrDrain may be returned by Sink.Put (or ArrivalSink.Arrived) to start no more chunks:
// the chunks being computed complete and reach the Sink, while those queued at a worker
// and not started, or waiting for a retry, are left out (a GapSink is told, in order);
// Run then returns nil (or a *PartialError, as for ErrDone).
var ErrDrain = errors.New("job draining")

// Bounds on Config: the threads a worker rank may run, and the chunks in flight at one
// worker rank (Threads x Window), which its queue and the manager's books hold.
const (
	MaxThreads  = 1 << 16
	MaxInFlight = 1 << 20
)

// MaxCrashLimit bounds Config.CrashLimit (a task's count of lost workers travels in 16 bits).
const MaxCrashLimit = 1<<16 - 1

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
	// KeepGoing records a chunk that fails every try, leaves it out of the output and
	// finishes the rest; Run then returns a *PartialError.
	KeepGoing bool
	// Mode is Push (the manager keeps each worker's window full) or Pull (each worker asks
	// for a chunk whenever it has a free slot).
	Mode Mode
	// Backups gives idle workers copies of the oldest chunks in flight when no new chunk
	// can be issued (none remains, or the reorder buffer is full behind a slow chunk), and
	// keeps the first result (straggler mitigation). It needs two workers or more.
	// Workloads with side effects (exec) turn it off.
	Backups bool
	// Unordered hands results to the Sink as they arrive instead of in Seq order.
	Unordered bool
	// ReorderMem bounds the bytes of results the manager holds in memory while they wait
	// for an earlier, slower chunk (ordered output): past it they wait in a temporary file
	// in SpillDir ("" for the system's temporary directory), so a slow chunk costs only
	// itself. 0 means partition.DefaultReorderMem.
	ReorderMem int64
	SpillDir   string
	// WakeWithin, when > 0, bounds how long a rank that sleeps between polls of its
	// transport (MPI) sleeps at a time: a latency bound for real-time work even where no
	// sender can ring the rank awake (another host), paid for in wake-ups (1/WakeWithin a
	// second on an idle rank). With 0 an idle rank sleeps up to an eighth of its idle
	// time, at most 4 ms, or until rung (at most 50 ms) when every sender can ring it.
	// Every rank must be given the same value.
	WakeWithin time.Duration
	// WorkerTimeout is how long a rank may go unheard before its peer takes it for lost:
	// the manager a worker (its chunks are issued again elsewhere), a worker the manager
	// (it stops). Each rank sends a heartbeat to a peer it has sent nothing for a third of
	// it. Every rank must be given the same value; 0 means DefaultWorkerTimeout.
	WorkerTimeout time.Duration
	// FailOnLostWorker ends the job at the first lost worker instead of going on without it.
	FailOnLostWorker bool
	// CrashLimit fails a chunk once this many workers were lost while they held it (a task
	// that takes its node down), as a chunk that failed every try; 0 means no limit.
	CrashLimit int
	// Log receives the manager's diagnostic lines (one per line); nil discards them.
	Log io.Writer
	// Progress, when > 0, makes the manager call OnProgress this often (from a goroutine
	// of its own) and once more at the end, with final set.
	Progress   time.Duration
	OnProgress func(p Progress, final bool)
	// Trace, when not nil, receives the run as Chrome Trace Event JSON.
	Trace io.Writer

	alone bool // set by runAlone: the one worker is this process's, not a rank of its own
}

// DefaultConfig returns the defaults documented in the CLI help.
func DefaultConfig() Config {
	return Config{Window: 2, Backups: true, CrashLimit: DefaultCrashLimit}
}

// DefaultWorkerTimeout is Config.WorkerTimeout's default. A minute: long enough that no
// live rank goes unheard so long (its owner loop never computes for more than inlineMax,
// and sends a heartbeat every 20 s), short enough that a frozen or cut-off node costs a
// minute of its chunks, not the job. HyperQueue's and disBatch's checks run in seconds to
// minutes too.
const DefaultWorkerTimeout = time.Minute

// DefaultCrashLimit is Config.CrashLimit's default: a chunk that took five workers with
// it fails rather than take a sixth.
const DefaultCrashLimit = 5

// Mode is how chunks reach workers.
type Mode int

const (
	// Push: the manager sends chunks while a worker has credits.
	Push Mode = iota
	// Pull: a worker asks for a chunk for each free slot.
	Pull
)

func (m Mode) String() string {
	if m == Pull {
		return "pull"
	}
	return "push"
}

// ParseMode reads "push" or "pull".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "push":
		return Push, nil
	case "pull":
		return Pull, nil
	}
	return Push, errors.New("must be push or pull")
}

// Stats is the manager's account of a run.
type Stats struct {
	Workers      int           // computing ranks (the manager itself when alone)
	Threads      int           // threads per computing rank
	Chunks       uint64        // chunks written
	BytesIn      uint64        // chunk bytes read from the Source
	BytesOut     uint64        // result bytes given to the Sink
	Wall         time.Duration // from Run's start to its return
	PerWorker    []uint64      // chunks computed per worker rank (index = rank; 0: rank 0's own, once every worker was lost)
	Retries      uint64        // chunks re-issued after an error
	Backups      uint64        // backup copies of straggling chunks issued
	Released     int           // workers sent their stop early: idle once the input was all issued
	Skipped      uint64        // chunks a drain left out: not started, or waiting for a retry
	LeftOut      uint64        // chunks that failed every try and were left out (KeepGoing)
	MaxReorder   int           // most results ever held in the reorder buffer, in memory or spilled
	Spilled      uint64        // results that waited in the reorder buffer's file, past its memory
	SpilledBytes uint64        // their bytes
	Hosts        []string      // host of each rank (index = rank), when known
	ManagerCPU   time.Duration // CPU time (user + system) the manager's process used during the run
	Alone        bool          // one process ran the manager and the workers (one rank): ManagerCPU is theirs
	Wakeups      uint64        // times the manager slept between polls of MPI
	RungWakeups  uint64        // of those, the sleeps that a worker's ring ended (same host)
	Lost         []LostWorker  // worker ranks lost during the run, in the order they were
}

// LostWorker is a worker rank the manager stopped hearing from during a run.
type LostWorker struct {
	Rank     int
	Host     string
	At       time.Duration // when, from the run's start
	How      string        // how it was found: "unheard for 1m0s", or the launcher's notice
	Reissued int           // chunks it held, issued again to other workers
}

// Progress is a snapshot of a run for a progress display.
type Progress struct {
	Elapsed     time.Duration
	Chunks      uint64 // written
	TotalChunks int64  // -1 when unknown
	Items       uint64 // items in the chunks written, when the source counts them
	InFlight    int    // chunks being computed
	Workers     int
	// Running is each worker rank's chunks in flight (copies of chunks done already, still
	// computing, count too), and Longest the chunks in flight longest, longest first (at
	// most ProgressLongest): as the manager saw them a moment before the snapshot.
	Running []RankLoad
	Longest []InFlight
	Lost    []LostWorker // the worker ranks lost so far
}

// ProgressLongest is the most chunks in Progress.Longest.
const ProgressLongest = 8

// RankLoad is a worker rank's chunks in flight.
type RankLoad struct {
	Rank   int
	Host   string
	Chunks int
}

// InFlight is a chunk in flight: sent to Rank (computing there, or queued) at Sent.
type InFlight struct {
	Seq    uint64
	Rank   int
	Host   string
	Sent   time.Duration // from the run's start: it has been in flight Progress.Elapsed-Sent
	Backup bool          // a backup copy (Config.Backups)
}
