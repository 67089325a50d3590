package overlay

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// Command is `mw overlay`.
var Command = cli.Command{
	Name:  "overlay",
	Short: "overlay two rectangle maps (GIS): every piece of A ∩ B with both parents' attributes",
	Run:   runOverlay,
}

// options are overlay's own flags.
type options struct {
	a, b, out string
	chunk     cli.ChunkSize
	bPath     bool
}

// MaxAutoChunk is the most rectangles of A in a chunk with --chunk auto, for a map A of n
// rectangles: A in at least about 256 chunks, of 64 to 16384 rectangles.
func MaxAutoChunk(n int) int { return min(max(n/256, 64), 16384) }

// checkArgs refuses positional arguments.
func checkArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q: every value goes with a flag (mw overlay -h)", fs.Arg(0))
	}
	return nil
}

const overlayUsage = `usage: mpirun -np N mw overlay -a A -b B [-o OUT] [--chunk RECTS|auto] [--b-path] [engine flags]

Overlays two maps that tile the same extent with integer rectangles: writes every non-empty
intersection of a rectangle of A with one of B, with both parents' ids and attributes, in A's
order then B's. Formats by extension: .csv (id,xmin,ymin,xmax,ymax,attrs...) or .geojson.

example:
  mw gen map --rects 50000 --width 1000 --height 1000 --seed 1 -o soil.csv
  mw gen map --rects 50000 --width 1000 --height 1000 --seed 2 -o veg.csv
  mpirun -np 3 mw overlay -a soil.csv -b veg.csv -o soil-veg.geojson
`

func runOverlay(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet(env, "overlay", overlayUsage)
	ef := cli.AddEngineFlags(fs)
	o := options{chunk: cli.ChunkSize{Auto: true}}
	fs.StringVar(&o.a, "a", "", "map `A` (.csv or .geojson): its rectangles are dealt to the workers in chunks")
	fs.StringVar(&o.b, "b", "", "map `B` (.csv or .geojson): every worker gets all of it")
	fs.StringVar(&o.out, "o", "-", "write the overlay to `OUT` (.csv or .geojson; - is CSV on stdout)")
	fs.Var(&o.chunk, "chunk", "rectangles of A per chunk: a number `N`, or auto (the engine sizes chunks as the run goes)")
	fs.BoolVar(&o.bPath, "b-path", false, "send the workers B's path, not its contents: each reads the file (shared filesystem)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := checkArgs(fs); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	if err := ef.Validate(cli.In("-a", o.a), cli.In("-b", o.b), cli.Out("-o", o.out)); err != nil {
		return err
	}
	run := &overlayRun{opt: o, env: env, ef: ef}
	job := rank.Job{Name: "overlay", Open: run.open, NewWorker: run.newWorker}
	_, err := cli.RunJob(ctx, env, job, ef) // commits the output on success, aborts it on error
	return err
}

// validate checks the flags' values before any MPI.
func (o *options) validate() error {
	if o.a == "" || o.b == "" {
		return cli.Usagef("-a and -b are required: the two maps to overlay, e.g. -a soil.csv -b veg.csv")
	}
	for _, p := range []struct{ flag, path string }{{"-a", o.a}, {"-b", o.b}, {"-o", o.out}} {
		if p.path == "-" && p.flag != "-o" {
			return cli.Usagef("%s -: a map is read from a file (it is read twice for --b-path and checked before any work)", p.flag)
		}
		if _, err := FormatOf(p.path); err != nil {
			return cli.Usagef("%s %v", p.flag, err)
		}
	}
	return nil
}

// overlayRun is one run's state on the manager (and on a rank computing alone).
type overlayRun struct {
	opt  options
	env  *cli.Env
	ef   *cli.EngineFlags
	a, b *Map // set by open, on rank 0
}

