package interp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Formats of frame streams.
const (
	FormatPGM = "pgm" // binary PGM (P5, maxval 255), many images one after another
	FormatRaw = "raw" // width*height bytes per frame, no header
)

// ErrEmpty is returned (wrapped) by a FrameReader whose input holds no frame at all.
var ErrEmpty = errors.New("empty input: no frames")

// FrameReader reads frames of one size from a stream, in order. Not safe for concurrent use.
type FrameReader interface {
	// ReadFrame reads the next frame into buf, which must hold Width*Height bytes. It
	// returns io.EOF at the end of a stream that held at least one frame, and an error
	// naming the input and the frame number (from 1) for anything else.
	ReadFrame(buf []byte) error
	// Size is the frames' width and height. For a PGM stream whose size was not given it
	// is known once the first header is read (see PGMReader.Peek).
	Size() (width, height int)
}

var (
	_ FrameReader = (*RawReader)(nil)
	_ FrameReader = (*PGMReader)(nil)
)

// RawReader reads frames of a size given in advance.
type RawReader struct {
	r    io.Reader
	name string
	w, h int
	n    int // frames read
}

// NewRawReader returns a reader of width x height frames from r; name is used in errors.
func NewRawReader(r io.Reader, name string, width, height int) *RawReader {
	return &RawReader{r: r, name: name, w: width, h: height}
}

// Size implements FrameReader.
func (rr *RawReader) Size() (int, int) { return rr.w, rr.h }

// ReadFrame implements FrameReader.
func (rr *RawReader) ReadFrame(buf []byte) error {
	buf = buf[:rr.w*rr.h]
	n, err := io.ReadFull(rr.r, buf)
	switch {
	case err == io.EOF && rr.n == 0:
		return fmt.Errorf("read %s: %w", rr.name, ErrEmpty)
	case err == io.EOF:
		return io.EOF
	case err == io.ErrUnexpectedEOF:
		return fmt.Errorf("read %s: frame %d: truncated: %d of %d bytes (%dx%d raw frames)", rr.name, rr.n+1, n, len(buf), rr.w, rr.h)
	case err != nil:
		return fmt.Errorf("read %s: frame %d: %w", rr.name, rr.n+1, err)
	}
	rr.n++
	return nil
}

// PGMReader reads a stream of binary PGM images (P5, maxval 255) of one size, as netpbm
// writes them: each image is a header (magic "P5", width, height, maxval, in decimal,
// separated by whitespace, with comments from '#' to the end of the line) followed by
// exactly one whitespace character and the raster. Whitespace between images is skipped,
// as libnetpbm does.
type PGMReader struct {
	r      *bufio.Reader
	name   string
	w, h   int
	fixed  bool // the size was given: check every frame against it
	n      int  // frames read
	peeked bool // the first header was read by Peek
}

// NewPGMReader returns a reader of PGM frames from r; name is used in errors. With width
// and height above 0, every frame must have that size; with 0, every frame must have the
// first frame's size.
func NewPGMReader(r io.Reader, name string, width, height int) *PGMReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 1<<20)
	}
	return &PGMReader{r: br, name: name, w: width, h: height, fixed: width > 0 && height > 0}
}

// Size implements FrameReader.
func (pr *PGMReader) Size() (int, int) { return pr.w, pr.h }

// Peek reads the first frame's header, so that Size is known before the first ReadFrame.
func (pr *PGMReader) Peek() error {
	if pr.peeked || pr.n > 0 {
		return nil
	}
	if err := pr.header(); err != nil {
		return err
	}
	pr.peeked = true
	return nil
}

// ReadFrame implements FrameReader.
func (pr *PGMReader) ReadFrame(buf []byte) error {
	if pr.peeked {
		pr.peeked = false
	} else if err := pr.header(); err != nil {
		return err
	}
	buf = buf[:pr.w*pr.h]
	if n, err := io.ReadFull(pr.r, buf); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return pr.errorf("truncated: %d of %d raster bytes (%dx%d)", n, len(buf), pr.w, pr.h)
		}
		return pr.errorf("%w", err)
	}
	pr.n++
	return nil
}

func (pr *PGMReader) errorf(format string, args ...any) error {
	return fmt.Errorf("read %s: frame %d: %w", pr.name, pr.n+1, fmt.Errorf(format, args...))
}

