package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mw-hpc/mw/rank"
	"github.com/stretchr/testify/require"
)

func TestOutputCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	o, err := CreateOutput(path, nil)
	require.NoError(t, err)
	o.WriteString("hello")
	_, err = os.Stat(path)
	require.True(t, os.IsNotExist(err), "nothing at the final path before Commit")
	require.NoError(t, o.Commit())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "hello", string(b))

	o, err = CreateOutput(filepath.Join(dir, "failed.txt"), nil)
	require.NoError(t, err)
	o.WriteString("partial")
	o.Abort()
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "Abort leaves nothing behind")
}

// readFIFO makes a FIFO and reads it whole in the background: the bytes come on got.
func readFIFO(t *testing.T) (path string, got <-chan []byte) {
	path = filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	ch := make(chan []byte)
	go func() {
		b, _ := os.ReadFile(path)
		ch <- b
	}()
	return path, ch
}

// requireFIFO checks that path is still a FIFO, not a file renamed onto it.
func requireFIFO(t *testing.T, path string) {
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.ModeNamedPipe, st.Mode().Type(), "the FIFO is still a FIFO")
}

// A FIFO (like /dev/null, not a regular file) is written in place, never replaced.
func TestOutputToASpecialFileWritesInPlace(t *testing.T) {
	path, got := readFIFO(t)
	o, err := CreateOutput(path, nil)
	require.NoError(t, err)
	o.WriteString("through the pipe")
	require.NoError(t, o.Commit())
	require.Equal(t, "through the pipe", string(<-got))
	requireFIFO(t, path)
}

// --stats to a device or a pipe (/dev/stderr, which is a link to /proc/self/fd/2) writes
// there: renaming a file onto it replaced /dev/stderr with a regular file.
func TestStatsToASpecialFileWritesInPlace(t *testing.T) {
	path, got := readFIFO(t)
	require.NoError(t, WriteStats(path, nil, rank.Stats{Chunks: 7}))
	requireFIFO(t, path)
	require.Contains(t, string(<-got), `"chunks": 7`)

	file := filepath.Join(t.TempDir(), "stats.json")
	require.NoError(t, WriteStats(file, nil, rank.Stats{Chunks: 8}))
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Contains(t, string(b), `"chunks": 8`)
	var out strings.Builder
	require.NoError(t, WriteStats("-", &out, rank.Stats{Chunks: 9}))
	require.Contains(t, out.String(), `"chunks": 9`)
}

func TestCommittedOutputHasThePlainCreateMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	o, err := CreateOutput(path, nil)
	require.NoError(t, err)
	require.NoError(t, o.Commit())
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, 0o666&^umask, st.Mode().Perm())
}

// Drop, for a run a signal ended, writes nothing more to stdout when it is a pipe (whose
// reader, mpirun ending the job, may have stopped reading) and flushes it otherwise.
func TestDropLeavesAPipeAlone(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	o, err := CreateOutput("-", w)
	require.NoError(t, err)
	_, err = o.WriteString("buffered")
	require.NoError(t, err)
	o.Drop()
	w.Close()
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Empty(t, got)

	f, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	require.NoError(t, err)
	defer f.Close()
	o, err = CreateOutput("-", f)
	require.NoError(t, err)
	_, err = o.WriteString("buffered")
	require.NoError(t, err)
	o.Drop()
	got, err = os.ReadFile(f.Name())
	require.NoError(t, err)
	require.Equal(t, "buffered", string(got), "stdout redirected to a file keeps what was put")
}

// TestOpenPartialWithoutPartialFile: with no partial file, a resume takes the output it
// finds for complete only when the journal said it was renaming it, at that length. An
// output of the right length without that record (a partial file renamed by hand after a
// kill) is no proof: the resume fails, naming the partial file it lacks.
func TestOpenPartialWithoutPartialFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	require.NoError(t, os.WriteFile(out, []byte("0123456789"), 0o644))
	_, err := openPartial(out, true, 5, 10)
	require.ErrorIs(t, err, errComplete)
	for _, final := range []int64{-1, 9} {
		_, err = openPartial(out, true, 5, final)
		require.Error(t, err)
		require.NotErrorIs(t, err, errComplete)
		require.ErrorContains(t, err, ".out.txt.partial")
	}
}

// TestOutputToAnOpenFileAppends: an output named by one of this process's open files
// (/dev/stderr when the shell sent it to a log, here /proc/self/fd/N) is appended to in
// place; written under a temporary name and renamed, it would replace the link (as root,
// /dev/stderr itself) or fail.
func TestOutputToAnOpenFileAppends(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("before\n")
	require.NoError(t, err)
	o, err := CreateOutput(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), nil)
	require.NoError(t, err)
	_, err = o.WriteString("report\n")
	require.NoError(t, err)
	require.NoError(t, o.Commit())
	got, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, "before\nreport\n", string(got))
}

// TestOutputThroughASymlink: an output named by a symbolic link replaces the file the link
// names, and the link stays; a journaled output refuses a file that cannot be renamed onto.
func TestOutputThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target.txt"), filepath.Join(dir, "link.txt")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	require.NoError(t, os.Symlink(target, link))
	o, err := CreateOutput(link, nil)
	require.NoError(t, err)
	_, err = o.WriteString("new")
	require.NoError(t, err)
	require.NoError(t, o.Commit())
	st, err := os.Lstat(link)
	require.NoError(t, err)
	require.True(t, st.Mode()&os.ModeSymlink != 0, "the link was replaced")
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "new", string(got))

	ef := &EngineFlags{Journal: filepath.Join(dir, "j")}
	for _, p := range []string{os.DevNull, "/dev/stdout"} {
		_, err = ef.CreateOutput(p, nil)
		var ue *UsageError
		require.ErrorAs(t, err, &ue, p)
		require.ErrorContains(t, err, "is not a regular file")
	}
}
