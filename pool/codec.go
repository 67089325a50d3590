package pool

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"reflect"
	"unsafe"
)

// codec moves slices of T in and out of bytes: a type without pointers (numbers, arrays
// and structs of them) as its memory, since every rank runs the same program and so lays
// it out the same way; strings and byte slices as length-prefixed bytes; anything else
// with encoding/gob (so its fields must be exported). Safe for concurrent use.
type codec[T any] struct {
	kind codecKind
	size int // plainKind: the size of a T
}

type codecKind uint8

const (
	plainKind codecKind = iota
	stringKind
	bytesKind
	gobKind
)

func codecFor[T any]() codec[T] {
	t := reflect.TypeFor[T]()
	switch {
	case plain(t):
		return codec[T]{kind: plainKind, size: int(t.Size())}
	case t.Kind() == reflect.String:
		return codec[T]{kind: stringKind}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return codec[T]{kind: bytesKind}
	}
	return codec[T]{kind: gobKind}
}

// plain reports whether values of t hold no pointers, so that their memory is their
// encoding.
func plain(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return plain(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !plain(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// memory is the bytes of xs, for a plain T.
func memory[T any](xs []T, size int) []byte {
	if len(xs) == 0 || size == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(xs))), len(xs)*size)
}

// append appends the encoding of xs to b.
func (c codec[T]) append(b []byte, xs []T) ([]byte, error) {
	switch c.kind {
	case plainKind:
		return append(b, memory(xs, c.size)...), nil
	case stringKind:
		for _, x := range xs {
			b = appendString(b, *(*string)(unsafe.Pointer(&x)))
		}
		return b, nil
	case bytesKind:
		for _, x := range xs {
			b = appendBytes(b, *(*[]byte)(unsafe.Pointer(&x)))
		}
		return b, nil
	}
	buf := bytes.NewBuffer(b)
	if err := gob.NewEncoder(buf).Encode(xs); err != nil {
		return b, fmt.Errorf("encode %v: %w", reflect.TypeFor[T](), err)
	}
	return buf.Bytes(), nil
}

// decode fills xs, whose length is the number of values encoded, from b, and returns
// the bytes after them. Strings and byte slices are copied out of b.
func (c codec[T]) decode(b []byte, xs []T) ([]byte, error) {
	switch c.kind {
	case plainKind:
		n := len(xs) * c.size
		if len(b) < n {
			return nil, fmt.Errorf("%d values of %v: %d bytes, want %d", len(xs), reflect.TypeFor[T](), len(b), n)
		}
		copy(memory(xs, c.size), b[:n])
		return b[n:], nil
	case stringKind, bytesKind:
		r := reader{b: b}
		for i := range xs {
			p := r.view(r.uvarint())
			if c.kind == stringKind {
				*(*string)(unsafe.Pointer(&xs[i])) = string(p)
			} else {
				*(*[]byte)(unsafe.Pointer(&xs[i])) = append([]byte{}, p...)
			}
		}
		if r.err != nil {
			return nil, fmt.Errorf("%d values of %v: %w", len(xs), reflect.TypeFor[T](), r.err)
		}
		return r.b, nil
	}
	rd := bytes.NewReader(b)
	var got []T
	if err := gob.NewDecoder(rd).Decode(&got); err != nil {
		return nil, fmt.Errorf("decode %v: %w", reflect.TypeFor[T](), err)
	}
	if len(got) != len(xs) {
		return nil, fmt.Errorf("decode %v: %d values, want %d", reflect.TypeFor[T](), len(got), len(xs))
	}
	copy(xs, got)
	return b[len(b)-rd.Len():], nil
}

// fits reports whether n values can be encoded in size bytes: every value takes a byte
// at least, but for a plain type, which takes exactly its size. A count that does not fit
// is a corrupt message, not a reason to allocate.
func (c codec[T]) fits(n uint64, size int) bool {
	if c.kind == plainKind {
		return c.size == 0 || n <= uint64(size/c.size)
	}
	return n <= uint64(size)
}

// one encodes a single value.
func (c codec[T]) one(x T) ([]byte, error) { return c.append(nil, []T{x}) }

// appendUvarints appends each of vs as a uvarint.
func appendUvarints(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}
