package cli

import (
	"os"
	"path/filepath"
)

// File is a file a flag names, for Validate's check that no output is another flag's file.
type File struct {
	Flag string // "-o", "--journal"
	Path string // "-" for stdin or stdout, "" for none
	Read bool   // an input, only read: two inputs may be the same file
}

// In and Out name a flag's input and output files.
func In(flag, path string) File  { return File{Flag: flag, Path: path, Read: true} }
func Out(flag, path string) File { return File{Flag: flag, Path: path} }

// checkDistinct refuses, as a usage error, an output that is another flag's file too: an
// output written over an input, or over another output (the stats over the journal), would
// lose it; two outputs on stdout ("-") would mix. Unset flags ("") and files that are not
// regular files (/dev/null, a FIFO, a terminal) are left out: writing twice to those loses
// nothing of theirs. A file is the same however it is reached (a relative path, a hard or
// symbolic link, a directory's link for a file not yet made).
func checkDistinct(files []File) error {
	var prev []fileID
	for _, f := range files {
		if f.Path == "" {
			continue
		}
		id, ok := identify(f)
		if !ok {
			continue
		}
		for _, p := range prev {
			if (p.Read && id.Read) || !p.same(id) {
				continue
			}
			switch {
			case f.Path == "-" && p.Path == "-":
				return Usagef("%s -: stdout is taken by %s already; give one of them a file", f.Flag, p.Flag)
			case f.Path == "-" || p.Path == "-":
				return Usagef("%s %s and %s %s: one is the file the other's stream was redirected to; give each its own file", p.Flag, p.Path, f.Flag, f.Path)
			}
			return Usagef("%s %s: is the file %s names too; give each its own file", f.Flag, f.Path, p.Flag)
		}
		prev = append(prev, id)
	}
	return nil
}

// fileID is what makes two flags' files the same: the file itself when it exists, else its
// directory and name.
type fileID struct {
	File
	stdio bool        // "-": stdin for an input, stdout for an output
	st    os.FileInfo // the file, or (new) its directory
	base  string      // a new file's name in that directory
	abs   string      // its absolute path, when its directory cannot be read either
}

// stdin and stdout are the streams "-" names, for identify (tests replace them).
var stdin, stdout = os.Stdin, os.Stdout

// identify finds f's fileID; ok is false for a file left out of the check.
func identify(f File) (id fileID, ok bool) {
	id.File = f
	if f.Path == "-" {
		id.stdio = true
		stream := stdout
		if f.Read {
			stream = stdin
		}
		if st, err := stream.Stat(); err == nil && st.Mode().IsRegular() {
			id.st = st // a file the shell redirected: < in, > out
		}
		return id, true
	}
	if st, err := os.Stat(f.Path); err == nil {
		id.st = st
		return id, st.Mode().IsRegular()
	}
	real := followLinks(f.Path) // a link to a file not yet made names that file
	if st, err := os.Stat(filepath.Dir(real)); err == nil {
		id.st, id.base = st, filepath.Base(real)
		return id, true
	}
	abs, err := filepath.Abs(f.Path)
	if err != nil {
		return id, false // no working directory: the open will say so
	}
	id.abs = abs
	return id, true
}

// same reports whether two fileIDs name the same file.
func (a fileID) same(b fileID) bool {
	switch {
	case a.stdio && b.stdio:
		return a.Read == b.Read
	case a.stdio || b.stdio: // a redirected stream and a flag's file
		return a.st != nil && b.st != nil && a.base == "" && b.base == "" && os.SameFile(a.st, b.st)
	case a.abs != "" || b.abs != "":
		return a.abs == b.abs && a.abs != ""
	}
	return a.base == b.base && os.SameFile(a.st, b.st)
}
