package overlay

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// grid2 is a valid 2x2 map of 4 unit... no: a 4x2 extent cut into three rectangles.
const okCSV = `id,xmin,ymin,xmax,ymax,soil
a,0,0,2,2,sand
b,2,0,4,1,clay
c,2,1,4,2,"loam, wet"
`

func TestParseCSV(t *testing.T) {
	m, err := ParseCSV("ok.csv", []byte(okCSV))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.W != 4 || m.H != 2 || m.Len() != 3 {
		t.Fatalf("extent %dx%d, %d rects", m.W, m.H, m.Len())
	}
	if want := []string{"soil"}; !slices.Equal(m.Cols, want) {
		t.Errorf("cols %q, want %q", m.Cols, want)
	}
	if got := m.Val(2, 0); got != "loam, wet" {
		t.Errorf("quoted value %q", got)
	}
	if m.Rects[1] != (Rect{2, 0, 4, 1}) || m.IDs[1] != "b" {
		t.Errorf("rect 1 = %v %q", m.Rects[1], m.IDs[1])
	}
}

// TestValidation gives each kind of bad map and the words its one-line message must hold.
func TestValidation(t *testing.T) {
	const hdr = "id,xmin,ymin,xmax,ymax\n"
	csvCases := []struct {
		name, text string
		want       []string
	}{
		{"empty file", "", []string{"bad.csv", "empty file"}},
		{"empty map", hdr, []string{"bad.csv", "empty map"}},
		{"bad header", "id,x0,y0,x1,y1\n1,0,0,1,1\n", []string{"bad.csv:1", "header"}},
		{"empty rect", hdr + "1,0,0,2,2\n2,2,0,2,2\n", []string{"bad.csv:3", `"2"`, "empty rectangle"}},
		{"inverted x", hdr + "1,0,0,2,2\n2,4,0,2,2\n", []string{"bad.csv:3", `"2"`, "inverted", "xmin 4 > xmax 2"}},
		{"inverted y", hdr + "1,0,3,2,2\n", []string{"bad.csv:2", `"1"`, "inverted", "ymin 3 > ymax 2"}},
		{"non-integer", hdr + "1,0,0,2,2\n2,2,0,3.5,2\n", []string{"bad.csv:3", `"2"`, `xmax "3.5" is not an integer`}},
		{"not a number", hdr + "1,0,0,two,2\n", []string{"bad.csv:2", `"1"`, "not an integer"}},
		{"negative", hdr + "1,-1,0,2,2\n", []string{"bad.csv:2", "xmin -1 is out of the extent"}},
		{"too large", hdr + "1,0,0,2,2000000000\n", []string{"bad.csv:2", "ymax 2000000000 is out of the extent"}},
		{"overlap", hdr + "1,0,0,2,2\n2,2,0,4,2\n3,1,1,3,2\n", []string{"bad.csv:4", `"3"`, "overlaps", `id "1" (line 2)`}},
		{"duplicate rect", hdr + "1,0,0,2,2\n2,0,0,2,2\n", []string{"bad.csv:3", `"2"`, "overlaps", `id "1"`}},
		{"crossing overlap", hdr + "1,0,0,4,1\n2,0,1,1,2\n3,1,1,3,2\n4,3,1,4,2\n5,2,0,3,2\n", []string{`"5"`, "overlaps", `"1"`}},
		{"gap inside", hdr + "1,0,0,2,2\n2,3,0,4,2\n3,2,1,3,2\n", []string{"bad.csv", "gap", "[2,3)x[0,1)"}},
		{"gap at the left", hdr + "1,1,0,2,2\n", []string{"bad.csv", "gap", "[0,1)x[0,1)"}},
		{"gap at the bottom", hdr + "1,0,1,2,2\n", []string{"bad.csv", "gap", "[0,1)x[0,1)"}},
		{"gap top right", hdr + "1,0,0,2,1\n2,0,1,1,2\n", []string{"bad.csv", "gap", "[1,2)x[1,2)"}},
		{"empty id", hdr + "1,0,0,2,2\n,2,0,4,2\n", []string{"bad.csv:3", "empty id"}},
		{"duplicate id", hdr + "1,0,0,2,2\n7,2,0,4,1\n7,2,1,4,2\n", []string{"bad.csv:4", `"7"`, "duplicate id", "line 3"}},
		{"short line", hdr + "1,0,0,2,2\n2,2,0,4\n", []string{"bad.csv:3", "malformed line", "4 fields", "header has 5"}},
		{"long line", hdr + "1,0,0,2,2,x\n", []string{"bad.csv:2", "malformed line", "6 fields"}},
		{"bad quotes", hdr + "1,0,0,2,2\n\"2,2,0,4,2\n", []string{"bad.csv:3", "malformed line", "quoted"}},
		{"bare quote", hdr + "1,0,0,2,2\n2\"x,2,0,4,2\n", []string{"bad.csv:3", "malformed line", "bare"}},
	}
	for _, c := range csvCases {
		t.Run("csv/"+c.name, func(t *testing.T) {
			m, err := ParseCSV("bad.csv", []byte(c.text))
			if err == nil {
				err = m.Validate()
			}
			checkErr(t, err, c.want)
		})
	}

	const fc = `{"type":"FeatureCollection","features":[%s]}`
	feat := func(id, coords string) string {
		return `{"type":"Feature","id":` + id + `,"properties":{"v":1},"geometry":{"type":"Polygon","coordinates":` + coords + `}}`
	}
	sq := func(x0, y0, x1, y1 string) string {
		return "[[[" + x0 + "," + y0 + "],[" + x1 + "," + y0 + "],[" + x1 + "," + y1 + "],[" + x0 + "," + y1 + "],[" + x0 + "," + y0 + "]]]"
	}
	gj := func(fs ...string) string { return strings.Replace(fc, "%s", strings.Join(fs, ","), 1) }
	good := feat(`"g"`, sq("0", "0", "1", "1"))
	geoCases := []struct {
		name, text string
		want       []string
	}{
		{"not json", `{"type":`, []string{"bad.geojson", "not valid GeoJSON"}},
		{"not a collection", `{"type":"Feature"}`, []string{"bad.geojson", "FeatureCollection"}},
		{"empty map", gj(), []string{"bad.geojson", "empty map"}},
		{"unclosed ring", gj(good, feat(`"u"`, `[[[1,0],[2,0],[2,1],[1,1],[1,0.5]]]`)), []string{"feature 1", `"u"`, "not an integer"}},
		{"unclosed ring 2", gj(good, feat(`"u"`, `[[[1,0],[2,0],[2,1],[1,1],[1,2]]]`)), []string{"feature 1", `"u"`, "unclosed ring"}},
		{"four positions", gj(feat(`"u"`, `[[[0,0],[1,0],[1,1],[0,0]]]`)), []string{"feature 0", "4 positions"}},
		{"not a rectangle", gj(feat(`"t"`, `[[[0,0],[2,0],[1,1],[0,1],[0,0]]]`)), []string{"feature 0", `"t"`, "not a rectangle"}},
		{"diagonal", gj(feat(`"d"`, `[[[0,0],[1,1],[1,0],[0,1],[0,0]]]`)), []string{"feature 0", "not a rectangle"}},
		{"hole", gj(feat(`"h"`, `[[[0,0],[1,0],[1,1],[0,1],[0,0]],[[0,0],[1,0],[1,1],[0,1],[0,0]]]`)), []string{"feature 0", "2 rings"}},
		{"multipolygon", gj(`{"type":"Feature","id":1,"geometry":{"type":"MultiPolygon","coordinates":[]}}`), []string{"feature 0", `"1"`, "MultiPolygon"}},
		{"no geometry", gj(`{"type":"Feature","id":1}`), []string{"feature 0", "no geometry"}},
		{"empty id", gj(feat(`""`, sq("0", "0", "1", "1"))), []string{"feature 0", "empty id"}},
		{"no id", gj(`{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":` + sq("0", "0", "1", "1") + `}}`), []string{"feature 0", "no id"}},
		{"non-integer", gj(feat(`"n"`, sq("0", "0", "1.25", "1"))), []string{"feature 0", `"n"`, "1.25 is not an integer"}},
		{"negative", gj(feat(`"n"`, sq("-1", "0", "1", "1"))), []string{"feature 0", "out of the extent"}},
		{"empty", gj(feat(`"e"`, sq("0", "0", "0", "1"))), []string{"feature 0", `"e"`, "empty rectangle"}},
		{"outside bbox", `{"type":"FeatureCollection","bbox":[0,0,1,1],"features":[` + feat(`"o"`, sq("0", "0", "2", "1")) + `]}`, []string{"feature 0", `"o"`, "outside the collection's bbox"}},
		{"bbox gap", `{"type":"FeatureCollection","bbox":[0,0,2,1],"features":[` + good + `]}`, []string{"bad.geojson", "gap", "[1,2)x[0,1)"}},
		{"bbox offset", `{"type":"FeatureCollection","bbox":[1,0,2,1],"features":[` + good + `]}`, []string{"bad.geojson", "bbox", "start at 0,0"}},
		{"duplicate id", gj(good, feat(`"g"`, sq("1", "0", "2", "1"))), []string{"feature 1", `"g"`, "duplicate id", "feature 0"}},
		{"overlap", gj(feat(`"p"`, sq("0", "0", "2", "1")), feat(`"q"`, sq("1", "0", "2", "1"))), []string{"feature 1", `"q"`, "overlaps", `"p"`}},
	}
	for _, c := range geoCases {
		t.Run("geojson/"+c.name, func(t *testing.T) {
			m, err := ParseGeoJSON("bad.geojson", []byte(c.text))
			if err == nil {
				err = m.Validate()
			}
			checkErr(t, err, c.want)
		})
	}
}

