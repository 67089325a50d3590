// Package selftest is mw's built-in test workload: it generates N numbered items, computes
// a checksum of each on the workers and prints one line per item in order, so its output is
// deterministic and the same for every -np. It tests the engine apart from the real
// workloads, and with zero cost it measures the engine's own overhead.
package selftest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/internal/cpuclock"
	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/rank"
)

// Command is `mw selftest`.
var Command = cli.Command{
	Name:  "selftest",
	Short: "the engine's test workload: N items, a checksum each, printed in order",
	Run:   run,
}

type options struct {
	items   uint64
	chunk   cli.ChunkSize
	cost    time.Duration
	burn    time.Duration
	failAt  int64
	panicAt int64
	find    int64
	slow    int
	skew    uint64
	output  string
}

func run(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet(env, "selftest", `usage: mpirun -np N mw selftest [flags]

Generates --items numbered items, computes a checksum of each on the workers and prints
"<item> <checksum>" per line in item order: the same bytes for every -np, --chunk and
--window. With --cost 0 it measures the engine's own overhead.

example: mpirun -np 3 mw selftest --items 100000 --chunk 256
`)
	var o options
	ef := cli.AddEngineFlags(fs)
	fs.Uint64Var(&o.items, "items", 1000, "number of items")
	o.chunk = cli.ChunkSize{Auto: true}
	fs.Var(&o.chunk, "chunk", "items per chunk: `N`, or auto (the engine sizes chunks from measured item and message costs)")
	fs.DurationVar(&o.cost, "cost", 0, "time each item sleeps (a worker waiting on I/O)")
	fs.DurationVar(&o.burn, "burn", 0, "CPU time each item burns (a compute-bound worker)")
	fs.Int64Var(&o.failAt, "fail-at", -1, "the worker fails on item `K` (test the error path)")
	fs.Int64Var(&o.panicAt, "panic-at", -1, "the worker panics on item `K` (test the panic path)")
	fs.Int64Var(&o.find, "find", -1, "stop the job early, successfully, once item `K` is written (the search case)")
	fs.Uint64Var(&o.skew, "skew", 0, "irregular items: one item in `K` (chosen by its checksum) costs K times more")
	fs.IntVar(&o.slow, "slow-rank", -1, "worker rank `R` is 50 times slower per item (a straggler, to test backups)")
	fs.StringVar(&o.output, "o", "-", "output `FILE` (- for stdout)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := ef.Validate(cli.Out("-o", o.output)); err != nil {
		return err
	}
	if o.cost < 0 || o.burn < 0 {
		return cli.Usagef("--cost and --burn must not be negative")
	}
	per := uint64(o.chunk.Or(1))
	job := rank.Job{
		Name: "selftest",
		Open: func(context.Context) (*rank.Plan, error) {
			out, err := ef.CreateOutput(o.output, env.Stdout)
			if err != nil {
				return nil, err
			}
			total := int64((o.items + per - 1) / per)
			plan := &rank.Plan{Source: &source{items: o.items, per: per}, Sink: &sink{w: out, find: o.find}, Total: total}
			if o.chunk.Auto {
				plan.Source, plan.Total = sizedSource{&source{items: o.items}}, -1
			}
			return plan, nil
		},
		NewWorker: func([]byte) (rank.Worker, error) {
			if l := launch.FromEnv(); o.slow >= 0 && l.Launched() && l.Rank == o.slow {
				o.cost, o.burn = 50*o.cost, 50*o.burn
			}
			return o.work, nil
		},
	}
	_, err := cli.RunJob(ctx, env, job, ef)
	return err
}

// source cuts [0, items) into chunks of per items; a chunk is (first, count) in 16 bytes.
type source struct {
	items, per, next, seq uint64
	slab                  []byte // what is left of the slab the next descriptors come from
}

// slabChunks is how many chunk descriptors (16 bytes each) one allocation holds, so that
// the source allocates once per slabChunks chunks, not per chunk. A slab stays alive while
// one of its chunks does (the engine keeps a chunk's Data until its result is in); in order
// those lie within the reorder bound, which spans bound/slabChunks + 1 slabs at most.
const slabChunks = 1024

func (s *source) Next() (rank.Chunk, error) { return s.nextN(s.per) }

// sizedSource lets the engine choose each chunk's size (--chunk auto).
type sizedSource struct{ *source }

func (s sizedSource) NextN(n int) (rank.Chunk, error) { return s.nextN(uint64(max(n, 1))) }
func (s sizedSource) Remaining() int64                { return int64(s.items - s.next) }

