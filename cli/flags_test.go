package cli

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Parse's errors name the flag as the help does, with the value and what is wrong.
func TestParseErrors(t *testing.T) {
	env := &Env{Stdout: io.Discard}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-j", "x"}, "-j x: not a number"},
		{[]string{"--window", "99999999999999999999"}, "--window 99999999999999999999: out of range"},
		{[]string{"--wait", "soon"}, "--wait soon: not a duration (e.g. 90s, 5m, 1h30m)"},
		{[]string{"--quiet=maybe"}, "--quiet maybe: not true or false"},
		{[]string{"-j="}, `-j "": not a number`},
		{[]string{"--wait", "1 h"}, `--wait "1 h": not a duration (e.g. 90s, 5m, 1h30m)`},
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"-z"}, "unknown flag -z"},
		{[]string{"--window"}, "--window needs a value"},
	}
	for _, tc := range cases {
		fs := NewFlagSet(env, "test", "usage: test")
		fs.Int("j", 1, "")
		fs.Int("window", 2, "")
		fs.Duration("wait", time.Second, "")
		fs.Bool("quiet", false, "")
		err := Parse(fs, tc.args)
		var ue *UsageError
		require.ErrorAs(t, err, &ue, "%v", tc.args)
		require.Equal(t, tc.want, ue.Msg, "%v", tc.args)
	}
	require.ErrorIs(t, Parse(NewFlagSet(env, "test", "usage: test"), []string{"-h"}), flag.ErrHelp)
}
