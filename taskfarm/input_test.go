package taskfarm

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mw-hpc/mw/partition"
)

// readRecords reads every record of data with the delimiter.
func readRecords(t testing.TB, data []byte, delim string) []string {
	t.Helper()
	rr := newRecordReader(bytes.NewReader(data), delim)
	var out []string
	for {
		r, err := rr.next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(r))
	}
}

func TestRecordReader(t *testing.T) {
	long := strings.Repeat("x", 200000)
	tests := []struct {
		in, delim string
		want      []string
	}{
		{"", "\n", nil},
		{"\n", "\n", []string{""}},
		{"a", "\n", []string{"a"}},
		{"a\n\nb c\n\n", "\n", []string{"a", "", "b c", ""}},
		{"a\r\nb", "\n", []string{"a\r", "b"}},
		{long + "\nshort", "\n", []string{long, "short"}},
		{"a\nb\x00c\x00", "\x00", []string{"a\nb", "c"}},
		{"aXYbXYc", "XY", []string{"a", "b", "c"}},
		{"aXYbXY", "XY", []string{"a", "b"}},
		{"aXbYXY" + long + "XY", "XY", []string{"aXbY", long}},
		{"XYXY", "XY", []string{"", ""}},
	}
	for _, tt := range tests {
		got := readRecords(t, []byte(tt.in), tt.delim)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%.20q split at %q: %q, want %q", tt.in, tt.delim, got, tt.want)
		}
		if len(tt.delim) == 1 {
			if n, err := countRecords(strings.NewReader(tt.in), tt.delim[0]); err != nil || n != int64(len(tt.want)) {
				t.Errorf("%.20q: countRecords = %d, %v; want %d", tt.in, n, err, len(tt.want))
			}
		}
	}
}

// FuzzRecords checks that the record reader loses nothing: the records joined with the
// delimiter give back the input, countRecords agrees, and through the job source and
// the chunk framing every record arrives with its number.
func FuzzRecords(f *testing.F) {
	for _, s := range []string{"", "\n", "a\n\nb", "a\nb\n", "\n\n\n", "x\r\ny", "a\x00b", strings.Repeat("z", 70000) + "\n"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, nul bool) {
		delim := "\n"
		if nul {
			delim = "\x00"
		}
		recs := readRecords(t, data, delim)
		back := strings.Join(recs, delim)
		if len(data) > 0 && data[len(data)-1] == delim[0] {
			back += delim
		}
		if back != string(data) {
			t.Fatalf("records %q do not give back %q", recs, data)
		}
		if n, err := countRecords(bytes.NewReader(data), delim[0]); err != nil || n != int64(len(recs)) {
			t.Fatalf("countRecords = %d, %v; records %d", n, err, len(recs))
		}
		opt := &recordOptions{delim: delim}
		in, err := openInputs([]source{{kind: srcFile, path: "-"}}, false, opt, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		mk := &jobMaker{recs: in.records, g: grouping{maxArgs: 1}}
		src, err := newJobSource(mk.next, nil, nil, 3, jobArgs, &runtimes{})
		if err != nil {
			t.Fatal(err)
		}
		var seq uint64
		for {
			c, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			err = partition.Unpack(c.Data, func(_ int, item []byte) error {
				j, err := decodeJob(item, jobArgs)
				if err != nil {
					return err
				}
				seq++
				if j.seq != seq || len(j.recs) != 1 || j.recs[0][0] != recs[seq-1] {
					t.Fatalf("job %d %q, want job %d %q", j.seq, j.recs, seq, recs[seq-1])
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if seq != uint64(len(recs)) {
			t.Fatalf("%d jobs for %d records", seq, len(recs))
		}
	})
}

// records reads all records of the sources, each joined by "|".
func allRecords(t *testing.T, srcs []source, link bool, opt *recordOptions, stdin string) ([]string, []string) {
	t.Helper()
	in, err := openInputs(srcs, link, opt, strings.NewReader(stdin))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out []string
	for {
		r, err := in.records.next()
		if err == io.EOF {
			return out, in.names
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(r, "|"))
	}
}

func TestCombinations(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("p\nq\n"), 0o644)
	vals := func(v ...string) source { return source{kind: srcValues, values: v} }
	linked := func(s source) source { s.linked = true; return s }
	nl := &recordOptions{delim: "\n"}
	tests := []struct {
		name string
		srcs []source
		link bool
		want string
	}{
		{"one", []source{vals("a", "b")}, false, "a b"},
		{"a value with the delimiter is two", []source{vals("a\nb", "c")}, false, "a b c"},
		{"all combinations", []source{vals("a", "b"), vals("1", "2")}, false, "a|1 a|2 b|1 b|2"},
		{"file and stdin", []source{{kind: srcFile, path: f}, {kind: srcFile, path: "-"}}, false, "p|s p|t q|s q|t"},
		{"--link wraps", []source{vals("1", "2"), vals("I", "II", "III")}, true, "1|I 2|II 1|III"},
		{":::+ ends at the shortest", []source{vals("a", "b", "c"), linked(vals("1", "2")), vals("X", "Y")}, false, "a|1|X a|1|Y b|2|X b|2|Y"},
		{"--link with :::+", []source{vals("a", "b", "c"), linked(vals("1", "2")), vals("X")}, true, "a|1|X b|2|X c|1|X"},
		{"first group linked", []source{vals("a", "b"), linked(vals("1", "2")), vals("z")}, false, "a|1|z b|2|z"},
		{"an empty source", []source{vals("a"), vals()}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := allRecords(t, tt.srcs, tt.link, nl, "s\nt\n")
			if strings.Join(got, " ") != tt.want {
				t.Errorf("records %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
	// --colsep, --header :, -E and -r.
	opt := &recordOptions{delim: "\n", colsep: regexp.MustCompile(","), header: ":", eof: "stop", eofSet: true, skipEmpty: true}
	got, names := allRecords(t, []source{{kind: srcFile, path: "-"}}, false, opt, "x,y\n1,2,,\n  \n,3\nstop\n4,5\n")
	if strings.Join(got, " ") != "1|2 |3" || strings.Join(names, ",") != "x,y" {
		t.Errorf("records %q names %q", got, names)
	}
}

func TestParseDelimiter(t *testing.T) {
	for in, want := range map[string]string{`\n`: "\n", `\0`: "\x00", `_`: "_", `\t\x41\101`: "\tAA", `a\\b`: `a\b`, `\q`: `\q`} {
		if got, err := parseDelimiter(in); err != nil || got != want {
			t.Errorf("parseDelimiter(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseDelimiter(""); err == nil {
		t.Error("an empty delimiter was accepted")
	}
}

func TestPerlSplit(t *testing.T) {
	tests := []struct{ re, in, want string }{
		{",", "a,b,,", "a|b"},
		{",", ",a", "|a"},
		{",", "", ""},
		{" *", "ab c", "a|b|c"},
		{`\d+`, "a1b22c", "a|b|c"},
		{" ", "a  b", "a||b"},
	}
	for _, tt := range tests {
		if got := strings.Join(perlSplit(regexp.MustCompile(tt.re), tt.in), "|"); got != tt.want {
			t.Errorf("split /%s/, %q = %q, want %q", tt.re, tt.in, got, tt.want)
		}
	}
}
