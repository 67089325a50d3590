package partition

import (
	"errors"
	"fmt"

	"github.com/mw-hpc/mw/internal/frame"
)

// DefaultReorderMem is the default bound on the bytes of results a Reorder holds in memory.
// The engine promises memory bounded by workers x window for the chunks in flight plus this
// bound for the results waiting for their turn. 512 MiB holds hundreds of megabyte-sized
// results, so short stalls never touch the disk; yet with Go's collector headroom (a heap up
// to twice the live bytes at GOGC=100) it stays a small share of a compute node's memory.
const DefaultReorderMem = 512 << 20

// MaxReorderSpan is the widest range of seqs a Reorder indexes: Put refuses a seq this far or
// further past Next, so the caller must not issue chunks that far ahead. It caps the index at
// reorderSlotBytes x MaxReorderSpan = 640 MiB.
const MaxReorderSpan = 1 << 24

// reorderSlotBytes is the memory one slot of the index takes (a test checks it).
const reorderSlotBytes = 40

// ReorderConfig configures a Reorder.
type ReorderConfig struct {
	First    uint64 // Seq of the first result to release
	MemBytes int64  // most bytes of results held in memory; 0 means DefaultReorderMem
	Dir      string // directory for the spill files; "" means os.TempDir()
}

// Reorder holds results that arrive out of order and releases them strictly in Seq order.
//
// It is bounded by memory, not by a count of entries: results waiting take at most MemBytes
// of memory (counted as the len of each result; the buffers, from package frame, may be
// larger), plus the result whose turn it is, which never waits. A result that waits is
// copied, so the caller's buffer is free again at once (the engine's receive buffers go back
// to their pool after each frame); one that would take the bytes held past MemBytes goes to
// a spill file instead and comes back in its turn, so a slow chunk at the head costs only
// itself. The incoming result is the one spilled, never one already held: either way each
// arrival while memory is full costs one write and one read. Dir should be on a disk: on a
// tmpfs, spilling saves no memory.
//
// Spill files are created only when the first spill happens, as segments of 64 MiB
// (spillSegBytes), each unlinked right after creation (a killed process leaves nothing; where
// unlinking an open file fails, the name is kept and removed by Close). A segment is
// truncated to zero as soon as nothing in it remains unread, then reused, so repeated stalls
// do not grow the files without end: they hold the unread results plus, in each segment that
// holds any, at most a segment of results already read back.
//
// Besides the results, memory holds the index of waiting entries: a ring of slots indexed by
// seq (no hashing per chunk), 40 bytes a slot (reorderSlotBytes), as many as the smallest
// power of two at least the widest span [Next(), seq] seen (64 at first; it does not shrink).
// Once a spilled result is read back, a buffer the size of the largest such result is held
// too, released when nothing spilled waits (unless it is 64 KiB or less).
//
// Not safe for concurrent use: one goroutine (the engine's manager) owns it.
type Reorder struct {
	next     uint64 // Seq of the next entry to release
	ring     []slot // the slot of seq at seq & (len(ring)-1); len(ring) is a power of two
	held     int    // entries waiting
	memBytes int64  // bytes of the results held in memory
	memMax   int64  // the bound on memBytes (but for the head result)
	spill    spill
	popped   []byte // the copy the last Pop returned, given back at the next
	closed   bool
	st       ReorderStats
}

// Entry is one entry Pop releases: a result, or a gap where a chunk is left out.
type Entry struct {
	Seq  uint64
	Data []byte // the result; nil for a gap
	Gap  bool   // the chunk is left out of the output (PutGap)
	// Data is the buffer the caller gave Put when Put kept it (the result's turn had
	// come); otherwise a buffer the Reorder owns, valid until the next Pop. Spilled tells
	// that the result went to the spill file and was read back.
	Spilled bool
}

// ReorderStats counts what a Reorder did.
type ReorderStats struct {
	MaxHeld      int    // most entries waiting at once
	MaxSpan      uint64 // widest span [Next(), seq] of a waiting seq, counting both ends
	MaxMemBytes  int64  // most bytes of results held in memory at once, the head's included
	Spilled      uint64 // results written to the spill files
	SpilledBytes uint64 // bytes of those results
	MaxDiskBytes int64  // most bytes the spill files took at once
}

