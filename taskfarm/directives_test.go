package taskfarm

import (
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

func TestParseDirective(t *testing.T) {
	tests := []struct {
		line    string
		task    bool
		want    directive
		wantErr string
	}{
		{line: "echo hi", task: true},
		{line: "# a comment", task: true},
		{line: "#MWX BARRIER", task: true},
		{line: "#MW BARRIER", want: directive{barrier: true}},
		{line: "#MW  BARRIER\r", want: directive{barrier: true}},
		{line: "#MW\tBARRIER CHECK", want: directive{barrier: true, check: true}},
		{line: "#DISBATCH BARRIER CHECK", want: directive{barrier: true, check: true}},
		{line: "#MW cpus=4 gpus=1", want: directive{req: request{cpus: 4, gpus: 1, gpusSet: true}}},
		{line: "#MW gpus=0", want: directive{req: request{gpus: 0, gpusSet: true}}},
		{line: "#MW cpus=2", want: directive{req: request{cpus: 2}}},
		{line: "#MW", wantErr: "nothing after"},
		{line: "#MW barrier", wantErr: "unknown directive"},
		{line: "#MW BARRIER NOW", wantErr: "takes only CHECK"},
		{line: "#MW cpus=0", wantErr: "from 1 to"},
		{line: "#MW cpus=-1", wantErr: "from 1 to"},
		{line: "#MW gpus=x", wantErr: "from 0 to"},
		{line: "#MW cpus=1 cpus=2", wantErr: "twice"},
		{line: "#MW mem=4G", wantErr: `unknown request "mem"`},
		{line: "#DISBATCH PREFIX cd /x ;", wantErr: "disBatch's and not supported"},
		{line: "#DISBATCH BARRIER mykey", wantErr: "key-value store"},
	}
	for _, tt := range tests {
		d, ok, err := parseDirective(tt.line)
		switch {
		case tt.task && (ok || err != nil):
			t.Errorf("%q: a directive (%+v, %v), want a task line", tt.line, d, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: error %v, want one saying %q", tt.line, err, tt.wantErr)
		case tt.wantErr == "" && !tt.task && (!ok || err != nil || d != tt.want):
			t.Errorf("%q: %+v, %v, %v; want %+v", tt.line, d, ok, err, tt.want)
		}
	}
}

// FuzzDirective: any line of a --tasks file is a task, a directive, or one clear error;
// a directive read back from its own words is the same directive.
func FuzzDirective(f *testing.F) {
	for _, s := range []string{"#MW BARRIER", "#MW BARRIER CHECK", "#MW cpus=4 gpus=1", "#DISBATCH BARRIER", "#MW gpus=99999999999999999999", "echo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		d, ok, err := parseDirective(line)
		if !ok || err != nil {
			if !ok && err != nil {
				t.Fatalf("%q: a task line with an error: %v", line, err)
			}
			return
		}
		if d.req.cpus < 0 || d.req.cpus > maxTaskCPUs || d.req.gpus < 0 || d.req.gpus > maxTaskGPUs || d.barrier && d.req != (request{}) {
			t.Fatalf("%q: %+v", line, d)
		}
		again, ok, err := parseDirective(directiveLine(d))
		if !ok || err != nil || again != d {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", line, d, directiveLine(d), again, err)
		}
	})
}

// directiveLine writes a directive as a #MW line.
func directiveLine(d directive) string {
	switch {
	case d.check:
		return "#MW BARRIER CHECK"
	case d.barrier:
		return "#MW BARRIER"
	}
	var words []string
	if d.req.cpus > 0 {
		words = append(words, "cpus="+strconv.Itoa(d.req.cpus))
	}
	if d.req.gpusSet {
		words = append(words, "gpus="+strconv.Itoa(d.req.gpus))
	}
	return "#MW " + strings.Join(words, " ")
}

// tasksSource is the job source of a --tasks file given as text, chunks of perChunk jobs,
// with the tasks of skip and skipOK left out as --resume leaves them.
func tasksSource(t *testing.T, text string, perChunk int, skip, skipOK *seqSet) (*jobSource, *[]string) {
	t.Helper()
	in, err := openInputs([]source{{kind: srcFile, path: "-"}}, false, &recordOptions{delim: "\n"}, strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	lines := &taskLines{recs: in.records}
	mk := &jobMaker{recs: lines, g: grouping{maxArgs: 1}}
	src, err := newJobSource(taskJobs(mk.next, lines), skip, skipOK, perChunk, jobArgs, &runtimes{})
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	src.gate.says = func(s string) { said = append(said, s) }
	src.gate.notify = func() { said = append(said, "notify") }
	return src, &said
}

// chunkTasks is the task numbers and requests of a chunk.
func chunkTasks(t *testing.T, c rank.Chunk) (seqs []uint64, reqs []request) {
	t.Helper()
	err := partition.Unpack(c.Data, func(_ int, item []byte) error {
		j, err := decodeJob(item, jobArgs)
		seqs, reqs = append(seqs, j.seq), append(reqs, j.req)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs, reqs
}

// TestBarrierGate: the chunks stop at a barrier until every chunk before it has landed
// (the gate then notifies the engine once), a chunk never spans a barrier, requests tag
// the tasks after them, and a BARRIER CHECK after a failed task ends the input.
func TestBarrierGate(t *testing.T) {
	text := "a\nb\nc\n#MW BARRIER\n#MW cpus=2 gpus=1\nd\ne\n#MW BARRIER CHECK\nf\n#MW BARRIER CHECK\ng\n"
	src, said := tasksSource(t, text, 2, nil, nil)
	next := func(wantSeqs []uint64, wantErr error) []request {
		t.Helper()
		c, err := src.Next()
		if !errors.Is(err, wantErr) {
			t.Fatalf("Next: %v, want %v", err, wantErr)
		}
		if err != nil {
			return nil
		}
		seqs, reqs := chunkTasks(t, c)
		if !slices.Equal(seqs, wantSeqs) {
			t.Fatalf("chunk of tasks %v, want %v", seqs, wantSeqs)
		}
		return reqs
	}
	next([]uint64{1, 2}, nil)
	next([]uint64{3}, nil) // ends before the barrier
	next(nil, rank.ErrNotReady)
	src.gate.land(0)
	next(nil, rank.ErrNotReady)
	if len(*said) != 0 {
		t.Fatalf("said %q before every chunk landed", *said)
	}
	src.gate.land(0)
	if len(*said) != 1 || (*said)[0] != "notify" {
		t.Fatalf("said %q, want one notify", *said)
	}
	if reqs := next([]uint64{4, 5}, nil); reqs[0] != (request{cpus: 2, gpus: 1, gpusSet: true}) || reqs[1] != reqs[0] {
		t.Fatalf("requests %+v", reqs)
	}
	src.gate.land(1) // task 5 failed
	next(nil, io.EOF)
	if len(*said) != 2 || !strings.Contains((*said)[1], "#MW BARRIER CHECK (line 8): 1 task") {
		t.Fatalf("said %q", *said)
	}
}

// TestBarrierCheckAfterResume: a --resume leaves out tasks the joblog has, and a BARRIER
// CHECK counts those it has as failed, since the barrier before them only.
func TestBarrierCheckAfterResume(t *testing.T) {
	text := "a\n#MW BARRIER\nb\n#MW BARRIER CHECK\nc\n#MW BARRIER CHECK\nd\n"
	set := func(seqs ...uint64) *seqSet {
		s := &seqSet{}
		for _, n := range seqs {
			s.add(n)
		}
		return s
	}
	// a failed before the first barrier (a plain one): the check after b does not count it.
	src, _ := tasksSource(t, text, 1, set(1, 2), set(2))
	c, err := src.Next()
	if err != nil {
		t.Fatal(err)
	}
	if seqs, _ := chunkTasks(t, c); !slices.Equal(seqs, []uint64{3}) {
		t.Fatalf("tasks %v, want [3]", seqs)
	}
	// b failed: the check after it stops the run before c.
	src, said := tasksSource(t, text, 1, set(1, 2), set(1))
	if _, err := src.Next(); err != io.EOF {
		t.Fatalf("Next: %v, want io.EOF", err)
	}
	if len(*said) != 1 || !strings.Contains((*said)[0], "line 4") {
		t.Fatalf("said %q", *said)
	}
}

// TestTaskLinesRefusesDirectivesWithGrouping: #MW lines need one task per line.
func TestTaskLinesRefusesDirectivesWithGrouping(t *testing.T) {
	in, err := openInputs([]source{{kind: srcFile, path: "-"}}, false, &recordOptions{delim: "\n"}, strings.NewReader("a\n#MW BARRIER\nb\n"))
	if err != nil {
		t.Fatal(err)
	}
	lines := &taskLines{recs: in.records, refuse: "-n"}
	lines.next()
	if _, err := lines.next(); err == nil || !strings.Contains(err.Error(), "line 2: #MW lines need one task per line: -n") {
		t.Fatalf("error %v", err)
	}
	if n, err := countTaskLines(strings.NewReader("a\n#MW BARRIER\n#MW cpus=3\nb\n# c\n"), '\n'); err != nil || n != 3 {
		t.Fatalf("countTaskLines = %d, %v; want 3", n, err)
	}
}
