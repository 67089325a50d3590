package interp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzPGM: the PGM stream reader never panics, reports errors that name the input, and
// whatever it reads writes back to a stream that reads the same.
func FuzzPGM(f *testing.F) {
	px := string([]byte{0, 1, 2, 3, 4, 5})
	for _, s := range []string{
		"", "P5\n3 2\n255\n" + px, "P5 3 2 255\n" + px + "\nP5 3 2 255\n" + px,
		"P5\n# c\n3 2 255#x\n" + px, "P5 3 2 65535\n" + px, "P2 3 2 255\n", "P5 3 2 255\n12",
		"P5 1 1 255\n\x00P5 1 1 255 \xff", "P5 0 0 255\n", "GIF89a",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		pr := NewPGMReader(bytes.NewReader(in), "in", 0, 0)
		var frames []byte
		n := 0
		var err error
		for {
			if err = pr.Peek(); err != nil {
				break
			}
			w, h := pr.Size()
			if w*h > 1<<20 {
				t.Skip("frame too large to allocate here")
			}
			buf := make([]byte, w*h)
			if err = pr.ReadFrame(buf); err != nil {
				break
			}
			frames = append(frames, buf...)
			n++
		}
		if err != io.EOF && !strings.HasPrefix(err.Error(), "read in: ") {
			t.Fatalf("error %q does not name the input", err)
		}
		if n == 0 {
			if err == io.EOF {
				t.Fatal("no frame and no error")
			}
			return
		}
		w, h := pr.Size()
		var out bytes.Buffer
		if err := NewFrameWriter(&out, FormatPGM, w, h).WriteFrames(frames); err != nil {
			t.Fatal(err)
		}
		again, err := readAll(NewPGMReader(&out, "out", w, h))
		if err != nil || !bytes.Equal(bytes.Join(again, nil), frames) {
			t.Fatalf("written frames read back as %d frames, %v", len(again), err)
		}
	})
}

// FuzzRaw: raw frames are whole, a partial last frame is an error naming it, and an empty
// input is ErrEmpty.
func FuzzRaw(f *testing.F) {
	f.Add([]byte{}, uint8(3), uint8(2))
	f.Add([]byte("abcdefghijklmnopq"), uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, w, h uint8) {
		if w < 1 || h < 1 {
			return
		}
		size := int(w) * int(h)
		frames, err := readAll(NewRawReader(bytes.NewReader(in), "in", int(w), int(h)))
		if len(frames) != len(in)/size {
			t.Fatalf("%d frames from %d bytes of %d-byte frames", len(frames), len(in), size)
		}
		switch {
		case len(in) == 0:
			if !errors.Is(err, ErrEmpty) {
				t.Fatalf("empty input: %v", err)
			}
		case len(in)%size != 0:
			if err == nil || !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("partial frame: %v", err)
			}
		case err != nil:
			t.Fatal(err)
		}
		if got := bytes.Join(frames, nil); !bytes.Equal(got, in[:len(got)]) {
			t.Fatal("frames differ from the input")
		}
	})
}

// FuzzKernel: the integer fast paths equal the floating-point definition on any frame,
// width and factor.
func FuzzKernel(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789"), uint8(13), uint8(3))
	f.Add([]byte{0, 255, 0, 255, 0, 255, 255, 0}, uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, src []byte, w, factor uint8) {
		width, fac := int(w)%64+2, int(factor)%17+1
		if len(src) < width {
			return
		}
		height := len(src) / width
		src = src[:width*height]
		k, err := NewKernel(width, height, fac)
		if err != nil {
			t.Fatal(err)
		}
		got, want := make([]byte, k.OutSize()), make([]byte, k.OutSize())
		k.Enlarge(got, src)
		EnlargeReference(want, src, width, height, fac)
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("%dx%d x%d: pixel %d: fast %d, generic %d", width, height, fac, i, got[i], want[i])
		}
	})
}
