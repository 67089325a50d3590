package overlay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// runInproc runs `mw overlay args...` (or another command) on np ranks of an in-process
// network, as mpirun would on np processes, and returns rank 0's stdout, stderr and error.
func runInproc(t testing.TB, cmd cli.Command, np int, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	net := rank.NewInprocNet(np)
	var (
		wg      sync.WaitGroup
		errs    = make([]error, np)
		so, se  = make([]bytes.Buffer, np), make([]bytes.Buffer, np)
		started = make([]bool, np)
	)
	for r := range np {
		env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &so[r], Stderr: &se[r], Rank: r}
		env.Transport = func() (rank.Transport, error) { started[r] = true; return net.Rank(r), nil }
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = cmd.Run(ctx, env, args)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("%v on %d ranks: still running after the deadline", args, np)
	}
	for r := 1; r < np; r++ {
		if errs[r] != nil && errs[0] == nil {
			t.Errorf("rank %d: %v", r, errs[r])
		}
	}
	return so[0].String(), se[0].String(), errs[0]
}

// testMaps writes two generated maps of n rectangles on w x h to dir in format f.
func testMaps(t testing.TB, n int, w, h int32, f Format) (string, string) {
	return writeTemp(t, GenerateMap(n, w, h, 21), f), writeTemp(t, GenerateMap(n*3/2, w, h, 22), f)
}

// TestCommandSameBytes: every rank count, chunk size and way of sending B gives the same
// output, which is what the kernel and the writer give directly.
func TestCommandSameBytes(t *testing.T) {
	for _, f := range []Format{CSV, GeoJSON} {
		a, b := testMaps(t, 1500, 300, 200, f)
		ext := map[Format]string{CSV: ".csv", GeoJSON: ".geojson"}[f]
		am, err := ReadMap(a)
		if err != nil {
			t.Fatal(err)
		}
		bm, err := ReadMap(b)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		w := NewWriter(&want, f, am, bm)
		w.Header()
		for _, p := range Overlay(am.Rects, bm.Rects, am.W, am.H) {
			w.Piece(p)
		}
		w.Footer()
		dir := t.TempDir()
		nps, chunks := []int{1, 2, 3, 4}, []string{"1", "7", "auto", "100000"}
		if f == GeoJSON { // the formats share everything but the parser and the writer
			nps, chunks = []int{1, 3}, []string{"7"}
		}
		for _, np := range nps {
			for _, chunk := range chunks {
				if chunk == "1" && np > 2 {
					continue // 1500 one-rectangle chunks: slow under -race, nothing new
				}
				for _, bpath := range []bool{false, true} {
					name := fmt.Sprintf("%v/np%d/chunk%s/bpath=%v", f, np, chunk, bpath)
					t.Run(name, func(t *testing.T) {
						out := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+ext)
						args := []string{"-a", a, "-b", b, "-o", out, "--chunk", chunk, "--quiet"}
						if bpath {
							args = append(args, "--b-path")
						}
						if _, stderr, err := runInproc(t, Command, np, args...); err != nil {
							t.Fatalf("%v\n%s", err, stderr)
						}
						got, err := os.ReadFile(out)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, want.Bytes()) {
							t.Fatalf("output differs from the sequential overlay (%d vs %d bytes)", len(got), want.Len())
						}
					})
				}
			}
		}
	}
}

