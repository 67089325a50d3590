package overlay

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mw-hpc/mw/internal/quote"
)

// csvReader splits CSV text into records with encoding/csv's rules (RFC 4180: quoted fields
// with "" escapes and embedded newlines, \r\n line ends, blank lines skipped, a bare quote in
// an unquoted field is an error), but without allocating for fields that need no unescaping:
// those are substrings of the text. Fuzzing checks it against encoding/csv (FuzzCSV).
type csvReader struct {
	s      string
	p      int // next byte to read
	line   int // line number of s[p], from 1
	fields []string
	buf    []byte
}

var errQuote = errors.New(`extraneous or missing " in quoted field`)
var errBareQuote = errors.New(`bare " in a field that is not quoted`)

// next returns the next record and the line it starts on. The slice is reused by the next
// call. It returns io.EOF at the end.
func (r *csvReader) next() ([]string, int, error) {
	// Skip blank lines.
	for r.p < len(r.s) {
		c := r.s[r.p]
		if c == '\n' {
			r.p++
			r.line++
			continue
		}
		if c == '\r' && (r.p+1 == len(r.s) || r.s[r.p+1] == '\n') {
			r.p++
			continue
		}
		break
	}
	if r.p >= len(r.s) {
		return nil, r.line, io.EOF
	}
	start := r.line
	r.fields = r.fields[:0]
	// Fast path: a line without quotes.
	e := strings.IndexByte(r.s[r.p:], '\n')
	var ln string
	if e < 0 {
		ln = r.s[r.p:]
	} else {
		ln = r.s[r.p : r.p+e]
	}
	if strings.IndexByte(ln, '"') < 0 {
		if e < 0 {
			r.p = len(r.s)
		} else {
			r.p += e + 1
			r.line++
		}
		if n := len(ln); n > 0 && ln[n-1] == '\r' {
			ln = ln[:n-1]
		}
		for {
			i := strings.IndexByte(ln, ',')
			if i < 0 {
				r.fields = append(r.fields, ln)
				break
			}
			r.fields = append(r.fields, ln[:i])
			ln = ln[i+1:]
		}
		return r.fields, start, nil
	}
	return r.slow(start)
}

// slow reads one record that has quotes somewhere, byte by byte.
func (r *csvReader) slow(start int) ([]string, int, error) {
	s := r.s
	p := r.p
	for {
		// One field starts at p.
		if p < len(s) && s[p] == '"' {
			p++
			r.buf = r.buf[:0]
			for {
				i := strings.IndexAny(s[p:], "\"\r\n")
				if i < 0 {
					r.p = len(s)
					return nil, start, errQuote
				}
				r.buf = append(r.buf, s[p:p+i]...)
				p += i
				switch s[p] {
				case '\n':
					r.buf = append(r.buf, '\n')
					r.line++
					p++
					continue
				case '\r':
					if p+1 < len(s) && s[p+1] == '\n' {
						r.buf = append(r.buf, '\n')
						r.line++
						p += 2
					} else if p+1 == len(s) {
						// encoding/csv drops a final \r at the end of the input.
						p++
					} else {
						r.buf = append(r.buf, '\r')
						p++
					}
					continue
				}
				// A quote.
				p++
				if p < len(s) && s[p] == '"' {
					r.buf = append(r.buf, '"')
					p++
					continue
				}
				break
			}
			r.fields = append(r.fields, string(r.buf))
			// After the closing quote: a comma, the end of the line or of the input.
			switch {
			case p == len(s):
				r.p = p
				return r.fields, start, nil
			case s[p] == ',':
				p++
				continue
			case s[p] == '\n':
				r.p, r.line = p+1, r.line+1
				return r.fields, start, nil
			case s[p] == '\r' && (p+1 == len(s) || s[p+1] == '\n'):
				if p+1 == len(s) {
					r.p = len(s)
				} else {
					r.p, r.line = p+2, r.line+1
				}
				return r.fields, start, nil
			}
			r.skipLine(p)
			return nil, start, errQuote
		}
		// An unquoted field: up to a comma or the end of the line.
		i := strings.IndexAny(s[p:], ",\n")
		end := len(s)
		if i >= 0 {
			end = p + i
		}
		f := s[p:end]
		last := i < 0 || s[end] == '\n'
		if last {
			if n := len(f); n > 0 && f[n-1] == '\r' {
				f = f[:n-1]
			}
		}
		if strings.IndexByte(f, '"') >= 0 {
			r.skipLine(p)
			return nil, start, errBareQuote
		}
		r.fields = append(r.fields, f)
		if last {
			if i < 0 {
				r.p = len(s)
			} else {
				r.p, r.line = end+1, r.line+1
			}
			return r.fields, start, nil
		}
		p = end + 1
	}
}

// skipLine moves past the line holding p, so that a caller may go on after an error.
func (r *csvReader) skipLine(p int) {
	i := strings.IndexByte(r.s[p:], '\n')
	if i < 0 {
		r.p = len(r.s)
		return
	}
	r.p, r.line = p+i+1, r.line+1
}