// header reads the next image's header and checks it; io.EOF at the end of the stream.
func (pr *PGMReader) header() error {
	// Skip whitespace before the image (none is needed, some writers add a newline).
	for {
		c, err := pr.r.ReadByte()
		if err == io.EOF {
			if pr.n == 0 {
				return fmt.Errorf("read %s: %w", pr.name, ErrEmpty)
			}
			return io.EOF
		}
		if err != nil {
			return pr.errorf("%w", err)
		}
		if !isSpace(c) {
			pr.r.UnreadByte()
			break
		}
	}
	var magic [2]byte
	if n, _ := io.ReadFull(pr.r, magic[:]); n < 2 || magic != [2]byte{'P', '5'} {
		switch {
		case n == 2 && magic[0] == 'P' && magic[1] >= '1' && magic[1] <= '7':
			return pr.errorf("not a binary PGM image: magic %q (only P5 is read)", magic[:])
		case pr.n == 0:
			return pr.errorf("not a PGM image: it starts with %q, not \"P5\"", magic[:n])
		}
		return pr.errorf("not a PGM image: %q after the previous frame, not \"P5\"", magic[:n])
	}
	// Whitespace (or a comment, which counts as its newline) ends the magic: "P556 ..." is
	// no PGM, and reading it as one would take 56 for the width.
	if c, err := pr.getc(); err != nil {
		return pr.errorf("truncated header")
	} else if !isSpace(c) {
		return pr.errorf("header: magic P5 followed by %q, not whitespace", c)
	}
	w, err := pr.number("width")
	if err != nil {
		return err
	}
	h, err := pr.number("height")
	if err != nil {
		return err
	}
	maxval, err := pr.number("maxval")
	if err != nil {
		return err
	}
	// Exactly one whitespace character (a comment counts as its newline) ends the header.
	if c, err := pr.getc(); err != nil {
		return pr.errorf("truncated header")
	} else if !isSpace(c) {
		return pr.errorf("header: maxval followed by %q, not whitespace", c)
	}
	switch {
	case w < 1 || h < 1:
		return pr.errorf("size %dx%d: empty image", w, h)
	case maxval != 255:
		return pr.errorf("maxval %d: only 8-bit grey (maxval 255) is read", maxval)
	case w > maxPixels/h:
		return pr.errorf("size %dx%d: too large", w, h)
	}
	switch {
	case pr.fixed || pr.n > 0 || pr.peeked:
		if w != pr.w || h != pr.h {
			what := "the first frame's"
			if pr.fixed {
				what = "the expected (--width, --height)"
			}
			return pr.errorf("size %dx%d differs from %s %dx%d", w, h, what, pr.w, pr.h)
		}
	default:
		pr.w, pr.h = w, h
	}
	return nil
}

// getc reads one byte, turning a comment (from '#' to the end of the line) into '\n'.
func (pr *PGMReader) getc() (byte, error) {
	c, err := pr.r.ReadByte()
	if err != nil || c != '#' {
		return c, err
	}
	for {
		c, err = pr.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if c == '\n' || c == '\r' {
			return '\n', nil
		}
	}
}

// number reads a header's decimal number after whitespace and comments, and the
// character that ends it if that is whitespace or a comment.
func (pr *PGMReader) number(what string) (int, error) {
	c, err := pr.getc()
	for err == nil && isSpace(c) {
		c, err = pr.getc()
	}
	if err != nil {
		return 0, pr.errorf("truncated header: no %s", what)
	}
	if c < '0' || c > '9' {
		return 0, pr.errorf("header: %s: %q is not a digit", what, c)
	}
	v := 0
	for c >= '0' && c <= '9' {
		v = v*10 + int(c-'0')
		if v > 1<<30 {
			return 0, pr.errorf("header: %s: too large", what)
		}
		c, err = pr.r.ReadByte()
		if err != nil {
			return 0, pr.errorf("truncated header after %s", what)
		}
	}
	if c == '#' || isSpace(c) {
		pr.r.UnreadByte() // maxval's delimiter is read by header; others are skipped
		return v, nil
	}
	return 0, pr.errorf("header: %s: %q is not a digit", what, c)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// AppendPGMHeader appends the header of a width x height P5 image with maxval 255.
func AppendPGMHeader(b []byte, width, height int) []byte {
	b = append(b, "P5\n"...)
	b = strconv.AppendInt(b, int64(width), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(height), 10)
	return append(b, "\n255\n"...)
}

// FrameWriter writes frames of one size in a format. Not safe for concurrent use.
type FrameWriter struct {
	w      io.Writer
	header []byte // nil for raw
	size   int
}

// NewFrameWriter returns a writer of width x height frames in format (FormatPGM or
// FormatRaw) to w.
func NewFrameWriter(w io.Writer, format string, width, height int) *FrameWriter {
	fw := &FrameWriter{w: w, size: width * height}
	if format == FormatPGM {
		fw.header = AppendPGMHeader(nil, width, height)
	}
	return fw
}

// WriteFrames writes every frame of b, a whole number of frames.
func (fw *FrameWriter) WriteFrames(b []byte) error {
	if len(b)%fw.size != 0 {
		return fmt.Errorf("write: %d bytes is not a whole number of %d-byte frames", len(b), fw.size)
	}
	if fw.header == nil {
		_, err := fw.w.Write(b)
		return err
	}
	for len(b) > 0 {
		if _, err := fw.w.Write(fw.header); err != nil {
			return err
		}
		if _, err := fw.w.Write(b[:fw.size]); err != nil {
			return err
		}
		b = b[fw.size:]
	}
	return nil
}
