package pool

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/mw-hpc/mw/rank"
)

// The elements of Map and Stream travel in chunks, each "first count elements...", and
// come back as "first count status failures... results...": status says whether the chunk
// stopped at a failure (then no results follow) or holds every result (with KeepGoing,
// the failed ones zero); each failure is an encoded *TaskError naming its element.

const (
	chunkOK     byte = 0
	chunkFailed byte = 1
)

// maxChunkElems bounds the elements a chunk may announce (see also codec.fits).
const maxChunkElems = 1 << 28

// elementJob computes chunks of T into results of R with fn, for Map and Stream.
type elementJob[T, R any] struct {
	fn  func(context.Context, T) (R, error)
	in  codec[T]
	out codec[R]
	c   *call
}

func newElementJob[T, R any](c *call, fn func(context.Context, T) (R, error)) *elementJob[T, R] {
	return &elementJob[T, R]{fn: fn, in: codecFor[T](), out: codecFor[R](), c: c}
}

// newWorker is the job's NewWorker: each computing rank names itself once.
func (j *elementJob[T, R]) newWorker([]byte) (rank.Worker, error) {
	rk, host := j.c.name()
	return func(ctx context.Context, ch rank.Chunk) ([]byte, error) {
		return j.compute(ctx, ch, rk, host)
	}, nil
}

// compute applies fn to each element of chunk ch. A failure before the last try
// (Retries) fails the chunk for the engine to issue again; at the last try it goes in the
// answer, with the rank, chunk and element, and the chunk stops there unless KeepGoing.
func (j *elementJob[T, R]) compute(ctx context.Context, ch rank.Chunk, rk int, host string) ([]byte, error) {
	r := reader{b: ch.Data}
	first, count := r.uvarint(), r.uvarint()
	if r.err != nil || count > maxChunkElems || !j.in.fits(count, len(r.b)) {
		return nil, fmt.Errorf("chunk %d: malformed header", ch.Seq)
	}
	xs := make([]T, count)
	if _, err := j.in.decode(r.b, xs); err != nil {
		return nil, fmt.Errorf("chunk %d: %w", ch.Seq, err)
	}
	rs := make([]R, count)
	var fails []byte
	nfail, status := 0, chunkOK
	done := ctx.Done()
	for i := range xs {
		if i%256 == 255 {
			select {
			case <-done: // the job stopped (or a backup copy lost): the answer goes nowhere
				return nil, ctx.Err()
			default:
			}
		}
		v, err := apply(ctx, j.fn, xs[i])
		if err == nil {
			rs[i] = v
			continue
		}
		if ch.Attempt < j.c.s.cfg.Retries {
			return nil, err
		}
		fails = encodeError(fails, &TaskError{Rank: rk, Host: host, Chunk: ch.Seq, Element: int(first) + i, Err: err})
		nfail++
		if !j.c.s.keepGoing {
			status = chunkFailed
			break
		}
	}
	out := appendUvarints(nil, first, count)
	out = append(out, status)
	out = binary.AppendUvarint(out, uint64(nfail))
	out = append(out, fails...)
	if status == chunkFailed {
		return out, nil
	}
	return j.out.append(out, rs)
}

// apply calls fn, turning a panic into an error that wraps ErrPanic.
func apply[T, R any](ctx context.Context, fn func(context.Context, T) (R, error), x T) (r R, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %v (at %s)", ErrPanic, v, panicSite())
		}
	}()
	return fn(ctx, x)
}

// answer is a chunk's result as rank 0 reads it.
type answer struct {
	first, count int
	failed       bool         // the chunk stopped at its failure: no results
	fails        []*TaskError // in element order
	results      []byte       // the encoded results, unless failed
}

