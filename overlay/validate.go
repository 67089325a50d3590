package overlay

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"

	"github.com/mw-hpc/mw/internal/quote"
)

// Validate checks what the parsers cannot check one rectangle at a time: that ids are unique
// and that the rectangles tile the extent [0,W) x [0,H) exactly, without overlaps or gaps.
// It costs O(n) plus a radix sort of the rectangles' vertical edges.
func (m *Map) Validate() error {
	if len(m.Rects) == 0 {
		return &InputError{Where: m.File, Msg: "empty map: no rectangles"}
	}
	if err := m.checkIDs(); err != nil {
		return err
	}
	return m.checkTiling()
}

// ref names rectangle i briefly, for the second rectangle of a message.
func (m *Map) ref(i int) string {
	if m.Format == GeoJSON {
		return fmt.Sprintf("id %s (feature %d) %v", quote.Clip(m.IDs[i]), m.pos[i], m.Rects[i])
	}
	return fmt.Sprintf("id %s (line %d) %v", quote.Clip(m.IDs[i]), m.pos[i], m.Rects[i])
}

// checkIDs reports the first rectangle whose id an earlier one already has.
func (m *Map) checkIDs() error {
	if ok, err := m.checkNumericIDs(); ok {
		return err
	}
	size := 1 << bits.Len(uint(2*len(m.IDs)))
	type slot struct {
		h uint64
		i int32 // index+1; 0 is empty
	}
	tab := make([]slot, size)
	mask := uint64(size - 1)
	seed := maphash.MakeSeed()
	for i, id := range m.IDs {
		h := maphash.String(seed, id)
		for k := h & mask; ; k = (k + 1) & mask {
			s := &tab[k]
			if s.i == 0 {
				*s = slot{h, int32(i + 1)}
				break
			}
			if s.h == h && m.IDs[s.i-1] == id {
				return m.errAt(i, "duplicate id: %s has it too", m.ref(int(s.i-1)))
			}
		}
	}
	return nil
}

// checkNumericIDs is checkIDs' fast path for ids that are all small numbers written the one
// canonical way ("0", "17", not "017"): a bitset that fits in cache instead of a hash table.
// It reports false, having checked nothing, when an id is not such a number.
func (m *Map) checkNumericIDs() (bool, error) {
	const limit = 1 << 26 // 8 MiB of bits
	nums := make([]uint32, len(m.IDs))
	var top uint32
	for i, id := range m.IDs {
		if len(id) == 0 || len(id) > 8 || len(id) > 1 && id[0] == '0' {
			return false, nil
		}
		var v uint32
		for k := 0; k < len(id); k++ {
			c := id[k] - '0'
			if c > 9 {
				return false, nil
			}
			v = v*10 + uint32(c)
		}
		if v >= limit {
			return false, nil
		}
		nums[i], top = v, max(top, v)
	}
	seen := make([]uint64, top/64+1)
	for i, v := range nums {
		w, bit := &seen[v/64], uint64(1)<<(v%64)
		if *w&bit != 0 {
			first := slices.Index(nums, v)
			return true, m.errAt(i, "duplicate id: %s has it too", m.ref(first))
		}
		*w |= bit
	}
	return true, nil
}

// edge is a vertical edge of a rectangle: key packs its x (high bits) and its y0 (low bits).
type edge struct {
	key uint64
	i   int32
}

// sortEdges sorts e by key with an LSD radix sort over the key's nbits low bits.
func sortEdges(e, tmp []edge, nbits int) []edge {
	const d = 11
	var count [1 << d]int
	for shift := 0; shift < nbits; shift += d {
		clear(count[:])
		for _, x := range e {
			count[(x.key>>shift)&(1<<d-1)]++
		}
		sum := 0
		for k, c := range count {
			count[k] = sum
			sum += c
		}
		for _, x := range e {
			b := (x.key >> shift) & (1<<d - 1)
			tmp[count[b]] = x
			count[b]++
		}
		e, tmp = tmp, e
	}
	return e
}

// span is a half-open interval [lo,hi) of y.
type span struct{ lo, hi int32 }

