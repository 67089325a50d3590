package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
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
		return &UsageError{Msg: err.Error()}
	}
	return nil
}
