// Package partition cuts ordered data into numbered chunks and puts results back in order.
//
// A chunk is a numbered piece of ordered input (Seq 0, 1, 2, ...) holding one or more items
// (a frame, a rectangle, a task line). Sources here are lazy: they read the next chunk only
// when asked, so memory stays bounded whatever the input size.
//
//   - Fixed cuts a stream of fixed-size items (raw frames) into chunks of N items.
//   - Items groups variable-size items from any function into chunks of N items, framing
//     each item with its length (Pack and Unpack read and write that framing).
//   - Reorder releases results strictly in Seq order, holding those that wait in memory up
//     to a byte bound and in a temporary file beyond it.
package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Chunk is a numbered piece of ordered input. Seq counts from 0 in input order.
type Chunk struct {
	Seq  uint64
	Data []byte
	// Items is the number of items in the chunk when the source knows it (0 otherwise);
	// --chunk auto uses it to learn the time per item.
	Items int
	// Attempt counts from 0; it is above 0 when the engine re-issues a chunk after an error
	// (--retries), so a Worker can tell its last chance.
	Attempt int
	// Lost counts the worker ranks lost while they held this chunk: above 0 it runs again
	// on another worker (a task with side effects can tell).
	Lost int
}

// Fixed reads items of ItemSize bytes from R and returns chunks of up to PerChunk items.
// A final partial item is an error naming the item number.
type Fixed struct {
	r        io.Reader
	itemSize int
	perChunk int
	seq      uint64
	items    uint64
	done     bool
}

// NewFixed returns a Fixed source. itemSize and perChunk must be at least 1.
func NewFixed(r io.Reader, itemSize, perChunk int) (*Fixed, error) {
	if itemSize < 1 || perChunk < 1 {
		return nil, fmt.Errorf("partition: item size %d and chunk size %d must be at least 1", itemSize, perChunk)
	}
	return &Fixed{r: r, itemSize: itemSize, perChunk: perChunk}, nil
}

// Next returns the next chunk, or io.EOF after the last one.
func (f *Fixed) Next() (Chunk, error) {
	if f.done {
		return Chunk{}, io.EOF
	}
	buf := make([]byte, f.itemSize*f.perChunk)
	n, err := io.ReadFull(f.r, buf)
	switch {
	case err == io.EOF:
		f.done = true
		return Chunk{}, io.EOF
	case err == io.ErrUnexpectedEOF:
		f.done = true
		if n%f.itemSize != 0 {
			return Chunk{}, fmt.Errorf("item %d is truncated: %d of %d bytes", f.items+uint64(n/f.itemSize)+1, n%f.itemSize, f.itemSize)
		}
	case err != nil:
		return Chunk{}, err
	}
	f.items += uint64(n / f.itemSize)
	c := Chunk{Seq: f.seq, Data: buf[:n]}
	f.seq++
	return c, nil
}

// Items groups items returned by next (io.EOF at the end) into chunks of up to perChunk
// items, each framed by Pack.
type Items struct {
	next     func() ([]byte, error)
	perChunk int
	seq      uint64
	done     bool
}

// NewItems returns an Items source; perChunk must be at least 1.
func NewItems(next func() ([]byte, error), perChunk int) (*Items, error) {
	if perChunk < 1 {
		return nil, fmt.Errorf("partition: chunk size %d must be at least 1", perChunk)
	}
	return &Items{next: next, perChunk: perChunk}, nil
}

// Next returns the next chunk, or io.EOF after the last one.
func (s *Items) Next() (Chunk, error) {
	if s.done {
		return Chunk{}, io.EOF
	}
	var buf []byte
	n := 0
	for n < s.perChunk {
		item, err := s.next()
		if err == io.EOF {
			s.done = true
			break
		}
		if err != nil {
			return Chunk{}, err
		}
		buf = Pack(buf, item)
		n++
	}
	if n == 0 {
		return Chunk{}, io.EOF
	}
	c := Chunk{Seq: s.seq, Data: buf}
	s.seq++
	return c, nil
}

// Pack appends item to buf framed by its length (a uvarint) and returns the new buffer.
func Pack(buf, item []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(item)))
	return append(buf, item...)
}

// ErrFraming is returned by Unpack for bytes that Pack did not produce.
var ErrFraming = errors.New("partition: bad item framing")

// Unpack calls fn for each item framed by Pack in data, in order. The item slices alias
// data. It returns ErrFraming for malformed data and stops at fn's first error.
func Unpack(data []byte, fn func(i int, item []byte) error) error {
	for i := 0; len(data) > 0; i++ {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)-k) {
			return ErrFraming
		}
		if err := fn(i, data[k:k+int(n)]); err != nil {
			return err
		}
		data = data[k+int(n):]
	}
	return nil
}
