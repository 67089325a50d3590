package taskfarm

import (
	"os"
	"path/filepath"
	"strings"
)

// directArgv reports whether a composed command line needs no shell, and if so the
// arguments /bin/sh would have run it with: simple words (plain text, '...' and "..."
// without expansions, \x escapes) separated by spaces or tabs, naming a program the shell
// would look up in PATH, not one of its keywords or built-ins. Anything else (expansions,
// redirections, pipes, globs, ~, assignments, comments, several lines) is left to the shell.
// Running such a line directly gives the same result without a shell process.
func directArgv(line string) ([]string, bool) {
	if strings.IndexByte(line, 0) >= 0 {
		return nil, false // no argument can hold a NUL: let the shell say so
	}
	var args []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				args = append(args, w.String())
				w.Reset()
				inWord = false
			}
			continue
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, false
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 || strings.ContainsAny(line[i+1:i+1+j], "$`\\!") {
				return nil, false
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
		case c == '\\':
			if i+1 >= len(line) || line[i+1] == '\n' {
				return nil, false
			}
			i++
			w.WriteByte(line[i])
		case c == '~' || c == '#':
			if !inWord {
				return nil, false // tilde expansion, comment
			}
			w.WriteByte(c)
		case strings.IndexByte(shellSpecial, c) >= 0:
			return nil, false
		default:
			w.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		args = append(args, w.String())
	}
	if len(args) == 0 || !plainCommand(line, args) {
		return nil, false
	}
	return args, true
}

// shellSpecial are the bytes that make a shell do more than split words: operators,
// expansions, globs, braces (bash expands {a,b}), and newlines and other control bytes.
const shellSpecial = "|&;<>()$`*?[]{}!^\n\r\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f" +
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"

// plainCommand reports whether args[0] names a program the shell would run from PATH
// with the same result: not an assignment, keyword or built-in, except true, false and
// echo where the program's behaviour is the built-in's for these arguments.
func plainCommand(line string, args []string) bool {
	name := args[0]
	if name == "" || strings.IndexByte(firstWord(line), '=') >= 0 {
		return false // an assignment (or an empty command name)
	}
	if strings.IndexByte(name, '/') >= 0 {
		return true // a path: no keyword, built-in or PATH lookup
	}
	switch name {
	case "true", "false":
		// coreutils' true and false read only a sole --help or --version.
		return !anyDash(args[1:])
	case "echo":
		// The same bytes from any echo as long as no argument holds a backslash (dash's
		// echo interprets escapes) and the first is not an option.
		return !(len(args) > 1 && strings.HasPrefix(args[1], "-")) && !strings.Contains(line, `\`)
	case "env", "printenv":
		return len(args) > 1 // without arguments they print the environment in the shell's order
	}
	return !shellBuiltins[name]
}

func anyDash(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return true
		}
	}
	return false
}

// firstWord is the line up to its first space or tab, where an assignment's = shows.
func firstWord(line string) string {
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		return line[:i]
	}
	return line
}

// shellBuiltins are the keywords and built-ins of dash and bash: a line starting with one is
// run by the shell.
var shellBuiltins = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`if then else elif fi do done case esac while until for in
		function select time coproc [[ ]] { } ! . : [ alias bg bind break builtin caller cd chdir
		command compgen complete compopt continue declare dirs disown echo enable eval exec exit
		export false fc fg getopts hash help history jobs kill let local logout mapfile popd
		printf pushd pwd read readarray readonly return set shift shopt source suspend test
		times trap true type typeset ulimit umask unalias unset wait`) {
		m[w] = true
	}
	return m
}()

// directShell reports whether composed lines may be run without a shell here: only where
// /bin/sh is dash (Debian's), whose environment handling direct runs reproduce (it exports
// PWD), and where nothing in the environment makes a shell run code of its own (BASH_ENV,
// exported bash functions).
func directShell(shell string) bool {
	real, err := filepath.EvalSymlinks(shell)
	if err != nil || filepath.Base(real) != "dash" {
		return false
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BASH_ENV=") || strings.HasPrefix(kv, "BASH_FUNC_") || strings.HasPrefix(kv, "ENV=") {
			return false
		}
	}
	return true
}