func readAnswer(seq uint64, data []byte) (answer, error) {
	r := reader{b: data}
	a := answer{first: int(r.uvarint()), count: int(r.uvarint())}
	a.failed = r.byte() == chunkFailed
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		te, ok := decodeError(&r).(*TaskError)
		if !ok {
			r.fail(fmt.Errorf("a failure that is not an element's"))
		}
		a.fails = append(a.fails, te)
	}
	if a.failed && len(a.fails) == 0 {
		r.fail(fmt.Errorf("a failed chunk without its failure"))
	}
	if r.err != nil || a.count > maxChunkElems || a.first < 0 {
		return answer{}, fmt.Errorf("chunk %d: malformed answer: %v", seq, r.err)
	}
	a.results = r.b
	return a, nil
}

// decodeInto decodes the answer's results into out, which holds count results.
func decodeInto[R any](a answer, c codec[R], out []R) error {
	if !a.failed && !c.fits(uint64(len(out)), len(a.results)) {
		return fmt.Errorf("results of elements %d to %d: %d bytes for %d results", a.first, a.first+a.count-1, len(a.results), len(out))
	}
	if _, err := c.decode(a.results, out); err != nil {
		return fmt.Errorf("results of elements %d to %d: %w", a.first, a.first+a.count-1, err)
	}
	return nil
}

// sliceSource cuts a slice into chunks: of per elements, or (per 0) of the sizes the
// engine asks for; it skips the ranges a journal holds already. Rank 0 only.
type sliceSource[T any] struct {
	in    []T
	codec codec[T]
	per   int
	next  int
	seq   uint64
	left  int64             // elements still to issue
	skip  [][2]int          // ranges [from, to) to skip, sorted
	crcs  map[uint64]uint32 // journaling: each chunk's input CRC, until its answer
}

func newSliceSource[T any](in []T, c codec[T], per int) *sliceSource[T] {
	return &sliceSource[T]{in: in, codec: c, per: per, left: int64(len(in))}
}

func (s *sliceSource[T]) Next() (rank.Chunk, error) { return s.NextN(s.per) }

func (s *sliceSource[T]) NextN(n int) (rank.Chunk, error) {
	for len(s.skip) > 0 && s.next >= s.skip[0][0] {
		s.next = max(s.next, s.skip[0][1])
		s.skip = s.skip[1:]
	}
	if s.next >= len(s.in) {
		return rank.Chunk{}, io.EOF
	}
	if s.per > 0 {
		n = s.per
	}
	end := min(s.next+max(n, 1), len(s.in))
	if len(s.skip) > 0 {
		end = min(end, s.skip[0][0])
	}
	c, err := encodeChunk(s.codec, s.seq, s.next, s.in[s.next:end])
	if err != nil {
		return c, err
	}
	if s.crcs != nil {
		s.crcs[c.Seq] = crc32.Checksum(c.Data[uvarintLen(uint64(s.next))+uvarintLen(uint64(end-s.next)):], castagnoli)
	}
	s.left -= int64(end - s.next)
	s.seq++
	s.next = end
	return c, nil
}

func (s *sliceSource[T]) Remaining() int64 { return s.left }

// encodeChunk makes chunk seq of the elements xs, the first of which has index first.
func encodeChunk[T any](c codec[T], seq uint64, first int, xs []T) (rank.Chunk, error) {
	b := appendUvarints(make([]byte, 0, 16+len(xs)*max(c.size, 8)), uint64(first), uint64(len(xs)))
	b, err := c.append(b, xs)
	if err != nil {
		return rank.Chunk{}, fmt.Errorf("elements %d to %d: %w", first, first+len(xs)-1, err)
	}
	return rank.Chunk{Seq: seq, Data: b, Items: len(xs)}, nil
}

// chunks is the number of chunks of per elements n elements make, or -1 when the engine
// sizes them.
func chunks(n, per int) int64 {
	if per <= 0 {
		return -1
	}
	return int64((n + per - 1) / per)
}

// errOutOfRange is the error of an answer for elements beyond the input's n.
func errOutOfRange(seq uint64, a answer, n int) error {
	return fmt.Errorf("chunk %d: answer for elements %d to %d of %d", seq, a.first, a.first+a.count-1, n)
}
