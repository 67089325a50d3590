package taskfarm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// recordSeparators are --recstart and --recend as GNU parallel reads them (\n \t \r \0 \\
// \' \" escapes; without either, records end with a newline).
func (o *options) recordSeparators() (start, end string) {
	switch {
	case o.recStartSet && o.recEndSet:
		start, end = o.recStart, o.recEnd
	case o.recStartSet:
		start = o.recStart
	case o.recEndSet:
		end = o.recEnd
	default:
		end = "\n"
	}
	unescape := strings.NewReplacer(`\0`, "\x00", `\r`, "\r", `\n`, "\n", `\t`, "\t", `\'`, "'", `\"`, `"`, `\\`, `\`)
	return unescape.Replace(start), unescape.Replace(end)
}

// blockCutter cuts --pipe's input into blocks as GNU parallel does: it fills a buffer up
// to a multiple of --block bytes, then cuts after the last record end followed by a record
// start (or, with -N, every N records); what is left starts the next block. A buffer with
// no cut in it grows the block by 30%.
type blockCutter struct {
	r          io.Reader
	buf        []byte
	block      int
	sep        []byte // recend then recstart
	recEnd     int    // length of recend: the cut is after it
	records    int    // -N: records per block, 0 by size
	eof        bool
	out        [][]byte
	lastPassed bool
}

const maxBlock = 1<<31 - 1

// newBlockCutter reads the header (N lines, or none) and returns the cutter of the rest.
func newBlockCutter(r io.Reader, o *options) (*blockCutter, []byte, error) {
	start, end := o.recordSeparators()
	block := int64(1 << 20)
	if o.blockSet {
		block = o.block
	}
	c := &blockCutter{block: int(min(block, maxBlock)), sep: []byte(end + start), recEnd: len(end), records: max(o.maxArgs, 0)}
	br := bufio.NewReaderSize(r, 64<<10)
	c.r = br
	header, err := readHeaderLines(br, headerLines(o.header))
	return c, header, err
}

// headerLines is the number of lines --header takes with --pipe.
func headerLines(h string) int {
	if h == ":" {
		return 1
	}
	n, _ := strconv.Atoi(h)
	return n
}

// readHeaderLines reads n lines; fewer at the end of the input are no header (they stay
// input, as GNU parallel's regular expression does not match them).
func readHeaderLines(br *bufio.Reader, n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	var h []byte
	for i := 0; i < n; i++ {
		line, err := br.ReadBytes('\n')
		h = append(h, line...)
		if err == io.EOF {
			// Not a header: put it back in front of the rest.
			return nil, pushBack(br, h)
		}
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}

// pushBack makes br read data again before the rest (a short input with no full header).
func pushBack(br *bufio.Reader, data []byte) error {
	rest, err := io.ReadAll(br)
	if err != nil {
		return err
	}
	br.Reset(io.MultiReader(bytes.NewReader(data), bytes.NewReader(rest)))
	return nil
}

// next returns the next block, or io.EOF.
func (c *blockCutter) next() ([]byte, error) {
	for len(c.out) == 0 {
		if c.lastPassed {
			return nil, io.EOF
		}
		if err := c.round(); err != nil {
			return nil, err
		}
	}
	b := c.out[0]
	c.out = c.out[1:]
	return b, nil
}

// round reads up to the next multiple of the block size and cuts what it can.
func (c *blockCutter) round() error {
	if err := c.fill(); err != nil {
		return err
	}
	written := false
	if c.records > 0 {
		written = c.passRecords()
	} else if !c.eof {
		written = c.passLast()
	}
	if c.eof {
		if len(c.buf) > 0 {
			c.out = append(c.out, c.buf)
			c.buf = nil
		}
		c.lastPassed = true
		return nil
	}
	if !written && c.block < maxBlock {
		c.block = int(min(math.Ceil(float64(c.block)*1.3+1), maxBlock))
	}
	return nil
}

// fill reads until the buffer holds a multiple of the block size, or the input ends.
func (c *blockCutter) fill() error {
	want := c.block - len(c.buf)%c.block
	for want > 0 {
		old := len(c.buf)
		c.buf = append(c.buf, make([]byte, want)...)
		n, err := io.ReadFull(c.r, c.buf[old:])
		c.buf = c.buf[:old+n]
		want -= n
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			c.eof = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
	}
	return nil
}

// passLast cuts after the last separator in the buffer.
func (c *blockCutter) passLast() bool {
	i := bytes.LastIndex(c.buf, c.sep)
	if i < 0 {
		return false
	}
	return c.cut(i + c.recEnd)
}

// passRecords cuts blocks of -N records while the buffer holds them.
func (c *blockCutter) passRecords() bool {
	written := false
	for len(c.buf) > 0 {
		i := nthIndex(c.buf, c.sep, c.records)
		if i < 0 {
			break
		}
		written = c.cut(i+c.recEnd) || written
	}
	return written
}

// cut makes the first n bytes a block; an empty one is none.
func (c *blockCutter) cut(n int) bool {
	if n == 0 {
		return false
	}
	b := make([]byte, n)
	copy(b, c.buf)
	c.out = append(c.out, b)
	c.buf = c.buf[n:]
	return true
}

// nthIndex is where the n-th separator is, each looked for from one past the previous
// one, the first from position 1 (GNU parallel's nindex); -1 when there are fewer.
func nthIndex(buf, sep []byte, n int) int {
	i := 0
	for k := 0; k < n; k++ {
		from := i + 1
		if from > len(buf) {
			return -1
		}
		j := bytes.Index(buf[from:], sep)
		if j < 0 {
			return -1
		}
		i = from + j
	}
	return i
}

// partPositions are --pipepart's cuts of a file of size bytes after a header of skip
// bytes: every block bytes, each moved to just after the next record end followed by a
// record start; the first is skip and the last the file's end.
func partPositions(f io.ReaderAt, size, skip, block int64, sep []byte, recEnd int) ([]int64, error) {
	pos := []int64{skip}
	for p := block + skip; p < size; p += block {
		if len(sep) == 0 {
			pos = append(pos, p)
			continue
		}
		i, err := indexFrom(f, p, size, sep)
		if err != nil {
			return nil, err
		}
		if i >= 0 {
			p = i + int64(recEnd)
			pos = append(pos, p)
		}
	}
	if pos[len(pos)-1] != size {
		pos = append(pos, size)
	}
	return pos, nil
}

// indexFrom finds sep in f at or after off, or -1.
func indexFrom(f io.ReaderAt, off, size int64, sep []byte) (int64, error) {
	const step = 128 << 10
	var buf []byte
	start := off
	for at := off; at < size; {
		n := min(step, size-at)
		chunk := make([]byte, n)
		if _, err := f.ReadAt(chunk, at); err != nil && err != io.EOF {
			return -1, err
		}
		buf = append(buf, chunk...)
		at += n
		if i := bytes.Index(buf, sep); i >= 0 {
			return start + int64(i), nil
		}
		// Keep only the tail that may begin a separator.
		if keep := len(sep) - 1; len(buf) > keep {
			start += int64(len(buf) - keep)
			buf = append([]byte(nil), buf[len(buf)-keep:]...)
		}
	}
	return -1, nil
}

// blockJobs are --pipe's jobs: the blocks of the input (stdin, or -a FILE).
func (m *manager) blockJobs(st *setup) (jobStream, error) {
	r := m.env.Stdin
	if len(m.o.inputs) == 1 && m.o.inputs[0].path != "-" {
		f, err := os.Open(m.o.inputs[0].path)
		if err != nil {
			return nil, fmt.Errorf("cannot open input file: %w", err)
		}
		m.closer, r = f, f
	}
	c, header, err := newBlockCutter(r, m.o)
	if err != nil {
		return nil, err
	}
	st.header = header
	var seq uint64
	return func() (*job, error) {
		b, err := c.next()
		if err != nil {
			return nil, err
		}
		seq++
		return &job{seq: seq, data: b}, nil
	}, nil
}

// partJobs are --pipepart's jobs: the parts of the file, found before any job (only their
// offsets travel; each worker reads its part from the file).
func (m *manager) partJobs(st *setup) (jobStream, error) {
	o := m.o
	f, err := os.Open(o.inputs[0].path)
	if err != nil {
		return nil, fmt.Errorf("cannot open input file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("--pipepart only works on regular files, not streams or pipes")
	}
	header, err := readHeaderLines(bufio.NewReader(io.NewSectionReader(f, 0, fi.Size())), headerLines(o.header))
	if err != nil {
		return nil, err
	}
	st.header = header
	block := o.partBlock(fi.Size())
	start, end := o.recordSeparators()
	pos, err := partPositions(f, fi.Size(), int64(len(header)), block, []byte(end+start), len(end))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.inputs[0].path, err)
	}
	st.ntasks = int64(len(pos) - 1)
	i := 0
	return func() (*job, error) {
		if i+1 >= len(pos) {
			return nil, io.EOF
		}
		i++
		return &job{seq: uint64(i), off: pos[i-1], size: pos[i] - pos[i-1]}, nil
	}, nil
}

// partBlock is --pipepart's block size: --block, or for --block -N (default -10) the file's
// size over N parts per job slot, as GNU parallel computes it.
func (o *options) partBlock(size int64) int64 {
	b := int64(-10)
	if o.blockSet {
		b = o.block
	}
	if b > 0 {
		return b
	}
	return 1 + size/int64(max(1, o.slotsOnRank0))/(-b)
}