func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", want)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("message spans lines: %q", msg)
	}
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Errorf("%q is not an *InputError", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q lacks %q", msg, w)
		}
	}
}

func TestDifferentExtents(t *testing.T) {
	a := GenerateMap(10, 20, 10, 1)
	b := GenerateMap(10, 20, 11, 1)
	a.File, b.File = "a.csv", "b.csv"
	err := CheckSameExtent(a, b)
	if err == nil || !strings.Contains(err.Error(), "different extents") || !strings.Contains(err.Error(), "b.csv") {
		t.Fatalf("got %v", err)
	}
	if err := CheckSameExtent(a, a); err != nil {
		t.Fatal(err)
	}
}

// TestRoundTrip writes generated maps in both formats, reads them back and gets the same map;
// a GeoJSON map written as CSV and read back keeps its values.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := GenerateMap(500, 300, 200, 7)
	m.IDs[3] = `odd "id", with comma`
	m.Vals[4] = "  spaced"
	m.Vals[5] = "line\nbreak"
	m.Vals[6] = "ünïcode \u2028 \x01"
	for _, f := range []Format{CSV, GeoJSON} {
		path := filepath.Join(dir, "m"+map[Format]string{CSV: ".csv", GeoJSON: ".geojson"}[f])
		var buf bytes.Buffer
		if err := WriteMap(&buf, f, m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadMap(path)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		if got.W != m.W || got.H != m.H || !slices.Equal(got.Rects, m.Rects) || !slices.Equal(got.IDs, m.IDs) || !slices.Equal(got.Cols, m.Cols) {
			t.Fatalf("%v: map differs after a round trip", f)
		}
		for i := range m.Vals {
			v := got.Vals[i]
			if got.JSONVals {
				v = jsonToText(v)
			}
			if v != m.Vals[i] {
				t.Fatalf("%v: value %d: %q, want %q", f, i, v, m.Vals[i])
			}
		}
	}
}

