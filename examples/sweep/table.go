package main

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"strconv"
	"strings"
)

// Table is the air's density by altitude, linearly interpolated between its rows and
// constant past its ends. Its fields are exported: it travels to the workers with gob.
type Table struct {
	Alt, Rho []float64 // altitudes in m, strictly increasing; densities in kg/m³
}

// density is the air's density at altitude y.
func (t *Table) density(y float64) float64 {
	n := len(t.Alt)
	switch {
	case y <= t.Alt[0]:
		return t.Rho[0]
	case y >= t.Alt[n-1]:
		return t.Rho[n-1]
	}
	lo, hi := 0, n-1
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; t.Alt[mid] <= y {
			lo = mid
		} else {
			hi = mid
		}
	}
	f := (y - t.Alt[lo]) / (t.Alt[hi] - t.Alt[lo])
	return t.Rho[lo] + f*(t.Rho[hi]-t.Rho[lo])
}

// standardAtmosphere is the International Standard Atmosphere's troposphere and lower
// stratosphere, every 100 m up to 20 km.
func standardAtmosphere() *Table {
	t := &Table{}
	for h := 0.0; h <= 20000; h += 100 {
		var rho float64
		if h <= 11000 {
			rho = 1.225 * math.Pow(1-2.25577e-5*h, 4.25588)
		} else {
			rho = 0.36392 * math.Exp(-(h-11000)/6341.62)
		}
		t.Alt, t.Rho = append(t.Alt, h), append(t.Rho, rho)
	}
	return t
}

// loadTable reads a table from path, or gives the standard atmosphere for "".
func loadTable(path string) (*Table, error) {
	if path == "" {
		return standardAtmosphere(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readTable(path, f)
}

// readTable parses "altitude density" lines ('#' starts a comment; blank lines are
// skipped): finite numbers, altitudes strictly increasing, densities not negative.
func readTable(name string, r io.Reader) (*Table, error) {
	t := &Table{}
	s := bufio.NewScanner(r)
	for line := 1; s.Scan(); line++ {
		text, _, _ := strings.Cut(s.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		alt, rho, err := parseRow(fields)
		switch {
		case err != nil:
		case len(t.Alt) > 0 && alt <= t.Alt[len(t.Alt)-1]:
			err = fmt.Errorf("altitude %g is not above the previous row's %g", alt, t.Alt[len(t.Alt)-1])
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		t.Alt, t.Rho = append(t.Alt, alt), append(t.Rho, rho)
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(t.Alt) == 0 {
		return nil, fmt.Errorf("%s: no rows (want \"altitude density\" lines)", name)
	}
	return t, nil
}

func parseRow(fields []string) (alt, rho float64, err error) {
	if len(fields) != 2 {
		return 0, 0, fmt.Errorf("%d fields, want 2: altitude in m and density in kg/m3", len(fields))
	}
	alt, err = strconv.ParseFloat(fields[0], 64)
	if err == nil {
		rho, err = strconv.ParseFloat(fields[1], 64)
	}
	switch {
	case err != nil:
		return 0, 0, err
	case math.IsInf(alt, 0) || math.IsNaN(alt) || math.IsInf(rho, 0) || math.IsNaN(rho):
		return 0, 0, fmt.Errorf("%q %q: not finite", fields[0], fields[1])
	case rho < 0:
		return 0, 0, fmt.Errorf("density %g is negative", rho)
	}
	return alt, rho, nil
}

// span is a flag's from:to:step, every value from from up to to (included, within a
// step's millionth) by step.
type span struct{ from, to, step float64 }

func (s *span) String() string { return fmt.Sprintf("%g:%g:%g", s.from, s.to, s.step) }

func (s *span) Set(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return fmt.Errorf("%q: want from:to:step", v)
	}
	var n [3]float64
	for i, p := range parts {
		x, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Errorf("%q: %q is not a finite number", v, p)
		}
		n[i] = x
	}
	if n[2] <= 0 || n[1] < n[0] || (n[1]-n[0])/n[2] > 1e7 {
		return fmt.Errorf("%q: want from <= to, a positive step, at most 10 million values", v)
	}
	*s = span{n[0], n[1], n[2]}
	return nil
}

// values yields the span's values, each computed from from (no drift).
func (s span) values() iter.Seq[float64] {
	return func(yield func(float64) bool) {
		for i := 0; ; i++ {
			v := s.from + float64(i)*s.step
			if v > s.to+s.step*1e-6 || !yield(v) {
				return
			}
		}
	}
}
