package interp

import (
	"fmt"
	"image"
	"testing"

	"golang.org/x/image/draw"
)

// xdrawEnlarge is the independent oracle: golang.org/x/image/draw's CatmullRom scaler,
// from a Gray frame to an RGBA one (the red channel is the grey level).
type xdrawEnlarge struct {
	sc       draw.Scaler
	src      *image.Gray
	dst      *image.RGBA
	w, h, ow int
}

func newXDraw(w, h, f int) *xdrawEnlarge {
	return &xdrawEnlarge{
		sc:  draw.CatmullRom.NewScaler(w*f, h, w, h),
		src: image.NewGray(image.Rect(0, 0, w, h)),
		dst: image.NewRGBA(image.Rect(0, 0, w*f, h)),
		w:   w, h: h, ow: w * f,
	}
}

func (x *xdrawEnlarge) enlarge(out, in []byte) {
	copy(x.src.Pix, in)
	x.sc.Scale(x.dst, x.dst.Bounds(), x.src, x.src.Bounds(), draw.Src, nil)
	for i := range out {
		out[i] = x.dst.Pix[4*i]
	}
}

// TestOracleXImageDraw: every pixel within one grey level of x/image/draw's CatmullRom, for
// seeded random, synthetic and generated frames, the scanner's geometry and odd ones.
func TestOracleXImageDraw(t *testing.T) {
	r := testRand(10)
	for _, g := range []struct{ w, h, f int }{
		{56, 256, 3}, {2, 1, 3}, {3, 5, 2}, {7, 3, 3}, {57, 13, 3}, {56, 20, 1}, {5, 4, 5},
		{31, 7, 4}, {17, 9, 7}, {56, 16, 8}, {11, 3, 13}, {4, 2, 16},
	} {
		t.Run(fmt.Sprintf("%dx%d_x%d", g.w, g.h, g.f), func(t *testing.T) {
			k, err := NewKernel(g.w, g.h, g.f)
			if err != nil {
				t.Fatal(err)
			}
			frames := testFrames(r, g.w, g.h)
			extra := 4
			if g.w == 56 && g.h == 256 { // the scanner's geometry: many more
				extra = 40
			}
			gen := NewGenerator(g.w, g.h, uint64(g.f))
			for i := 0; i < extra; i++ {
				frames = append(frames, gen.Frame(nil, i), randomFrame(r, g.w, g.h))
			}
			x := newXDraw(g.w, g.h, g.f)
			got, want := make([]byte, k.OutSize()), make([]byte, k.OutSize())
			worst := 0
			for n, src := range frames {
				k.Enlarge(got, src)
				x.enlarge(want, src)
				for i := range got {
					d := int(got[i]) - int(want[i])
					worst = max(worst, d, -d)
					if d > 1 || d < -1 {
						t.Fatalf("frame %d pixel (%d,%d): %d, x/image/draw %d", n, i%k.ow, i/k.ow, got[i], want[i])
					}
				}
			}
			t.Logf("%d frames, largest difference %d", len(frames), worst)
		})
	}
}
