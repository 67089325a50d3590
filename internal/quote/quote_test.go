package quote

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClip(t *testing.T) {
	require.Equal(t, `"a\tb"`, Clip("a\tb"))
	require.Equal(t, `""`, Clip(""))
	long := strings.Repeat("x", 59) + "\x00\xff" + strings.Repeat("y", 1000)
	require.Equal(t, `"`+strings.Repeat("x", 59)+`\x00"...`, Clip(long))
	require.Equal(t, `"`+strings.Repeat("z", 60)+`"`, Clip(strings.Repeat("z", 60)))
}
