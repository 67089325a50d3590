package overlay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
)

// The wire formats between the manager and the workers, all uvarints:
//
//	chunk:  first (index in A of the first rectangle), count, the inputs' checksum (8
//	        bytes, for the journal; the kernel ignores it), then per rectangle x0 y0 w h
//	result: first, count, then per rectangle of A: pieces, then per piece b x0 y0 w h
//	setup:  'M' 1 kind, then W H n, then for kind 1 (B inline) per rectangle x0 y0 w h,
//	        for kind 2 (B by path) the coordinates' FNV-1a checksum (8 bytes) and the path

var errCorrupt = errors.New("corrupt message")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uv() uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[k:]
	return v
}

// u32 reads a uvarint that must fit a coordinate or an index.
func (d *decoder) u32() int32 {
	v := d.uv()
	if v > MaxCoord*2 {
		d.err = errCorrupt
		return 0
	}
	return int32(v)
}

func (d *decoder) rect() Rect {
	x0, y0, w, h := d.u32(), d.u32(), d.u32(), d.u32()
	if int64(x0)+int64(w) > MaxCoord || int64(y0)+int64(h) > MaxCoord {
		d.err = errCorrupt
	}
	return Rect{x0, y0, x0 + w, y0 + h}
}

func appendRect(buf []byte, r Rect) []byte {
	buf = binary.AppendUvarint(buf, uint64(r.X0))
	buf = binary.AppendUvarint(buf, uint64(r.Y0))
	buf = binary.AppendUvarint(buf, uint64(r.X1-r.X0))
	return binary.AppendUvarint(buf, uint64(r.Y1-r.Y0))
}

// EncodeChunk encodes the rectangles of A from index first on; sum identifies the inputs.
func EncodeChunk(buf []byte, first int, sum uint64, rects []Rect) []byte {
	buf = binary.AppendUvarint(buf, uint64(first))
	buf = binary.AppendUvarint(buf, uint64(len(rects)))
	buf = binary.LittleEndian.AppendUint64(buf, sum)
	for _, r := range rects {
		buf = appendRect(buf, r)
	}
	return buf
}

// DecodeChunk decodes a chunk into rects (reusing its storage).
func DecodeChunk(data []byte, rects []Rect) (first int, _ []Rect, _ error) {
	d := decoder{b: data}
	first = int(d.uv())
	n := d.uv()
	if d.err != nil || n > uint64(len(data)) || len(d.b) < 8 {
		return 0, nil, fmt.Errorf("chunk: %w", errCorrupt)
	}
	d.b = d.b[8:]
	rects = rects[:0]
	for k := uint64(0); k < n && d.err == nil; k++ {
		rects = append(rects, d.rect())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return 0, nil, fmt.Errorf("chunk: %w", d.err)
	}
	return first, rects, nil
}

// Kernel computes the result of one chunk of A against an index on B. It is safe for
// concurrent use; each call allocates its result and one scratch slice.
func (ix *Index) Kernel(chunk []byte) ([]byte, error) {
	first, rects, err := DecodeChunk(chunk, nil)
	if err != nil {
		return nil, err
	}
	// About 4 pieces of ~6 bytes per rectangle of a typical tiling.
	out := make([]byte, 0, 16+len(rects)*32)
	out = binary.AppendUvarint(out, uint64(first))
	out = binary.AppendUvarint(out, uint64(len(rects)))
	hits := make([]Hit, 0, 64)
	for _, a := range rects {
		hits = ix.Query(a, hits[:0])
		out = binary.AppendUvarint(out, uint64(len(hits)))
		for _, h := range hits {
			out = binary.AppendUvarint(out, uint64(h.B))
			out = appendRect(out, h.R)
		}
	}
	return out, nil
}

// ResultRange returns the rectangles of A a result is about: the first and the count.
func ResultRange(data []byte) (first, count int, err error) {
	d := decoder{b: data}
	f, n := d.uv(), d.uv()
	if d.err != nil || f > math.MaxInt32 || n > uint64(len(data)) {
		return 0, 0, fmt.Errorf("result: %w", errCorrupt)
	}
	return int(f), int(n), nil
}

