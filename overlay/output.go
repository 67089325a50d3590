package overlay

import (
	"io"
	"strconv"
)

// frags holds one precomputed byte fragment per rectangle of a map: fragment i is
// buf[off[i]:off[i+1]].
type frags struct {
	buf []byte
	off []int
}

func (f *frags) get(i int32) []byte { return f.buf[f.off[i]:f.off[i+1]] }

func makeFrags(n int, add func(dst []byte, i int) []byte) frags {
	f := frags{off: make([]int, n+1)}
	for i := range n {
		f.buf = add(f.buf, i)
		f.off[i+1] = len(f.buf)
	}
	return f
}

// Writer formats overlay pieces as CSV or GeoJSON rows, with both parents' ids and
// attributes. It precomputes every rectangle's fragments once, so that a row costs a few
// copies and four integer conversions. Not safe for concurrent use.
type Writer struct {
	w            io.Writer
	f            Format
	a, b         *Map
	aID, bID     frags
	aAttr, bAttr frags
	buf          []byte
	n            int64 // pieces written
	resumedRows  bool  // the output held rows before this run (Resumed)
}

// NewWriter returns a Writer of the overlay of a and b to w in format f.
func NewWriter(w io.Writer, f Format, a, b *Map) *Writer {
	ow := &Writer{w: w, f: f, a: a, b: b}
	ow.aID, ow.aAttr = mapFrags(a, f, "a_")
	ow.bID, ow.bAttr = mapFrags(b, f, "b_")
	return ow
}

// mapFrags makes the id and attribute fragments of m's rectangles: for CSV `id` and
// `,v1,v2...`; for GeoJSON `"a_id":"id"` and `,"a_c1":v1,...`.
func mapFrags(m *Map, f Format, prefix string) (ids, attrs frags) {
	k := len(m.Cols)
	if f == CSV {
		ids = makeFrags(m.Len(), func(dst []byte, i int) []byte { return appendCSVField(dst, m.IDs[i]) })
		attrs = makeFrags(m.Len(), func(dst []byte, i int) []byte {
			for _, v := range m.Vals[i*k : i*k+k] {
				if m.JSONVals {
					v = jsonToText(v)
				}
				dst = append(dst, ',')
				dst = appendCSVField(dst, v)
			}
			return dst
		})
		return ids, attrs
	}
	idKey := appendJSONString(nil, prefix+"id")
	keys := make([][]byte, k)
	for j, c := range m.Cols {
		keys[j] = appendJSONString(nil, prefix+c)
	}
	ids = makeFrags(m.Len(), func(dst []byte, i int) []byte {
		dst = append(dst, idKey...)
		dst = append(dst, ':')
		return appendJSONString(dst, m.IDs[i])
	})
	attrs = makeFrags(m.Len(), func(dst []byte, i int) []byte {
		for j, v := range m.Vals[i*k : i*k+k] {
			dst = append(dst, ',')
			dst = append(dst, keys[j]...)
			dst = append(dst, ':')
			switch {
			case !m.JSONVals:
				dst = appendJSONString(dst, v)
			case v == "":
				dst = append(dst, "null"...)
			default:
				dst = append(dst, v...)
			}
		}
		return dst
	})
	return ids, attrs
}

// Header writes what comes before the first row.
func (w *Writer) Header() error {
	w.buf = w.appendHeader(w.buf[:0])
	return w.flush()
}

// Resumed tells the Writer that its output already holds offset bytes (a run resumed
// from its journal): the header and, past it, rows that the next row must follow.
func (w *Writer) Resumed(offset int64) {
	w.resumedRows = offset > int64(len(w.appendHeader(nil)))
}

func (w *Writer) appendHeader(b []byte) []byte {
	if w.f == CSV {
		b = append(b, "a_id,b_id,xmin,ymin,xmax,ymax"...)
		for _, c := range w.a.Cols {
			b = append(b, ',')
			b = appendCSVField(b, "a_"+c)
		}
		for _, c := range w.b.Cols {
			b = append(b, ',')
			b = appendCSVField(b, "b_"+c)
		}
		b = append(b, '\n')
	} else {
		b = append(b, `{"type":"FeatureCollection","bbox":[0,0,`...)
		b = strconv.AppendInt(b, int64(w.a.W), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(w.a.H), 10)
		b = append(b, "],\"features\":[\n"...)
	}
	return b
}

// Piece adds one row to the buffer (Flush writes it out).
func (w *Writer) Piece(p Piece) {
	b := w.buf
	r := p.R
	if w.f == CSV {
		b = append(b, w.aID.get(p.A)...)
		b = append(b, ',')
		b = append(b, w.bID.get(p.B)...)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(r.X0), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(r.Y0), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(r.X1), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(r.Y1), 10)
		b = append(b, w.aAttr.get(p.A)...)
		b = append(b, w.bAttr.get(p.B)...)
		b = append(b, '\n')
	} else {
		if w.n > 0 || w.resumedRows {
			b = append(b, ",\n"...)
		}
		b = append(b, `{"type":"Feature","properties":{`...)
		b = append(b, w.aID.get(p.A)...)
		b = append(b, ',')
		b = append(b, w.bID.get(p.B)...)
		b = append(b, w.aAttr.get(p.A)...)
		b = append(b, w.bAttr.get(p.B)...)
		b = appendGeometry(b, r)
	}
	w.buf = b
	w.n++
}

// Pieces is the number of rows written so far.
func (w *Writer) Pieces() int64 { return w.n }

// Flush writes the buffered rows.
func (w *Writer) Flush() error { return w.flush() }

func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Footer writes what comes after the last row, and flushes.
func (w *Writer) Footer() error {
	if w.f == GeoJSON {
		w.buf = append(w.buf, "\n]}\n"...)
	}
	return w.flush()
}

// appendGeometry closes a feature's properties and appends its geometry: the rectangle's
// closed, counterclockwise 5-point ring.
func appendGeometry(b []byte, r Rect) []byte {
	b = append(b, `},"geometry":{"type":"Polygon","coordinates":[[`...)
	for k, c := range [5][2]int32{{r.X0, r.Y0}, {r.X1, r.Y0}, {r.X1, r.Y1}, {r.X0, r.Y1}, {r.X0, r.Y0}} {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(c[0]), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(c[1]), 10)
		b = append(b, ']')
	}
	return append(b, "]]}}"...)
}
