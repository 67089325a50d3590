package mpimain

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// Without MPI (this process never starts it), End only reports and picks the code.
func TestEnd(t *testing.T) {
	usage := errors.New("usage: prog")
	for _, tc := range []struct {
		err  error
		code int
		say  string
	}{
		{nil, 0, ""},
		{fmt.Errorf("%w: bad flag", usage), 2, "prog[0]: usage: prog: bad flag\n"},
		{errors.New("replies sum to 3"), 1, "prog[0]: replies sum to 3\n"},
	} {
		var stderr bytes.Buffer
		require.Equal(t, tc.code, End("prog", tc.err, usage, &stderr), "%v", tc.err)
		require.Equal(t, tc.say, stderr.String())
	}
}
