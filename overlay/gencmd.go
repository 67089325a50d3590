package overlay

import (
	"context"

	"github.com/mw-hpc/mw/cli"
)

// GenMap is `mw gen map`.
var GenMap = cli.Command{
	Name:  "map",
	Short: "a random tiling of a W x H grid by about N rectangles (overlay's input)",
	Run:   runGenMap,
}

const genMapUsage = `usage: mw gen map --rects N --width W --height H [--seed S] -o FILE

Writes a random tiling of [0,W) x [0,H) by about N rectangles with integer corners, made by
recursive guillotine cuts; the same seed gives the same map. Ids are 1..N; one attribute
column, class (1..9). The format is chosen by FILE's extension: .csv or .geojson.

example:
  mw gen map --rects 50000 --width 1000 --height 1000 --seed 1 -o soil.csv
`

func runGenMap(_ context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet(env, "gen map", genMapUsage)
	var (
		n, w, h int
		seed    uint64
		out     string
	)
	fs.IntVar(&n, "rects", 1000, "about `N` rectangles")
	fs.IntVar(&w, "width", 1000, "the extent's width `W`")
	fs.IntVar(&h, "height", 1000, "the extent's height `H`")
	fs.Uint64Var(&seed, "seed", 1, "random seed `S`")
	fs.StringVar(&out, "o", "", "write the map to `FILE` (.csv or .geojson; - is CSV on stdout)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := checkArgs(fs); err != nil {
		return err
	}
	switch {
	case n < 1:
		return cli.Usagef("--rects %d: must be at least 1", n)
	case w < 1 || w > MaxCoord:
		return cli.Usagef("--width %d: must be 1..%d", w, MaxCoord)
	case h < 1 || h > MaxCoord:
		return cli.Usagef("--height %d: must be 1..%d", h, MaxCoord)
	case int64(n) > int64(w)*int64(h):
		return cli.Usagef("--rects %d: a %d x %d grid holds at most %d rectangles", n, w, h, int64(w)*int64(h))
	case n > 1<<28:
		return cli.Usagef("--rects %d: at most %d", n, 1<<28)
	case out == "":
		return cli.Usagef("-o is required: the file to write, e.g. -o map.csv")
	}
	f, err := FormatOf(out)
	if err != nil {
		return cli.Usagef("-o %v", err)
	}
	m := GenerateMap(n, int32(w), int32(h), seed)
	o, err := cli.CreateOutput(out, env.Stdout)
	if err != nil {
		return err
	}
	if err := WriteMap(o, f, m); err != nil {
		o.Abort()
		return err
	}
	return o.Commit()
}