// open reads and validates both maps, creates the output and plans the chunks (rank 0).
func (r *overlayRun) open(ctx context.Context) (*rank.Plan, error) {
	// Read the two maps at once (each read is sequential; they share nothing).
	var (
		b    *Map
		berr error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		b, berr = ReadMap(r.opt.b)
	}()
	a, err := ReadMap(r.opt.a)
	<-done
	if err != nil {
		return nil, fmt.Errorf("map A: %w", err)
	}
	if berr != nil {
		return nil, fmt.Errorf("map B: %w", berr)
	}
	if err := CheckSameExtent(a, b); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	of, _ := FormatOf(r.opt.out)
	out, err := r.ef.CreateOutput(r.opt.out, r.env.Stdout)
	if err != nil {
		return nil, err
	}
	r.a, r.b = a, b
	w := NewWriter(out, of, a, b)
	// A resumed output (--journal, --resume) already holds the header and the rows written.
	resumed := false
	if off, err := out.Offset(); err != nil {
		return nil, err
	} else if off > 0 {
		resumed = true
		w.Resumed(off)
	} else if err := w.Header(); err != nil {
		return nil, fmt.Errorf("write output: %w", err)
	}
	path := ""
	if r.opt.bPath {
		if path, err = filepath.Abs(r.opt.b); err != nil {
			return nil, fmt.Errorf("map B: %w", err)
		}
	}
	src := &source{rects: a.Rects, per: r.opt.chunk.N, sum: uint64(a.sum)<<32 | uint64(b.sum)}
	plan := &rank.Plan{
		Source: src,
		// Chunks are missing at the start of a resumed run, and where --keep-going leaves
		// a failed one out.
		Sink:  &sink{w: w, na: a.Len(), nb: b.Len(), gaps: resumed || r.ef.KeepGoing},
		Setup: EncodeSetup(b, path),
		Total: -1,
	}
	if r.opt.chunk.Auto {
		src.per = MaxAutoChunk(a.Len())
		plan.Source = sizedSource{src}
	} else {
		plan.Total = int64((a.Len() + src.per - 1) / src.per)
	}
	return plan, nil
}

// newWorker builds the index on B once per computing rank. On rank 0 computing alone it
// uses the map open already read, which is what the setup holds.
func (r *overlayRun) newWorker(setup []byte) (rank.Worker, error) {
	ix, err := IndexFromSetup(setup, r.b)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c rank.Chunk) ([]byte, error) {
		return ix.Kernel(c.Data)
	}, nil
}

// IndexFromSetup builds the index on map B from a setup. When the caller already holds B
// (known, the manager computing alone), the inline rectangles are not decoded again.
func IndexFromSetup(setup []byte, known *Map) (*Index, error) {
	if known != nil && len(setup) > 2 && setup[2] == setupInline {
		return NewIndex(known.Rects, known.W, known.H), nil
	}
	w, h, rects, err := DecodeSetup(setup)
	if err != nil {
		return nil, err
	}
	return NewIndex(rects, w, h), nil
}

// source deals A's rectangles in chunks of per (or, sized, of what the engine asks), in
// A's order. Each chunk carries sum, a checksum of both input files, so that a journal's
// record of a chunk (--journal, --resume) also notices a change of either map.
type source struct {
	rects []Rect
	per   int
	sum   uint64
	next  int
	seq   uint64
}

func (s *source) Next() (rank.Chunk, error) { return s.nextN(s.per) }

// sizedSource lets the engine choose each chunk's size (--chunk auto), up to s.per: the
// manager writes while the workers compute only when there are many chunks (a guided
// schedule's first chunks, a fraction of A each, made the 1M x 1M run 1.5 times slower).
type sizedSource struct{ *source }

func (s sizedSource) NextN(n int) (rank.Chunk, error) { return s.nextN(min(n, s.per)) }
func (s sizedSource) Remaining() int64                { return int64(len(s.rects) - s.next) }

func (s *source) nextN(n int) (rank.Chunk, error) {
	if s.next >= len(s.rects) {
		return rank.Chunk{}, io.EOF
	}
	end := min(s.next+max(n, 1), len(s.rects))
	data := EncodeChunk(make([]byte, 0, 24+16*(end-s.next)), s.next, s.sum, s.rects[s.next:end])
	c := rank.Chunk{Seq: s.seq, Data: data, Items: end - s.next}
	s.next = end
	s.seq++
	return c, nil
}

// sink writes each chunk's pieces in order and, once the run is over, the output's end.
type sink struct {
	w      *Writer
	na, nb int
	next   int  // first rectangle of A not yet written
	gaps   bool // chunks may be missing (resumed, or --keep-going)
}

func (s *sink) Put(seq uint64, out []byte) error {
	first, count, err := ResultRange(out)
	if err != nil {
		return fmt.Errorf("chunk %d: %w", seq, err)
	}
	if first < s.next || !s.gaps && first != s.next || count < 1 || first+count > s.na {
		return fmt.Errorf("chunk %d: result for rectangles %d..%d of A, want from %d", seq, first, first+count-1, s.next)
	}
	if _, _, err := DecodeResult(out, s.nb, s.w.Piece); err != nil {
		return fmt.Errorf("chunk %d: %w", seq, err)
	}
	s.next = first + count
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// End implements rank.EndSink: the output's end comes after the last result written,
// which is not A's last rectangle when --keep-going left that chunk out.
func (s *sink) End() error {
	if err := s.w.Footer(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
