package overlay

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mw-hpc/mw/internal/mwtest"
)

func needMPI(t *testing.T) { mwtest.NeedMPI(t) }

// TestMPISameBytes runs the real binary under mpirun: -np 1..4, several chunk sizes, with and
// without --b-path, all giving the bytes of a run without mpirun.
func TestMPISameBytes(t *testing.T) {
	needMPI(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.geojson")
	for _, g := range []struct {
		path string
		seed string
	}{{a, "5"}, {b, "6"}} {
		if r := mwtest.Run(t, nil, "gen", "map", "--rects", "20000", "--width", "1000", "--height", "800", "--seed", g.seed, "-o", g.path); r.Code != 0 {
			t.Fatalf("gen map: exit %d: %s", r.Code, r.Stderr)
		}
	}
	ref := mwtest.Run(t, nil, "overlay", "-a", a, "-b", b, "--quiet")
	if ref.Code != 0 || len(ref.Stdout) == 0 {
		t.Fatalf("overlay alone: exit %d: %s", ref.Code, ref.Stderr)
	}
	for _, c := range []struct {
		np    int
		chunk string
		bpath bool
	}{
		{1, "auto", false}, {2, "auto", false}, {2, "333", true}, {3, "1000", false},
		{3, "auto", true}, {4, "57", false}, {4, "20000", true},
	} {
		t.Run(fmt.Sprintf("np%d/chunk%s/bpath=%v", c.np, c.chunk, c.bpath), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("o-%d-%s-%v.csv", c.np, c.chunk, c.bpath))
			args := []string{"overlay", "-a", a, "-b", b, "-o", out, "--chunk", c.chunk, "--quiet"}
			if c.bpath {
				args = append(args, "--b-path")
			}
			r := mwtest.MPIRun(t, c.np, nil, args...)
			if r.Code != 0 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, ref.Stdout) {
				t.Fatalf("output differs from the run alone (%d vs %d bytes)", len(got), len(ref.Stdout))
			}
		})
	}
}

// TestMPIBadInput: a bad map gives one line on stderr, a non-zero exit and no output file.
func TestMPIBadInput(t *testing.T) {
	needMPI(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(good, []byte("id,xmin,ymin,xmax,ymax\n1,0,0,2,2\n2,2,0,4,2\n"), 0o644)
	os.WriteFile(bad, []byte("id,xmin,ymin,xmax,ymax\n1,0,0,2,2\n2,2,0,4,2\n3,3,1,4,2\n"), 0o644)
	for _, np := range []int{1, 3} {
		out := filepath.Join(dir, fmt.Sprintf("out%d.csv", np))
		r := mwtest.MPIRun(t, np, nil, "overlay", "-a", good, "-b", bad, "-o", out, "--quiet")
		lines := strings.Split(strings.TrimSpace(string(r.Stderr)), "\n")
		var ours []string
		for _, l := range lines {
			if strings.HasPrefix(l, "mw") {
				ours = append(ours, l)
			}
		}
		if r.Code == 0 || len(ours) != 1 || !strings.Contains(ours[0], "mw: overlay: map B: "+bad+":4") || !strings.Contains(ours[0], "overlaps") {
			t.Errorf("np %d: exit %d, stderr:\n%s", np, r.Code, r.Stderr)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*out*")); len(left) > 0 {
			t.Errorf("np %d: left %v", np, left)
		}
	}
	r := mwtest.Run(t, nil, "overlay", "-a", good, "--quiet")
	if r.Code != 2 || !strings.Contains(string(r.Stderr), "mw: overlay: -a and -b are required") {
		t.Errorf("usage: exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
}
