package interp

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// Command is `mw interp`.
var Command = cli.Command{
	Name:  "interp",
	Short: "enlarge a stream of ultrasonic frames between columns (Catmull-Rom), in order",
	Run:   runInterp,
}

const interpUsage = `usage: mpirun -np N mw interp [-i FILE|-] [-o FILE|-] [--format pgm|raw]
       [--width 56 --height 256] [--factor 3] [--chunk FRAMES|auto] [--fps RATE] [--png PREFIX]

Enlarges every grey frame of the input stream FACTOR times between columns with cubic
(Catmull-Rom) interpolation and writes the enlarged frames in input order. Frames are a
binary PGM stream (P5, maxval 255, many images one after another, the size read from the
headers) or raw frames of --width x --height bytes. The output has the input's format.
--fps paces the input as a scanner would and reports the latency of every frame.

example:
  mw gen frames --count 20000 -o frames.pgm
  mpirun -np 3 mw interp -i frames.pgm -o big.pgm --png look   # look-in.png, look-out.png
  mw gen frames --count 250 | mpirun -np 3 mw interp --fps 25 > /dev/null
`

// options are interp's own flags.
type options struct {
	in, out       string
	format        string
	width, height int
	sizeSet       bool // --width or --height was given
	factor        int
	chunk         cli.ChunkSize
	fps           float64
	png           string
}

// maxChunkBytes bounds a chunk's input, which the manager allocates whole.
const maxChunkBytes = 256 << 20

// Compile-time checks of the engine's interfaces.
var (
	_ rank.Source = (*source)(nil)
	_ rank.Sink   = (*sink)(nil)
)

// AutoChunk is the number of frames per chunk for --chunk auto: about 256 KiB of input,
// 1 to 64 frames; 1 in real-time mode, where a chunk waits for its last frame.
func AutoChunk(frameBytes int, realTime bool) int {
	if realTime {
		return 1
	}
	return min(max((256<<10)/max(frameBytes, 1), 1), 64)
}

// parseFlags parses args (cli.Parse: -h prints the usage) and refuses positional
// arguments, saying hint.
func parseFlags(fs *flag.FlagSet, args []string, hint string) error {
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q%s", fs.Arg(0), hint)
	}
	return nil
}

// parseOptions parses and checks interp's command line, before any MPI.
func parseOptions(env *cli.Env, args []string) (options, *cli.EngineFlags, error) {
	fs := cli.NewFlagSet(env, "interp", interpUsage)
	ef := cli.AddEngineFlags(fs)
	o := options{chunk: cli.ChunkSize{Auto: true}}
	for _, n := range []string{"i", "input"} {
		fs.StringVar(&o.in, n, "-", "read frames from `FILE` (- is stdin)")
	}
	for _, n := range []string{"o", "output"} {
		fs.StringVar(&o.out, n, "-", "write the enlarged frames to `FILE` (- is stdout); a file appears only once complete")
	}
	fs.StringVar(&o.format, "format", FormatPGM, "frame format of input and output: pgm (P5 stream) or raw")
	fs.IntVar(&o.width, "width", 56, "frame width `W` in pixels (columns, one per sensor); a PGM stream's headers must agree when given")
	fs.IntVar(&o.height, "height", 256, "frame height `H` in pixels (rows, depth)")
	fs.IntVar(&o.factor, "factor", 3, "enlarge `F` times between columns (1 copies)")
	fs.Var(&o.chunk, "chunk", "frames per chunk (`N`), or auto (about 256 KiB; 1 with --fps)")
	fs.Float64Var(&o.fps, "fps", 0, "real time: read frames at `RATE` per second and report their latency (0: as fast as possible)")
	fs.StringVar(&o.png, "png", "", "also write the first input frame and its output as `PREFIX`-in.png and PREFIX-out.png")
	if err := parseFlags(fs, args, ": the input is given with -i FILE"); err != nil {
		return o, nil, err
	}
	engineSet := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "width", "height":
			o.sizeSet = true
		case "window", "threads":
			engineSet = true
		}
	})
	if o.fps > 0 && ef.Journal != "" {
		return o, nil, cli.Usagef("--journal with --fps: a real-time run cannot be resumed")
	}
	if o.fps > 0 {
		// Real time: no rank sleeps between polls longer than realTimeWake, and unless set
		// otherwise one frame in flight per worker; throughput is not the point.
		ef.WakeWithin = realTimeWake(o.fps)
		if !engineSet {
			ef.Window, ef.Threads = 1, 1
		}
	}
	if err := o.validate(); err != nil {
		return o, nil, err
	}
	files := []cli.File{cli.In("-i", o.in), cli.Out("-o", o.out)}
	if o.png != "" {
		files = append(files, cli.Out("--png", o.png+"-in.png"), cli.Out("--png", o.png+"-out.png"))
	}
	if err := ef.Validate(files...); err != nil {
		return o, nil, err
	}
	return o, ef, nil
}

