package interp

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

// TestMPISameBytes: under a real mpirun the output bytes are the sequential computation's,
// for -np 1 to 4 and several chunk sizes, from a file and from stdin to stdout (under
// MPICH as much of the stream as its mpiexec forwards: 4 of the 40 frames).
func TestMPISameBytes(t *testing.T) {
	needMPI(t)
	dir := t.TempDir()
	frames, pgm := testStream(56, 256, 40, 11)
	want := sequential(t, frames, 56, 256, 3, FormatPGM)
	in := filepath.Join(dir, "in.pgm")
	if err := os.WriteFile(in, pgm, 0o644); err != nil {
		t.Fatal(err)
	}
	// Each mpirun costs about half a second: a spread of chunk sizes over -np 1 to 4 (the
	// in-process TestRunInproc covers every combination).
	for _, tc := range []struct {
		np     int
		chunks []string
	}{{1, []string{"auto"}}, {2, []string{"1", "auto"}}, {3, []string{"7", "auto"}}, {4, []string{"1", "7"}}} {
		np := tc.np
		for _, chunk := range tc.chunks {
			t.Run(fmt.Sprintf("np%d_chunk%s", np, chunk), func(t *testing.T) {
				out := filepath.Join(dir, fmt.Sprintf("out-%d-%s.pgm", np, chunk))
				r := mwtest.MPIRun(t, np, nil, "interp", "-i", in, "-o", out, "--chunk", chunk)
				if r.Code != 0 {
					t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
				}
				got, err := os.ReadFile(out)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("output (%d bytes, %v) differs from the sequential run (%d bytes)", len(got), err, len(want))
				}
				if !bytes.Contains(r.Stderr, []byte("interp: ")) {
					t.Errorf("no run report:\n%s", r.Stderr)
				}
			})
		}
	}
	t.Run("real_time", func(t *testing.T) {
		// A live source: the manager waits in its receive with nothing in flight until the
		// reader's notify interrupts it, on the goroutine that owns MPI.
		out := filepath.Join(dir, "out-fps.pgm")
		r := mwtest.MPIRun(t, 3, nil, "interp", "-i", in, "-o", out, "--fps", "400")
		got, err := os.ReadFile(out)
		if r.Code != 0 || err != nil || !bytes.Equal(got, want) {
			t.Fatalf("exit %d, output (%d bytes, %v) differs from the sequential run\n%s", r.Code, len(got), err, r.Stderr)
		}
		if !bytes.Contains(r.Stderr, []byte("interp: real time: 40 frames at 400/s: latency p50 ")) {
			t.Errorf("no latency report:\n%s", r.Stderr)
		}
	})
	t.Run("stdin_stdout_raw", func(t *testing.T) {
		in := frames
		if limit := mwtest.StdinLimit(); limit > 0 {
			in = frames[:limit/(56*256)*(56*256)] // as many whole frames as the launcher forwards
		}
		r := mwtest.MPIRun(t, 3, in, "interp", "--format", "raw", "--chunk", "3", "--quiet")
		if r.Code != 0 || !bytes.Equal(r.Stdout, sequential(t, in, 56, 256, 3, FormatRaw)) {
			t.Fatalf("exit %d, %d bytes out\n%s", r.Code, len(r.Stdout), r.Stderr)
		}
	})
}

// TestMPIBadInput: bad input or flags end every rank with one line from mw, a non-zero
// exit and no output file; under mpirun for a few, the others with mw alone (faster).
func TestMPIBadInput(t *testing.T) {
	needMPI(t)
	_, pgm := testStream(56, 16, 3, 4)
	for _, tc := range []struct {
		name  string
		input []byte // in.pgm's contents; nil for no file
		args  []string
		np    int // 0: mw alone
		code  int
		want  string
	}{
		{"truncated last frame", pgm[:len(pgm)-1], nil, 3, 1, "mw: interp: read DIR/in.pgm: frame 3: truncated: 895 of 896 raster bytes"},
		{"missing file", nil, nil, 3, 1, "mw: interp: open input: open DIR/in.pgm: no such file or directory"},
		{"factor 0", pgm, []string{"--factor", "0"}, 3, 2, "mw: interp: --factor 0: must be at least 1"},
		{"wrong header size", append(append([]byte{}, pgm[:len(pgm)/3]...), "P5 56 17 255\n"...), nil, 0, 1, "frame 2: size 56x17 differs from the first frame's 56x16"},
		{"wrong maxval", []byte("P5 56 16 1023\n"), nil, 0, 1, "frame 1: maxval 1023"},
		{"non-PGM", []byte("GIF89a"), nil, 0, 1, `frame 1: not a PGM image: it starts with "GI"`},
		{"empty input", []byte{}, nil, 0, 1, "empty input"},
		{"width 1", pgm, []string{"--width", "1"}, 0, 2, "mw: interp: --width 1: must be at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.pgm")
			if tc.input != nil {
				if err := os.WriteFile(in, tc.input, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"interp", "-i", in, "-o", filepath.Join(dir, "out.pgm")}, tc.args...)
			var r mwtest.Result
			if tc.np == 0 {
				r = mwtest.Run(t, nil, args...)
			} else {
				r = mwtest.MPIRun(t, tc.np, nil, args...)
			}
			if r.Code != tc.code {
				t.Errorf("exit %d, want %d", r.Code, tc.code)
			}
			var mine []string // lines from mw, not from mpirun
			for _, l := range strings.Split(string(r.Stderr), "\n") {
				if strings.HasPrefix(l, "mw") {
					mine = append(mine, l)
				}
			}
			if want := strings.ReplaceAll(tc.want, "DIR", dir); len(mine) != 1 || !strings.Contains(mine[0], want) {
				t.Errorf("mw printed %q, want one line with %q\nstderr:\n%s", mine, want, r.Stderr)
			}
			if tc.input != nil {
				assertOnly(t, dir, "in.pgm")
			} else {
				assertOnly(t, dir)
			}
		})
	}
}
