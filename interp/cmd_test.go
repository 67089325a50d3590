package interp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// runResult is what rank 0 of an in-process run printed and returned.
type runResult struct {
	stdout, stderr string
	err            error
}

// runInproc runs `mw <cmd> args...` on ranks in-process ranks joined by rank's in-process
// network, each rank in its own goroutine as mpirun would start them, with a deadline.
func runInproc(t *testing.T, cmd cli.Command, ranks int, stdin []byte, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	net := rank.NewInprocNet(ranks)
	res := make([]runResult, ranks)
	var wg sync.WaitGroup
	for r := 0; r < ranks; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var so, se bytes.Buffer
			tr := net.Rank(r)
			env := &cli.Env{Stdin: bytes.NewReader(stdin), Stdout: &so, Stderr: &se, Rank: r,
				Transport: func() (rank.Transport, error) { return tr, nil }}
			if r != 0 {
				env.Stdin = bytes.NewReader(nil)
			}
			err := cmd.Run(ctx, env, args)
			tr.Close()
			res[r] = runResult{so.String(), se.String(), err}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		t.Fatalf("mw %s %v on %d ranks: still running after 40s (hang?)", cmd.Name, args, ranks)
	}
	for r := 1; r < ranks; r++ {
		if res[r].stdout != "" {
			t.Errorf("rank %d wrote to stdout", r)
		}
	}
	return res[0]
}

// testStream returns n generated w x h frames and their PGM stream.
func testStream(w, h, n int, seed uint64) (frames []byte, pgm []byte) {
	g := NewGenerator(w, h, seed)
	var b bytes.Buffer
	fw := NewFrameWriter(&b, FormatPGM, w, h)
	for i := 0; i < n; i++ {
		f := g.Frame(nil, i)
		frames = append(frames, f...)
		fw.WriteFrames(f)
	}
	return frames, b.Bytes()
}

// sequential is the reference: every frame enlarged in order by one kernel, then encoded.
func sequential(t *testing.T, frames []byte, w, h, f int, format string) []byte {
	t.Helper()
	k, err := NewKernel(w, h, f)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(frames)/k.InSize()*k.OutSize())
	if _, err := k.EnlargeFrames(out, frames); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	NewFrameWriter(&b, format, w*f, h).WriteFrames(out)
	return b.Bytes()
}

// TestRunInproc: the whole command on 1 to 4 in-process ranks and several chunk sizes
// writes the bytes of the sequential computation.
func TestRunInproc(t *testing.T) {
	frames, pgm := testStream(56, 40, 23, 1)
	want := sequential(t, frames, 56, 40, 3, FormatPGM)
	for _, ranks := range []int{1, 2, 3, 4} {
		for _, chunk := range []string{"1", "4", "auto", "100"} {
			t.Run(fmt.Sprintf("np%d_chunk%s", ranks, chunk), func(t *testing.T) {
				r := runInproc(t, Command, ranks, pgm, "--chunk", chunk, "--quiet")
				if r.err != nil {
					t.Fatalf("error %v\nstderr: %s", r.err, r.stderr)
				}
				if r.stdout != string(want) {
					t.Errorf("output of %d bytes differs from the sequential %d bytes", len(r.stdout), len(want))
				}
				if r.stderr != "" {
					t.Errorf("--quiet printed %q", r.stderr)
				}
			})
		}
	}
	for _, flags := range [][]string{{"--mode", "pull"}, {"--backups=false"}, {"--window", "1", "--threads", "3"}, {"--retries", "2"}} {
		t.Run("np3_"+strings.Join(flags, "_"), func(t *testing.T) {
			r := runInproc(t, Command, 3, pgm, append([]string{"--chunk", "3", "--quiet"}, flags...)...)
			if r.err != nil || r.stdout != string(want) {
				t.Fatalf("error %v; output equal: %v", r.err, r.stdout == string(want))
			}
		})
	}
	t.Run("raw_factor5_odd_size", func(t *testing.T) {
		frames, _ := testStream(13, 7, 9, 2)
		want := sequential(t, frames, 13, 7, 5, FormatRaw)
		r := runInproc(t, Command, 3, frames, "--format", "raw", "--width", "13", "--height", "7", "--factor", "5", "--chunk", "2")
		if r.err != nil || r.stdout != string(want) {
			t.Fatalf("error %v; output equal: %v", r.err, r.stdout == string(want))
		}
		if !strings.Contains(r.stderr, "interp: 5 chunks") {
			t.Errorf("no run report on stderr: %q", r.stderr)
		}
	})
}

