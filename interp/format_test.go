package interp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// readAll reads every frame of fr; the frames alias one buffer each.
func readAll(fr FrameReader) ([][]byte, error) {
	var frames [][]byte
	for {
		if p, ok := fr.(*PGMReader); ok {
			if err := p.Peek(); err != nil {
				if err == io.EOF {
					return frames, nil
				}
				return frames, err
			}
		}
		w, h := fr.Size()
		buf := make([]byte, w*h)
		err := fr.ReadFrame(buf)
		if err == io.EOF {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		frames = append(frames, buf)
	}
}

func TestPGMReader(t *testing.T) {
	px := string([]byte{0, 1, 2, 3, 4, 5}) // a 3x2 raster
	for _, tc := range []struct {
		name, in string
		w, h     int // given size, 0 for the first frame's
		frames   int
		err      string // substring of the error; "" for none
	}{
		{"one", "P5\n3 2\n255\n" + px, 0, 0, 1, ""},
		{"two back to back", "P5 3 2 255\n" + px + "P5 3 2 255\n" + px, 0, 0, 2, ""},
		{"whitespace between and after", "P5 3 2 255\n" + px + "\n\r\n P5\t3\t2\t255\t" + px + "\n", 0, 0, 2, ""},
		{"comments", "P5\n# made by hand\n3 # width\n2\n#x\n255\n" + px, 0, 0, 1, ""},
		{"comment ends the header", "P5 3 2 255#c\n" + px, 0, 0, 1, ""},
		{"CRLF", "P5\r\n3 2\r\n255\r" + px, 0, 0, 1, ""},
		{"size given", "P5 3 2 255\n" + px, 3, 2, 1, ""},
		{"empty", "", 0, 0, 0, "x.pgm: empty input"},
		{"only whitespace", " \n\n", 0, 0, 0, "empty input"},
		{"not PGM", "GIF89a......", 0, 0, 0, `frame 1: not a PGM image: it starts with "GI"`},
		{"plain PGM", "P2 3 2 255\n0 1 2 3 4 5\n", 0, 0, 0, "frame 1: not a binary PGM image: magic \"P2\""},
		{"maxval 65535", "P5 3 2 65535\n" + px + px, 0, 0, 0, "frame 1: maxval 65535: only 8-bit"},
		{"maxval 15", "P5 3 2 15\n" + px, 0, 0, 0, "maxval 15"},
		{"second maxval", "P5 3 2 255\n" + px + "P5 3 2 254\n" + px, 0, 0, 1, "frame 2: maxval 254"},
		{"size differs from first", "P5 3 2 255\n" + px + "P5 2 3 255\n" + px, 0, 0, 1, "frame 2: size 2x3 differs from the first frame's 3x2"},
		{"size differs from flags", "P5 3 2 255\n" + px, 56, 256, 0, "frame 1: size 3x2 differs from the expected (--width, --height) 56x256"},
		{"truncated raster", "P5 3 2 255\n" + px + "P5 3 2 255\n" + px[:4], 0, 0, 1, "frame 2: truncated: 4 of 6 raster bytes"},
		{"truncated header", "P5 3 2 255\n" + px + "P5 3", 0, 0, 1, "frame 2: truncated header"},
		{"trailing garbage", "P5 3 2 255\n" + px + "junk", 0, 0, 1, `frame 2: not a PGM image: "ju" after the previous frame`},
		{"zero width", "P5 0 2 255\n", 0, 0, 0, "size 0x2: empty image"},
		{"negative", "P5 -3 2 255\n", 0, 0, 0, `width: '-' is not a digit`},
		{"huge", "P5 99999999999 2 255\n", 0, 0, 0, "width: too large"},
		{"no space before raster", "P5 3 2 255x" + px, 0, 0, 0, "maxval: 'x' is not a digit"},
		{"no space after magic", "P53 2 255\n" + px, 0, 0, 0, "frame 1: header: magic P5 followed by '3', not whitespace"},
		{"comment after magic", "P5#c\n3 2 255\n" + px, 0, 0, 1, ""},
		{"magic alone", "P5", 0, 0, 0, "frame 1: truncated header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := readAll(NewPGMReader(strings.NewReader(tc.in), "x.pgm", tc.w, tc.h))
			if len(frames) != tc.frames {
				t.Errorf("%d frames, want %d", len(frames), tc.frames)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one with %q", err, tc.err)
			case err != nil && !strings.HasPrefix(err.Error(), "read x.pgm: "):
				t.Errorf("error %q does not name the file", err)
			}
			for i, f := range frames {
				if string(f) != px {
					t.Errorf("frame %d: %v, want %v", i, f, []byte(px))
				}
			}
		})
	}
}

func TestRawReader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int // input bytes, frames of 3x2
		frames int
		err    string
	}{
		{"empty", 0, 0, "frames.raw: empty input"},
		{"one", 6, 1, ""},
		{"three", 18, 3, ""},
		{"truncated", 17, 2, "read frames.raw: frame 3: truncated: 5 of 6 bytes"},
		{"short", 2, 0, "frame 1: truncated: 2 of 6 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := bytes.Repeat([]byte{7}, tc.n)
			frames, err := readAll(NewRawReader(bytes.NewReader(in), "frames.raw", 3, 2))
			if len(frames) != tc.frames {
				t.Errorf("%d frames, want %d", len(frames), tc.frames)
			}
			if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
			if tc.n == 0 && !errors.Is(err, ErrEmpty) {
				t.Errorf("empty input: %v is not ErrEmpty", err)
			}
		})
	}
}

func TestFrameWriterRoundTrip(t *testing.T) {
	r := testRand(5)
	frames := append(randomFrame(r, 7, 3), randomFrame(r, 7, 3)...)
	for _, format := range []string{FormatPGM, FormatRaw} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := NewFrameWriter(&b, format, 7, 3).WriteFrames(frames); err != nil {
				t.Fatal(err)
			}
			var fr FrameReader = NewRawReader(&b, "b", 7, 3)
			if format == FormatPGM {
				if !strings.HasPrefix(b.String(), "P5\n7 3\n255\n") {
					t.Errorf("header %q", b.String()[:12])
				}
				fr = NewPGMReader(&b, "b", 0, 0)
			}
			got, err := readAll(fr)
			if err != nil || !bytes.Equal(bytes.Join(got, nil), frames) {
				t.Errorf("read back %d frames, %v", len(got), err)
			}
		})
	}
	if err := NewFrameWriter(io.Discard, FormatRaw, 7, 3).WriteFrames(frames[:5]); err == nil {
		t.Error("partial frame written without an error")
	}
}