// DecodeResult calls fn for every piece of a result, in order, checking that b indexes are
// below nb. It returns the result's first index in A and its count of rectangles.
func DecodeResult(data []byte, nb int, fn func(p Piece)) (first, count int, err error) {
	d := decoder{b: data}
	first = int(d.uv())
	count = int(d.uv())
	if d.err == nil && uint64(count) > uint64(len(data)) {
		d.err = errCorrupt
	}
	for k := 0; k < count && d.err == nil; k++ {
		np := d.uv()
		if np > uint64(len(d.b)) {
			d.err = errCorrupt
		}
		for ; np > 0 && d.err == nil; np-- {
			b := d.uv()
			r := d.rect()
			if b >= uint64(nb) {
				d.err = errCorrupt
			}
			if d.err == nil {
				fn(Piece{int32(first + k), int32(b), r})
			}
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return 0, 0, fmt.Errorf("result: %w", d.err)
	}
	return first, count, nil
}

const (
	setupInline = 1
	setupPath   = 2
)

// checksum is FNV-1a over the rectangles' corners, to make sure a worker reading B by path
// reads the map the manager validated.
func checksum(rects []Rect) uint64 {
	h := fnv.New64a()
	var b [16]byte
	for _, r := range rects {
		binary.LittleEndian.PutUint32(b[0:], uint32(r.X0))
		binary.LittleEndian.PutUint32(b[4:], uint32(r.Y0))
		binary.LittleEndian.PutUint32(b[8:], uint32(r.X1))
		binary.LittleEndian.PutUint32(b[12:], uint32(r.Y1))
		h.Write(b[:])
	}
	return h.Sum64()
}

// EncodeSetup encodes map B for the workers: its rectangles, or with path != "" only the
// path (each worker reads the file) and a checksum of the rectangles.
func EncodeSetup(b *Map, path string) []byte {
	buf := []byte{'M', 1, setupInline}
	if path != "" {
		buf[2] = setupPath
	}
	buf = binary.AppendUvarint(buf, uint64(b.W))
	buf = binary.AppendUvarint(buf, uint64(b.H))
	buf = binary.AppendUvarint(buf, uint64(len(b.Rects)))
	if path != "" {
		buf = binary.LittleEndian.AppendUint64(buf, checksum(b.Rects))
		return append(buf, path...)
	}
	for _, r := range b.Rects {
		buf = appendRect(buf, r)
	}
	return buf
}

// DecodeSetup returns map B's extent and rectangles from a setup, reading the file when the
// setup names one.
func DecodeSetup(setup []byte) (w, h int32, rects []Rect, err error) {
	if len(setup) < 3 || setup[0] != 'M' || setup[1] != 1 {
		return 0, 0, nil, fmt.Errorf("setup: %w", errCorrupt)
	}
	kind := setup[2]
	d := decoder{b: setup[3:]}
	w, h = d.u32(), d.u32()
	n := d.uv()
	if d.err != nil {
		return 0, 0, nil, fmt.Errorf("setup: %w", d.err)
	}
	switch kind {
	case setupInline:
		if n > uint64(len(d.b)) {
			return 0, 0, nil, fmt.Errorf("setup: %w", errCorrupt)
		}
		rects = make([]Rect, 0, n)
		for k := uint64(0); k < n && d.err == nil; k++ {
			rects = append(rects, d.rect())
		}
		if d.err == nil && len(d.b) != 0 {
			d.err = errCorrupt
		}
		if d.err != nil {
			return 0, 0, nil, fmt.Errorf("setup: %w", d.err)
		}
		return w, h, rects, nil
	case setupPath:
		if len(d.b) < 8 {
			return 0, 0, nil, fmt.Errorf("setup: %w", errCorrupt)
		}
		sum := binary.LittleEndian.Uint64(d.b)
		path := string(d.b[8:])
		m, err := readMap(path)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("read map B (--b-path): %w", err)
		}
		if uint64(len(m.Rects)) != n || m.W != w || m.H != h || checksum(m.Rects) != sum {
			return 0, 0, nil, fmt.Errorf("read map B (--b-path): %s: not the map the manager read (%d rectangles here, %d there): is the file the same on every node?", path, len(m.Rects), n)
		}
		return w, h, m.Rects, nil
	}
	return 0, 0, nil, fmt.Errorf("setup: %w", errCorrupt)
}
