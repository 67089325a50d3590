package partition

import (
	"errors"
	"fmt"
	"os"
)

// spillSegBytes is the size at which a spill segment stops taking results and the next
// results go to another segment, so that a segment whose results are all read back can be
// truncated while later ones still wait.
const spillSegBytes = 64 << 20

// spillBufKeep is the largest read-back buffer kept once nothing spilled waits: a small one
// is kept for the next stall, a larger one released.
const spillBufKeep = 64 << 10

// A spilled result's location packs its segment's index above spillOffBits and its offset
// in the segment below.
const (
	spillOffBits = 40
	spillOffMask = 1<<spillOffBits - 1
	maxSpillSegs = 1 << (64 - spillOffBits)
)

// spill is a Reorder's spill files: results written in arrival order to segments (unlinked
// temporary files), each read back once, in Seq order, by pread. Used by its Reorder only.
type spill struct {
	dir      string
	segBytes int64      // a segment this long takes no more results
	segs     []*segment // every segment ever created, by index (a result's location names it)
	cur      int        // index of the segment written to, when segs is not empty
	free     []int      // indices of empty segments (truncated to zero), to reuse
	held     int        // results written and not yet read back
	bytes    int64      // bytes in the segments, read back or not
	buf      []byte     // the buffer results are read back into
}

// segment is one spill file.
type segment struct {
	f    *os.File
	name string // the file's name while it still has one (unlinking failed); "" once unlinked
	end  int64  // bytes written
	live int    // results written and not yet read back
}

// write appends p (not empty) to the current segment and returns its location.
func (s *spill) write(p []byte) (loc uint64, err error) {
	i, err := s.current()
	if err != nil {
		return 0, err
	}
	seg := s.segs[i]
	n := int64(len(p))
	if seg.end+n > spillOffMask {
		return 0, fmt.Errorf("result of %d bytes too large for a spill file", n)
	}
	if _, err := seg.f.WriteAt(p, seg.end); err != nil {
		return 0, err
	}
	loc = uint64(i)<<spillOffBits | uint64(seg.end)
	seg.end += n
	seg.live++
	s.held++
	s.bytes += n
	return loc, nil
}

// current returns the index of the segment to write to: the current one until it is full,
// then an empty one, reused or new.
func (s *spill) current() (int, error) {
	if len(s.segs) > 0 && s.segs[s.cur].end < s.segBytes {
		return s.cur, nil
	}
	if n := len(s.free); n > 0 {
		s.cur, s.free = s.free[n-1], s.free[:n-1]
		return s.cur, nil
	}
	if len(s.segs) == maxSpillSegs {
		return 0, errors.New("too many spill files")
	}
	seg, err := newSegment(s.dir)
	if err != nil {
		return 0, err
	}
	s.segs = append(s.segs, seg)
	s.cur = len(s.segs) - 1
	return s.cur, nil
}

// newSegment creates a spill file in dir ("" for os.TempDir()) and unlinks it at once.
func newSegment(dir string) (*segment, error) {
	f, err := os.CreateTemp(dir, "mw-reorder-*.spill")
	if err != nil {
		return nil, err
	}
	seg := &segment{f: f}
	if os.Remove(f.Name()) != nil {
		seg.name = f.Name() // removed by close
	}
	return seg, nil
}

// take reads back the n-byte result at loc into s.buf and returns it; the segment is
// truncated to zero once nothing in it remains unread. On an error nothing changes.
func (s *spill) take(loc uint64, n int64) ([]byte, error) {
	i := int(loc >> spillOffBits)
	seg := s.segs[i]
	if int64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	buf := s.buf[:n]
	if _, err := seg.f.ReadAt(buf, int64(loc&spillOffMask)); err != nil {
		return nil, err
	}
	if seg.live == 1 {
		if err := seg.f.Truncate(0); err != nil {
			return nil, err
		}
		s.bytes -= seg.end
		seg.end = 0
		if i != s.cur {
			s.free = append(s.free, i)
		}
	}
	seg.live--
	s.held--
	return buf, nil
}

// close closes and removes every segment; it is safe to call more than once.
func (s *spill) close() error {
	var errs []error
	for _, seg := range s.segs {
		if err := seg.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("reorder: close spill file: %w", err))
		}
		if seg.name != "" {
			if err := os.Remove(seg.name); err != nil {
				errs = append(errs, fmt.Errorf("reorder: remove spill file: %w", err))
			}
		}
	}
	s.segs, s.free, s.buf, s.held, s.bytes = nil, nil, nil, 0, 0
	return errors.Join(errs...)
}
