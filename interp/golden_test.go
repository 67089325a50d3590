package interp

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden enlarges the frames of testdata/golden-in.pgm (generated frames and a
// synthetic one with hard edges) and compares with testdata/golden-out.pgm. The input is
// stored too, so the test does not depend on the generator's floating point.
// Regenerate both with: go test ./interp -run TestGolden -update
func TestGolden(t *testing.T) {
	const w, h, f = 56, 64, 3
	inPath, outPath := filepath.Join("testdata", "golden-in.pgm"), filepath.Join("testdata", "golden-out.pgm")
	if *update {
		g := NewGenerator(w, h, 42)
		var frames []byte
		for i := 0; i < 2; i++ {
			frames = append(frames, g.Frame(nil, i*10)...)
		}
		for y := 0; y < h; y++ { // bars, steps and impulses: overshoot and clamping
			for x := 0; x < w; x++ {
				v := byte(0)
				if (x/(1+y%7))%2 == 1 || x == y%w {
					v = 255
				}
				frames = append(frames, v)
			}
		}
		var in bytes.Buffer
		NewFrameWriter(&in, FormatPGM, w, h).WriteFrames(frames)
		if err := os.WriteFile(inPath, in.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(inPath)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := readAll(NewPGMReader(bytes.NewReader(data), inPath, w, h))
	if err != nil {
		t.Fatal(err)
	}
	got := sequential(t, bytes.Join(frames, nil), w, h, f, FormatPGM)
	if *update {
		if err := os.WriteFile(outPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Errorf("output differs from %s at byte %d (run with -update if the change is intended)", outPath, i)
	}
}
