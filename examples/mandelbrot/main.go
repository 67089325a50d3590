// Command mandelbrot draws the Mandelbrot set as a PNG image across an MPI job with mw's
// library: each row of pixels is one element of pool.Map, computed on a worker; rank 0
// gets the rows in order and writes the image. The same bytes come out of any number of
// ranks.
//
//	mpirun -np 3 ./mandelbrot -width 1200 -height 800 -o mandelbrot.png
package main

import (
	"context"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"

	"github.com/mw-hpc/mw/pool"
)

// view is the part of the complex plane drawn, and how finely.
type view struct {
	Width, Height, MaxIter int
}

// The plane's rectangle: real part from left to right, imaginary part from top down.
const (
	left, right = -2.5, 1.0
	top, bottom = 1.25, -1.25
)

// escape is the number of iterations z = z² + c takes to leave the disc of radius 2, or
// max when it stays (c is in the set).
func escape(cr, ci float64, max int) int {
	var zr, zi float64
	for n := 0; n < max; n++ {
		zr2, zi2 := zr*zr, zi*zi
		if zr2+zi2 > 4 {
			return n
		}
		zr, zi = zr2-zi2+cr, 2*zr*zi+ci
	}
	return max
}

// row computes row y of the image: each pixel's palette index (0, black, in the set).
func (v view) row(_ context.Context, y int) ([]byte, error) {
	out := make([]byte, v.Width)
	ci := top + (bottom-top)*(float64(y)+0.5)/float64(v.Height)
	for x := range out {
		cr := left + (right-left)*(float64(x)+0.5)/float64(v.Width)
		if n := escape(cr, ci, v.MaxIter); n < v.MaxIter {
			out[x] = byte(1 + n%255)
		}
	}
	return out, nil
}

// palette is black for the set, then a blue-to-gold ramp that repeats every 255
// iterations.
func palette() color.Palette {
	p := color.Palette{color.RGBA{0, 0, 0, 255}}
	for i := range 255 {
		t := float64(i) / 254
		p = append(p, color.RGBA{uint8(9 * (1 - t) * t * t * t * 255), uint8(15 * (1 - t) * (1 - t) * t * t * 255), uint8(8.5 * (1 - t) * (1 - t) * (1 - t) * t * 255), 255})
	}
	return p
}

func main() {
	v := view{}
	flag.IntVar(&v.Width, "width", 800, "image width in pixels")
	flag.IntVar(&v.Height, "height", 600, "image height in pixels")
	flag.IntVar(&v.MaxIter, "iter", 500, "iterations before a point counts as in the set")
	out := flag.String("o", "", "the PNG file to write")
	flag.Parse()
	pool.Main(func(ctx context.Context) error {
		if *out == "" || v.Width < 1 || v.Height < 1 || v.MaxIter < 1 {
			return errors.New("usage: mandelbrot [-width W] [-height H] [-iter N] -o FILE.png")
		}
		var ys []int
		if pool.IsManager() {
			for y := range v.Height {
				ys = append(ys, y)
			}
		}
		rows, err := pool.Map(ctx, ys, v.row)
		if err != nil || !pool.IsManager() {
			return err
		}
		img := image.NewPaletted(image.Rect(0, 0, v.Width, v.Height), palette())
		for y, r := range rows {
			copy(img.Pix[y*img.Stride:], r)
		}
		return write(*out, img)
	})
}

// write writes img to path through a temporary file, so that a failure leaves no
// partial image under its name.
func write(path string, img image.Image) error {
	tmp := path + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
