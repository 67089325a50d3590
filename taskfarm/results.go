package taskfarm

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// resultsPath is where --results puts a task's output: the --results value with its
// replacement strings filled in (a directory when it ends in /), or without replacement
// strings a directory DIR/name1/value1/name2/value2/ made of the task's values and their
// --header names (or source numbers), as GNU parallel lays them out. "" without --results.
func (w *worker) resultsPath(v *jobVars, j *job) string {
	o := w.o
	switch {
	case o.results == "":
		return ""
	case w.resT != nil:
		return w.resT.compose(v, composeMode{})
	}
	return o.results + "/" + argsAsDirname(j.recs, w.st.names) + "/"
}

// argsAsDirname is each record's columns as name/value pairs, the names sorted (numbers
// first, by value, then the others), values with \ / tab and NUL escaped.
func argsAsDirname(recs [][]string, names []string) string {
	var parts []string
	esc := strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\x00", `\0`, "/", `\_`)
	for _, rec := range recs {
		cols := make([]int, len(rec))
		name := func(i int) string {
			if i < len(names) {
				return names[i]
			}
			return strconv.Itoa(i + 1)
		}
		for i := range cols {
			cols[i] = i
		}
		sort.SliceStable(cols, func(a, b int) bool {
			na, nb := perlNum(name(cols[a])), perlNum(name(cols[b]))
			if na != nb {
				return na < nb
			}
			return name(cols[a]) < name(cols[b])
		})
		for _, c := range cols {
			parts = append(parts, name(c), esc.Replace(rec[c]))
		}
	}
	return strings.Join(parts, "/")
}

// perlNum is a string's value as Perl's <=> sees it: its leading number, else 0.
func perlNum(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' || end == 0 && (s[end] == '-' || s[end] == '+')) {
		end++
	}
	for end > 0 {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return f
		}
		end--
	}
	return 0
}

// writeResults writes a task's stdout, stderr and number to its --results place: files
// stdout, stderr and seq in a directory, or FILE, FILE.err and FILE.seq.
func (s *sink) writeResults(r *record) error {
	out, errf, seqf := r.results+"stdout", r.results+"stderr", r.results+"seq"
	dir := r.results
	if !strings.HasSuffix(r.results, "/") {
		out, errf, seqf = r.results, r.results+".err", r.results+".seq"
		dir = filepath.Dir(r.results)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("--results: %w", err)
	}
	if err := s.saveStream(out, r.stdout, r.flags&flagStdoutSpill != 0, r); err != nil {
		return err
	}
	if err := s.saveStream(errf, r.stderr, r.flags&flagStderrSpill != 0, r); err != nil {
		return err
	}
	if err := os.WriteFile(seqf, []byte(strconv.FormatUint(r.seq, 10)), 0o666); err != nil {
		return fmt.Errorf("--results: %w", err)
	}
	return nil
}

// saveStream writes one stream of a task to a file.
func (s *sink) saveStream(path string, data []byte, spilled bool, r *record) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--results: %w", err)
	}
	err = s.stream(f, data, spilled, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--results %s: %w", path, err)
	}
	return nil
}

// writeFiles is --files: the task's stdout goes to a new file in --tmpdir, whose name is
// printed (its stderr is printed as usual).
func (s *sink) writeFiles(r *record) error {
	f, err := os.CreateTemp(s.o.tmpdir, "par*.par")
	if err != nil {
		return fmt.Errorf("--files: %w", err)
	}
	err = s.stream(f, r.stdout, r.flags&flagStdoutSpill != 0, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--files %s: %w", f.Name(), err)
	}
	if _, err := io.WriteString(s.stdout, f.Name()+"\n"); err != nil {
		return err
	}
	return s.stream(s.stderr, r.stderr, r.flags&flagStderrSpill != 0, r)
}

// runtimes follows the runtimes of the tasks that succeeded, for --timeout N%: the median
// of the last 999 (GNU parallel takes a remedian of them), times the percentage. Used from
// the manager's goroutine only.
type runtimes struct {
	pct    float64
	recent []int64
	next   int
}

func (t *runtimes) add(ns int64) {
	if t.pct == 0 {
		return
	}
	if len(t.recent) < 999 {
		t.recent = append(t.recent, ns)
		return
	}
	t.recent[t.next] = ns
	t.next = (t.next + 1) % len(t.recent)
}

// timeout is the timeout for a task issued now, in nanoseconds: 0 while no task has
// succeeded (GNU parallel starts with a timeout of a million seconds).
func (t *runtimes) timeout() int64 {
	if t.pct == 0 || len(t.recent) == 0 {
		return 0
	}
	s := slices.Clone(t.recent)
	slices.Sort(s)
	d := time.Duration(float64(s[(len(s)-1)/2]) * t.pct)
	return max(int64(d), 1)
}
