package overlay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/mw-hpc/mw/internal/quote"
)

type gjCollection struct {
	Type     string      `json:"type"`
	BBox     []float64   `json:"bbox"`
	Features []gjFeature `json:"features"`
}

type gjFeature struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"`
	Properties json.RawMessage `json:"properties"`
	Geometry   *gjGeometry     `json:"geometry"`
}

type gjGeometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

// ParseGeoJSON parses a map in GeoJSON (a FeatureCollection of rectangular Polygon
// features; name is the file name for messages) and checks each rectangle on its own. It does
// not check how the rectangles tile the extent (see Validate).
func ParseGeoJSON(name string, data []byte) (*Map, error) {
	var fc gjCollection
	if err := json.Unmarshal(data, &fc); err != nil {
		return nil, &InputError{Where: name, Msg: "not valid GeoJSON: " + err.Error()}
	}
	if fc.Type != "FeatureCollection" {
		return nil, &InputError{Where: name, Msg: fmt.Sprintf("type %q: want a FeatureCollection", fc.Type)}
	}
	m := &Map{File: name, Format: GeoJSON, JSONVals: true}
	if fc.BBox != nil {
		if len(fc.BBox) != 4 {
			return nil, &InputError{Where: name, Msg: fmt.Sprintf("bbox has %d numbers: want [xmin, ymin, xmax, ymax]", len(fc.BBox))}
		}
		var c [4]int64
		for k, v := range fc.BBox {
			iv, ok := intCoord(v)
			if !ok {
				return nil, &InputError{Where: name, Msg: fmt.Sprintf("bbox %v: coordinate %v is not an integer", fc.BBox, v)}
			}
			c[k] = iv
		}
		if c[0] != 0 || c[1] != 0 {
			return nil, &InputError{Where: name, Msg: fmt.Sprintf("bbox %v: the extent must start at 0,0", fc.BBox)}
		}
		if msg := checkRect(c[0], c[1], c[2], c[3]); msg != "" {
			return nil, &InputError{Where: name, Msg: "bbox: " + msg}
		}
		m.bbox = &Rect{0, 0, int32(c[2]), int32(c[3])}
	}
	n := len(fc.Features)
	m.Rects = make([]Rect, 0, n)
	m.IDs = make([]string, 0, n)
	m.pos = make([]int32, 0, n)
	props := make([]map[string]string, 0, n)
	col := map[string]int{}
	for i, f := range fc.Features {
		where := fmt.Sprintf("%s: feature %d", name, i)
		if f.Type != "Feature" {
			return nil, &InputError{Where: where, Msg: fmt.Sprintf("type %q: want a Feature", f.Type)}
		}
		p, order, err := decodeProps(f.Properties)
		if err != nil {
			return nil, &InputError{Where: where, Msg: "properties: " + err.Error()}
		}
		idRaw := f.ID
		if len(idRaw) == 0 || string(idRaw) == "null" {
			idRaw = json.RawMessage(p["id"])
		}
		id, ok := jsonScalarText(idRaw)
		if !ok {
			return nil, &InputError{Where: where, Msg: "no id: want an \"id\" member or property, a string or a number"}
		}
		if id == "" {
			return nil, &InputError{Where: where, Msg: "empty id"}
		}
		where = fmt.Sprintf("%s (id %s)", where, quote.Clip(id))
		delete(p, "id")
		for _, k := range order {
			if _, seen := col[k]; !seen && k != "id" {
				col[k] = len(m.Cols)
				m.Cols = append(m.Cols, k)
			}
		}
		r, msg := geometryRect(f.Geometry)
		if msg != "" {
			return nil, &InputError{Where: where, Msg: msg}
		}
		m.Rects = append(m.Rects, r)
		m.IDs = append(m.IDs, id)
		m.pos = append(m.pos, int32(i))
		props = append(props, p)
	}
	if k := len(m.Cols); k > 0 {
		m.Vals = make([]string, n*k)
		for i, p := range props {
			for name, v := range p {
				m.Vals[i*k+col[name]] = v
			}
		}
	}
	if err := m.setExtent(); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeProps decodes a properties object into raw JSON values, with the keys in order.
func decodeProps(raw json.RawMessage) (map[string]string, []string, error) {
	p := map[string]string{}
	if len(raw) == 0 || string(raw) == "null" {
		return p, nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("want an object")
	}
	var order []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		if _, dup := p[k]; !dup {
			order = append(order, k)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, nil, err
		}
		if v := b.String(); v != "null" {
			p[k] = v // null is the same as a missing property: ""
		} else {
			p[k] = ""
		}
	}
	return p, order, nil
}

