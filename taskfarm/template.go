package taskfarm

import (
	"strconv"
	"strings"
)

// mode says how a task's command is formed and run.
type mode uint8

const (
	// modeArgv runs the command words directly (no shell); each substituted value lands
	// inside one argument and is never re-parsed.
	modeArgv mode = iota
	// modeShell joins the command words with spaces into a /bin/sh script, with each
	// substituted value shell-quoted (GNU parallel's default).
	modeShell
	// modeTasks runs each input line as a whole /bin/sh command (--tasks).
	modeTasks
)

// shellPath is the shell that runs --shell and --tasks commands.
const shellPath = "/bin/sh"

// phKind is a replacement string.
type phKind uint8

const (
	phNone      phKind = iota
	phLine             // {}   the input line
	phSeq              // {#}  the task number, 1-based
	phSlot             // {%}  the slot running the task, 1-based (per rank)
	phBase             // {/}  the line without its directory part
	phDir              // {//} the line's directory (dirname)
	phNoExt            // {.}  the line without its extension
	phBaseNoExt        // {/.} {/} without its extension
)

// replacements in matching order: the longest first, so {//} is not read as {/} + "/}".
var replacements = []struct {
	s string
	k phKind
}{
	{"{//}", phDir}, {"{/.}", phBaseNoExt}, {"{/}", phBase}, {"{.}", phNoExt},
	{"{#}", phSeq}, {"{%}", phSlot}, {"{}", phLine},
}

// segment is a literal piece of a command word, or one replacement string.
type segment struct {
	lit string
	ph  phKind
}

// template is a command with its replacement strings located.
type template struct {
	mode  mode
	words [][]segment
	raw   []string
	// any is true when some word holds a replacement string; without one the line is
	// appended as a last argument (GNU parallel's rule).
	any bool
	// lit0 is true when the first word has no replacement string (its program can be
	// looked up once).
	lit0 bool
}

// parseTemplate locates the replacement strings in the command words.
func parseTemplate(words []string, m mode) *template {
	t := &template{mode: m, raw: words, lit0: true}
	for i, w := range words {
		segs := splitWord(w)
		for _, s := range segs {
			if s.ph != phNone {
				t.any = true
				if i == 0 {
					t.lit0 = false
				}
			}
		}
		t.words = append(t.words, segs)
	}
	return t
}

// splitWord cuts one word into literal text and replacement strings.
func splitWord(w string) []segment {
	var segs []segment
	start := 0
	for i := 0; i < len(w); {
		if w[i] != '{' {
			i++
			continue
		}
		k, n := matchReplacement(w[i:])
		if k == phNone {
			i++
			continue
		}
		if i > start {
			segs = append(segs, segment{lit: w[start:i]})
		}
		segs = append(segs, segment{ph: k})
		i += n
		start = i
	}
	if start < len(w) || len(segs) == 0 {
		segs = append(segs, segment{lit: w[start:]})
	}
	return segs
}

func matchReplacement(s string) (phKind, int) {
	for _, r := range replacements {
		if strings.HasPrefix(s, r.s) {
			return r.k, len(r.s)
		}
	}
	return phNone, 0
}

// vars are what a task's replacement strings are replaced with.
type vars struct {
	line string
	seq  uint64
	slot int
}

// value is the replacement of k for the task v.
func value(k phKind, v vars) string {
	switch k {
	case phLine:
		return v.line
	case phSeq:
		return strconv.FormatUint(v.seq, 10)
	case phSlot:
		return strconv.Itoa(v.slot)
	case phBase:
		return basename(v.line)
	case phDir:
		return dirname(v.line)
	case phNoExt:
		return noExt(v.line)
	case phBaseNoExt:
		return noExt(basename(v.line))
	}
	return ""
}

// argv is the command of task v run without a shell: every word with its replacement
// strings filled in, and the line as a last argument when there is no replacement string.
// In modeShell and modeTasks it is /bin/sh -c SCRIPT.
func (t *template) argv(v vars) []string {
	switch t.mode {
	case modeTasks:
		return []string{shellPath, "-c", v.line}
	case modeShell:
		return []string{shellPath, "-c", t.script(v)}
	}
	args := make([]string, 0, len(t.words)+1)
	for _, segs := range t.words {
		args = append(args, fill(segs, v, false))
	}
	if !t.any {
		args = append(args, v.line)
	}
	return args
}

// script is the shell script of task v in modeShell: the words joined by spaces, each
// value shell-quoted, exactly as GNU parallel builds it.
func (t *template) script(v vars) string {
	var b strings.Builder
	for i, segs := range t.words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fill(segs, v, true))
	}
	if !t.any {
		b.WriteByte(' ')
		b.WriteString(shellQuote(v.line))
	}
	return b.String()
}

// display is the command of task v as the joblog shows it: the script for a shell, and
// for argv every argument shell-quoted (what `parallel -q` logs), so that it can be pasted
// into a shell.
func (t *template) display(v vars, argv []string) string {
	switch t.mode {
	case modeTasks:
		return v.line
	case modeShell:
		return argv[2]
	}
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

func fill(segs []segment, v vars, quote bool) string {
	if len(segs) == 1 && segs[0].ph == phNone {
		return segs[0].lit
	}
	var b strings.Builder
	for _, s := range segs {
		if s.ph == phNone {
			b.WriteString(s.lit)
			continue
		}
		x := value(s.ph, v)
		if quote {
			x = shellQuote(x)
		}
		b.WriteString(x)
	}
	return b.String()
}

// shellQuote quotes s for /bin/sh exactly as GNU parallel does (shell_quote_scalar_default):
// words of only [-_.+a-zA-Z0-9/] stay as they are, the empty word is ”, anything else is
// single-quoted with each ' written as '"'"'.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '+' || c == '/') {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	q := "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
	q = strings.TrimPrefix(q, "''")
	q = strings.TrimSuffix(q, "''")
	return q
}

// basename is {/}: the line without everything up to its last slash (Perl s:.*/::).
func basename(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// noExt is {.}: the line without its last dot and what follows, when no slash follows
// that dot (Perl s:\.[^/.]*$::).
func noExt(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i < 0 || strings.IndexByte(s[i:], '/') >= 0 {
		return s
	}
	return s[:i]
}

// dirname is {//}: Perl's File::Basename::dirname on Unix, which GNU parallel uses
// ("a" and "a/" give ".", "/a" gives "/", "a/b/" gives "a").
func dirname(s string) string {
	base, dir := fileparse(s)
	dir = stripTrailingSlashes(dir)
	if base == "" {
		_, dir = fileparse(dir)
		dir = stripTrailingSlashes(dir)
	}
	return dir
}

// fileparse splits s after its last slash; a path without one is in "./".
func fileparse(s string) (base, dir string) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return s, "./"
	}
	return s[i+1:], s[:i+1]
}

// stripTrailingSlashes removes trailing slashes but keeps the first character
// (Perl s{(.)/*\z}{$1}s).
func stripTrailingSlashes(s string) string {
	for len(s) > 1 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
