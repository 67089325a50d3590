package main

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/examples/internal/exrun"
)

func parseCSV(t *testing.T, out []byte) [][]float64 {
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"angle", "speed", "range", "apex", "time"}, rows[0])
	var vals [][]float64
	for _, r := range rows[1:] {
		var v []float64
		for _, f := range r {
			x, err := strconv.ParseFloat(f, 64)
			require.NoError(t, err)
			v = append(v, x)
		}
		vals = append(vals, v)
	}
	return vals
}

func TestSweep(t *testing.T) {
	bin := exrun.Build(t, "sweep")
	args := []string{"-angles", "15:75:15", "-speeds", "50:250:50"}
	alone := exrun.Run(t, 0, bin, args...)
	require.Equal(t, 0, alone.Code, "%s", alone.Stderr)
	withAir := parseCSV(t, alone.Stdout)
	require.Len(t, withAir, 5*5)

	// In a vacuum (a table of zero density) a shot follows the textbook's parabola.
	vacuum := filepath.Join(t.TempDir(), "vacuum.txt")
	require.NoError(t, os.WriteFile(vacuum, []byte("# no air\n0 0\n"), 0o644))
	r := exrun.Run(t, 0, bin, append(args, "-table", vacuum)...)
	require.Equal(t, 0, r.Code, "%s", r.Stderr)
	for i, row := range parseCSV(t, r.Stdout) {
		a, v := row[0]*math.Pi/180, row[1]
		require.Equal(t, withAir[i][:2], row[:2], "the grid's order")
		require.InEpsilon(t, v*v*math.Sin(2*a)/gravity, row[2], 2e-3, "range of %v", row)
		require.InEpsilon(t, v*v*math.Sin(a)*math.Sin(a)/(2*gravity), row[3], 2e-3, "apex of %v", row)
		require.Less(t, withAir[i][2], row[2], "drag shortens the range of %v", row)
	}

	if !exrun.MPI(t) {
		return
	}
	np3 := exrun.Run(t, 3, bin, args...)
	require.Equal(t, 0, np3.Code, "%s", np3.Stderr)
	require.Equal(t, string(alone.Stdout), string(np3.Stdout))

	// A bad table ends the job on every rank with rank 0's one line.
	bad := filepath.Join(t.TempDir(), "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("0 1.2\n100 x\n"), 0o644))
	r = exrun.Run(t, 3, bin, append(args, "-table", bad)...)
	require.Equal(t, 1, r.Code)
	require.Empty(t, r.Stdout)
	require.Contains(t, string(r.Stderr), "sweep: pool.Broadcast: "+bad+":2: strconv.ParseFloat: parsing \"x\": invalid syntax\n")
}

func TestReadTable(t *testing.T) {
	tb, err := readTable("t", strings.NewReader("# alt rho\n0 1.0\n\n100 0.5 # thinner\n"))
	require.NoError(t, err)
	require.Equal(t, 0.75, tb.density(50))
	require.Equal(t, 1.0, tb.density(-5))
	require.Equal(t, 0.5, tb.density(1e6))
	for _, bad := range []string{"", "0\n", "0 1 2\n", "0 -1\n", "10 1\n5 1\n", "0 NaN\n", "x 1\n"} {
		_, err := readTable("t", strings.NewReader(bad))
		require.Error(t, err, "%q", bad)
	}
}

// FuzzReadTable: a table file never makes the parser panic, and a table it accepts has
// rows that density can use.
func FuzzReadTable(f *testing.F) {
	f.Add("0 1.225\n1000 1.1\n")
	f.Add("# c\n\n5 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		tb, err := readTable("f", strings.NewReader(s))
		if err != nil {
			return
		}
		if len(tb.Alt) != len(tb.Rho) || len(tb.Alt) == 0 {
			t.Fatalf("table of %d altitudes and %d densities", len(tb.Alt), len(tb.Rho))
		}
		if d := tb.density(tb.Alt[0]); d < 0 || math.IsNaN(d) {
			t.Fatalf("density %g", d)
		}
	})
}
