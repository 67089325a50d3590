package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/examples/internal/exrun"
)

// texts writes two files of generated text: words of a skewed vocabulary with mixed case,
// punctuation and a few non-ASCII letters, the second file without a final newline.
func texts(t *testing.T) []string {
	r := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 3000)
	letters := []rune("abcdefghijklmnopqrstuvwxyzéßø0123456789")
	for i := range vocab {
		w := make([]rune, 1+r.IntN(9))
		for j := range w {
			w[j] = letters[r.IntN(len(letters))]
		}
		vocab[i] = string(w)
	}
	var paths []string
	for f, size := range []int{200_000, 120_000} {
		var b strings.Builder
		for b.Len() < size {
			w := vocab[int(float64(len(vocab))*r.Float64()*r.Float64())]
			if r.IntN(5) == 0 {
				w = strings.ToUpper(w)
			}
			b.WriteString(w)
			b.WriteString([]string{" ", " ", ", ", ".\n", " -- ", "\t"}[r.IntN(6)])
		}
		p := filepath.Join(t.TempDir(), fmt.Sprintf("text%d.txt", f))
		require.NoError(t, os.WriteFile(p, []byte(strings.TrimRight(b.String(), "\n")), 0o644))
		paths = append(paths, p)
	}
	return paths
}

// oracle counts the words of the files in one pass, as the command documents them.
func oracle(t *testing.T, paths []string, top int) string {
	counts := map[string]int{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, w := range strings.FieldsFunc(string(data), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			counts[strings.ToLower(w)]++
		}
	}
	type wc struct {
		w string
		n int
	}
	var all []wc
	for w, n := range counts {
		all = append(all, wc{w, n})
	}
	slices.SortFunc(all, func(a, b wc) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.w, b.w)
	})
	if top > 0 {
		all = all[:top]
	}
	var b strings.Builder
	for _, x := range all {
		fmt.Fprintf(&b, "%d %s\n", x.n, x.w)
	}
	return b.String()
}

func TestWordCount(t *testing.T) {
	bin := exrun.Build(t, "wordcount")
	paths := texts(t)
	args := append([]string{"-block", "4096"}, paths...)
	alone := exrun.Run(t, 0, bin, args...)
	require.Equal(t, 0, alone.Code, "%s", alone.Stderr)
	require.Equal(t, oracle(t, paths, 0), string(alone.Stdout))
	top := exrun.Run(t, 0, bin, append([]string{"-top", "10"}, paths...)...)
	require.Equal(t, oracle(t, paths, 10), string(top.Stdout))
	if !exrun.MPI(t) {
		return
	}
	r := exrun.Run(t, 3, bin, args...)
	require.Equal(t, 0, r.Code, "%s", r.Stderr)
	require.Equal(t, string(alone.Stdout), string(r.Stdout))

	// A file rank 0 cannot open ends the job with one line and no output.
	r = exrun.Run(t, 3, bin, paths[0], filepath.Join(t.TempDir(), "missing.txt"))
	require.Equal(t, 1, r.Code)
	require.Empty(t, r.Stdout)
	require.Contains(t, string(r.Stderr), "wordcount: open ")
	require.Contains(t, string(r.Stderr), "missing.txt: no such file or directory\n")
}