func (s *source) nextN(per uint64) (rank.Chunk, error) {
	if s.next >= s.items {
		return rank.Chunk{}, io.EOF
	}
	n := min(per, s.items-s.next)
	if len(s.slab) < 16 {
		s.slab = make([]byte, 16*slabChunks)
	}
	d := s.slab[:16:16] // full: an append by the engine would not overwrite the next one
	s.slab = s.slab[16:]
	binary.LittleEndian.PutUint64(d, s.next)
	binary.LittleEndian.PutUint64(d[8:], n)
	c := rank.Chunk{Seq: s.seq, Data: d, Items: int(n)}
	s.seq++
	s.next += n
	return c, nil
}

// work computes the lines of one chunk.
func (o options) work(ctx context.Context, c rank.Chunk) ([]byte, error) {
	if len(c.Data) != 16 {
		return nil, fmt.Errorf("chunk of %d bytes, want 16", len(c.Data))
	}
	first := binary.LittleEndian.Uint64(c.Data)
	n := binary.LittleEndian.Uint64(c.Data[8:])
	if n > 1<<24 {
		return nil, fmt.Errorf("chunk of %d items is absurd", n)
	}
	if first+n < first {
		return nil, fmt.Errorf("chunk of %d items from item %d runs past the last item number", n, first)
	}
	// Each line is the item's number, a space, 16 hex digits and a newline: room for the
	// widest number makes the whole chunk one allocation, with no growing.
	var widest [20]byte
	out := make([]byte, 0, n*uint64(len(strconv.AppendUint(widest[:0], first+n-1, 10))+18))
	for i := first; i < first+n; i++ {
		if int64(i) == o.failAt {
			return nil, fmt.Errorf("item %d: injected failure (--fail-at)", i)
		}
		if int64(i) == o.panicAt {
			panic(fmt.Sprintf("item %d: injected panic (--panic-at)", i))
		}
		cost, burnFor := o.cost, o.burn
		if o.skew > 1 && Checksum(i)%o.skew == 0 {
			cost, burnFor = cost*time.Duration(o.skew), burnFor*time.Duration(o.skew)
		}
		if cost > 0 {
			select {
			case <-time.After(cost):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if burnFor > 0 {
			burn(burnFor)
		}
		out = strconv.AppendUint(out, i, 10)
		out = append(out, ' ')
		out = appendHex16(out, Checksum(i))
		out = append(out, '\n')
	}
	return out, nil
}

// Checksum is the item's checksum: splitmix64 of its number, the reference the tests check.
func Checksum(i uint64) uint64 {
	z := i + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// appendHex16 appends v as 16 lowercase hex digits. Each half's 8 nibbles are spread into
// the 8 bytes of a word (nibble i in byte i) and turned into ASCII together: '0' plus the
// nibble, plus 'a'-'0'-10 where the nibble is 10 or more (then nibble+6 carries into bit 4).
func appendHex16(b []byte, v uint64) []byte {
	b = binary.BigEndian.AppendUint64(b, hex8(uint32(v>>32)))
	return binary.BigEndian.AppendUint64(b, hex8(uint32(v)))
}

// hex8 is the 8 hex digits of v as ASCII, the last digit in the lowest byte.
func hex8(v uint32) uint64 {
	const ones = 0x0101010101010101
	x := uint64(v)
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	x = (x | x<<4) & 0x0f0f0f0f0f0f0f0f
	letters := (x + 6*ones) >> 4 & ones
	return x + '0'*ones + letters*('a'-'0'-10)
}

// burn spins until the calling thread has used d of CPU time: an item then costs d of
// CPU, as a real computation does, and takes longer than d when it shares its core (a
// deadline on the wall clock made items cheaper with more threads than cores).
func burn(d time.Duration) {
	runtime.LockOSThread() // the thread's CPU clock is this goroutine's
	defer runtime.UnlockOSThread()
	start := cpuclock.Thread()
	x := uint64(1)
	for cpuclock.Thread()-start < d {
		for k := 0; k < 1024; k++ { // about a microsecond between clock reads
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sinkU64.Store(x) // keeps the loop; burns run concurrently
}

var sinkU64 atomic.Uint64

// sink writes each chunk's lines; with --find it ends the job after the line of item K.
type sink struct {
	w    io.Writer
	find int64
}

func (s *sink) Put(_ uint64, out []byte) error {
	if s.find >= 0 {
		key := strconv.AppendInt(nil, s.find, 10)
		for line := out; len(line) > 0; {
			i := bytes.IndexByte(line, '\n')
			if bytes.HasPrefix(line, append(key, ' ')) {
				_, err := s.w.Write(out[:len(out)-len(line)+i+1])
				if err != nil {
					return err
				}
				return rank.ErrDone
			}
			line = line[i+1:]
		}
	}
	_, err := s.w.Write(out)
	return err
}
