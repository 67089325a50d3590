package taskfarm

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// rplKind is what a replacement string stands for.
type rplKind uint8

const (
	rplValue     rplKind = iota + 1 // {}   the value
	rplNoExt                        // {.}  the value without its extension
	rplBase                         // {/}  the value without its directory
	rplDir                          // {//} the value's directory
	rplBaseNoExt                    // {/.} {/} without its extension
	rplSeq                          // {#}  the job's sequence number
	rplSlot                         // {%}  the job slot running it
	rplGPU                          // {gpu} the GPUs given to the task (mw's, with --gpus)
)

// perJob reports whether a replacement string has one value per job (not per argument).
func (k rplKind) perJob() bool { return k == rplSeq || k == rplSlot || k == rplGPU }

// rplNames are the replacement strings and what they stand for (GNU parallel's defaults;
// -I, --extensionreplace and the others rename them).
type rplNames map[string]rplKind

func defaultRplNames() rplNames {
	return rplNames{"{}": rplValue, "{.}": rplNoExt, "{/}": rplBase, "{//}": rplDir,
		"{/.}": rplBaseNoExt, "{#}": rplSeq, "{%}": rplSlot}
}

// rename gives the replacement string of kind k the name name.
func (n rplNames) rename(k rplKind, name string) {
	for s, kk := range n {
		if kk == k {
			delete(n, s)
		}
	}
	n[name] = k
}

// ordered lists the names longest first (a short one may be part of a long one, as {/} of
// {//}), ties in a fixed order.
func (n rplNames) ordered() []string {
	names := make([]string, 0, len(n))
	for s := range n {
		names = append(names, s)
	}
	slices.SortFunc(names, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return names
}

// tokKind is the kind of a token of a command template.
type tokKind uint8

const (
	tokText  tokKind = iota // literal text; each whitespace character is a token of its own
	tokSpace                // the boundary between two command words (never quoted)
	tokEmpty                // an empty command word
	tokRpl                  // a replacement string
)

// token is one piece of a command template.
type token struct {
	kind tokKind
	text string  // tokText
	rpl  rplKind // tokRpl
	pos  int     // tokRpl: 1-based position ({2}, {2.}), negative from the end, 0 none
}

// template is a command line with its replacement strings located, built once from the
// command words (and from --tagstring, --results, --workdir), the way GNU parallel tokenises
// them, so that composing a job's line gives parallel's bytes.
type template struct {
	toks []token
	// counts is how often each replacement string occurs (by kind and position), and
	// context, contextGroups, noncontext and words measure the rest: what parallel's
	// length estimate for -X and -m needs.
	counts        map[rplKey]int
	context       int
	contextGroups int
	noncontext    int
	words         int
}

// rplKey names a replacement string for the length estimate.
type rplKey struct {
	kind rplKind
	pos  int
}

// errPerlExpr refuses {= perl expression =}: mw has no Perl.
var errPerlExpr = errors.New("{= perl expression =} replacement strings are not supported (mw has no Perl): use a shell command, or compute the value before mw exec")

// perlExpr finds {= ... =} in a word.
var perlExpr = regexp.MustCompile(`\{=.*?=\}`)

// parseTemplate tokenises the command words. Replacement strings are looked for longest
// first, then their positional forms ({3}, {3.}, {-1/}), as GNU parallel does.
func parseTemplate(words []string, names rplNames) (*template, error) {
	t := &template{counts: map[rplKey]int{}, words: len(words)}
	ordered := names.ordered()
	for i, w := range words {
		if perlExpr.MatchString(w) {
			return nil, errPerlExpr
		}
		if i > 0 {
			t.toks = append(t.toks, token{kind: tokSpace})
		}
		if w == "" {
			t.toks = append(t.toks, token{kind: tokEmpty})
			continue
		}
		segs := splitRpls(w, ordered, names)
		t.measure(segs)
		for _, s := range segs {
			if s.kind == tokRpl {
				t.toks = append(t.toks, s)
				continue
			}
			t.toks = append(t.toks, splitSpaces(s.text)...)
		}
	}
	return t, nil
}

// measure adds a word's lengths and replacement strings to the estimate's counts: a
// whitespace-separated part of the word holding a replacement string is context (repeated
// per argument with -X), the rest is not.
func (t *template) measure(segs []token) {
	var b strings.Builder
	for _, s := range segs {
		if s.kind == tokRpl {
			t.counts[rplKey{s.rpl, s.pos}]++
			b.WriteByte(0)
			continue
		}
		b.WriteString(s.text)
	}
	rest := b.String()
	for _, f := range strings.FieldsFunc(rest, isPerlSpace) {
		if strings.IndexByte(f, 0) >= 0 {
			t.context += len(f) - strings.Count(f, "\x00")
			t.contextGroups++
			rest = strings.Replace(rest, f, "", 1)
		}
	}
	t.noncontext += len(rest)
}

// hasRpl reports whether the template holds a replacement string.
func (t *template) hasRpl() bool {
	for _, k := range t.toks {
		if k.kind == tokRpl {
			return true
		}
	}
	return false
}

// startsWithRpl reports whether a replacement string comes before any space, tab, newline
// or = of the joined words: the value is (part of) the command itself, and GNU parallel
// then quotes no value (parallel {}, parallel {1} {2}).
func (t *template) startsWithRpl() bool {
	for _, k := range t.toks {
		switch k.kind {
		case tokRpl:
			return true
		case tokSpace:
			return false
		case tokText:
			if strings.ContainsAny(k.text, " \t\n=") {
				return false
			}
		}
	}
	return false
}

// splitRpls cuts a word into text and replacement strings: each name longest first, then
// its positional form, never inside a replacement string already found.
func splitRpls(w string, ordered []string, names rplNames) []token {
	segs := []token{{kind: tokText, text: w}}
	for _, name := range ordered {
		k := names[name]
		segs = splitEach(segs, func(s string) (int, int, token) {
			i := strings.Index(s, name)
			return i, len(name), token{kind: tokRpl, rpl: k}
		})
		if !strings.HasPrefix(name, "{") {
			continue
		}
		re := regexp.MustCompile(`\{(-?\d+)\s*` + regexp.QuoteMeta(name[1:]))
		segs = splitEach(segs, func(s string) (int, int, token) {
			m := re.FindStringSubmatchIndex(s)
			if m == nil {
				return -1, 0, token{}
			}
			p, err := strconv.Atoi(s[m[2]:m[3]])
			if err != nil || p == 0 {
				p = 1 << 30 // {0} and huge positions name no argument: empty
			}
			return m[0], m[1] - m[0], token{kind: tokRpl, rpl: k, pos: p}
		})
	}
	return segs
}

// splitEach applies find to every text segment repeatedly, splitting out what it finds.
func splitEach(segs []token, find func(string) (int, int, token)) []token {
	var out []token
	for _, s := range segs {
		if s.kind != tokText {
			out = append(out, s)
			continue
		}
		text := s.text
		for text != "" {
			i, n, tok := find(text)
			if i < 0 {
				break
			}
			if i > 0 {
				out = append(out, token{kind: tokText, text: text[:i]})
			}
			out = append(out, tok)
			text = text[i+n:]
		}
		if text != "" {
			out = append(out, token{kind: tokText, text: text})
		}
	}
	return out
}

// splitSpaces cuts text before and after every whitespace character (Perl's \s).
func splitSpaces(s string) []token {
	var out []token
	start := 0
	for i := 0; i < len(s); i++ {
		if isPerlSpace(rune(s[i])) {
			if i > start {
				out = append(out, token{kind: tokText, text: s[start:i]})
			}
			out = append(out, token{kind: tokText, text: s[i : i+1]})
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, token{kind: tokText, text: s[start:]})
	}
	return out
}

func isPerlSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v'
}

