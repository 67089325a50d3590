package interp

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// testRand is the fixed-seed source of every random test input.
func testRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x696e74657270)) }

func randomFrame(r *rand.Rand, w, h int) []byte {
	b := make([]byte, w*h)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestFactor3Weights checks the integer weights of the issue against the float kernel.
func TestFactor3Weights(t *testing.T) {
	for _, tc := range []struct {
		t    float64
		want float64 // times 27
	}{{0, 27}, {1, 0}, {2, 0}, {1.0 / 3, 21}, {2.0 / 3, 9}, {4.0 / 3, -2}, {5.0 / 3, -1}} {
		if got := CatmullRom(tc.t) * 27; math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("27*W(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
	k, err := NewKernel(56, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := [][4]int64{{-1, 9, 21, -2}, {0, 27, 0, 0}, {-2, 21, 9, -1}}
	if k.den != 27 || fmt.Sprint(k.phase) != fmt.Sprint(want) {
		t.Errorf("factor 3: weights %v over %d, want %v over 27", k.phase, k.den, want)
	}
}

// TestWeightsSumToOne checks the partition of unity of the exact weights for every factor.
func TestWeightsSumToOne(t *testing.T) {
	for f := 2; f <= MaxFactor; f++ {
		k, err := NewKernel(8, 1, f)
		if err != nil {
			t.Fatal(err)
		}
		for p, ph := range k.phase {
			if s := ph[0] + ph[1] + ph[2] + ph[3]; s != k.den {
				t.Fatalf("factor %d phase %d: weights %v sum to %d, want %d", f, p, ph, s, k.den)
			}
			for i, c := range ph {
				sx := (float64(p)+0.5)/float64(f) - 0.5
				if want := CatmullRom(sx-float64(k.phaseFirst[p]+i)) * float64(k.den); math.Abs(want-float64(c)) > 1e-6*float64(k.den) {
					t.Fatalf("factor %d phase %d tap %d: %d/%d, float kernel says %v", f, p, i, c, k.den, want)
				}
			}
		}
		for _, e := range k.edge {
			if e.sum <= 0 {
				t.Fatalf("factor %d: edge column %d: weights sum to %d", f, e.x, e.sum)
			}
		}
	}
}

// TestFastEqualsGeneric checks the integer fast paths (unrolled factor 3, table, division,
// edges, copy) against the floating-point definition, byte for byte.
func TestFastEqualsGeneric(t *testing.T) {
	r := testRand(1)
	widths := []int{2, 3, 4, 5, 6, 7, 9, 13, 56, 57, 100}
	factors := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 17, 31, 32, 64, 100, MaxFactor}
	for _, f := range factors {
		for _, w := range widths {
			if testing.Short() && f > 32 && w > 13 {
				continue
			}
			h := 1 + r.IntN(9)
			t.Run(fmt.Sprintf("%dx%d_x%d", w, h, f), func(t *testing.T) {
				k, err := NewKernel(w, h, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, src := range testFrames(r, w, h) {
					got := make([]byte, k.OutSize())
					want := make([]byte, k.OutSize())
					k.Enlarge(got, src)
					EnlargeReference(want, src, w, h, f)
					if i := firstDiff(got, want); i >= 0 {
						t.Fatalf("pixel (%d,%d): fast %d, generic %d\nsource row: %v",
							i%(w*f), i/(w*f), got[i], want[i], src[i/(w*f)*w:(i/(w*f)+1)*w])
					}
				}
			})
		}
	}
}

// testFrames returns random and synthetic frames: noise, extremes that overshoot, steps,
// impulses, ramps.
func testFrames(r *rand.Rand, w, h int) [][]byte {
	var fs [][]byte
	for i := 0; i < 4; i++ {
		fs = append(fs, randomFrame(r, w, h))
	}
	gen := func(fn func(x, y int) byte) {
		b := make([]byte, w*h)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				b[y*w+x] = fn(x, y)
			}
		}
		fs = append(fs, b)
	}
	gen(func(x, y int) byte { return byte(255 * ((x + y) & 1)) })            // checkerboard 0/255
	gen(func(x, y int) byte { return byte(255 * ((x / 2) & 1)) })            // bars
	gen(func(x, y int) byte { return map[bool]byte{true: 255}[x >= w/2] })   // step
	gen(func(x, y int) byte { return map[bool]byte{true: 255}[x == (y%w)] }) // impulses
	gen(func(x, y int) byte { return byte(x * 255 / max(w-1, 1)) })          // ramp
	gen(func(x, y int) byte { return 255 })
	gen(func(x, y int) byte { return 0 })
	gen(func(x, y int) byte { return byte(r.IntN(2) * 255) }) // random extremes
	return fs
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func TestFactorOneCopies(t *testing.T) {
	k, err := NewKernel(5, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	src := randomFrame(testRand(2), 5, 3)
	dst := make([]byte, k.OutSize())
	k.Enlarge(dst, src)
	if !bytes.Equal(dst, src) {
		t.Errorf("factor 1: %v, want the input %v", dst, src)
	}
}

func TestNewKernelRejects(t *testing.T) {
	for _, tc := range []struct {
		w, h, f int
		want    string
	}{
		{1, 256, 3, "width 1: must be at least 2"},
		{0, 256, 3, "width 0"},
		{56, 0, 3, "height 0"},
		{56, 256, 0, "factor 0: must be at least 1"},
		{56, 256, -1, "factor -1"},
		{56, 256, MaxFactor + 1, "must be at most"},
		{1 << 20, 1 << 20, 3, "output pixels"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := NewKernel(tc.w, tc.h, tc.f)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("NewKernel(%d, %d, %d) = %v, want an error with %q", tc.w, tc.h, tc.f, err, tc.want)
			}
		})
	}
}

func TestEnlargeAllocatesNothing(t *testing.T) {
	for _, f := range []int{1, 2, 3, 5, 100} {
		k, _ := NewKernel(56, 16, f)
		src, dst := randomFrame(testRand(3), 56, 16), make([]byte, k.OutSize())
		if n := testing.AllocsPerRun(20, func() { k.Enlarge(dst, src) }); n != 0 {
			t.Errorf("factor %d: %v allocations per frame", f, n)
		}
	}
}

func TestEnlargeFrames(t *testing.T) {
	k, _ := NewKernel(7, 3, 3)
	r := testRand(4)
	a, b := randomFrame(r, 7, 3), randomFrame(r, 7, 3)
	out := make([]byte, 2*k.OutSize())
	if n, err := k.EnlargeFrames(out, append(append([]byte{}, a...), b...)); n != 2 || err != nil {
		t.Fatalf("EnlargeFrames: %d, %v", n, err)
	}
	wa, wb := make([]byte, k.OutSize()), make([]byte, k.OutSize())
	k.Enlarge(wa, a)
	k.Enlarge(wb, b)
	if !bytes.Equal(out, append(wa, wb...)) {
		t.Error("EnlargeFrames differs from Enlarge frame by frame")
	}
	if _, err := k.EnlargeFrames(out, a[:20]); err == nil {
		t.Error("EnlargeFrames of a partial frame: no error")
	}
}
