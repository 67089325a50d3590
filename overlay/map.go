package overlay

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"

	"github.com/mw-hpc/mw/internal/quote"
)

// MaxCoord is the largest coordinate a map may use; it keeps every area within an int64.
const MaxCoord = 1 << 30

// Rect is the half-open rectangle [X0,X1) x [Y0,Y1) with integer corners.
type Rect struct{ X0, Y0, X1, Y1 int32 }

// Area is the rectangle's area (0 for an empty or inverted one).
func (r Rect) Area() int64 {
	if r.X0 >= r.X1 || r.Y0 >= r.Y1 {
		return 0
	}
	return int64(r.X1-r.X0) * int64(r.Y1-r.Y0)
}

// Intersect returns r ∩ s and whether it has a positive area. Rectangles that only share an
// edge or a corner do not intersect.
func (r Rect) Intersect(s Rect) (Rect, bool) {
	p := Rect{max(r.X0, s.X0), max(r.Y0, s.Y0), min(r.X1, s.X1), min(r.Y1, s.Y1)}
	return p, p.X0 < p.X1 && p.Y0 < p.Y1
}

// Contains reports whether s lies inside r.
func (r Rect) Contains(s Rect) bool {
	return r.X0 <= s.X0 && s.X1 <= r.X1 && r.Y0 <= s.Y0 && s.Y1 <= r.Y1
}

func (r Rect) String() string {
	return fmt.Sprintf("[%d,%d)x[%d,%d)", r.X0, r.X1, r.Y0, r.Y1)
}

// Format is a map file's format, chosen by its extension.
type Format int

// Formats.
const (
	CSV Format = iota
	GeoJSON
)

func (f Format) String() string {
	if f == GeoJSON {
		return "GeoJSON"
	}
	return "CSV"
}

// FormatOf returns the format named by path's extension: .csv, or .geojson/.json. "-" (or "")
// is CSV (stdout), and so is a device or a FIFO whose name has neither (/dev/null).
func FormatOf(path string) (Format, error) {
	if path == "" || path == "-" {
		return CSV, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".geojson", ".json":
		return GeoJSON, nil
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		return CSV, nil // a device or a FIFO (-o /dev/null) named without a format: as stdout
	}
	return 0, fmt.Errorf("%s: unknown format: the name must end in .csv or .geojson", path)
}

// Map is one map: rectangles with ids and attributes, tiling [0,W) x [0,H).
type Map struct {
	File   string // the name messages use
	Format Format
	W, H   int32 // the extent [0,W) x [0,H)
	Rects  []Rect
	IDs    []string // one per rectangle
	Cols   []string // attribute names, without the a_/b_ prefix
	// Vals holds the attributes row by row: Vals[i*len(Cols)+j] is rectangle i's column j.
	// From CSV they are plain text; from GeoJSON (JSONVals) they are raw JSON values, ""
	// for a missing or null property.
	Vals     []string
	JSONVals bool
	// pos is each rectangle's CSV line (from 1) or GeoJSON feature index (from 0).
	pos []int32
	// bbox is the GeoJSON collection's declared extent, when it has one.
	bbox *Rect
	// sum is the CRC-32C of the file the map was read from.
	sum uint32
}

// Len is the number of rectangles.
func (m *Map) Len() int { return len(m.Rects) }

// Extent is [0,W) x [0,H).
func (m *Map) Extent() Rect { return Rect{0, 0, m.W, m.H} }

// Val returns rectangle i's attribute j.
func (m *Map) Val(i, j int) string { return m.Vals[i*len(m.Cols)+j] }

// where names rectangle i for a message: file, line or feature, id.
func (m *Map) where(i int) string {
	id := ""
	if i < len(m.IDs) {
		id = fmt.Sprintf(" (id %s)", quote.Clip(m.IDs[i]))
	}
	if m.Format == GeoJSON {
		return fmt.Sprintf("%s: feature %d%s", m.File, m.pos[i], id)
	}
	return fmt.Sprintf("%s:%d: rectangle%s", m.File, m.pos[i], id)
}

// errAt is a validation error naming rectangle i.
func (m *Map) errAt(i int, format string, args ...any) error {
	return &InputError{Where: m.where(i), Msg: fmt.Sprintf(format, args...)}
}

// InputError is a problem with an input map, naming where it is.
type InputError struct {
	Where string // "a.csv:7: rectangle (id "42")" or "b.geojson: feature 3 (id "9")"
	Msg   string
}

func (e *InputError) Error() string { return e.Where + ": " + e.Msg }

// ReadMap reads and validates the map at path, in the format its extension names.
func ReadMap(path string) (*Map, error) {
	m, err := readMap(path)
	if err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// readMap parses the map at path and checks each rectangle on its own, but not how they
// tile the extent.
func readMap(path string) (*Map, error) {
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m *Map
	if f == GeoJSON {
		m, err = ParseGeoJSON(path, data)
	} else {
		m, err = ParseCSV(path, data)
	}
	if err != nil {
		return nil, err
	}
	m.sum = crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
	return m, nil
}

// setExtent sets W and H from the bbox or the largest corner, then checks every rectangle
// lies inside it. Called by the parsers once all rectangles are read.
func (m *Map) setExtent() error {
	if len(m.Rects) == 0 {
		return &InputError{Where: m.File, Msg: "empty map: no rectangles"}
	}
	if m.bbox != nil {
		m.W, m.H = m.bbox.X1, m.bbox.Y1
		for i, r := range m.Rects {
			if !m.bbox.Contains(r) {
				return m.errAt(i, "%v lies outside the collection's bbox [0,%d)x[0,%d)", r, m.W, m.H)
			}
		}
		return nil
	}
	var w, h int32
	for _, r := range m.Rects {
		w, h = max(w, r.X1), max(h, r.Y1)
	}
	m.W, m.H = w, h
	return nil
}

// checkRect checks one rectangle on its own: corners in [0, MaxCoord], positive area.
func checkRect(x0, y0, x1, y1 int64) string {
	for _, c := range [...]struct {
		name string
		v    int64
	}{{"xmin", x0}, {"ymin", y0}, {"xmax", x1}, {"ymax", y1}} {
		if c.v < 0 || c.v > MaxCoord {
			return fmt.Sprintf("%s %d is out of the extent (coordinates are 0..%d)", c.name, c.v, MaxCoord)
		}
	}
	switch {
	case x0 == x1 || y0 == y1:
		return fmt.Sprintf("empty rectangle: xmin..xmax %d..%d, ymin..ymax %d..%d", x0, x1, y0, y1)
	case x0 > x1:
		return fmt.Sprintf("inverted rectangle: xmin %d > xmax %d", x0, x1)
	case y0 > y1:
		return fmt.Sprintf("inverted rectangle: ymin %d > ymax %d", y0, y1)
	}
	return ""
}