func TestGeoJSONProperties(t *testing.T) {
	text := `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"id":5,"zeta":"z","alpha":{"k":[1, 2]}},"geometry":{"type":"Polygon","coordinates":[[[0,0],[0,1],[1,1],[1,0],[0,0]]]}},
{"type":"Feature","id":"six","properties":{"alpha":null,"extra":true},"geometry":{"type":"Polygon","coordinates":[[[1,0],[2,0],[2,1],[1,1],[1,0]]]}}]}`
	m, err := ParseGeoJSON("p.geojson", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.IDs, []string{"5", "six"}) {
		t.Errorf("ids %q", m.IDs)
	}
	if !slices.Equal(m.Cols, []string{"zeta", "alpha", "extra"}) {
		t.Errorf("cols %q (want first-seen order)", m.Cols)
	}
	if want := []string{`"z"`, `{"k":[1,2]}`, ``, ``, ``, `true`}; !slices.Equal(m.Vals, want) {
		t.Errorf("vals %q, want %q", m.Vals, want)
	}
}

// TestCSVReaderMatchesEncodingCSV splits tricky texts with both readers.
func TestCSVReaderMatchesEncodingCSV(t *testing.T) {
	for _, s := range []string{
		"a,b\n", "a,b", "a,b\r\n", "\n\na\n", "\r\na,b\r\n", `"a""b",c` + "\n", `"a` + "\n" + `b",c`,
		`"a` + "\r\n" + `b",c` + "\r\n", "a\rb,c\n", `"x"` + "\r", "x\r", `"a",`, `,`, "a,\"\"\n",
		`"a"b`, `a"b`, `"a`, " \"a\"", "\"\"\"\"", "a,b\r", "a\n\r\nb", "\r", "\r\r\n",
	} {
		compareCSV(t, s)
	}
}

