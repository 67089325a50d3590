package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckDistinct: an output that is another flag's file too is refused however it is
// spelled (a relative path, a hard link, a symbolic link, a file not yet made); inputs may
// share a file, and stdin, stdout and special files may be named twice.
func TestCheckDistinct(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	require.NoError(t, os.WriteFile(in, []byte("data"), 0o644))
	require.NoError(t, os.Link(in, filepath.Join(dir, "hard")))
	require.NoError(t, os.Symlink(in, filepath.Join(dir, "soft")))
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
		{"inputs may share", []File{In("-a", "in"), In("-a", "hard"), In("-b", "in")}, ""},
		{"stdin and stdout", []File{In("-i", "-"), Out("-o", "-"), Out("--stats", "-"), Out("--trace", "")}, ""},
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
