package taskfarm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

// lineReader yields the lines of one input: split at '\n', without the '\n'. A last line
// without a newline is a line; empty lines are lines; an empty input has none.
type lineReader struct {
	r   *bufio.Reader
	buf []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line, valid until the next call, or io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	line, err := lr.r.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if err == bufio.ErrBufferFull {
		// A long line: gather it.
		lr.buf = append(lr.buf[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = lr.r.ReadSlice('\n')
			lr.buf = append(lr.buf, line...)
		}
		if err == nil {
			return lr.buf[:len(lr.buf)-1], nil
		}
		line = lr.buf
	}
	if err == io.EOF && len(line) > 0 {
		return line, nil // the last line, without a newline
	}
	return nil, err
}

// splitLines returns the lines of data as lineReader reads them (for tests and fuzzing).
func splitLines(data []byte) ([][]byte, error) {
	lr := newLineReader(bytes.NewReader(data))
	var out [][]byte
	for {
		l, err := lr.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, append([]byte{}, l...))
	}
}

// countLines counts the lines of r as lineReader would yield them.
func countLines(r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	last := byte('\n')
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if err == io.EOF {
			if last != '\n' {
				n++
			}
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// inputs reads the lines of several inputs one after the other ("-" is stdin), numbering
// them from 1. Each input's last line ends at its end, newline or not.
type inputs struct {
	paths []string
	stdin io.Reader
	cur   *lineReader
	close func() error
	i     int
	seq   uint64 // number of the last line returned
}

func (in *inputs) next() (seq uint64, line []byte, err error) {
	for {
		if in.cur == nil {
			if in.i >= len(in.paths) {
				return 0, nil, io.EOF
			}
			p := in.paths[in.i]
			in.i++
			if p == "-" {
				in.cur, in.close = newLineReader(in.stdin), nil
			} else {
				f, err := os.Open(p)
				if err != nil {
					return 0, nil, fmt.Errorf("open input: %w", err)
				}
				in.cur, in.close = newLineReader(f), f.Close
			}
		}
		line, err := in.cur.next()
		if err == nil {
			in.seq++
			return in.seq, line, nil
		}
		if in.close != nil {
			in.close()
		}
		in.cur, in.close = nil, nil
		if err != io.EOF {
			return 0, nil, fmt.Errorf("read input %s: %w", in.paths[in.i-1], err)
		}
	}
}

// Close closes the input being read, if any.
func (in *inputs) Close() error {
	if in.close != nil {
		err := in.close()
		in.cur, in.close = nil, nil
		return err
	}
	return nil
}

// countInputs counts the lines of every input when all are regular files, or returns -1.
func countInputs(paths []string) (int64, error) {
	var total int64
	for _, p := range paths {
		if p == "-" {
			return -1, nil
		}
		f, err := os.Open(p)
		if err != nil {
			return 0, fmt.Errorf("open input: %w", err)
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return -1, err
		}
		n, err := countLines(f)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("read input %s: %w", p, err)
		}
		total += n
	}
	return total, nil
}

// taskSource deals the tasks to run as chunks of up to perChunk tasks. Each item is the
// task's number (uvarint) followed by its line; tasks in skip are left out (--resume).
type taskSource struct {
	items *partition.Items
	in    *inputs
	skip  *seqSet
	buf   []byte
	n     uint64 // tasks dealt
}

var _ rank.Source = (*taskSource)(nil)

func newTaskSource(in *inputs, skip *seqSet, perChunk int) (*taskSource, error) {
	s := &taskSource{in: in, skip: skip}
	items, err := partition.NewItems(s.nextItem, perChunk)
	if err != nil {
		return nil, err
	}
	s.items = items
	return s, nil
}

func (s *taskSource) nextItem() ([]byte, error) {
	for {
		seq, line, err := s.in.next()
		if err != nil {
			return nil, err
		}
		if s.skip.has(seq) {
			continue
		}
		s.n++
		// Items copies the item into its chunk at once: the buffer can be reused.
		s.buf = binary.AppendUvarint(s.buf[:0], seq)
		s.buf = append(s.buf, line...)
		return s.buf, nil
	}
}

// Next returns the next chunk of tasks, or io.EOF.
func (s *taskSource) Next() (rank.Chunk, error) { return s.items.Next() }

// decodeTask splits a chunk item into the task's number and line.
func decodeTask(item []byte) (uint64, []byte, error) {
	seq, k := binary.Uvarint(item)
	if k <= 0 || seq == 0 {
		return 0, nil, errors.New("bad task item")
	}
	return seq, item[k:], nil
}