// checkTiling checks that the rectangles cover [0,W) x [0,H) exactly once. All rectangles
// lie inside the extent (the parsers check it). Sweeping x over the vertical edges: at every
// x the left edges starting there must not overlap, nor the right edges ending there, and the
// left edges must cover the same y as the right edges (at x=0 the right side is taken to be
// [0,H), and at x=W the left side): then the number of rectangles covering any point (x,y)
// never changes with x, from 1 at x=0, so the tiling is exact. When a check fails, the first
// failing x names the problem.
func (m *Map) checkTiling() error {
	n := len(m.Rects)
	yb := bits.Len32(uint32(m.H))
	nbits := yb + bits.Len32(uint32(m.W))
	mk := func(x, y int32) uint64 { return uint64(x)<<yb | uint64(y) }
	left := make([]edge, n)
	right := make([]edge, n)
	tmp := make([]edge, n)
	for i, r := range m.Rects {
		left[i] = edge{mk(r.X0, r.Y0), int32(i)}
		right[i] = edge{mk(r.X1, r.Y0), int32(i)}
	}
	left = sortEdges(left, tmp, nbits)
	if &tmp[0] == &left[0] {
		tmp = make([]edge, n)
	}
	right = sortEdges(right, tmp, nbits)
	var lr, rr []span
	full := []span{{0, m.H}}
	li, ri := 0, 0
	for {
		// The next x: the smaller of the next left and right edges' x.
		x := int64(1) << 40
		if li < n {
			x = int64(left[li].key >> yb)
		}
		if ri < n {
			x = min(x, int64(right[ri].key>>yb))
		}
		if li == n && ri == n {
			break
		}
		lj := li
		for lj < n && int64(left[lj].key>>yb) == x {
			lj++
		}
		rj := ri
		for rj < n && int64(right[rj].key>>yb) == x {
			rj++
		}
		var err error
		if lr, err = m.runs(lr[:0], left[li:lj], false); err != nil {
			return err
		}
		if rr, err = m.runs(rr[:0], right[ri:rj], true); err != nil {
			return err
		}
		ls, rs := lr, rr
		if x == 0 {
			rs = full
		}
		if x == int64(m.W) {
			ls = full
		}
		if !slices.Equal(ls, rs) {
			return m.diagnose(int32(x), ls, rs, left[li:lj], right[ri:rj])
		}
		li, ri = lj, rj
	}
	// A map whose left edges never reach x=0 (impossible: its smallest x0 is 0 or the map
	// has a gap at x=0, which the loop finds as the first x) or whose W edges are missing
	// is caught above; nothing else can be wrong here.
	return nil
}

// runs appends the maximal runs covered by edges (sorted by y0) to dst, failing when two of
// them overlap (then their rectangles overlap: both start, or both end, at the same x).
func (m *Map) runs(dst []span, edges []edge, right bool) ([]span, error) {
	for k, e := range edges {
		r := m.Rects[e.i]
		if k > 0 {
			p := m.Rects[edges[k-1].i]
			if p.Y1 > r.Y0 {
				return nil, m.overlap(int(edges[k-1].i), int(e.i))
			}
			if p.Y1 == r.Y0 {
				dst[len(dst)-1].hi = r.Y1
				continue
			}
		}
		dst = append(dst, span{r.Y0, r.Y1})
	}
	return dst, nil
}

// overlap reports that rectangles i and j overlap, naming the later one in the file first.
func (m *Map) overlap(i, j int) error {
	if i > j {
		i, j = j, i
	}
	p, _ := m.Rects[i].Intersect(m.Rects[j])
	return m.errAt(j, "%v overlaps %s on %v", m.Rects[j], m.ref(i), p)
}

// covered reports whether y lies in one of the sorted disjoint spans, and which.
func covered(s []span, y int32) (int, bool) {
	k, _ := slices.BinarySearchFunc(s, y, func(sp span, y int32) int {
		switch {
		case sp.hi <= y:
			return -1
		case sp.lo > y:
			return 1
		}
		return 0
	})
	return k, k < len(s) && s[k].lo <= y && y < s[k].hi
}

// diagnose explains why the left edges at x do not cover what the right edges do: at the
// smallest such y, the unit cell on the uncovered side is a gap, or the rectangle covering
// it crosses x and overlaps the one on the other side.
func (m *Map) diagnose(x int32, ls, rs []span, le, re []edge) error {
	var ys []int32
	for _, s := range append(slices.Clip(ls), rs...) {
		ys = append(ys, s.lo, s.hi)
	}
	ys = append(ys, 0)
	slices.Sort(ys)
	for _, y := range ys {
		if y < 0 || y >= m.H {
			continue
		}
		_, inL := covered(ls, y)
		_, inR := covered(rs, y)
		if inL == inR {
			continue
		}
		// The rectangle on the covered side, if it is a real one.
		side, cellX := re, x // covered on the right side of x's edges list = ending at x
		if inL {
			side, cellX = le, x-1 // a rectangle starts at x; look at the cell left of x
		}
		at := -1
		for _, e := range side {
			if r := m.Rects[e.i]; r.Y0 <= y && y < r.Y1 {
				at = int(e.i)
				break
			}
		}
		// Does a rectangle cross x at y?
		for j, r := range m.Rects {
			if r.X0 < x && x < r.X1 && r.Y0 <= y && y < r.Y1 && at >= 0 {
				return m.overlap(at, j)
			}
		}
		cell := Rect{cellX, y, cellX + 1, y + 1}
		if at < 0 {
			return &InputError{Where: m.File, Msg: fmt.Sprintf("gap: no rectangle covers the unit cell %v", cell)}
		}
		dir := "right"
		if inL {
			dir = "left"
		}
		return m.errAt(at, "%v: gap: no rectangle covers the unit cell %v to its %s", m.Rects[at], cell, dir)
	}
	return &InputError{Where: m.File, Msg: fmt.Sprintf("the rectangles do not tile the extent at x=%d", x)}
}

// CheckSameExtent checks that maps a and b cover the same extent.
func CheckSameExtent(a, b *Map) error {
	if a.W != b.W || a.H != b.H {
		return fmt.Errorf("maps A and B have different extents: A (%s) is %v, B (%s) is %v",
			a.File, a.Extent(), b.File, b.Extent())
	}
	return nil
}