// validate checks the flags' values.
func (o *options) validate() error {
	switch {
	case o.format != FormatPGM && o.format != FormatRaw:
		return cli.Usagef("--format %q: must be pgm or raw", o.format)
	case o.width < 2:
		return cli.Usagef("--width %d: must be at least 2 (cubic interpolation between columns needs two)", o.width)
	case o.height < 1:
		return cli.Usagef("--height %d: must be at least 1", o.height)
	case o.factor < 1:
		return cli.Usagef("--factor %d: must be at least 1", o.factor)
	case o.factor > MaxFactor:
		return cli.Usagef("--factor %d: must be at most %d", o.factor, MaxFactor)
	case o.fps < 0 || math.IsNaN(o.fps) || math.IsInf(o.fps, 0) || o.fps > 1e6:
		return cli.Usagef("--fps %v: must be a rate in frames per second, 0 < RATE <= 1e6, or 0 for none", o.fps)
	case o.png == "-":
		return cli.Usagef("--png -: give a file name prefix, e.g. --png look")
	}
	if err := CheckGeometry(o.width, o.height, o.factor); err != nil {
		return cli.Usagef("--width %d --height %d --factor %d: %v", o.width, o.height, o.factor, err)
	}
	return nil
}

func runInterp(ctx context.Context, env *cli.Env, args []string) error {
	o, ef, err := parseOptions(env, args)
	if err != nil {
		return err
	}
	r := &interpRun{opt: o, env: env, ef: ef}
	defer r.close()
	if o.fps > 0 {
		// The latency figures in --stats and --status; r.lat is made by open, before the
		// engine's progress goroutine starts.
		latency := func() any {
			if r.lat == nil {
				return nil
			}
			return r.lat.Figures(o.fps)
		}
		ef.Report = cli.Report{Key: "latency", Stats: func(rank.Stats) any { return latency() }, Status: func(rank.Progress) any { return latency() }}
	}
	// RunJob commits the output on success and aborts it on failure.
	if _, err := cli.RunJob(ctx, env, r.job(), ef); err != nil || r.src == nil {
		return err // or not the manager, or a resumed job already complete
	}
	return r.finish(ef.Quiet)
}

// interpRun is one run's state on the manager (rank 0).
type interpRun struct {
	opt      options
	env      *cli.Env
	ef       *cli.EngineFlags
	closeIn  func() error
	closeOut func() error // an output that is a device or a pipe (see openSpecial)
	src      *source
	sink     *sink
	lat      *Latency
}

func (r *interpRun) job() rank.Job {
	return rank.Job{Name: "interp", Open: r.open, NewWorker: newWorker}
}

