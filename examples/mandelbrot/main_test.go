package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/examples/internal/exrun"
)

// escapes is the oracle: how many iterations the point c takes to leave radius 2 (and
// whether it does) within max,
// iterated with complex128 and written apart from the command's code.
func escapes(c complex128, max int) (int, bool) {
	z := complex(0, 0)
	for n := 0; n < max; n++ {
		if real(z)*real(z)+imag(z)*imag(z) > 4 {
			return n, true
		}
		z = complex(real(z)*real(z)-imag(z)*imag(z)+real(c), 2*real(z)*imag(z)+imag(c))
	}
	return max, false
}

func TestMandelbrot(t *testing.T) {
	bin := exrun.Build(t, "mandelbrot")
	const w, h, iter = 240, 160, 200
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"-width", "240", "-height", "160", "-iter", "200", "-o", filepath.Join(dir, out)}
	}
	r := exrun.Run(t, 0, bin, args("alone.png")...)
	require.Equal(t, 0, r.Code, "%s", r.Stderr)
	alone, err := os.ReadFile(filepath.Join(dir, "alone.png"))
	require.NoError(t, err)

	img, err := png.Decode(bytes.NewReader(alone))
	require.NoError(t, err)
	pal := img.(*image.Paletted)
	require.Equal(t, image.Rect(0, 0, w, h), pal.Bounds())
	for y := range h {
		for x := range w {
			c := complex(left+(right-left)*(float64(x)+0.5)/w, top+(bottom-top)*(float64(y)+0.5)/h)
			n, out := escapes(c, iter)
			want := uint8(0)
			if out {
				want = uint8(1 + n%255)
			}
			require.Equal(t, want, pal.ColorIndexAt(x, y), "pixel %d,%d", x, y)
		}
	}
	require.Equal(t, uint8(0), pal.ColorIndexAt(w*5/7, h/2)) // c near -0.05+0i: in the set

	if !exrun.MPI(t) {
		return
	}
	r = exrun.Run(t, 3, bin, args("np3.png")...)
	require.Equal(t, 0, r.Code, "%s", r.Stderr)
	np3, err := os.ReadFile(filepath.Join(dir, "np3.png"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(alone, np3), "the image of 3 ranks differs from one process's")
}
