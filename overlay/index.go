package overlay

import (
	"cmp"
	"slices"
)

// Piece is one non-empty intersection of a rectangle of A with rectangle B of map B.
type Piece struct {
	A, B int32 // indexes in A and B
	R    Rect
}

// Hit is a piece of one given rectangle of A: the index in B and the clipped rectangle.
type Hit struct {
	B int32
	R Rect
}

// Index is a grid of buckets over map B, suited to tilings: each bucket lists (in B's order)
// the rectangles that overlap it, with their corners inline. Buckets are about the size of
// an average rectangle, so a query visits a few buckets of a few rectangles each and costs
// about the number of hits, whatever the size of B. An Index is safe for concurrent use.
type Index struct {
	n      int
	cw, ch int32 // bucket size
	nx, ny int32 // buckets across and down
	start  []int32
	items  []Hit
}

// NewIndex builds the index of rects, which lie inside [0,w) x [0,h).
func NewIndex(rects []Rect, w, h int32) *Index {
	ix := &Index{n: len(rects)}
	// Buckets the size of the average rectangle: for a tiling each rectangle then lands in
	// about four buckets and each bucket holds about four rectangles.
	var sw, sh int64
	for _, r := range rects {
		sw += int64(r.X1 - r.X0)
		sh += int64(r.Y1 - r.Y0)
	}
	n := int64(max(len(rects), 1))
	cw, ch := max(int32(sw/n), 1), max(int32(sh/n), 1)
	w, h = max(w, 1), max(h, 1)
	// Never more than about 2n buckets (a map of long thin rectangles in both directions).
	for int64((w+cw-1)/cw)*int64((h+ch-1)/ch) > 2*n+16 {
		cw, ch = cw*2, ch*2
	}
	ix.cw, ix.ch = cw, ch
	ix.nx, ix.ny = (w+cw-1)/cw, (h+ch-1)/ch
	ix.start = make([]int32, int(ix.nx)*int(ix.ny)+1)
	for _, r := range rects {
		x0, x1, y0, y1 := ix.cells(r)
		for cy := y0; cy <= y1; cy++ {
			row := ix.start[int(cy)*int(ix.nx)+1:]
			for cx := x0; cx <= x1; cx++ {
				row[cx]++
			}
		}
	}
	for k := 1; k < len(ix.start); k++ {
		ix.start[k] += ix.start[k-1]
	}
	ix.items = make([]Hit, ix.start[len(ix.start)-1])
	fill := slices.Clone(ix.start[:len(ix.start)-1])
	for i, r := range rects {
		x0, x1, y0, y1 := ix.cells(r)
		for cy := y0; cy <= y1; cy++ {
			row := fill[int(cy)*int(ix.nx):]
			for cx := x0; cx <= x1; cx++ {
				ix.items[row[cx]] = Hit{int32(i), r}
				row[cx]++
			}
		}
	}
	return ix
}

// cells is the range of buckets r overlaps, clamped to the grid.
func (ix *Index) cells(r Rect) (x0, x1, y0, y1 int32) {
	x0 = min(max(r.X0, 0)/ix.cw, ix.nx-1)
	x1 = min(max(r.X1-1, 0)/ix.cw, ix.nx-1)
	y0 = min(max(r.Y0, 0)/ix.ch, ix.ny-1)
	y1 = min(max(r.Y1-1, 0)/ix.ch, ix.ny-1)
	return
}

// Query appends to dst the pieces of a (its non-empty intersections with B's rectangles) in
// B's order, and returns the extended slice. It allocates only when dst must grow.
func (ix *Index) Query(a Rect, dst []Hit) []Hit {
	if a.X0 >= a.X1 || a.Y0 >= a.Y1 || ix.n == 0 {
		return dst
	}
	base := len(dst)
	x0, x1, y0, y1 := ix.cells(a)
	for cy := y0; cy <= y1; cy++ {
		ylo := cy * ix.ch
		row := int(cy) * int(ix.nx)
		for cx := x0; cx <= x1; cx++ {
			xlo := cx * ix.cw
			for _, it := range ix.items[ix.start[row+int(cx)]:ix.start[row+int(cx)+1]] {
				b := it.R
				px0, px1 := max(a.X0, b.X0), min(a.X1, b.X1)
				if px0 >= px1 {
					continue
				}
				py0, py1 := max(a.Y0, b.Y0), min(a.Y1, b.Y1)
				if py0 >= py1 {
					continue
				}
				// Report a piece once: in the bucket holding its lower-left corner.
				if (px0 < xlo && cx > x0) || (py0 < ylo && cy > y0) {
					continue
				}
				dst = append(dst, Hit{it.B, Rect{px0, py0, px1, py1}})
			}
		}
	}
	if h := dst[base:]; len(h) > 1 && !sortedByB(h) {
		slices.SortFunc(h, func(p, q Hit) int { return cmp.Compare(p.B, q.B) })
	}
	return dst
}

func sortedByB(h []Hit) bool {
	for k := 1; k < len(h); k++ {
		if h[k].B < h[k-1].B {
			return false
		}
	}
	return true
}

// Overlay returns every piece of a ∩ b in A's order, then B's, using an Index on b.
func Overlay(a, b []Rect, w, h int32) []Piece {
	ix := NewIndex(b, w, h)
	var out []Piece
	var hits []Hit
	for i, r := range a {
		hits = ix.Query(r, hits[:0])
		for _, p := range hits {
			out = append(out, Piece{int32(i), p.B, p.R})
		}
	}
	return out
}

// NaiveOverlay is the O(n*m) all-pairs overlay, the oracle for Overlay.
func NaiveOverlay(a, b []Rect) []Piece {
	var out []Piece
	for i, ra := range a {
		for j, rb := range b {
			if p, ok := ra.Intersect(rb); ok {
				out = append(out, Piece{int32(i), int32(j), p})
			}
		}
	}
	return out
}
