// Command sweep is a parameter sweep across an MPI job with mw's library: the range of a
// projectile with air drag, for every launch angle and speed of a grid. The air's density
// by altitude is a table that rank 0 builds (the standard atmosphere, or a file) and sends
// to every rank once (pool.Broadcast); rank 0 makes the grid lazily (pool.Stream: workers
// never build it) and prints one CSV line per shot, in the grid's order, as they come.
//
//	mpirun -np 3 ./sweep -angles 10:80:1 -speeds 50:900:10 > ranges.csv
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"iter"
	"math"
	"os"

	"github.com/mw-hpc/mw/pool"
)

// Shot is one point of the grid.
type Shot struct{ Angle, Speed float64 } // degrees, m/s

// Flight is what a shot does.
type Flight struct {
	Shot
	Range, Apex, Time float64 // m, m, s
}

// The projectile: a 10 kg ball of 15 cm diameter (drag coefficient 0.47), under
// standard gravity, integrated in steps of dt.
const (
	mass    = 10.0
	area    = math.Pi * 0.075 * 0.075
	dragCd  = 0.47
	gravity = 9.80665
	dt      = 1e-3
)

// fly integrates a shot through air of the table's density until it lands.
func (t *Table) fly(_ context.Context, s Shot) (Flight, error) {
	rad := s.Angle * math.Pi / 180
	x, y := 0.0, 0.0
	vx, vy := s.Speed*math.Cos(rad), s.Speed*math.Sin(rad)
	f := Flight{Shot: s}
	for step := 1; ; step++ {
		k := 0.5 * t.density(y) * dragCd * area / mass * math.Hypot(vx, vy)
		vx -= k * vx * dt
		vy -= (gravity + k*vy) * dt
		px, py := x, y
		x, y = x+vx*dt, y+vy*dt
		f.Apex = math.Max(f.Apex, y)
		if y < 0 { // landed within this step: interpolate to y = 0
			frac := py / (py - y)
			f.Range = px + (x-px)*frac
			f.Time = (float64(step-1) + frac) * dt
			return f, nil
		}
		if step > 1e8 {
			return f, fmt.Errorf("shot at %g° and %g m/s did not land", s.Angle, s.Speed)
		}
	}
}

// grid yields every shot of the angles and speeds, angle by angle.
func grid(angles, speeds span) iter.Seq[Shot] {
	return func(yield func(Shot) bool) {
		for a := range angles.values() {
			for v := range speeds.values() {
				if !yield(Shot{a, v}) {
					return
				}
			}
		}
	}
}

func main() {
	angles, speeds := span{10, 80, 5}, span{100, 800, 100}
	flag.Var(&angles, "angles", "launch angles in degrees, `from:to:step`")
	flag.Var(&speeds, "speeds", "launch speeds in m/s, `from:to:step`")
	tableFile := flag.String("table", "", "air density by altitude, `FILE` of \"metres kg/m3\" lines (default: the standard atmosphere)")
	flag.Parse()
	pool.Main(func(ctx context.Context) error {
		if flag.NArg() > 0 {
			return errors.New("usage: sweep [-angles FROM:TO:STEP] [-speeds FROM:TO:STEP] [-table FILE]")
		}
		air, err := pool.Broadcast(ctx, func() (*Table, error) { return loadTable(*tableFile) })
		if err != nil {
			return err
		}
		out := bufio.NewWriter(os.Stdout)
		if pool.IsManager() {
			fmt.Fprintln(out, "angle,speed,range,apex,time")
		}
		for f, err := range pool.Stream(ctx, grid(angles, speeds), air.fly) {
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%g,%g,%.3f,%.3f,%.3f\n", f.Angle, f.Speed, f.Range, f.Apex, f.Time)
		}
		return out.Flush()
	})
}
