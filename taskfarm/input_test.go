package taskfarm

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mw-hpc/mw/partition"
)

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\n", []string{""}},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\n\nb c\n\n", []string{"a", "", "b c", ""}},
		{"x\ny", []string{"x", "y"}},
		{"\n\n", []string{"", ""}},
		{"a\r\nb", []string{"a\r", "b"}},
		{strings.Repeat("x", 200000) + "\nshort", []string{strings.Repeat("x", 200000), "short"}},
		{strings.Repeat("y", 100000), []string{strings.Repeat("y", 100000)}},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			got, err := splitLines([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var gs []string
			for _, l := range got {
				gs = append(gs, string(l))
			}
			if !reflect.DeepEqual(gs, tt.want) {
				t.Errorf("lines %q, want %q", gs, tt.want)
			}
			n, err := countLines(strings.NewReader(tt.in))
			if err != nil || n != int64(len(tt.want)) {
				t.Errorf("countLines = %d, %v; want %d", n, err, len(tt.want))
			}
		})
	}
}

// FuzzTaskLines checks that the task list parser loses nothing: the lines joined with
// newlines give back the input, no line holds a newline, and countLines agrees.
func FuzzTaskLines(f *testing.F) {
	for _, s := range []string{"", "\n", "a\n\nb", "a\nb\n", "\n\n\n", "x\r\ny", strings.Repeat("z", 70000) + "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := splitLines(data)
		if err != nil {
			t.Fatal(err)
		}
		var back []byte
		for i, l := range lines {
			if bytes.IndexByte(l, '\n') >= 0 {
				t.Fatalf("line %d holds a newline", i)
			}
			if i > 0 {
				back = append(back, '\n')
			}
			back = append(back, l...)
		}
		if len(data) > 0 && data[len(data)-1] == '\n' {
			back = append(back, '\n')
		}
		if !bytes.Equal(back, data) {
			t.Fatalf("lines %q do not give back %q", lines, data)
		}
		n, err := countLines(bytes.NewReader(data))
		if err != nil || n != int64(len(lines)) {
			t.Fatalf("countLines = %d, %v; lines %d", n, err, len(lines))
		}
		// Through the source and the chunk framing, every line arrives with its number.
		in := &inputs{paths: []string{"-"}, stdin: bytes.NewReader(data)}
		src, err := newTaskSource(in, nil, 3)
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
				s, line, err := decodeTask(item)
				if err != nil {
					return err
				}
				seq++
				if s != seq || !bytes.Equal(line, lines[s-1]) {
					t.Fatalf("task %d %q, want task %d %q", s, line, seq, lines[seq-1])
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if seq != uint64(len(lines)) {
			t.Fatalf("%d tasks for %d lines", seq, len(lines))
		}
	})
}

func TestInputsAndSource(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	b := filepath.Join(dir, "b")
	os.WriteFile(a, []byte("1\n2\n\n4"), 0o644) // last line without a newline
	os.WriteFile(b, []byte("5\n6\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)

	n, err := countInputs([]string{a, empty, b})
	if err != nil || n != 6 {
		t.Fatalf("countInputs = %d, %v; want 6", n, err)
	}
	if n, _ := countInputs([]string{a, "-"}); n != -1 {
		t.Errorf("countInputs with stdin = %d, want -1", n)
	}
	if _, err := countInputs([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("countInputs of a missing file: no error")
	}

	skip := &seqSet{}
	skip.add(2)
	skip.add(5)
	in := &inputs{paths: []string{a, empty, "-", b}, stdin: strings.NewReader("s1\ns2")}
	src, err := newTaskSource(in, skip, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var chunks []uint64
	for {
		c, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c.Seq)
		partition.Unpack(c.Data, func(_ int, item []byte) error {
			s, line, err := decodeTask(item)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(rune('0'+s))+"="+string(line))
			return nil
		})
	}
	// Lines 1 "1", 2 "2" (skipped), 3 "", 4 "4", 5 "s1" (skipped), 6 "s2", 7 "5", 8 "6".
	want := []string{"1=1", "3=", "4=4", "6=s2", "7=5", "8=6"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tasks %q, want %q", got, want)
	}
	if !reflect.DeepEqual(chunks, []uint64{0, 1, 2}) {
		t.Errorf("chunk seqs %v, want 0 1 2", chunks)
	}
	if err := in.Close(); err != nil {
		t.Error(err)
	}

	in = &inputs{paths: []string{filepath.Join(dir, "missing")}}
	if _, _, err := in.next(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing input: %v", err)
	}
}