// jsonScalarText returns the text of a JSON string or number.
func jsonScalarText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return "", false
	}
	return n.String(), true
}

// geometryRect reads a rectangle from a Polygon geometry: one closed ring of 5 positions
// going around an axis-aligned rectangle with integer corners. It returns a message saying
// what is wrong, or "".
func geometryRect(g *gjGeometry) (Rect, string) {
	if g == nil {
		return Rect{}, "no geometry: want a Polygon"
	}
	if g.Type != "Polygon" {
		return Rect{}, fmt.Sprintf("geometry is a %q: want a Polygon", g.Type)
	}
	var rings [][][]float64
	if err := json.Unmarshal(g.Coordinates, &rings); err != nil {
		return Rect{}, "polygon coordinates: want [[[x,y], ...]]: " + err.Error()
	}
	if len(rings) != 1 {
		return Rect{}, fmt.Sprintf("polygon has %d rings: want one ring, no holes", len(rings))
	}
	ring := rings[0]
	if len(ring) < 4 {
		return Rect{}, fmt.Sprintf("ring has %d positions: want 5 (a closed rectangle)", len(ring))
	}
	var pts [5][2]int64
	for k, p := range ring {
		if len(p) < 2 {
			return Rect{}, fmt.Sprintf("position %d has %d numbers: want x,y", k, len(p))
		}
		if k >= 5 {
			continue
		}
		for d := range 2 {
			v, ok := intCoord(p[d])
			if !ok {
				return Rect{}, fmt.Sprintf("position %d: coordinate %v is not an integer", k, p[d])
			}
			pts[k][d] = v
		}
	}
	if first, last := ring[0], ring[len(ring)-1]; first[0] != last[0] || first[1] != last[1] {
		return Rect{}, "unclosed ring: its last position is not its first"
	}
	if len(ring) != 5 {
		return Rect{}, fmt.Sprintf("ring has %d positions: want 5 (a closed rectangle)", len(ring))
	}
	x0, y0, x1, y1 := pts[0][0], pts[0][1], pts[0][0], pts[0][1]
	for _, p := range pts[1:4] {
		x0, x1 = min(x0, p[0]), max(x1, p[0])
		y0, y1 = min(y0, p[1]), max(y1, p[1])
	}
	if msg := checkRect(x0, y0, x1, y1); msg != "" {
		return Rect{}, msg
	}
	for k := range 4 {
		a, b := pts[k], pts[k+1]
		if (a[0] == b[0]) == (a[1] == b[1]) {
			return Rect{}, "not a rectangle: its ring must go around 4 corners along axis-aligned edges"
		}
		if a[0] != x0 && a[0] != x1 || a[1] != y0 && a[1] != y1 {
			return Rect{}, "not a rectangle: its ring must go around 4 corners along axis-aligned edges"
		}
	}
	return Rect{int32(x0), int32(y0), int32(x1), int32(y1)}, ""
}

// intCoord converts a JSON number to an integer coordinate, reporting false when it has a
// fractional part or is absurdly large.
func intCoord(v float64) (int64, bool) {
	if v != math.Trunc(v) || math.Abs(v) > 1<<40 {
		return 0, false
	}
	return int64(v), true
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s) // never fails for a string
	return append(dst, b...)
}

// jsonToText is the CSV text of a raw JSON property value: a string's contents, "" for null
// or missing, and the JSON text of anything else.
func jsonToText(raw string) string {
	if raw == "" || raw == "null" {
		return ""
	}
	if raw[0] == '"' {
		if strings.IndexByte(raw, '\\') < 0 {
			return raw[1 : len(raw)-1]
		}
		var s string
		if json.Unmarshal([]byte(raw), &s) == nil {
			return s
		}
	}
	return raw
}
