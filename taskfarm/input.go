package taskfarm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// recordReader yields the records of one input: split at the delimiter, without it. A last
// record without a delimiter is a record; empty records are records; an empty input has none.
type recordReader struct {
	r     *bufio.Reader
	delim []byte
	buf   []byte
}

func newRecordReader(r io.Reader, delim string) *recordReader {
	return &recordReader{r: bufio.NewReaderSize(r, 64<<10), delim: []byte(delim)}
}

// next returns the next record, valid until the next call, or io.EOF.
func (rr *recordReader) next() ([]byte, error) {
	if len(rr.delim) == 1 {
		return rr.nextByte(rr.delim[0])
	}
	return rr.nextString()
}

func (rr *recordReader) nextByte(d byte) ([]byte, error) {
	line, err := rr.r.ReadSlice(d)
	if err == nil {
		return line[:len(line)-1], nil
	}
	if err == bufio.ErrBufferFull {
		// A long record: gather it.
		rr.buf = append(rr.buf[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = rr.r.ReadSlice(d)
			rr.buf = append(rr.buf, line...)
		}
		if err == nil {
			return rr.buf[:len(rr.buf)-1], nil
		}
		line = rr.buf
	}
	if err == io.EOF && len(line) > 0 {
		return line, nil // the last record, without a delimiter
	}
	return nil, err
}

// nextString splits at a delimiter of several bytes (-d XY).
func (rr *recordReader) nextString() ([]byte, error) {
	rr.buf = rr.buf[:0]
	last := rr.delim[len(rr.delim)-1]
	for {
		line, err := rr.r.ReadSlice(last)
		rr.buf = append(rr.buf, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil && bytes.HasSuffix(rr.buf, rr.delim) {
			return rr.buf[:len(rr.buf)-len(rr.delim)], nil
		}
		if err == io.EOF {
			if len(rr.buf) > 0 {
				return rr.buf, nil
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
	}
}

// sourceKind is where an input source's values come from.
type sourceKind uint8

const (
	srcValues sourceKind = iota // ::: values on the command line
	srcFile                     // :::: FILE or -a FILE ("-": stdin)
)

// source is one input source as the command line gives it.
type source struct {
	kind   sourceKind
	values []string // srcValues
	path   string   // srcFile
	linked bool     // :::+ or ::::+: linked to the source before it
}

// name is the source as messages and --header 0 name it.
func (s source) name() string {
	if s.kind == srcValues {
		return ":::"
	}
	return s.path
}

// recordOptions are the options that shape records: how values are cut and cleaned.
type recordOptions struct {
	delim     string         // record delimiter: "\n", "\x00" (-0) or -d's
	colsep    *regexp.Regexp // --colsep: a record is split into columns
	eof       string         // -E: a record equal to it ends its source
	eofSet    bool
	skipEmpty bool // -r: records of only whitespace are left out
	header    string
}

// sourceReader reads one source's records, split into values.
type sourceReader struct {
	src   source
	rr    *recordReader
	close func() error
	opt   *recordOptions
	ended bool
}

// openSource opens a source for reading; stdin is the reader for "-". ::: values are read
// as GNU parallel reads them, joined by the delimiter into a file (so a value with the
// delimiter in it is two values).
func openSource(s source, opt *recordOptions, stdin io.Reader) (*sourceReader, error) {
	sr := &sourceReader{src: s, opt: opt}
	switch {
	case s.kind == srcValues:
		var b strings.Builder
		for _, v := range s.values {
			b.WriteString(v)
			b.WriteString(opt.delim)
		}
		sr.rr = newRecordReader(strings.NewReader(b.String()), opt.delim)
	case s.path == "-":
		sr.rr = newRecordReader(stdin, opt.delim)
	default:
		f, err := os.Open(s.path)
		if err != nil {
			return nil, fmt.Errorf("cannot open input file: %w", err)
		}
		sr.rr, sr.close = newRecordReader(f, opt.delim), f.Close
	}
	return sr, nil
}

// next returns the next record's values (columns with --colsep), or io.EOF.
func (sr *sourceReader) next() ([]string, error) {
	for !sr.ended {
		rec, err := sr.rr.next()
		if err == io.EOF {
			sr.ended = true
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read input %s: %w", sr.src.name(), err)
		}
		s := string(rec)
		if sr.opt.eofSet && s == sr.opt.eof {
			sr.ended = true
			break
		}
		if sr.opt.skipEmpty && strings.TrimFunc(s, isPerlSpace) == "" {
			continue
		}
		return splitColumns(s, sr.opt.colsep), nil
	}
	return nil, io.EOF
}

// Close closes the source's file.
func (sr *sourceReader) Close() error {
	if sr.close != nil {
		err := sr.close()
		sr.close = nil
		return err
	}
	return nil
}

// splitColumns splits a record with --colsep as Perl's split does: trailing empty columns
// are dropped, and a record that is empty has none.
func splitColumns(s string, re *regexp.Regexp) []string {
	if re == nil {
		return []string{s}
	}
	cols := perlSplit(re, s)
	if len(cols) == 0 {
		return []string{""}
	}
	return cols
}

// perlSplit is Perl's split /re/, s: a match of nothing at the start is skipped, and
// trailing empty fields are removed.
func perlSplit(re *regexp.Regexp, s string) []string {
	var out []string
	start := 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		if m[1] == 0 {
			continue // an empty match at the start splits nothing
		}
		if m[0] == m[1] && m[0] >= len(s) {
			break
		}
		out = append(out, s[start:m[0]])
		start = m[1]
	}
	out = append(out, s[start:])
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// parseDelimiter reads -d's value: characters and the escapes \n \t \r \0 \\ \a \b \f \v,
// octal \NNN and hexadecimal \xHH (printf's).
func parseDelimiter(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\':
			b.WriteByte('\\')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(s) && isHex(s[i+1]) {
				i++
				v = v*16 + hexVal(s[i])
				n++
			}
			if n == 0 {
				return "", errors.New(`\x needs hexadecimal digits`)
			}
			b.WriteByte(byte(v))
		default:
			if e < '0' || e > '7' {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			v := int(e - '0')
			for n := 1; n < 3 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; n++ {
				i++
				v = v*8 + int(s[i]-'0')
			}
			b.WriteByte(byte(v))
		}
	}
	if b.Len() == 0 {
		return "", errors.New("the delimiter is empty")
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}

// countRecords counts the records of r as recordReader would yield them, for a single-byte
// delimiter (the progress line's total).
func countRecords(r io.Reader, delim byte) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	last := delim
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{delim}))
			last = buf[k-1]
		}
		if err == io.EOF {
			if last != delim {
				n++
			}
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
