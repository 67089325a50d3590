package interp

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// benchFrames is the shared input of the kernel benchmarks: generated 56x256 frames.
func benchFrames(b *testing.B, w, h, n int) [][]byte {
	b.Helper()
	g := NewGenerator(w, h, 1)
	fs := make([][]byte, n)
	for i := range fs {
		fs[i] = g.Frame(nil, i)
	}
	return fs
}

// benchEnlarge runs enlarge over the same frames and reports frames/s and output MB/s.
func benchEnlarge(b *testing.B, w, h, f int, enlarge func(dst, src []byte)) {
	frames := benchFrames(b, w, h, 16)
	dst := make([]byte, w*f*h)
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		enlarge(dst, frames[i%len(frames)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func benchKernel(b *testing.B, w, h, f int) {
	k, err := NewKernel(w, h, f)
	if err != nil {
		b.Fatal(err)
	}
	benchEnlarge(b, w, h, f, k.Enlarge)
}

func benchXDraw(b *testing.B, w, h, f int) {
	x := newXDraw(w, h, f)
	benchEnlarge(b, w, h, f, x.enlarge)
}

// The scanner's geometry: 56x256 frames enlarged 3 times, this package against
// x/image/draw's CatmullRom (with a reused Scaler, its fastest use) on the same frames.
func BenchmarkKernel(b *testing.B)     { benchKernel(b, 56, 256, 3) }
func BenchmarkXImageDraw(b *testing.B) { benchXDraw(b, 56, 256, 3) }

// Other paths: the table loop (factor 2), the division loop (factor 5), the float definition.
func BenchmarkKernelFactor2(b *testing.B) { benchKernel(b, 56, 256, 2) }
func BenchmarkKernelFactor5(b *testing.B) { benchKernel(b, 56, 256, 5) }
func BenchmarkReference(b *testing.B) {
	benchEnlarge(b, 56, 256, 3, func(dst, src []byte) { EnlargeReference(dst, src, 56, 256, 3) })
}

func BenchmarkGenerator(b *testing.B) {
	g := NewGenerator(56, 256, 1)
	dst := make([]byte, 56*256)
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.Frame(dst, i)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkCommand runs the whole command in one process (-np 1: the manager and a worker
// rank of 2 threads), 2000 frames from memory to memory, PGM in and out.
func BenchmarkCommand(b *testing.B) {
	_, pgm := testStream(56, 256, 2000, 1)
	b.SetBytes(int64(len(pgm)))
	b.ReportAllocs()
	for b.Loop() {
		net := rank.NewInprocNet(1)
		tr := net.Rank(0)
		env := &cli.Env{Stdin: bytes.NewReader(pgm), Stdout: io.Discard, Stderr: io.Discard,
			Transport: func() (rank.Transport, error) { return tr, nil }}
		if err := Command.Run(context.Background(), env, []string{"--quiet", "--threads", "2"}); err != nil {
			b.Fatal(err)
		}
		tr.Close()
	}
	b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "frames/s")
}