// open opens the input, reads the first PGM header to learn the frame size, creates the
// output (through the engine flags, so that --journal and --resume work) and plans the
// chunks. It runs on rank 0 only; runInterp closes the input, RunJob the output.
func (r *interpRun) open(_ context.Context) (*rank.Plan, error) {
	o := r.opt
	in, closeIn, err := cli.OpenInput(o.in, r.env.Stdin)
	if err != nil {
		return nil, err
	}
	r.closeIn = closeIn
	name := o.in
	if name == "-" || name == "" {
		name = "stdin"
	}
	fr, err := o.frameReader(bufio.NewReaderSize(in, 1<<20), name)
	if err != nil {
		return nil, err
	}
	w, h := fr.Size()
	if err := CheckGeometry(w, h, o.factor); err != nil {
		return nil, fmt.Errorf("read %s: frame 1: %w", name, err)
	}
	per := o.chunk.Or(AutoChunk(w*h, o.fps > 0))
	if per > maxChunkBytes/(w*h) {
		return nil, cli.Usagef("--chunk %d: %d frames of %dx%d are more than %d MiB per chunk", per, per, w, h, maxChunkBytes>>20)
	}
	path, stdout := o.out, r.env.Stdout
	if f, err := openSpecial(o.out); err != nil {
		return nil, err
	} else if f != nil {
		r.closeOut, path, stdout = f.Close, "-", f
	}
	out, err := r.ef.CreateOutput(path, stdout)
	if err != nil {
		return nil, err
	}
	r.src = &source{fr: fr, size: w * h, per: per}
	r.sink = &sink{fw: NewFrameWriter(out, o.format, w*o.factor, h), size: w * o.factor * h}
	if o.png != "" {
		first := new(atomic.Uint64)
		r.src.keepFirst, r.src.sinkFirst, r.sink.keepFirst = true, first, first
	}
	if o.fps > 0 {
		interval := time.Duration(float64(time.Second) / o.fps)
		r.lat = NewLatency(interval)
		r.src.lat, r.sink.lat, r.sink.flush = r.lat, r.lat, out
		r.src.startPacing(interval)
	}
	var src rank.Source = r.src
	if o.fps > 0 {
		src = liveSource{r.src}
	}
	return &rank.Plan{Source: src, Sink: r.sink, Setup: encodeSetup(w, h, o.factor), Total: -1}, nil
}

// frameReader reads the input's frames in o's format, having read enough of it to know
// their size: an empty input is an error here, not an empty output.
func (o *options) frameReader(br *bufio.Reader, name string) (FrameReader, error) {
	if o.format == FormatPGM {
		w, h := 0, 0
		if o.sizeSet {
			w, h = o.width, o.height
		}
		pr := NewPGMReader(br, name, w, h)
		if err := pr.Peek(); err != nil {
			return nil, err
		}
		return pr, nil
	}
	if _, err := br.Peek(1); err == io.EOF {
		return nil, fmt.Errorf("read %s: %w", name, ErrEmpty)
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return NewRawReader(br, name, o.width, o.height), nil
}

// finish reports the latency and writes the PNG files (rank 0, after success).
func (r *interpRun) finish(quiet bool) error {
	if r.lat != nil && !quiet {
		fmt.Fprintln(r.env.Stderr, r.lat.Report("interp", r.opt.fps))
	}
	if r.opt.png != "" && r.src.first != nil && r.sink.first != nil {
		w, h := r.src.fr.Size()
		if err := writePNG(r.opt.png+"-in.png", r.src.first, w, h); err != nil {
			return err
		}
		if err := writePNG(r.opt.png+"-out.png", r.sink.first, w*r.opt.factor, h); err != nil {
			return err
		}
	}
	return nil
}

// close stops the pacing reader and closes the input.
func (r *interpRun) close() {
	if r.src != nil {
		r.src.stop()
	}
	if r.closeIn != nil {
		r.closeIn()
	}
	if r.closeOut != nil {
		r.closeOut()
	}
}

// openSpecial opens path for writing in place when it names an existing file that is not
// a regular file (/dev/null, a named pipe, a terminal), and returns nil otherwise. Such an
// output must not go through a temporary file renamed into place: the rename would
// replace the device with a regular file.
func openSpecial(path string) (*os.File, error) {
	if path == "" || path == "-" {
		return nil, nil
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().IsRegular() || fi.IsDir() {
		return nil, nil // created, replaced or refused by CreateOutput as usual
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open output: %w", err)
	}
	return f, nil
}

func writePNG(path string, pix []byte, w, h int) error {
	img := &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}
	o, err := cli.CreateOutput(path, nil)
	if err != nil {
		return fmt.Errorf("--png: %w", err)
	}
	if err := png.Encode(o, img); err != nil {
		o.Abort()
		return fmt.Errorf("--png: write %s: %w", path, err)
	}
	if err := o.Commit(); err != nil {
		return fmt.Errorf("--png: %w", err)
	}
	return nil
}

// The setup sent to every worker is the geometry: width, height, factor (uint32 each).
func encodeSetup(w, h, f int) []byte {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint32(b[0:], uint32(w))
	binary.LittleEndian.PutUint32(b[4:], uint32(h))
	binary.LittleEndian.PutUint32(b[8:], uint32(f))
	return b
}

func decodeSetup(b []byte) (w, h, f int, err error) {
	if len(b) != 12 {
		return 0, 0, 0, fmt.Errorf("setup of %d bytes, want 12 (width, height, factor)", len(b))
	}
	return int(binary.LittleEndian.Uint32(b[0:])), int(binary.LittleEndian.Uint32(b[4:])), int(binary.LittleEndian.Uint32(b[8:])), nil
}

// newWorker builds the kernel for the run's geometry; the Worker enlarges every frame of a
// chunk (the chunk is the concatenated raw frames, the result the concatenated output
// frames).
func newWorker(setup []byte) (rank.Worker, error) {
	w, h, f, err := decodeSetup(setup)
	if err != nil {
		return nil, err
	}
	k, err := NewKernel(w, h, f)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, c rank.Chunk) ([]byte, error) {
		out := make([]byte, len(c.Data)/k.InSize()*k.OutSize())
		if _, err := k.EnlargeFrames(out, c.Data); err != nil {
			return nil, fmt.Errorf("chunk %d: %w", c.Seq, err)
		}
		return out, nil
	}, nil
}