// jobVars are what a job's replacement strings are replaced with.
type jobVars struct {
	args []string // the job's values, flattened: records one after the other
	seq  uint64
	slot int
	gpus string // the task's GPUs, comma separated ({gpu})
	trim string // --trim: n, l, r, lr or rl
	// noArg drops the value replacement strings entirely when args is empty (-N0, and
	// --pipepart's parts): otherwise an empty job has one empty value.
	noArg bool
}

// composeMode says how values and words are quoted.
type composeMode struct {
	quoteValues bool // each value shell-quoted (the default)
	quoteWords  bool // each whole word shell-quoted (-q)
	context     bool // -X: a word holding a replacement string is repeated per value
}

// piece is a part of a composed line: text, or the unquoted space between words.
type piece struct {
	text  string
	space bool
}

// compose builds a job's line from the template as GNU parallel does.
func (t *template) compose(v *jobVars, m composeMode) string {
	args := v.args
	if len(args) == 0 && !v.noArg {
		args = []string{""}
	}
	var out []piece
	if m.context {
		out = t.composeContext(args, v, m)
	} else {
		for _, k := range t.toks {
			out = t.appendToken(out, k, args, v, m)
		}
	}
	return joinGroups(out, m.quoteWords)
}

// appendToken appends one token with its replacement: a positional or per-job one once, a
// value one once per value, values apart by an unquoted space.
func (t *template) appendToken(out []piece, k token, args []string, v *jobVars, m composeMode) []piece {
	switch k.kind {
	case tokSpace:
		return append(out, piece{space: true})
	case tokEmpty:
		return append(out, piece{})
	case tokText:
		return append(out, piece{text: k.text})
	}
	if k.pos != 0 || k.rpl.perJob() {
		return append(out, piece{text: replaceOne(k, args, v, m.quoteValues)})
	}
	for i, a := range args {
		if i > 0 {
			out = append(out, piece{space: true})
		}
		out = append(out, piece{text: replaceValue(k.rpl, a, v, m.quoteValues)})
	}
	return out
}