// TestRunFiles: -i/-o files, the output committed only at the end, and --png.
func TestRunFiles(t *testing.T) {
	dir := t.TempDir()
	frames, pgm := testStream(56, 32, 5, 3)
	in, out, look := filepath.Join(dir, "in.pgm"), filepath.Join(dir, "out.pgm"), filepath.Join(dir, "look")
	if err := os.WriteFile(in, pgm, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runInproc(t, Command, 2, nil, "--input", in, "--output", out, "--png", look, "--quiet")
	if r.err != nil {
		t.Fatal(r.err)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, sequential(t, frames, 56, 32, 3, FormatPGM)) {
		t.Fatalf("output file: %v, equal to the sequential run: %v", err, err == nil)
	}
	k, _ := NewKernel(56, 32, 3)
	first := make([]byte, k.OutSize())
	k.Enlarge(first, frames[:k.InSize()])
	for _, p := range []struct {
		path string
		pix  []byte
		w    int
	}{{look + "-in.png", frames[:56*32], 56}, {look + "-out.png", first, 168}} {
		f, err := os.Open(p.path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		b := img.Bounds()
		if b.Dx() != p.w || b.Dy() != 32 {
			t.Fatalf("%s: %v", p.path, b)
		}
		for i, v := range p.pix {
			if r, _, _, _ := img.At(i%p.w, i/p.w).RGBA(); uint8(r>>8) != v {
				t.Fatalf("%s: pixel %d: %d, want %d", p.path, i, r>>8, v)
			}
		}
	}
	assertOnly(t, dir, "in.pgm", "look-in.png", "look-out.png", "out.pgm")
}

// TestRunJournal: --journal records the run, --resume of a complete run does nothing, and
// a real-time run refuses a journal.
func TestRunJournal(t *testing.T) {
	dir := t.TempDir()
	frames, pgm := testStream(56, 16, 10, 6)
	in, out, jrn := filepath.Join(dir, "in.pgm"), filepath.Join(dir, "out.pgm"), filepath.Join(dir, "j")
	if err := os.WriteFile(in, pgm, 0o644); err != nil {
		t.Fatal(err)
	}
	want := sequential(t, frames, 56, 16, 3, FormatPGM)
	args := []string{"-i", in, "-o", out, "--chunk", "3", "--journal", jrn, "--quiet"}
	if r := runInproc(t, Command, 2, nil, args...); r.err != nil {
		t.Fatal(r.err)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("journaled output: %v, equal %v", err, bytes.Equal(got, want))
	}
	r := runInproc(t, Command, 2, nil, append(args, "--resume")...)
	if r.err != nil || !strings.Contains(r.stderr, "complete: nothing to do") {
		t.Errorf("resume of a complete run: %v, %q", r.err, r.stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
		t.Error("resume changed the output")
	}
	var ue *cli.UsageError
	if r := runInproc(t, Command, 2, pgm, "--fps", "100", "-o", out, "--journal", jrn); !errors.As(r.err, &ue) {
		t.Errorf("--journal with --fps: %v, want a usage error", r.err)
	}
}

// TestRunDevNull: -o /dev/null writes to the device, never renames a file over it.
func TestRunDevNull(t *testing.T) {
	fi, err := os.Stat(os.DevNull)
	if err != nil || fi.Mode().IsRegular() {
		t.Skipf("%s is not a device here", os.DevNull)
	}
	_, pgm := testStream(56, 16, 3, 7)
	if r := runInproc(t, Command, 2, pgm, "-o", os.DevNull, "--quiet"); r.err != nil {
		t.Fatal(r.err)
	}
	if r := runInproc(t, GenFrames, 1, nil, "--count", "2", "-o", os.DevNull); r.err != nil {
		t.Fatal(r.err)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode().IsRegular() {
		t.Fatalf("%s was replaced: %v %v", os.DevNull, fi.Mode(), err)
	}
}

// assertOnly fails unless dir holds exactly the named files (no temporary left behind).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

// TestRunBadInput: each bad input or flag gives one line naming what is wrong, the right
// kind of error (usage or runtime) and no output file.
func TestRunBadInput(t *testing.T) {
	_, pgm := testStream(56, 16, 3, 4)
	frame := len(pgm) / 3
	for _, tc := range []struct {
		name  string
		input []byte // written to in.pgm; nil for none
		args  []string
		usage bool
		want  string
	}{
		{"truncated last frame", pgm[:len(pgm)-100], nil, false, "in.pgm: frame 3: truncated: 796 of 896 raster bytes"},
		{"truncated raw frame", make([]byte, 3*56*16-5), []string{"--format", "raw", "--height", "16"}, false, "in.pgm: frame 3: truncated: 891 of 896 bytes"},
		{"wrong size", append(append([]byte{}, pgm[:frame]...), "P5 57 16 255\n"...), nil, false, "in.pgm: frame 2: size 57x16 differs from the first frame's 56x16"},
		{"wrong size for the flags", pgm, []string{"--width", "56", "--height", "256"}, false, "frame 1: size 56x16 differs from the expected"},
		{"wrong maxval", []byte("P5 56 16 65535\n"), nil, false, "in.pgm: frame 1: maxval 65535"},
		{"not PGM", []byte("\x89PNG\r\n\x1a\n...."), nil, false, "in.pgm: frame 1: not a PGM image"},
		{"empty", []byte{}, nil, false, "read " + "DIR/in.pgm: empty input"},
		{"empty raw", []byte{}, []string{"--format", "raw"}, false, "empty input"},
		{"missing file", nil, nil, false, "open input: open DIR/in.pgm: no such file or directory"},
		{"width 1 in the header", []byte("P5 1 16 255\n" + strings.Repeat("x", 16)), nil, false, "frame 1: width 1: must be at least 2"},
		{"factor 0", pgm, []string{"--factor", "0"}, true, "--factor 0: must be at least 1"},
		{"width 1", pgm, []string{"--width", "1"}, true, "--width 1: must be at least 2"},
		{"bad format", pgm, []string{"--format", "png"}, true, `--format "png": must be pgm or raw`},
		{"bad chunk", pgm, []string{"--chunk", "0"}, true, `--chunk 0: must be a whole number`},
		{"bad fps", pgm, []string{"--fps", "-1"}, true, "--fps -1"},
		{"chunk too large", pgm, []string{"--chunk", "1000000"}, true, "--chunk 1000000: 1000000 frames of 56x16 are more than 256 MiB per chunk"},
		{"stray argument", pgm, []string{"in.pgm"}, true, `unexpected argument "in.pgm"`},
		{"output is input", pgm, []string{"-o", "DIR/in.pgm"}, true, "-o DIR/in.pgm: is the file -i names too"},
		{"journal is input", pgm, []string{"-o", "DIR/out.pgm", "--journal", "DIR/in.pgm"}, true, "--journal DIR/in.pgm: is the file -i names too"},
		{"stats is output", pgm, []string{"-o", "DIR/out.pgm", "--stats", "DIR/out.pgm"}, true, "--stats DIR/out.pgm: is the file -o names too"},
		{"png is output", pgm, []string{"-o", "DIR/look-out.png", "--png", "DIR/look"}, true, "--png DIR/look-out.png: is the file -o names too"},
		{"trace is journal", pgm, []string{"-o", "DIR/out.pgm", "--journal", "DIR/j", "--trace", "DIR/./j"}, true, "--trace DIR/./j: is the file --journal names too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.pgm")
			if tc.input != nil {
				if err := os.WriteFile(in, tc.input, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"-i", in, "-o", filepath.Join(dir, "out.pgm"), "--png", filepath.Join(dir, "look")}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			r := runInproc(t, Command, 2, nil, args...)
			want := strings.ReplaceAll(tc.want, "DIR", dir)
			var ue *cli.UsageError
			switch {
			case r.err == nil:
				t.Fatal("no error")
			case !strings.Contains(r.err.Error(), want):
				t.Errorf("error %q, want one with %q", r.err, want)
			case strings.Contains(r.err.Error(), "\n"):
				t.Errorf("error of more than one line: %q", r.err)
			case errors.As(r.err, &ue) != tc.usage:
				t.Errorf("usage error: %v, want %v (exit code %d)", !tc.usage, tc.usage, cli.ExitCode(r.err))
			}
			if tc.input != nil {
				assertOnly(t, dir, "in.pgm")
			} else {
				assertOnly(t, dir)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var se bytes.Buffer
	env := &cli.Env{Stdout: &se, Stderr: io.Discard}
	if err := Command.Run(context.Background(), env, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"usage: mpirun -np N mw interp", "example:", "-factor F", "-fps RATE", "-window"} {
		if !strings.Contains(se.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, se.String())
		}
	}
}

// TestRealTime: --fps paces the frames, the output is the same, and the report is printed,
// its figures in --stats too.
func TestRealTime(t *testing.T) {
	frames, pgm := testStream(56, 16, 20, 5)
	look := filepath.Join(t.TempDir(), "look")
	stats := filepath.Join(t.TempDir(), "stats.json")
	start := time.Now()
	r := runInproc(t, Command, 3, pgm, "--fps", "400", "--png", look, "--stats", stats)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if d := time.Since(start); d < 19*time.Second/400 {
		t.Errorf("20 frames at 400/s took %v: not paced", d)
	}
	if r.stdout != string(sequential(t, frames, 56, 16, 3, FormatPGM)) {
		t.Error("real-time output differs from the sequential one")
	}
	for _, p := range []string{look + "-in.png", look + "-out.png"} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(r.stderr, "interp: real time: 20 frames at 400/s: latency p50 ") ||
		!strings.Contains(r.stderr, "missed the 2.5ms deadline") {
		t.Errorf("no latency report:\n%s", r.stderr)
	}
	t.Log(r.stderr)
	b, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Latency LatencyFigures `json:"latency"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	l := js.Latency
	if l.Frames != 20 || l.FPS != 400 || l.Deadline != 0.0025 || !(l.P50 > 0 && l.P50 <= l.P99 && l.P99 <= l.Max) ||
		!strings.Contains(r.stderr, fmt.Sprintf("; %d missed the", l.Missed)) {
		t.Errorf("--stats latency %+v, report %q", l, r.stderr)
	}
}

func TestGenFrames(t *testing.T) {
	r := runInproc(t, GenFrames, 1, nil, "--count", "3", "--seed", "9", "--width", "20", "--height", "10")
	if r.err != nil {
		t.Fatal(r.err)
	}
	frames, pgm := testStream(20, 10, 3, 9)
	if r.stdout != string(pgm) {
		t.Error("mw gen frames differs from the Generator")
	}
	r = runInproc(t, GenFrames, 1, nil, "--count", "3", "--seed", "9", "--width", "20", "--height", "10", "--format", "raw")
	if r.err != nil || r.stdout != string(frames) {
		t.Errorf("raw: %v", r.err)
	}
	for _, args := range [][]string{{}, {"--count", "0"}, {"--count", "1", "--format", "x"}, {"--count", "1", "--width", "0"}, {"--count", "1", "--width", "1"}} {
		var ue *cli.UsageError
		if r := runInproc(t, GenFrames, 1, nil, args...); !errors.As(r.err, &ue) {
			t.Errorf("gen frames %v: %v, want a usage error", args, r.err)
		}
	}
}

// TestGenFramesStopsOnSignal: a generation of a trillion frames ends when its context is
// cancelled (a signal), with the cause and no output file, temporary or final.
func TestGenFramesStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("interrupt signal received")
	env := &cli.Env{Stdout: io.Discard, Stderr: io.Discard}
	done := make(chan error, 1)
	go func() {
		done <- GenFrames.Run(ctx, env, []string{"--count", "1000000000000", "-o", filepath.Join(dir, "f.pgm")})
	}()
	cancel(stop)
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Fatalf("gen frames ended with %v, want the signal", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("gen frames still running a minute after its context was cancelled")
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}