// TestCommandStdout: without -o the overlay goes to stdout as CSV.
func TestCommandStdout(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	b := filepath.Join(dir, "b.csv")
	os.WriteFile(a, []byte("id,xmin,ymin,xmax,ymax,soil\ns1,0,0,2,2,sand\ns2,2,0,4,2,\"clay, wet\"\n"), 0o644)
	os.WriteFile(b, []byte("id,xmin,ymin,xmax,ymax,veg\nv1,0,0,4,1,grass\nv2,0,1,1,2,oak\nv3,1,1,4,2,pine\n"), 0o644)
	stdout, _, err := runInproc(t, Command, 1, "-a", a, "-b", b, "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	want := `a_id,b_id,xmin,ymin,xmax,ymax,a_soil,b_veg
s1,v1,0,0,2,1,sand,grass
s1,v2,0,1,1,2,sand,oak
s1,v3,1,1,2,2,sand,pine
s2,v1,2,0,4,1,"clay, wet",grass
s2,v3,2,1,4,2,"clay, wet",pine
`
	if stdout != want {
		t.Fatalf("got\n%s\nwant\n%s", stdout, want)
	}
}

// TestCommandUsage: bad flags are usage errors found before any MPI.
func TestCommandUsage(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no maps", []string{}, "-a and -b are required"},
		{"no b", []string{"-a", "a.csv"}, "-a and -b are required"},
		{"bad ext", []string{"-a", "a.shp", "-b", "b.csv"}, "-a a.shp: unknown format"},
		{"bad out ext", []string{"-a", "a.csv", "-b", "b.csv", "-o", "o.txt"}, "-o o.txt"},
		{"stdin map", []string{"-a", "-", "-b", "b.csv"}, "-a -"},
		{"out is input", []string{"-a", "a.csv", "-b", "b.csv", "-o", "./a.csv"}, "is the file -a names too"},
		{"bad chunk", []string{"-a", "a.csv", "-b", "b.csv", "--chunk", "0"}, "--chunk 0: must be"},
		{"bad window", []string{"-a", "a.csv", "-b", "b.csv", "--window", "0"}, "--window 0"},
		{"unknown flag", []string{"-x"}, "unknown flag -x"},
		{"extra arg", []string{"-a", "a.csv", "-b", "b.csv", "c.csv"}, "unexpected argument"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := &cli.Env{Stdout: new(bytes.Buffer), Stderr: new(bytes.Buffer)}
			env.Transport = func() (rank.Transport, error) {
				t.Fatal("transport started for a usage error")
				return nil, nil
			}
			err := Command.Run(context.Background(), env, c.args)
			if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v (exit %d), want a usage error with %q", err, cli.ExitCode(err), c.want)
			}
			if s := env.Stderr.(*bytes.Buffer).String(); s != "" {
				t.Errorf("printed %q; main prints the one line", s)
			}
		})
	}
}

// TestCommandBadInput: a bad map fails the run with one line naming it and leaves no output.
func TestCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("id,xmin,ymin,xmax,ymax\n1,0,0,2,2\n2,2,0,4,2\n"), 0o644)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	overlapping := write("overlap.csv", "id,xmin,ymin,xmax,ymax\n1,0,0,2,2\n2,1,0,4,2\n")
	taller := write("taller.csv", "id,xmin,ymin,xmax,ymax\n1,0,0,4,3\n")
	for _, c := range []struct {
		name string
		a, b string
		want string
	}{
		{"overlap in A", overlapping, good, "map A: " + overlapping + ":3"},
		{"overlap in B", good, overlapping, "map B: " + overlapping + ":3"},
		{"extents", good, taller, "different extents"},
		{"missing", good, filepath.Join(dir, "nope.csv"), "map B: open"},
	} {
		for _, np := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/np%d", c.name, np), func(t *testing.T) {
				out := filepath.Join(dir, "out.csv")
				_, _, err := runInproc(t, Command, np, "-a", c.a, "-b", c.b, "-o", out, "--quiet")
				if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %v, want one line with %q", err, c.want)
				}
				if cli.ExitCode(err) != cli.ExitRuntime {
					t.Errorf("exit %d", cli.ExitCode(err))
				}
				left, _ := filepath.Glob(filepath.Join(dir, "*out.csv*"))
				if len(left) > 0 {
					t.Errorf("left %v behind", left)
				}
			})
		}
	}
}

func TestGenMapCommand(t *testing.T) {
	dir := t.TempDir()
	for _, ext := range []string{".csv", ".geojson"} {
		p1, p2 := filepath.Join(dir, "m1"+ext), filepath.Join(dir, "m2"+ext)
		for _, p := range []string{p1, p2} {
			env := &cli.Env{Stdout: new(bytes.Buffer), Stderr: new(bytes.Buffer)}
			if err := GenMap.Run(context.Background(), env, []string{"--rects", "500", "--width", "100", "--height", "50", "--seed", "4", "-o", p}); err != nil {
				t.Fatal(err)
			}
		}
		b1, _ := os.ReadFile(p1)
		b2, _ := os.ReadFile(p2)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("%s: the same seed gave different files", ext)
		}
		m, err := ReadMap(p1)
		if err != nil {
			t.Fatal(err)
		}
		if m.W != 100 || m.H != 50 || m.Len() < 450 || m.Len() > 500 {
			t.Fatalf("%s: %dx%d, %d rectangles", ext, m.W, m.H, m.Len())
		}
	}
	for _, args := range [][]string{
		{"--rects", "0", "-o", "x.csv"}, {"--width", "0", "-o", "x.csv"}, {"--rects", "30", "--width", "5", "--height", "5", "-o", "x.csv"},
		{"-o", "x.shp"}, {}, {"--seed", "-1", "-o", "x.csv"},
	} {
		env := &cli.Env{Stdout: new(bytes.Buffer), Stderr: new(bytes.Buffer)}
		if err := GenMap.Run(context.Background(), env, args); cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
}

// TestCommandJournal: a journaled run writes the same bytes as a plain one, and the same
// command with --resume finds the job complete.
func TestCommandJournal(t *testing.T) {
	for _, f := range []Format{CSV, GeoJSON} {
		ext := map[Format]string{CSV: ".csv", GeoJSON: ".geojson"}[f]
		t.Run(f.String(), func(t *testing.T) {
			a, b := testMaps(t, 800, 100, 100, f)
			dir := t.TempDir()
			plain, jout := filepath.Join(dir, "plain"+ext), filepath.Join(dir, "j"+ext)
			jrn := filepath.Join(dir, "j.journal")
			if _, se, err := runInproc(t, Command, 2, "-a", a, "-b", b, "-o", plain, "--chunk", "50", "--quiet"); err != nil {
				t.Fatalf("%v\n%s", err, se)
			}
			for _, extra := range [][]string{nil, {"--resume"}} {
				args := append([]string{"-a", a, "-b", b, "-o", jout, "--chunk", "50", "--quiet", "--journal", jrn}, extra...)
				if _, se, err := runInproc(t, Command, 3, args...); err != nil {
					t.Fatalf("%q: %v\n%s", extra, err, se)
				}
			}
			want, _ := os.ReadFile(plain)
			got, err := os.ReadFile(jout)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("journaled output differs (%v)", err)
			}

			// A run killed after 5 chunks: its journal has 5 chunk lines, and its partial
			// output at least their bytes. The resume writes the rest after them.
			jb, err := os.ReadFile(jrn)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(jb), "\n")
			if err := os.WriteFile(jrn, []byte(strings.Join(lines[:6], "")), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(jout, cli.PartialPath(jout)); err != nil {
				t.Fatal(err)
			}
			args := []string{"-a", a, "-b", b, "-o", jout, "--chunk", "50", "--quiet", "--journal", jrn, "--resume"}
			if _, se, err := runInproc(t, Command, 3, args...); err != nil {
				t.Fatalf("resume after 5 chunks: %v\n%s", err, se)
			}
			if got, err := os.ReadFile(jout); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("output resumed after 5 chunks differs (%v, %d bytes, want %d)", err, len(got), len(want))
			}
		})
	}
}

func TestCommandHelp(t *testing.T) {
	for _, c := range []cli.Command{Command, GenMap} {
		var so, se bytes.Buffer
		env := &cli.Env{Stdout: &so, Stderr: &se}
		err := c.Run(context.Background(), env, []string{"-h"})
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(so.String(), "example:") || !strings.Contains(so.String(), "-o ") {
			t.Errorf("%s -h: %v, printed:\n%s", c.Name, err, so.String())
		}
	}
}

// TestSinkEndsGeoJSONAfterAGap: with --keep-going the last chunk may be left out; the
// output still ends as GeoJSON must (the engine calls End once the run is over), and
// holds exactly the features of the chunks written.
func TestSinkEndsGeoJSONAfterAGap(t *testing.T) {
	am, bm := GenerateMap(200, 100, 80, 31), GenerateMap(300, 100, 80, 32)
	ix := NewIndex(bm.Rects, bm.W, bm.H)
	var buf bytes.Buffer
	w := NewWriter(&buf, GeoJSON, am, bm)
	if err := w.Header(); err != nil {
		t.Fatal(err)
	}
	s := &sink{w: w, na: am.Len(), nb: bm.Len(), gaps: true}
	per, pieces := 30, 0
	for seq, first := 0, 0; first < am.Len(); seq, first = seq+1, first+per {
		end := min(first+per, am.Len())
		if end == am.Len() {
			break // the last chunk failed every try
		}
		out, err := ix.Kernel(EncodeChunk(nil, first, 0, am.Rects[first:end]))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(uint64(seq), out); err != nil {
			t.Fatal(err)
		}
		pieces = int(w.Pieces())
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Type     string            `json:"type"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n...%s", err, buf.Bytes()[max(0, buf.Len()-80):])
	}
	if doc.Type != "FeatureCollection" || len(doc.Features) != pieces || pieces == 0 {
		t.Errorf("type %q with %d features, want a FeatureCollection of %d", doc.Type, len(doc.Features), pieces)
	}
}