// errReorderClosed is the error of a call after Close.
var errReorderClosed = errors.New("reorder: closed")

// initialRing is the ring's size before any growth: enough for a small farm's window.
const initialRing = 64

// NewReorder returns a Reorder that releases entries from Seq cfg.First on.
func NewReorder(cfg ReorderConfig) *Reorder {
	if cfg.MemBytes <= 0 {
		cfg.MemBytes = DefaultReorderMem
	}
	return &Reorder{
		next:   cfg.First,
		ring:   make([]slot, initialRing),
		memMax: cfg.MemBytes,
		spill:  spill{dir: cfg.Dir, segBytes: spillSegBytes},
	}
}

// Next is the Seq of the next entry to release.
func (r *Reorder) Next() uint64 { return r.next }

// Held is the number of entries waiting, in memory or spilled.
func (r *Reorder) Held() int { return r.held }

// Stats returns what the Reorder did so far.
func (r *Reorder) Stats() ReorderStats { return r.st }

// Put stores the result of chunk seq. kept reports whether r keeps out itself, which it does
// only when seq is the next to release: the caller must then Pop it before reusing out.
// Otherwise r copied out (to memory, or to the spill file) and the caller may reuse out at
// once. A seq already released or held is an error (a duplicate), and so is a failed write
// to the spill file.
func (r *Reorder) Put(seq uint64, out []byte) (kept bool, err error) {
	return r.put(seq, out, nil)
}

// PutFrame stores the result of chunk seq, buf[off:], where buf is a buffer from package
// frame that r takes over instead of copying the result (a large result that came alone in
// its frame): r gives buf back to package frame once the entry is released (at the next
// Pop) or spilled. Its errors are Put's; buf is given back on an error too.
func (r *Reorder) PutFrame(seq uint64, buf []byte, off int) error {
	_, err := r.put(seq, buf[off:], buf)
	return err
}

// put stores out, copying it unless it is the head's or buf holds it (out is buf's tail).
func (r *Reorder) put(seq uint64, out, buf []byte) (kept bool, err error) {
	s, err := r.claim(seq)
	if err != nil {
		frame.Put(buf)
		return false, err
	}
	n := int64(len(out))
	if seq != r.next && n > 0 && r.memBytes+n > r.memMax {
		loc, err := r.spill.write(out)
		frame.Put(buf)
		if err != nil {
			return false, fmt.Errorf("reorder: spill chunk %d: %w", seq, err)
		}
		s.loc, s.state = loc, spilledState(n) // an empty slot has no data
		r.st.Spilled++
		r.st.SpilledBytes += uint64(n)
		r.st.MaxDiskBytes = max(r.st.MaxDiskBytes, r.spill.bytes)
		r.arrived()
		return false, nil
	}
	switch kept = seq == r.next && buf == nil; {
	case buf != nil:
		s.data, s.loc, s.state = buf, uint64(len(buf)-len(out)), stateFrame // the frame, and where the result starts
	case kept:
		s.data, s.state = out, stateMem
	default:
		s.data, s.state = append(frame.Get(len(out))[:0], out...), stateCopy
	}
	r.memBytes += n
	r.st.MaxMemBytes = max(r.st.MaxMemBytes, r.memBytes)
	r.arrived()
	return kept, nil
}

// PutGap records that chunk seq is left out of the output (it failed, or a drain skipped
// it): Pop returns it in its turn with Gap set. A seq already released or held is an error.
func (r *Reorder) PutGap(seq uint64) error {
	s, err := r.claim(seq)
	if err != nil {
		return err
	}
	s.state = stateGap
	r.arrived()
	return nil
}

