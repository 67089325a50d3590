package overlay

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
)

// Generate returns a random tiling of [0,w) x [0,h) with about n rectangles, made by
// recursive guillotine cuts: a rectangle meant to hold k rectangles is cut across (more
// often across its longer side) at a random place between 30% and 70%, and its share of k
// goes to each side by area. The same seed gives the same tiling. Rectangles come out in
// depth-first order (neighbours are near each other in the list, as in real data).
func Generate(n int, w, h int32, seed uint64) []Rect {
	rng := rand.New(rand.NewPCG(seed, 0x6f7665726c6179)) // "overlay"
	type job struct {
		r Rect
		k int
	}
	out := make([]Rect, 0, n)
	stack := []job{{Rect{0, 0, w, h}, max(n, 1)}}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		r := j.r
		rw, rh := r.X1-r.X0, r.Y1-r.Y0
		if j.k <= 1 || (rw < 2 && rh < 2) {
			out = append(out, r)
			continue
		}
		// Cut across x (a vertical cut) or across y.
		vertical := rw >= rh
		if rng.Float64() < 0.3 {
			vertical = !vertical
		}
		if vertical && rw < 2 || !vertical && rh < 2 {
			vertical = !vertical
		}
		size := rw
		if !vertical {
			size = rh
		}
		cut := int32(float64(size) * (0.3 + 0.4*rng.Float64()))
		cut = min(max(cut, 1), size-1)
		k1 := int(float64(j.k)*float64(cut)/float64(size) + 0.5)
		k1 = min(max(k1, 1), j.k-1)
		var r1, r2 Rect
		if vertical {
			r1 = Rect{r.X0, r.Y0, r.X0 + cut, r.Y1}
			r2 = Rect{r.X0 + cut, r.Y0, r.X1, r.Y1}
		} else {
			r1 = Rect{r.X0, r.Y0, r.X1, r.Y0 + cut}
			r2 = Rect{r.X0, r.Y0 + cut, r.X1, r.Y1}
		}
		stack = append(stack, job{r2, j.k - k1}, job{r1, k1})
	}
	return out
}

// GenerateMap is Generate as a Map with ids 1..n and a class attribute from 1 to 9.
func GenerateMap(n int, w, h int32, seed uint64) *Map {
	rects := Generate(n, w, h, seed)
	rng := rand.New(rand.NewPCG(seed, 0x636c617373)) // "class"
	m := &Map{W: w, H: h, Rects: rects, Cols: []string{"class"},
		IDs: make([]string, len(rects)), Vals: make([]string, len(rects))}
	for i := range rects {
		m.IDs[i] = strconv.Itoa(i + 1)
		m.Vals[i] = strconv.Itoa(1 + rng.IntN(9))
	}
	return m
}

// WriteMap writes m in format f.
func WriteMap(w io.Writer, f Format, m *Map) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var b []byte
	k := len(m.Cols)
	if f == CSV {
		b = append(b, "id,xmin,ymin,xmax,ymax"...)
		for _, c := range m.Cols {
			b = append(b, ',')
			b = appendCSVField(b, c)
		}
		b = append(b, '\n')
	} else {
		b = append(b, `{"type":"FeatureCollection","bbox":[0,0,`...)
		b = strconv.AppendInt(b, int64(m.W), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(m.H), 10)
		b = append(b, "],\"features\":[\n"...)
	}
	for i, r := range m.Rects {
		if f == CSV {
			b = appendCSVField(b, m.IDs[i])
			for _, c := range [4]int32{r.X0, r.Y0, r.X1, r.Y1} {
				b = append(b, ',')
				b = strconv.AppendInt(b, int64(c), 10)
			}
			for _, v := range m.Vals[i*k : i*k+k] {
				if m.JSONVals {
					v = jsonToText(v)
				}
				b = append(b, ',')
				b = appendCSVField(b, v)
			}
			b = append(b, '\n')
		} else {
			if i > 0 {
				b = append(b, ",\n"...)
			}
			b = append(b, `{"type":"Feature","id":`...)
			b = appendJSONString(b, m.IDs[i])
			b = append(b, `,"properties":{`...)
			for j, v := range m.Vals[i*k : i*k+k] {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, m.Cols[j])
				b = append(b, ':')
				switch {
				case !m.JSONVals:
					b = appendJSONString(b, v)
				case v == "":
					b = append(b, "null"...)
				default:
					b = append(b, v...)
				}
			}
			b = appendGeometry(b, r)
		}
		if len(b) > 1<<15 {
			if _, err := bw.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	if f == GeoJSON {
		b = append(b, "\n]}\n"...)
	}
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}
