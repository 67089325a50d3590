package interp

import (
	"context"
	"fmt"

	"github.com/mw-hpc/mw/cli"
)

// GenFrames is `mw gen frames`.
var GenFrames = cli.Command{
	Name:  "frames",
	Short: "synthetic B-mode ultrasonic frames: speckle, reflectors, depth attenuation (interp's input)",
	Run:   runGenFrames,
}

const genFramesUsage = `usage: mw gen frames --count N [--seed S] [-o FILE|-] [--width 56 --height 256] [--format pgm|raw]

Writes N synthetic grey frames like a B-mode ultrasonic scanner's: tissue layers and a cyst,
speckle, a few bright reflectors drifting from frame to frame, attenuation with depth. The
same seed and size give the same bytes.

example:
  mw gen frames --count 20000 --seed 1 -o frames.pgm
  mw gen frames --count 100 --format raw | mw interp --format raw -o big.raw
`

func runGenFrames(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet(env, "gen frames", genFramesUsage)
	var (
		count, w, h int
		seed        uint64
		out, format string
	)
	fs.IntVar(&count, "count", 0, "number of frames `N` (required)")
	fs.Uint64Var(&seed, "seed", 1, "random seed `S`")
	fs.StringVar(&out, "o", "-", "write the frames to `FILE` (- is stdout); a file appears only once complete")
	fs.IntVar(&w, "width", 56, "frame width `W` (columns, one per sensor)")
	fs.IntVar(&h, "height", 256, "frame height `H` (rows, depth)")
	fs.StringVar(&format, "format", FormatPGM, "pgm (P5 stream) or raw")
	if err := parseFlags(fs, args, ": the number of frames is given with --count N"); err != nil {
		return err
	}
	switch {
	case count < 1:
		return cli.Usagef("--count %d: must be at least 1 (the number of frames to write)", count)
	case format != FormatPGM && format != FormatRaw:
		return cli.Usagef("--format %q: must be pgm or raw", format)
	case w < 2 || h < 1 || w > maxPixels/h:
		return cli.Usagef("--width %d --height %d: must be at least 2 x 1 (interp's cubic needs two columns) and at most %d pixels", w, h, maxPixels)
	}
	stdout := env.Stdout
	if f, err := openSpecial(out); err != nil {
		return err
	} else if f != nil {
		defer f.Close()
		out, stdout = "-", f
	}
	o, err := cli.CreateOutput(out, stdout)
	if err != nil {
		return err
	}
	g := NewGenerator(w, h, seed)
	fw := NewFrameWriter(o, format, w, h)
	frame := make([]byte, w*h)
	for i := 0; i < count; i++ {
		if i%64 == 0 && ctx.Err() != nil {
			o.Abort() // a signal: no output left looking complete
			return context.Cause(ctx)
		}
		if err := fw.WriteFrames(g.Frame(frame, i)); err != nil {
			o.Abort()
			return fmt.Errorf("write output: %w", err)
		}
	}
	return o.Commit()
}