// source reads frames and deals them in chunks of per frames.
//
// In real-time mode a reader goroutine reads frame i no earlier than start + i/RATE and
// stamps its arrival, and the source is a rank.LiveSource: the engine's manager calls Next
// from the goroutine that also receives and writes results, so Next never waits for a
// frame (rank.ErrNotReady); the reader calls the manager's notify function after each
// frame instead, which wakes the manager from its receive at once.
type source struct {
	fr        FrameReader
	size, per int
	seq       uint64
	done      bool
	keepFirst bool
	first     []byte         // a copy of the first frame, for --png
	sinkFirst *atomic.Uint64 // 1 + the seq of the chunk that holds it, for the sink

	lat     *Latency
	frames  chan paced // real time: frames from the reader goroutine
	quit    chan struct{}
	notify  atomic.Pointer[func()] // real time: the manager's (SetNotify)
	partial []byte                 // real time: frames of the chunk being gathered
}

type paced struct {
	frame []byte
	err   error // io.EOF at the end
}

func (s *source) startPacing(interval time.Duration) {
	frames, quit := make(chan paced, 4), make(chan struct{})
	s.frames, s.quit = frames, quit
	go func() {
		start := time.Now()
		for i := 0; ; i++ {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				select {
				case <-time.After(d):
				case <-quit:
					return
				}
			}
			buf := make([]byte, s.size)
			err := s.fr.ReadFrame(buf)
			if err == nil {
				s.lat.Arrive(time.Now())
			}
			select {
			case frames <- paced{buf, err}:
			case <-quit:
				return
			}
			if notify := s.notify.Load(); notify != nil {
				(*notify)()
			}
			if err != nil {
				return
			}
		}
	}()
}

func (s *source) stop() {
	if s.quit != nil {
		close(s.quit)
		s.quit = nil
	}
}

// Next implements rank.Source.
func (s *source) Next() (rank.Chunk, error) {
	if s.done {
		return rank.Chunk{}, io.EOF
	}
	if s.frames != nil {
		return s.nextPaced()
	}
	buf := make([]byte, s.per*s.size)
	n := 0
	for ; n < s.per; n++ {
		err := s.fr.ReadFrame(buf[n*s.size : (n+1)*s.size])
		if err == io.EOF {
			s.done = true
			break
		}
		if err != nil {
			s.done = true
			return rank.Chunk{}, err
		}
	}
	if n == 0 {
		return rank.Chunk{}, io.EOF
	}
	return s.chunk(buf[:n*s.size]), nil
}

