package overlay

import (
	"fmt"
	"slices"
	"testing"
)

func TestIntersectHalfOpen(t *testing.T) {
	a := Rect{0, 0, 2, 2}
	for _, c := range []struct {
		name string
		b    Rect
		want Rect
		ok   bool
	}{
		{"inside", Rect{0, 0, 1, 1}, Rect{0, 0, 1, 1}, true},
		{"same", a, a, true},
		{"overlap", Rect{1, 1, 3, 3}, Rect{1, 1, 2, 2}, true},
		{"shared edge", Rect{2, 0, 3, 2}, Rect{}, false},
		{"shared corner", Rect{2, 2, 3, 3}, Rect{}, false},
		{"apart", Rect{5, 5, 6, 6}, Rect{}, false},
		{"thin touch below", Rect{0, -1, 2, 0}, Rect{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ok := a.Intersect(c.b)
			if ok != c.ok || ok && p != c.want {
				t.Fatalf("got %v %v, want %v %v", p, ok, c.want, c.ok)
			}
		})
	}
}

// TestOverlayMatchesNaive: the indexed kernel gives exactly the naive all-pairs pieces, in
// the same order, on many small maps of various shapes.
func TestOverlayMatchesNaive(t *testing.T) {
	cases := []struct {
		na, nb int
		w, h   int32
	}{
		{1, 1, 1, 1}, {1, 5, 7, 3}, {5, 1, 3, 7}, {20, 20, 10, 10}, {50, 7, 100, 10},
		{7, 50, 10, 100}, {300, 400, 100, 100}, {1000, 1000, 64, 64}, {200, 3000, 500, 300},
		{100, 100, 1000, 1}, {64, 64, 8, 8},
	}
	for _, c := range cases {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%dx%d_%dx%d_s%d", c.na, c.nb, c.w, c.h, seed), func(t *testing.T) {
				a := Generate(c.na, c.w, c.h, seed)
				b := Generate(c.nb, c.w, c.h, seed+100)
				got := Overlay(a, b, c.w, c.h)
				want := NaiveOverlay(a, b)
				if !slices.Equal(got, want) {
					t.Fatalf("indexed overlay differs from naive: %d vs %d pieces", len(got), len(want))
				}
				checkInvariants(t, a, b, c.w, c.h, got)
			})
		}
	}
}

// TestKernelChunks: the chunked kernel (through the wire encodings) gives the same pieces as
// the whole overlay, whatever the chunk size.
func TestKernelChunks(t *testing.T) {
	a := GenerateMap(2000, 200, 150, 5)
	b := GenerateMap(1500, 200, 150, 6)
	want := Overlay(a.Rects, b.Rects, 200, 150)
	for _, inline := range []bool{true, false} {
		path := ""
		if !inline {
			path = writeTemp(t, b, CSV)
		}
		ix, err := IndexFromSetup(EncodeSetup(b, path), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, per := range []int{1, 3, 64, 2000, 5000} {
			var got []Piece
			for first := 0; first < a.Len(); first += per {
				end := min(first+per, a.Len())
				res, err := ix.Kernel(EncodeChunk(nil, first, 0, a.Rects[first:end]))
				if err != nil {
					t.Fatal(err)
				}
				f, n, err := DecodeResult(res, b.Len(), func(p Piece) { got = append(got, p) })
				if err != nil || f != first || n != end-first {
					t.Fatalf("result: first %d count %d err %v", f, n, err)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("inline=%v chunk %d: pieces differ", inline, per)
			}
		}
	}
}

// TestInvariantsLarge: two 50,000-rectangle maps on 1000x1000 (too many pairs for the naive
// oracle): check the invariants.
func TestInvariantsLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	a := Generate(50_000, 1000, 1000, 11)
	b := Generate(50_000, 1000, 1000, 12)
	checkInvariants(t, a, b, 1000, 1000, Overlay(a, b, 1000, 1000))
}

// checkInvariants checks pieces against independent facts: each lies inside both parents;
// per-A, per-B and total areas add up; ordered by A then B; and no two overlap (an x sweep
// over rows: sorted by x0, a piece overlaps an earlier one iff some row it covers is already
// covered past its x0).
func checkInvariants(t *testing.T, a, b []Rect, w, h int32, pieces []Piece) {
	t.Helper()
	areaA := make([]int64, len(a))
	areaB := make([]int64, len(b))
	var total int64
	for k, p := range pieces {
		if p.R.Area() <= 0 || !a[p.A].Contains(p.R) || !b[p.B].Contains(p.R) {
			t.Fatalf("piece %d %v is empty or not inside its parents %v and %v", k, p.R, a[p.A], b[p.B])
		}
		if k > 0 {
			q := pieces[k-1]
			if q.A > p.A || q.A == p.A && q.B >= p.B {
				t.Fatalf("pieces %d and %d out of order: (%d,%d) then (%d,%d)", k-1, k, q.A, q.B, p.A, p.B)
			}
		}
		areaA[p.A] += p.R.Area()
		areaB[p.B] += p.R.Area()
		total += p.R.Area()
	}
	if total != int64(w)*int64(h) {
		t.Fatalf("pieces cover %d, the extent %d", total, int64(w)*int64(h))
	}
	for i, r := range a {
		if areaA[i] != r.Area() {
			t.Fatalf("A %d: pieces cover %d of %d", i, areaA[i], r.Area())
		}
	}
	for i, r := range b {
		if areaB[i] != r.Area() {
			t.Fatalf("B %d: pieces cover %d of %d", i, areaB[i], r.Area())
		}
	}
	order := make([]int, len(pieces))
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(i, j int) int { return int(pieces[i].R.X0) - int(pieces[j].R.X0) })
	until := make([]int32, h) // per row y: the largest x1 of the pieces swept so far
	for _, k := range order {
		r := pieces[k].R
		for y := r.Y0; y < r.Y1; y++ {
			if until[y] > r.X0 {
				t.Fatalf("piece %v overlaps an earlier piece on row %d", r, y)
			}
			until[y] = r.X1
		}
	}
}