// composeContext is -X: the tokens between spaces and tabs form context groups; a group
// holding a value replacement string is repeated for each value.
func (t *template) composeContext(args []string, v *jobVars, m composeMode) []piece {
	var out []piece
	var groupToks []token
	flush := func() {
		perValue := false
		for _, k := range groupToks {
			perValue = perValue || k.kind == tokRpl && k.pos == 0 && !k.rpl.perJob()
		}
		if !perValue {
			for _, k := range groupToks {
				out = t.appendToken(out, k, args, v, m)
			}
		} else {
			for i, a := range args {
				if i > 0 {
					out = append(out, piece{space: true})
				}
				for _, k := range groupToks {
					if k.kind == tokRpl && k.pos == 0 && !k.rpl.perJob() {
						out = append(out, piece{text: replaceValue(k.rpl, a, v, m.quoteValues)})
						continue
					}
					out = t.appendToken(out, k, args, v, m)
				}
			}
		}
		groupToks = groupToks[:0]
	}
	for _, k := range t.toks {
		sep := k.kind == tokSpace || k.kind == tokText && (k.text == " " || k.text == "\t")
		if sep {
			flush()
		}
		if k.kind == tokSpace || k.kind == tokText && k.text == " " {
			out = t.appendToken(out, k, args, v, m)
		} else {
			groupToks = append(groupToks, k)
		}
	}
	flush()
	return out
}

// replaceOne is a positional replacement string ({2}, {-1.}) or {#}/{%}: once per job.
func replaceOne(k token, args []string, v *jobVars, quote bool) string {
	switch k.rpl {
	case rplSeq:
		return strconv.FormatUint(v.seq, 10)
	case rplSlot:
		return strconv.Itoa(v.slot)
	case rplGPU:
		if quote {
			return shellQuote(v.gpus)
		}
		return v.gpus
	}
	i := k.pos - 1
	if k.pos < 0 {
		i = len(args) + k.pos
	}
	if i < 0 || i >= len(args) {
		return "" // no such argument: empty, unquoted
	}
	return replaceValue(k.rpl, args[i], v, quote)
}

// replaceValue is a value replacement string applied to one value.
func replaceValue(k rplKind, a string, v *jobVars, quote bool) string {
	a = trimValue(a, v.trim)
	switch k {
	case rplNoExt:
		a = noExt(a)
	case rplBase:
		a = perlBasename(a)
	case rplDir:
		a = dirname(a)
	case rplBaseNoExt:
		a = noExt(perlBasename(a))
	case rplSeq:
		a = strconv.FormatUint(v.seq, 10)
	case rplSlot:
		a = strconv.Itoa(v.slot)
	case rplGPU:
		a = v.gpus
	}
	if quote {
		return shellQuote(a)
	}
	return a
}

// joinGroups joins the pieces between unquoted spaces into words (each shell-quoted with
// -q) and the words with single spaces.
func joinGroups(pieces []piece, quoteWords bool) string {
	var b, g strings.Builder
	n, words := 0, 0
	flush := func() {
		if quoteWords && n == 0 {
			return
		}
		if words > 0 {
			b.WriteByte(' ')
		}
		words++
		if quoteWords {
			b.WriteString(shellQuote(g.String()))
		} else {
			b.WriteString(g.String())
		}
		g.Reset()
		n = 0
	}
	for _, p := range pieces {
		if p.space {
			flush()
			continue
		}
		g.WriteString(p.text)
		n++
	}
	flush()
	return b.String()
}

// trimValue applies --trim (Perl's \s).
func trimValue(s, how string) string {
	switch how {
	case "l":
		return strings.TrimLeftFunc(s, isPerlSpace)
	case "r":
		return strings.TrimRightFunc(s, isPerlSpace)
	case "lr", "rl":
		return strings.TrimFunc(s, isPerlSpace)
	}
	return s
}

// shellQuote quotes s for a Bourne shell exactly as GNU parallel does: words of only
// [-_.+a-zA-Z0-9/] stay as they are, the empty word is ”, anything else is single-quoted
// with each ' written as '"'"' (and the ” this leaves at either end dropped).
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if !isPlainByte(s[i]) {
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

func isPlainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '+' || c == '/'
}

// perlBasename is {/}: Perl's s:.*/:: (. does not match a newline): on the first line that
// holds a slash, everything from the line's start through its last slash goes.
func perlBasename(s string) string {
	start := 0
	for start <= len(s) {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		if i := strings.LastIndexByte(s[start:end], '/'); i >= 0 {
			return s[:start] + s[start+i+1:]
		}
		start = end + 1
	}
	return s
}

// noExt is {.}: the value without its last dot and what follows, when no slash follows
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
