package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// NewFlagSet returns a flag set for `mw <name>` whose -h prints usage (a text that starts
// with the usage line and examples) and the flags to stdout.
func NewFlagSet(env *Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Parse reports errors as one line; -h prints to stdout
	fs.Usage = func() {
		if env.Rank != 0 {
			return // every rank parses; rank 0 alone prints
		}
		w := env.Stdout
		fmt.Fprint(w, strings.TrimLeft(usage, "\n"))
		if !strings.HasSuffix(usage, "\n") {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// Parse parses args into fs. It returns flag.ErrHelp after printing the usage for -h, and a
// one-line *UsageError for a bad flag or value.
func Parse(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {} // the flag package calls it on every error, too
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return flag.ErrHelp
	}
	if err != nil {
		return &UsageError{Msg: flagError(fs, err.Error())}
	}
	return nil
}

// The flag package's messages for a refused value, an unknown flag and a missing value.
var (
	badValue  = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-([^:]+): (.*)$`)
	undefined = regexp.MustCompile(`^flag provided but not defined: -(.+)$`)
	noValue   = regexp.MustCompile(`^flag needs an argument: -(.+)$`)
)

// flagError words the flag package's errors as mw's own, naming flags as the help does
// (-j, --chunk): `--chunk 0: must be ...` rather than `invalid value "0" for flag -chunk:
// must be ...`.
func flagError(fs *flag.FlagSet, msg string) string {
	dashed := func(name string) string {
		if len(name) == 1 {
			return "-" + name
		}
		return "--" + strings.TrimPrefix(name, "-")
	}
	if m := undefined.FindStringSubmatch(msg); m != nil {
		return "unknown flag " + dashed(m[1])
	}
	if m := noValue.FindStringSubmatch(msg); m != nil {
		return dashed(m[1]) + " needs a value"
	}
	m := badValue.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	why := m[3]
	switch why {
	case "parse error":
		why = "not a valid value"
		if f := fs.Lookup(m[2]); f != nil {
			if g, ok := f.Value.(flag.Getter); ok {
				switch g.Get().(type) {
				case int, int64, uint, uint64, float64:
					why = "not a number"
				case time.Duration:
					why = "not a duration (e.g. 90s, 5m, 1h30m)"
				case bool:
					why = "not true or false"
				}
			}
		}
	case "value out of range":
		why = "out of range"
	}
	value := m[1]
	if value == "" || strings.ContainsAny(value, " \t") {
		value = strconv.Quote(value)
	}
	return fmt.Sprintf("%s %s: %s", dashed(m[2]), value, why)
}
