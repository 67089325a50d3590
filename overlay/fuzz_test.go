package overlay

import (
	"bytes"
	"slices"
	"testing"
)

// Run with: go test -run='^$' -fuzz=FuzzCSV -fuzztime=5s ./overlay/
//           go test -run='^$' -fuzz=FuzzGeoJSON -fuzztime=5s ./overlay/

// FuzzCSV checks the CSV record reader against encoding/csv, and that whatever the CSV
// parser and the validator accept is a real tiling that survives a round trip and overlays
// with itself into exactly its own rectangles.
func FuzzCSV(f *testing.F) {
	f.Add([]byte(okCSV))
	f.Add([]byte("id,xmin,ymin,xmax,ymax\n1,0,0,2,2\n2,2,0,4,1\n3,2,1,4,2\n"))
	f.Add([]byte("id,xmin,ymin,xmax,ymax,a,b\r\n\"x\"\"y\",0,0,1,1,\"p\nq\",\r\n"))
	f.Add([]byte("\ufeffid,xmin,ymin,xmax,ymax\n1,0,0,1.0,1e0\n"))
	var buf bytes.Buffer
	WriteMap(&buf, CSV, GenerateMap(12, 6, 5, 1))
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		compareCSV(t, string(data))
		m, err := ParseCSV("f.csv", data)
		if err != nil {
			return
		}
		checkAccepted(t, m, CSV)
	})
}

// FuzzGeoJSON checks that whatever the GeoJSON parser and the validator accept is a real
// tiling that survives a round trip and overlays with itself into its own rectangles.
func FuzzGeoJSON(f *testing.F) {
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":1,"properties":{"v":"x"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","bbox":[0,0,2,1],"features":[{"type":"Feature","properties":{"id":"a","n":null},"geometry":{"type":"Polygon","coordinates":[[[0,0],[0,1],[2,1],[2,0],[0,0]]]}}]}`))
	var buf bytes.Buffer
	WriteMap(&buf, GeoJSON, GenerateMap(8, 4, 5, 2))
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseGeoJSON("f.geojson", data)
		if err != nil {
			return
		}
		checkAccepted(t, m, GeoJSON)
	})
}

func checkAccepted(t *testing.T, m *Map, f Format) {
	t.Helper()
	for i, r := range m.Rects {
		if r.Area() <= 0 || !m.Extent().Contains(r) {
			t.Fatalf("accepted rectangle %d %v: empty or outside %v", i, r, m.Extent())
		}
	}
	if len(m.IDs) != m.Len() || len(m.Vals) != m.Len()*len(m.Cols) {
		t.Fatalf("%d rects, %d ids, %d values for %d columns", m.Len(), len(m.IDs), len(m.Vals), len(m.Cols))
	}
	// The round trip: write the map back and read it again.
	var buf bytes.Buffer
	if err := WriteMap(&buf, f, m); err != nil {
		t.Fatal(err)
	}
	var m2 *Map
	var err error
	if f == CSV {
		m2, err = ParseCSV("f2.csv", buf.Bytes())
	} else {
		m2, err = ParseGeoJSON("f2.geojson", buf.Bytes())
	}
	if err != nil {
		t.Fatalf("reading back what we wrote: %v\n%s", err, buf.Bytes())
	}
	if !slices.Equal(m2.Rects, m.Rects) || !slices.Equal(m2.IDs, m.IDs) || !slices.Equal(m2.Cols, m.Cols) || !slices.Equal(m2.Vals, m.Vals) {
		t.Fatalf("round trip changed the map:\n%q\n%q\n%q\n%q", m.IDs, m2.IDs, m.Vals, m2.Vals)
	}
	if m.W*m.H > 1<<22 || m.Validate() != nil {
		return
	}
	// A valid map overlaid with itself gives its own rectangles, each once.
	got := Overlay(m.Rects, m.Rects, m.W, m.H)
	if len(got) != m.Len() {
		t.Fatalf("self-overlay: %d pieces for %d rectangles", len(got), m.Len())
	}
	for i, p := range got {
		if int(p.A) != i || p.B != p.A || p.R != m.Rects[i] {
			t.Fatalf("self-overlay piece %d: %+v", i, p)
		}
	}
}

// FuzzResult feeds arbitrary bytes to the manager's and the worker's decoders: they must
// fail cleanly, never panic, and accept only what decodes to pieces with B indexes in range.
func FuzzResult(f *testing.F) {
	ix := NewIndex([]Rect{{0, 0, 2, 1}, {2, 0, 4, 1}}, 4, 1)
	chunk := EncodeChunk(nil, 3, 7, []Rect{{0, 0, 3, 1}, {3, 0, 4, 1}})
	res, _ := ix.Kernel(chunk)
	f.Add(chunk)
	f.Add(res)
	f.Add(EncodeSetup(&Map{W: 4, H: 1, Rects: []Rect{{0, 0, 4, 1}}}, ""))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, rs, err := DecodeChunk(data, nil); err == nil {
			for _, r := range rs {
				if r.X0 < 0 || r.Y0 < 0 || r.X1 < r.X0 || r.Y1 < r.Y0 || r.X1 > MaxCoord || r.Y1 > MaxCoord {
					t.Fatalf("decoded a bad rectangle %v", r)
				}
			}
			ix.Kernel(data)
		}
		DecodeResult(data, 2, func(p Piece) {
			if p.B < 0 || p.B >= 2 {
				t.Fatalf("piece with B index %d", p.B)
			}
		})
		ResultRange(data)
		if len(data) > 2 && data[2] == setupInline {
			DecodeSetup(data)
		}
	})
}
