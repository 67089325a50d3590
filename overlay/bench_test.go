package overlay

import (
	"bytes"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The reference sizes: two 50,000-rectangle maps on 1000 x 1000, and 1,000,000-rectangle
// maps (on 5000 x 5000, the same density).
var (
	bench50kOnce sync.Once
	bench50kA    []Rect
	bench50kB    []Rect
	bench1MOnce  sync.Once
	bench1MCSV   []byte
)

func maps50k() ([]Rect, []Rect) {
	bench50kOnce.Do(func() {
		bench50kA = Generate(50_000, 1000, 1000, 1)
		bench50kB = Generate(50_000, 1000, 1000, 2)
	})
	return bench50kA, bench50kB
}

func csv1M() []byte {
	bench1MOnce.Do(func() {
		var buf bytes.Buffer
		WriteMap(&buf, CSV, GenerateMap(1_000_000, 5000, 5000, 1))
		bench1MCSV = buf.Bytes()
	})
	return bench1MCSV
}

// benchOverlay overlays the first na rectangles of A (all when na is 0) with all of B, and
// reports pieces/s and the time the whole of A would take at that rate.
func benchOverlay(b *testing.B, na int, naive bool) {
	a, bm := maps50k()
	if na > 0 {
		a = a[:na]
	}
	var ix *Index
	if !naive {
		ix = NewIndex(bm, 1000, 1000)
	}
	hits := make([]Hit, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	pieces := 0
	for b.Loop() {
		for _, r := range a {
			if naive {
				for j, s := range bm {
					if p, ok := r.Intersect(s); ok {
						hits = append(hits, Hit{int32(j), p})
					}
				}
			} else {
				hits = ix.Query(r, hits[:0])
			}
			pieces += len(hits)
			hits = hits[:0]
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(pieces)/sec, "pieces/s")
	b.ReportMetric(sec/float64(b.N)*float64(len(maps50kA()))/float64(len(a)), "s/50k-A")
}

func maps50kA() []Rect { a, _ := maps50k(); return a }

// The naive kernel on the first 500 rectangles of A (1% of it) against all of B; s/50k-A
// extrapolates to the whole map.
func BenchmarkOverlayNaive50k(b *testing.B)   { benchOverlay(b, 500, true) }
func BenchmarkOverlayIndexed50k(b *testing.B) { benchOverlay(b, 0, false) }

// BenchmarkIndexBuild50k builds the index on B, once per worker rank.
func BenchmarkIndexBuild50k(b *testing.B) {
	_, bm := maps50k()
	b.ReportAllocs()
	for b.Loop() {
		NewIndex(bm, 1000, 1000)
	}
}

// BenchmarkKernel50k runs the worker's whole path: decode chunks of 2048, query, encode.
func BenchmarkKernel50k(b *testing.B) {
	a, bm := maps50k()
	ix := NewIndex(bm, 1000, 1000)
	var chunks [][]byte
	for i := 0; i < len(a); i += 2048 {
		chunks = append(chunks, EncodeChunk(nil, i, 0, a[i:min(i+2048, len(a))]))
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range chunks {
			if _, err := ix.Kernel(c); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// benchParse parses (and with validate, validates) the 1,000,000-rectangle CSV map.
func benchParse(b *testing.B, validate bool) {
	data := csv1M()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := ParseCSV("1M.csv", data)
		if err != nil {
			b.Fatal(err)
		}
		if validate {
			if err := m.Validate(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "rects/s")
}

func BenchmarkParseCSV1M(b *testing.B)         { benchParse(b, false) }
func BenchmarkParseValidateCSV1M(b *testing.B) { benchParse(b, true) }

// BenchmarkEncodingCSV1M only splits the same text into records with encoding/csv, for
// comparison with our reader (which also parses the numbers).
func BenchmarkEncodingCSV1M(b *testing.B) {
	data := csv1M()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := csv.NewReader(bytes.NewReader(data))
		r.ReuseRecord = true
		for {
			if _, err := r.Read(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEncodingCSVParse1M is the alternative to ParseCSV built on encoding/csv: records,
// then the same coordinate parsing and storage (ids and attributes kept, rectangles built).
func BenchmarkEncodingCSVParse1M(b *testing.B) {
	data := csv1M()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := csv.NewReader(bytes.NewReader(data))
		r.ReuseRecord = true
		r.Read() // header
		var rects []Rect
		var ids, vals []string
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			var c [4]int64
			for k := range c {
				v, ok := parseCoord(rec[1+k])
				if !ok {
					b.Fatal("bad coordinate")
				}
				c[k] = v
			}
			rects = append(rects, Rect{int32(c[0]), int32(c[1]), int32(c[2]), int32(c[3])})
			ids = append(ids, rec[0])
			vals = append(vals, rec[5:]...)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "rects/s")
}

// BenchmarkValidate1M is the id and tiling check alone.
func BenchmarkValidate1M(b *testing.B) {
	m, err := ParseCSV("1M.csv", csv1M())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteCSV50k formats the 50k x 50k overlay's rows (the manager's share of work).
func BenchmarkWriteCSV50k(b *testing.B) {
	am := GenerateMap(50_000, 1000, 1000, 1)
	bmap := GenerateMap(50_000, 1000, 1000, 2)
	pieces := Overlay(am.Rects, bmap.Rects, 1000, 1000)
	w := NewWriter(io.Discard, CSV, am, bmap)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for k, p := range pieces {
			w.Piece(p)
			if k%4096 == 0 {
				w.Flush()
			}
		}
		w.Flush()
	}
	b.ReportMetric(float64(b.N)*float64(len(pieces))/b.Elapsed().Seconds(), "pieces/s")
}

// BenchmarkCommand1M runs the whole command alone (in process, one rank computing with the
// manager) on two 1,000,000-rectangle CSV maps: read, validate, overlay, write.
func BenchmarkCommand1M(b *testing.B) {
	dir := b.TempDir()
	pa, pb := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	os.WriteFile(pa, csv1M(), 0o644)
	var buf bytes.Buffer
	WriteMap(&buf, CSV, GenerateMap(1_000_000, 5000, 5000, 2))
	os.WriteFile(pb, buf.Bytes(), 0o644)
	out := filepath.Join(dir, "o.csv")
	for _, chunk := range []string{"auto", "4096"} {
		b.Run("chunk="+chunk, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := runInproc(b, Command, 1, "-a", pa, "-b", pb, "-o", out, "--chunk", chunk, "--quiet"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