// Pop releases the next entry in Seq order if it has arrived (ok). A spilled result comes
// back in a buffer r owns, valid until the next Pop (Entry.Spilled). A failed read of the
// spill file is an error; the entry then stays in its place and a later Pop tries again.
func (r *Reorder) Pop() (e Entry, ok bool, err error) {
	if r.closed {
		return Entry{}, false, errReorderClosed
	}
	if cap(r.spill.buf) > spillBufKeep && r.spill.held == 0 {
		r.spill.buf = nil // no spilled result waits: the last one read back is released
	}
	if r.popped != nil {
		frame.Put(r.popped)
		r.popped = nil
	}
	s := &r.ring[r.next&uint64(len(r.ring)-1)]
	switch s.state {
	case stateEmpty:
		return Entry{}, false, nil
	case stateMem, stateCopy:
		e = Entry{Seq: r.next, Data: s.data}
		r.memBytes -= int64(len(s.data))
		if s.state == stateCopy {
			r.popped = s.data
		}
	case stateFrame:
		e = Entry{Seq: r.next, Data: s.data[s.loc:]}
		r.memBytes -= int64(len(e.Data))
		r.popped = s.data
	case stateGap:
		e = Entry{Seq: r.next, Gap: true}
	default:
		data, err := r.spill.take(s.loc, s.spilledLen())
		if err != nil {
			return Entry{}, false, fmt.Errorf("reorder: read back chunk %d: %w", r.next, err)
		}
		e = Entry{Seq: r.next, Data: data, Spilled: true}
	}
	s.data, s.state = nil, stateEmpty
	r.next++
	r.held--
	return e, true, nil
}

// Close removes the spill files and releases what r holds; calls after it fail. It is safe to
// call more than once.
func (r *Reorder) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.ring = nil
	return r.spill.close()
}

// claim returns the empty slot of seq, growing the ring to cover it, or the error that
// refuses seq.
func (r *Reorder) claim(seq uint64) (*slot, error) {
	span := seq - r.next + 1
	if r.closed || seq < r.next || span > uint64(len(r.ring)) {
		if err := r.widen(seq); err != nil {
			return nil, err
		}
	}
	s := &r.ring[seq&uint64(len(r.ring)-1)]
	if s.state != stateEmpty {
		return nil, fmt.Errorf("reorder: chunk %d received twice", seq)
	}
	r.st.MaxSpan = max(r.st.MaxSpan, span)
	return s, nil
}

// widen grows the ring to cover seq, or returns the error that refuses seq.
func (r *Reorder) widen(seq uint64) error {
	switch {
	case r.closed:
		return errReorderClosed
	case seq < r.next:
		return fmt.Errorf("reorder: chunk %d already released", seq)
	case seq-r.next >= MaxReorderSpan:
		return fmt.Errorf("reorder: chunk %d is %d or more past the next to release (%d)", seq, MaxReorderSpan, r.next)
	}
	r.grow(seq - r.next + 1)
	return nil
}

// grow doubles the ring until it holds span slots, moving every waiting entry to its slot.
func (r *Reorder) grow(span uint64) {
	n := uint64(len(r.ring))
	for n < span {
		n *= 2
	}
	ring := make([]slot, n)
	old := uint64(len(r.ring))
	for i := range old {
		seq := r.next + i
		ring[seq&(n-1)] = r.ring[seq&(old-1)]
	}
	r.ring = ring
}

// arrived counts an entry stored.
func (r *Reorder) arrived() {
	r.held++
	r.st.MaxHeld = max(r.st.MaxHeld, r.held)
}

// slot is one seq's place in the ring: empty, a result in memory (data: the caller's or a
// copy), a gap, or a result of n bytes spilled at loc. Its state is one number to keep the slot at 40 bytes.
type slot struct {
	data  []byte
	loc   uint64 // spilled: where (spill.write)
	state int64  // stateEmpty, stateMem, stateGap, or spilledState(n)
}

const (
	stateEmpty int64 = 0  // nothing arrived (the zero slot)
	stateMem   int64 = -1 // data holds the result, the caller's buffer
	stateGap   int64 = -2 // the chunk is left out
	stateCopy  int64 = -3 // data holds a copy of the result, from package frame
	stateFrame int64 = -4 // data is a frame handed over (PutFrame); the result is data[loc:]
)

// spilledState is the state of a slot whose n-byte result (n > 0) is spilled.
func spilledState(n int64) int64 { return n }

// spilledLen is the length of a spilled slot's result.
func (s *slot) spilledLen() int64 { return s.state }
