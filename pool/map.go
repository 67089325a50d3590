package pool

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/mw-hpc/mw/rank"
)

// Map applies fn to every element of in across the job and returns the results in the
// order of in, on rank 0. It is a collective call: every rank calls it, with the same
// function. A worker rank computes and never reads in (so workers may pass nil), and gets
// nil results; every rank gets the same error.
//
// Elements and results travel as their memory when their type holds no pointers, as
// length-prefixed bytes for strings and byte slices, and encoded with encoding/gob
// otherwise (so their fields must be exported). fn must be safe for concurrent use. The
// engine sizes the chunks (Chunk sets a fixed size). The first error of fn (after Retries)
// ends the job and is returned as a *TaskError naming the rank, chunk and element; with
// KeepGoing every other element is computed and a *PartialError lists the failures. With
// Journal the results are kept in a file as they come, and a Map run again after a kill
// computes only those the file lacks.
func Map[T, R any](ctx context.Context, in []T, fn func(context.Context, T) (R, error), opts ...Option) ([]R, error) {
	pos := callAt(0, "pool.Map", []reflect.Type{reflect.TypeFor[T](), reflect.TypeFor[R]()}, fn)
	s := newSettings(opts)
	if err := s.refuse("pool.Map", givenUnordered); err != nil {
		return nil, err
	}
	c, err := startCall(ctx, "pool.Map", pos, s)
	if err != nil {
		return nil, err
	}
	defer c.finish()
	c.s.cfg.Unordered = true // each result goes to its element's place as it comes
	c.s.cfg.KeepGoing = false
	j := newElementJob(c, fn)
	sink := &mapSink[R]{codec: j.out, keepGoing: c.s.keepGoing}
	job := rank.Job{
		Name:      "map",
		NewWorker: j.newWorker,
		Open: func(context.Context) (*rank.Plan, error) {
			sink.out = make([]R, len(in))
			src := newSliceSource(in, j.in, c.s.chunk)
			if c.s.journal != "" {
				what := fmt.Sprintf("pool.Map[%v, %v]", reflect.TypeFor[T](), reflect.TypeFor[R]())
				if err := resume(c.s.journal, what, src, sink); err != nil {
					return nil, err
				}
			}
			return &rank.Plan{Source: src, Sink: sink, Total: chunks(len(in), c.s.chunk)}, nil
		},
	}
	_, err = c.engine(ctx, job)
	if sink.journal != nil {
		err = firstErr(err, sink.journal.close())
	}
	err = c.end(ctx, sink.outcome(err))
	var partial *PartialError
	if !c.manager() || err != nil && !errors.As(err, &partial) {
		return nil, err
	}
	return sink.out, err
}

// resume opens the journal at path for Map's call what: the results it holds go to the
// sink's output and the source skips their elements; the sink records the others.
func resume[T, R any](path, what string, src *sliceSource[T], sink *mapSink[R]) error {
	jr, recs, err := openJournal(path, what, len(src.in))
	if err != nil {
		return err
	}
	done, err := replay(recs, src.in, src.codec, sink.codec, sink.out)
	if err != nil {
		jr.close()
		return fmt.Errorf("journal %s: %w", path, err)
	}
	for _, d := range done {
		src.left -= int64(d[1] - d[0])
	}
	src.skip, src.crcs = done, map[uint64]uint32{}
	sink.journal, sink.crcs = jr, src.crcs
	return nil
}

// outcome is the error Map returns, given the engine's: the element's failure that ended
// the job, or the failures KeepGoing went past.
func (s *mapSink[R]) outcome(err error) error {
	switch {
	case s.failed != nil && err != nil:
		return s.failed
	case err != nil:
		return err
	case len(s.fails) > 0:
		slices.SortFunc(s.fails, func(a, b *TaskError) int { return a.Element - b.Element })
		return &PartialError{Failed: s.fails}
	}
	return nil
}

// mapSink puts each chunk's results at their elements' places, in any order.
type mapSink[R any] struct {
	out       []R
	codec     codec[R]
	keepGoing bool
	fails     []*TaskError
	failed    *TaskError // the failure that ended the job
	journal   *journal   // Journal: where whole chunks' results go
	crcs      map[uint64]uint32
}

func (s *mapSink[R]) Put(seq uint64, data []byte) error {
	a, err := readAnswer(seq, data)
	if err != nil {
		return err
	}
	if a.first+a.count > len(s.out) {
		return errOutOfRange(seq, a, len(s.out))
	}
	if a.failed {
		s.failed = a.fails[0]
		return s.failed
	}
	s.fails = append(s.fails, a.fails...)
	if err := decodeInto(a, s.codec, s.out[a.first:a.first+a.count]); err != nil {
		return err
	}
	if s.journal == nil {
		return nil
	}
	crc := s.crcs[seq]
	delete(s.crcs, seq)
	if len(a.fails) > 0 {
		return nil // a resume computes the failed elements again
	}
	return s.journal.add(a.first, a.count, crc, a.results)
}
