package cli

import (
	"os"
	"path/filepath"
)

// File is a file a flag names, for Validate's check that no output is another flag's file.
type File struct {
	Flag string // "-o", "--journal"
	Path string // "-" or "" for stdin, stdout or none
	Read bool   // an input, only read: two inputs may be the same file
}

// In and Out name a flag's input and output files.
func In(flag, path string) File  { return File{Flag: flag, Path: path, Read: true} }
func Out(flag, path string) File { return File{Flag: flag, Path: path} }

// checkDistinct refuses, as a usage error, an output that is another flag's file too: an
// output written over an input, or over another output (the stats over the journal), would
// lose it. Stdin and stdout ("-"), unset flags ("") and files that are not regular files
// (/dev/null, a FIFO, a terminal) are left out: writing twice to those loses nothing of
// theirs.
func checkDistinct(files []File) error {
	type seen struct {
		File
		st  os.FileInfo // nil when the file does not exist yet
		abs string
	}
	var prev []seen
	for _, f := range files {
		if f.Path == "" || f.Path == "-" {
			continue
		}
		s := seen{File: f}
		if st, err := os.Stat(f.Path); err == nil {
			if !st.Mode().IsRegular() {
				continue
			}
			s.st = st
		}
		abs, err := filepath.Abs(f.Path)
		if err != nil {
			continue // no working directory: the open will say so
		}
		s.abs = abs
		for _, p := range prev {
			if p.Read && s.Read {
				continue
			}
			same := p.abs == s.abs
			if p.st != nil && s.st != nil {
				same = os.SameFile(p.st, s.st) // also through links and other spellings
			}
			if same {
				return Usagef("%s %s: is the file %s names too; give each its own file", f.Flag, f.Path, p.Flag)
			}
		}
		prev = append(prev, s)
	}
	return nil
}