// csvHeader is the fixed start of a map's CSV header.
var csvHeader = [...]string{"id", "xmin", "ymin", "xmax", "ymax"}

// ParseCSV parses a map in CSV (name is the file name for messages) and checks each
// rectangle on its own: the header, the field count, integer coordinates in the extent,
// positive area. It does not check how the rectangles tile the extent (see Validate).
func ParseCSV(name string, data []byte) (*Map, error) {
	m := &Map{File: name, Format: CSV}
	s := string(data)
	s = strings.TrimPrefix(s, "\ufeff") // a BOM, as spreadsheets write
	r := &csvReader{s: s, line: 1}
	hdr, line, err := r.next()
	if err == io.EOF {
		return nil, &InputError{Where: name, Msg: "empty file: want a header id,xmin,ymin,xmax,ymax"}
	}
	if err != nil {
		return nil, &InputError{Where: name, Msg: "header: " + err.Error()}
	}
	ok := len(hdr) >= len(csvHeader)
	for i := 0; ok && i < len(csvHeader); i++ {
		ok = strings.EqualFold(strings.TrimSpace(hdr[i]), csvHeader[i])
	}
	if !ok {
		return nil, &InputError{Where: fmt.Sprintf("%s:%d", name, line),
			Msg: fmt.Sprintf("header %s: want id,xmin,ymin,xmax,ymax first, then any attribute columns", quote.Clip(strings.Join(hdr, ",")))}
	}
	for _, c := range hdr[len(csvHeader):] {
		m.Cols = append(m.Cols, strings.TrimSpace(c))
	}
	nf := len(hdr)
	// Size the slices from the number of lines, to grow them once.
	est := strings.Count(s, "\n") + 1
	m.Rects = make([]Rect, 0, est)
	m.IDs = make([]string, 0, est)
	m.pos = make([]int32, 0, est)
	if len(m.Cols) > 0 {
		m.Vals = make([]string, 0, est*len(m.Cols))
	}
	for {
		rec, line, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &InputError{Where: fmt.Sprintf("%s:%d", name, line), Msg: "malformed line: " + err.Error()}
		}
		if len(rec) != nf {
			where := fmt.Sprintf("%s:%d", name, line)
			id := ""
			if len(rec) > 1 {
				id = fmt.Sprintf(" (id %s)", quote.Clip(rec[0]))
			}
			return nil, &InputError{Where: where + ": rectangle" + id,
				Msg: fmt.Sprintf("malformed line: %d fields, the header has %d", len(rec), nf)}
		}
		if rec[0] == "" {
			return nil, &InputError{Where: fmt.Sprintf("%s:%d: rectangle", name, line), Msg: "empty id"}
		}
		var c [4]int64
		for k := range 4 {
			v, ok := parseCoord(rec[1+k])
			if !ok {
				return nil, &InputError{Where: fmt.Sprintf("%s:%d: rectangle (id %s)", name, line, quote.Clip(rec[0])),
					Msg: fmt.Sprintf("%s %s is not an integer", csvHeader[1+k], quote.Clip(rec[1+k]))}
			}
			c[k] = v
		}
		if msg := checkRect(c[0], c[1], c[2], c[3]); msg != "" {
			return nil, &InputError{Where: fmt.Sprintf("%s:%d: rectangle (id %s)", name, line, quote.Clip(rec[0])), Msg: msg}
		}
		m.Rects = append(m.Rects, Rect{int32(c[0]), int32(c[1]), int32(c[2]), int32(c[3])})
		m.IDs = append(m.IDs, rec[0])
		m.Vals = append(m.Vals, rec[len(csvHeader):]...)
		m.pos = append(m.pos, int32(line))
	}
	if err := m.setExtent(); err != nil {
		return nil, err
	}
	return m, nil
}

// parseCoord parses an integer coordinate: digits with an optional sign, or a decimal whose
// value is a whole number ("12.0", "1e3"). It reports false for anything else.
func parseCoord(s string) (int64, bool) {
	if n := len(s); n > 0 && n <= 10 {
		var v int64
		i := 0
		neg := false
		if s[0] == '-' || s[0] == '+' {
			neg, i = s[0] == '-', 1
		}
		if i < n {
			for ; i < n; i++ {
				c := s[i] - '0'
				if c > 9 {
					goto slow
				}
				v = v*10 + int64(c)
			}
			if neg {
				v = -v
			}
			return v, true
		}
	}
slow:
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != float64(int64(f)) || f < -1<<40 || f > 1<<40 {
		return 0, false
	}
	return int64(f), true
}

// appendCSVField appends s to dst as one CSV field, quoted when it must be (as
// encoding/csv.Writer does).
func appendCSVField(dst []byte, s string) []byte {
	if !csvNeedsQuotes(s) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, '"')
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

func csvNeedsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s == `\.` || s[0] == ' ' || s[0] == '\t' {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}