// compareCSV checks csvReader against encoding/csv on s: the same records, or both fail.
func compareCSV(t *testing.T, s string) {
	t.Helper()
	cr := csv.NewReader(strings.NewReader(s))
	cr.FieldsPerRecord = -1
	var want [][]string
	var wantErr error
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			wantErr = err
			break
		}
		want = append(want, rec)
	}
	r := &csvReader{s: s, line: 1}
	var got [][]string
	var gotErr error
	for {
		rec, _, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			gotErr = err
			break
		}
		got = append(got, slices.Clone(rec))
	}
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("%q: encoding/csv error %v, ours %v", s, wantErr, gotErr)
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("%q: got %q, encoding/csv %q", s, got, want)
	}
}

func TestParseCoord(t *testing.T) {
	for _, c := range []struct {
		s  string
		v  int64
		ok bool
	}{
		{"0", 0, true}, {"12", 12, true}, {"-3", -3, true}, {"+4", 4, true}, {"7.0", 7, true}, {"1e3", 1000, true},
		{"", 0, false}, {"-", 0, false}, {"1.5", 0, false}, {"x", 0, false}, {"NaN", 0, false}, {"Inf", 0, false},
		{"12345678901", 12345678901, true}, {" 5", 5, true},
	} {
		v, ok := parseCoord(c.s)
		if v != c.v || ok != c.ok {
			t.Errorf("parseCoord(%q) = %d, %v; want %d, %v", c.s, v, ok, c.v, c.ok)
		}
	}
}

func TestFormatOf(t *testing.T) {
	for p, want := range map[string]Format{"a.csv": CSV, "A.CSV": CSV, "b.geojson": GeoJSON, "c.json": GeoJSON, "-": CSV, os.DevNull: CSV} {
		if f, err := FormatOf(p); err != nil || f != want {
			t.Errorf("FormatOf(%q) = %v, %v", p, f, err)
		}
	}
	if _, err := FormatOf("x.shp"); err == nil {
		t.Error("x.shp: no error")
	}
}

// TestValidateLarge checks that a generated 1,000,000-rectangle map validates, and fast.
func TestValidateLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	m := GenerateMap(1_000_000, 5000, 5000, 3)
	var buf bytes.Buffer
	if err := WriteMap(&buf, CSV, m); err != nil {
		t.Fatal(err)
	}
	got, err := ParseCSV("big.csv", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	// Break it: shrink one rectangle (a gap), then grow it into its neighbour (an overlap).
	r := got.Rects[500_000]
	got.Rects[500_000].X1--
	if err := got.Validate(); err == nil || !strings.Contains(err.Error(), "gap") {
		t.Errorf("shrunk: %v", err)
	}
	got.Rects[500_000] = r
	if r.X1 < got.W {
		got.Rects[500_000].X1++
		if err := got.Validate(); err == nil || !strings.Contains(err.Error(), "overlaps") {
			t.Errorf("grown: %v", err)
		}
	}
}

// TestParseErrorsClipUserData: a binary file given as a map makes a one-line error of
// reasonable length, the file's bytes quoted and cut, not dumped.
func TestParseErrorsClipUserData(t *testing.T) {
	junk := strings.Repeat("\x00\x01binary", 2000)
	for _, data := range []string{
		junk + "\n", // the header
		"id,xmin,ymin,xmax,ymax\n" + junk + ",x,0,1,1\n",  // an id
		"id,xmin,ymin,xmax,ymax\nr1," + junk + ",0,1,1\n", // a coordinate
	} {
		_, err := ParseCSV("junk.csv", []byte(data))
		if err == nil {
			t.Fatal("junk parsed")
		}
		if msg := err.Error(); len(msg) > 300 || strings.Contains(msg, "\n") || !strings.Contains(msg, `"...`) {
			t.Errorf("error of %d bytes: %.400s", len(msg), msg)
		}
	}
}
