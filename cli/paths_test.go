package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckDistinct: an output that is another flag's file too is refused however it is
// spelled (a relative path, a hard link, a symbolic link, a file not yet made, reached
// through a directory's link); so are two outputs on stdout. Inputs may share a file,
// stdin is not stdout, and special files may be named twice.
func TestCheckDistinct(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	require.NoError(t, os.WriteFile(in, []byte("data"), 0o644))
	require.NoError(t, os.Link(in, filepath.Join(dir, "hard")))
	require.NoError(t, os.Symlink(in, filepath.Join(dir, "soft")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(dir, "d"), filepath.Join(dir, "ld")))
	require.NoError(t, os.Symlink("d/new", filepath.Join(dir, "dangling"))) // to a file not yet made
	require.NoError(t, os.Symlink("..", filepath.Join(dir, "d", "up")))     // d/up/.. is dir's parent
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d", "sub"), 0o755))     // ld/sub/.. is d
	redirected, err := os.Open(in)                                          // mw ... < in
	require.NoError(t, err)
	defer redirected.Close()
	stdin = redirected
	defer func() { stdin = os.Stdin }()
	t.Chdir(dir)
	for _, tc := range []struct {
		name  string
		files []File
		want  string // "" for no error
	}{
		{"distinct", []File{In("-i", "in"), Out("-o", "out"), Out("--stats", "st")}, ""},
		{"output over input", []File{In("-i", "in"), Out("-o", in)}, "-o " + in + ": is the file -i names too"},
		{"hard link", []File{In("-i", "in"), Out("--journal", "hard")}, "--journal hard: is the file -i names too"},
		{"symbolic link", []File{Out("--stats", "soft"), In("-a", "in")}, "-a in: is the file --stats names too"},
		{"two new outputs", []File{Out("-o", "new"), Out("--trace", "./new")}, "--trace ./new: is the file -o names too"},
		{"new file through a directory's link", []File{Out("-o", "d/new"), Out("--stats", "ld/new")}, "--stats ld/new: is the file -o names too"},
		{"new files side by side", []File{Out("-o", "d/new"), Out("--stats", "ld/other"), Out("--trace", "new")}, ""},
		{"missing directory", []File{Out("-o", "no/such"), Out("--stats", "./no/such"), In("-i", "in")}, "--stats ./no/such: is the file -o names too"},
		{"link to a file not yet made", []File{Out("-o", "d/new"), Out("--stats", "dangling")}, "--stats dangling: is the file -o names too"},
		{"dot-dot after a link", []File{Out("-o", "d/x"), Out("--stats", "ld/sub/../x")}, "--stats ld/sub/../x: is the file -o names too"},
		{"dot-dot after a link, not the same", []File{Out("-o", "x"), Out("--stats", "d/up/../x")}, ""},
		{"output over redirected stdin", []File{In("-i", "-"), Out("--journal", "hard")}, "-i - and --journal hard: one is the file the other's stream was redirected to"},
		{"inputs may share", []File{In("-a", "in"), In("-a", "hard"), In("-b", "in"), In("-a", "-"), In("--tasks", "-")}, ""},
		{"stdin and stdout", []File{In("-i", "-"), Out("-o", "-"), Out("--stats", ""), Out("--trace", "")}, ""},
		{"two outputs on stdout", []File{In("-i", "-"), Out("-o", "-"), Out("--trace", "-")}, "--trace -: stdout is taken by -o already"},
		{"special files", []File{Out("-o", os.DevNull), Out("--stats", os.DevNull)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDistinct(tc.files)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			var ue *UsageError
			require.ErrorAs(t, err, &ue)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
