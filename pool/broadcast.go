package pool

import (
	"context"
	"fmt"
	"reflect"
)

// Broadcast builds a value on rank 0 with build and returns it on every rank: the data
// that functions of later calls share (a table, parameters, a model), sent to each rank
// once, as mpi4py.futures' initializer and initargs are. It is a collective call. Only
// rank 0 runs build; its error is every rank's. The value travels as Map's elements do
// (encoding/gob unless its type holds no pointers, or is a string or byte slice).
func Broadcast[S any](ctx context.Context, build func() (S, error)) (S, error) {
	var v S
	pos := callAt(0, "pool.Broadcast", []reflect.Type{reflect.TypeFor[S]()}, nil)
	w, err := joinWorld("pool.Broadcast")
	if err != nil {
		return v, err
	}
	release, err := w.acquire("pool.Broadcast")
	if err != nil {
		return v, err
	}
	defer release()
	if w.alone() {
		w.calls++
		return build()
	}
	c := codecFor[S]()
	var value, head []byte // rank 0's: the value's encoding; its length, or its error
	if w.t.Rank() == 0 {
		v, err = build()
		if err == nil {
			value, err = c.one(v)
		}
		if err != nil {
			err = fmt.Errorf("pool.Broadcast: %w", err)
		}
		head = append(appendUvarints(nil, uint64(len(value))), errorBytes(err)...)
	}
	// The announcement carries the length (or rank 0's error); MPI's broadcast, the value.
	got, err := w.enter(ctx, pos, head)
	if err != nil {
		return v, err
	}
	r := reader{b: got}
	n := r.uvarint()
	if cause := errorFrom(r.b); cause != nil || r.err != nil {
		return v, firstErr(cause, r.err)
	}
	if w.t.Rank() != 0 {
		value = make([]byte, n)
	}
	if err := w.own(ctx, func() error { return w.t.Broadcast(0, value) }); err != nil {
		return v, fmt.Errorf("pool.Broadcast: %w", err)
	}
	if w.t.Rank() == 0 {
		return v, nil
	}
	vs := make([]S, 1)
	if _, err := c.decode(value, vs); err != nil {
		return v, fmt.Errorf("pool.Broadcast: %w", err)
	}
	return vs[0], nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
