package pool

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/mw-hpc/mw/rank"
)

// Option sets one thing of a collective call (Map, Stream, Execute, Run). Only rank 0's
// options count: the settings that concern the workers (Window, Threads, Pull, Retries,
// KeepGoing) travel with the call, so a worker's own options are ignored.
type Option func(*settings)

type settings struct {
	cfg       rank.Config
	chunk     int // elements per chunk; 0: the engine sizes chunks (auto)
	workers   int // > 0: run in process with this many workers instead of over MPI
	keepGoing bool
	journal   string // Map: the journal's path on rank 0
	given     given  // which options were given, for those that apply to some calls only
}

// given records the options that only some calls take.
type given uint8

const (
	givenChunk given = 1 << iota
	givenUnordered
	givenKeepGoing
	givenJournal
)

func newSettings(opts []Option) settings {
	s := settings{cfg: rank.DefaultConfig()}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// refuse returns an error naming the first option of not that was given: an option the
// call does not take is an error, never ignored.
func (s *settings) refuse(call string, not given) error {
	names := map[given]string{givenChunk: "pool.Chunk", givenUnordered: "pool.Unordered", givenKeepGoing: "pool.KeepGoing", givenJournal: "pool.Journal"}
	for g := givenChunk; g <= givenJournal; g <<= 1 {
		if s.given&not&g != 0 {
			return fmt.Errorf("%s: %s does not apply to it", call, names[g])
		}
	}
	return nil
}

// Chunk sets how many elements Map and Stream put in one chunk (a message to a worker and
// its answer). The default, 0, lets the engine size the chunks as the run goes (--chunk
// auto): large while much remains, smaller towards the end, and never so small that
// messages cost more than the work.
func Chunk(n int) Option {
	return func(s *settings) { s.chunk, s.given = n, s.given|givenChunk }
}

// Window sets the chunks in flight per worker thread (default 2).
func Window(n int) Option { return func(s *settings) { s.cfg.Window = n } }

// Threads sets the goroutines computing chunks on each worker rank (default: the rank's
// share of its node's CPUs).
func Threads(n int) Option { return func(s *settings) { s.cfg.Threads = n } }

// Retries re-issues a chunk whose function failed (or panicked) up to n times, on another
// worker where there is one, before its error counts.
func Retries(n int) Option { return func(s *settings) { s.cfg.Retries = n } }

// KeepGoing makes a failed element (after its retries) not end the job: Map returns every
// other result and a *PartialError listing the failures; Stream yields each failure in
// its place and goes on; Run leaves the chunk out and returns a *rank.PartialError.
func KeepGoing() Option {
	return func(s *settings) { s.keepGoing, s.cfg.KeepGoing, s.given = true, true, s.given|givenKeepGoing }
}

// Unordered makes Stream yield results as they finish instead of in input order.
func Unordered() Option {
	return func(s *settings) { s.cfg.Unordered, s.given = true, s.given|givenUnordered }
}

// Pull makes workers ask for chunks instead of the manager pushing them.
func Pull() Option { return func(s *settings) { s.cfg.Mode = rank.Pull } }

// Progress makes rank 0 call report every interval while the call runs, and once more at
// the end with final set (from a goroutine of its own).
func Progress(every time.Duration, report func(p rank.Progress, final bool)) Option {
	return func(s *settings) { s.cfg.Progress, s.cfg.OnProgress = every, report }
}

// Trace writes the run's timeline to w on rank 0, as Chrome Trace Event JSON (open it in
// Perfetto or chrome://tracing).
func Trace(w io.Writer) Option { return func(s *settings) { s.cfg.Trace = w } }

// Config sets the whole engine configuration, replacing what options before it set; a
// zero Window takes its default.
//
// Deprecated: use the options that set one thing each (Window, Threads, Retries,
// KeepGoing, Pull, Progress, Trace), which keep the defaults of the others.
func Config(c rank.Config) Option {
	return func(s *settings) {
		if c.Window == 0 {
			c.Window = rank.DefaultConfig().Window
		}
		s.cfg = c
		s.keepGoing = c.KeepGoing
	}
}

// InProcess runs the call on a manager and n workers that are goroutines of this process,
// instead of across the ranks of the MPI job: for tests and examples. It is not a
// collective call: under mpirun every rank that makes it runs the whole of it.
func InProcess(n int) Option { return func(s *settings) { s.workers = n } }

// wireSettings encodes the settings a worker takes from rank 0 with a call.
func (s *settings) wireSettings() []byte {
	b := binary.AppendUvarint(nil, uint64(s.cfg.Window))
	b = binary.AppendUvarint(b, uint64(s.cfg.Threads))
	b = binary.AppendUvarint(b, uint64(s.cfg.Mode))
	b = binary.AppendUvarint(b, uint64(s.cfg.Retries))
	b = binary.AppendUvarint(b, uint64(s.cfg.WakeWithin))
	flags := byte(0)
	if s.keepGoing {
		flags |= 1
	}
	if s.cfg.KeepGoing {
		flags |= 2
	}
	return append(b, flags)
}

// takeWire sets what wireSettings encoded on a worker's settings.
func (s *settings) takeWire(b []byte) error {
	r := reader{b: b}
	s.cfg.Window = int(r.uvarint())
	s.cfg.Threads = int(r.uvarint())
	s.cfg.Mode = rank.Mode(r.uvarint())
	s.cfg.Retries = int(r.uvarint())
	s.cfg.WakeWithin = time.Duration(r.uvarint())
	flags := r.byte()
	s.keepGoing, s.cfg.KeepGoing = flags&1 != 0, flags&2 != 0
	if r.err != nil {
		return fmt.Errorf("settings from rank 0: %w", r.err)
	}
	return nil
}