func TestQueryNoAlloc(t *testing.T) {
	b := Generate(10_000, 1000, 1000, 2)
	a := Generate(10_000, 1000, 1000, 3)
	ix := NewIndex(b, 1000, 1000)
	hits := make([]Hit, 0, 1024)
	allocs := testing.AllocsPerRun(3, func() {
		for _, r := range a {
			hits = ix.Query(r, hits[:0])
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per pass over A, want 0", allocs)
	}
}

// TestIndexSkewed: maps of long thin strips (rows against columns) still match the naive
// overlay, and the index stays small.
func TestIndexSkewed(t *testing.T) {
	var rows, cols []Rect
	for i := int32(0); i < 300; i++ {
		rows = append(rows, Rect{0, i, 300, i + 1})
		cols = append(cols, Rect{i, 0, i + 1, 300})
	}
	got := Overlay(rows, cols, 300, 300)
	if !slices.Equal(got, NaiveOverlay(rows, cols)) || len(got) != 300*300 {
		t.Fatalf("%d pieces", len(got))
	}
	ix := NewIndex(cols, 300, 300)
	if len(ix.items) > 8*len(cols)+16*300 {
		t.Errorf("index of %d strips holds %d entries", len(cols), len(ix.items))
	}
	checkInvariants(t, rows, cols, 300, 300, got)
}

func TestGenerateDeterministic(t *testing.T) {
	for _, n := range []int{1, 2, 10, 1000, 50_000} {
		a := Generate(n, 1000, 1000, 9)
		if !slices.Equal(a, Generate(n, 1000, 1000, 9)) {
			t.Fatalf("n=%d: two runs with one seed differ", n)
		}
		if slices.Equal(a, Generate(n, 1000, 1000, 10)) && n > 2 {
			t.Fatalf("n=%d: two seeds give the same map", n)
		}
		if len(a) < n*9/10 || len(a) > n {
			t.Fatalf("n=%d: %d rectangles", n, len(a))
		}
		m := &Map{File: "gen", Rects: a, W: 1000, H: 1000, IDs: make([]string, len(a)), pos: make([]int32, len(a))}
		for i := range a {
			m.IDs[i] = fmt.Sprint(i)
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
	}
	// A grid too small for n: every cell becomes a rectangle.
	if got := Generate(100, 5, 5, 1); len(got) != 25 {
		t.Fatalf("5x5 grid, 100 asked: %d rectangles", len(got))
	}
}

func TestCodecRejectsCorrupt(t *testing.T) {
	chunk := EncodeChunk(nil, 5, 42, []Rect{{0, 0, 2, 2}, {2, 0, 3, 1}})
	if f, rs, err := DecodeChunk(chunk, nil); err != nil || f != 5 || len(rs) != 2 || rs[1] != (Rect{2, 0, 3, 1}) {
		t.Fatalf("decode: %d %v %v", f, rs, err)
	}
	for k := range chunk {
		if _, _, err := DecodeChunk(chunk[:k], nil); err == nil {
			t.Errorf("chunk cut at %d: no error", k)
		}
	}
	ix := NewIndex([]Rect{{0, 0, 3, 2}}, 3, 2)
	res, err := ix.Kernel(chunk)
	if err != nil {
		t.Fatal(err)
	}
	for k := range res {
		if _, _, err := DecodeResult(res[:k], 1, func(Piece) {}); err == nil {
			t.Errorf("result cut at %d: no error", k)
		}
	}
	if _, _, err := DecodeResult(res, 0, func(Piece) {}); err == nil {
		t.Error("result naming a B index out of range: no error")
	}
	for _, s := range [][]byte{nil, []byte("X"), []byte("M\x01\x09\x01\x01\x01"), []byte("M\x01\x01\x01\x01\x05")} {
		if _, _, _, err := DecodeSetup(s); err == nil {
			t.Errorf("setup %q: no error", s)
		}
	}
}

func TestSetupPathMismatch(t *testing.T) {
	b := GenerateMap(100, 50, 50, 1)
	path := writeTemp(t, b, GeoJSON)
	setup := EncodeSetup(b, path)
	c := *b
	c.Rects = slices.Clone(b.Rects)
	c.Rects[0], c.Rects[1] = c.Rects[1], c.Rects[0]
	if _, _, _, err := DecodeSetup(EncodeSetup(&c, path)); err == nil {
		t.Fatal("a different map under the same path: no error")
	}
	if _, _, rs, err := DecodeSetup(setup); err != nil || !slices.Equal(rs, b.Rects) {
		t.Fatalf("same map: %v", err)
	}
}
