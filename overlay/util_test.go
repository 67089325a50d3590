package overlay

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// writeTemp writes m in format f to a new file in a test's temporary directory.
func writeTemp(t testing.TB, m *Map, f Format) string {
	t.Helper()
	ext := ".csv"
	if f == GeoJSON {
		ext = ".geojson"
	}
	var buf bytes.Buffer
	if err := WriteMap(&buf, f, m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "map"+ext)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