func (s *source) chunk(data []byte) rank.Chunk {
	if s.keepFirst && s.first == nil && len(data) >= s.size {
		s.first = append([]byte(nil), data[:s.size]...)
		s.sinkFirst.Store(s.seq + 1)
	}
	c := rank.Chunk{Seq: s.seq, Data: data}
	s.seq++
	return c
}

// realTimeWake bounds the sleeps between polls of every rank in real-time mode: a frame
// waits at most that long for a sleeping worker, and its result for the manager. A
// fiftieth of the frame interval, at least 50 us: each bound costs an idle rank about
// 1/bound wake-ups a second. Measured with mpirun -np 3 (2,000 frames; 100 at 25/s),
// latency p50 and CPU of all ranks against the heartbeat chunks this replaced:
// 1000/s 360 us (565), 17 of 2,000 late (557), 1.9 s CPU (1.8); 200/s 582 us (770),
// 5.3 s (4.8); 25/s 1.9 ms (754 us), 1.2 s (1.5).
func realTimeWake(fps float64) time.Duration {
	return max(50*time.Microsecond, time.Duration(float64(time.Second)/fps/50))
}

// liveSource is the source in real-time mode.
type liveSource struct{ *source }

// SetNotify implements rank.LiveSource.
func (s liveSource) SetNotify(notify func()) { s.notify.Store(&notify) }

// nextPaced returns the next chunk of frames in real-time mode, or rank.ErrNotReady when
// the reader has not read them yet.
func (s *source) nextPaced() (rank.Chunk, error) {
	for {
		select {
		case p := <-s.frames:
			if c, ok, err := s.gather(p); ok || err != nil {
				return c, err
			}
		default:
			return rank.Chunk{}, rank.ErrNotReady
		}
	}
}

// gather adds one frame from the reader to the chunk being gathered. It returns a chunk
// (ok) once the chunk is full or the stream ended after some frames, and the stream's
// error (io.EOF when it ended with nothing gathered).
func (s *source) gather(p paced) (c rank.Chunk, ok bool, err error) {
	switch {
	case p.err == io.EOF:
		s.done = true
		if len(s.partial) == 0 {
			return rank.Chunk{}, false, io.EOF
		}
		return s.take(), true, nil
	case p.err != nil:
		s.done = true
		return rank.Chunk{}, false, p.err
	case s.per == 1:
		s.partial = p.frame // no copy for single-frame chunks
	case s.partial == nil:
		s.partial = append(make([]byte, 0, s.per*s.size), p.frame...)
	default:
		s.partial = append(s.partial, p.frame...)
	}
	if len(s.partial) == s.per*s.size {
		return s.take(), true, nil
	}
	return rank.Chunk{}, false, nil
}

func (s *source) take() rank.Chunk {
	data := s.partial
	s.partial = nil
	return s.chunk(data)
}

// sink writes the output frames in order.
type sink struct {
	fw        *FrameWriter
	size      int
	keepFirst *atomic.Uint64 // 1 + the seq of the chunk that holds the first frame, 0 until known
	first     []byte         // a copy of the first output frame, for --png
	lat       *Latency
	flush     interface{ Flush() error } // real time: every chunk leaves the process at once
}

// Put implements rank.Sink.
func (s *sink) Put(seq uint64, out []byte) error {
	if len(out) == 0 {
		return nil
	}
	if err := s.fw.WriteFrames(out); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if s.keepFirst != nil && s.first == nil && s.keepFirst.Load() == seq+1 {
		// Not in a resumed run, which does not write the first chunk again.
		s.first = append([]byte(nil), out[:s.size]...)
	}
	if s.lat != nil {
		if err := s.flush.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		s.lat.Written(len(out)/s.size, time.Now())
	}
	return nil
}
