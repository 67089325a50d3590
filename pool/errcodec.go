package pool

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"sync"
)

// An error crosses from a worker to rank 0 (and from rank 0 to the workers, as a call's
// outcome) as its message, the keys of the registered sentinels it matches (errors.Is),
// and the gob encoding of each error of a registered type in its chain. The other side
// rebuilds it as a remote error that wraps the same sentinels and equal typed values. Every
// rank runs the same program, so every rank has the same registry.

var registry = struct {
	sync.RWMutex
	sentinels map[string]error
	order     []string // sentinel keys in registration order, for a stable encoding
	types     map[string]reflect.Type
}{sentinels: map[string]error{}, types: map[string]reflect.Type{}}

func init() {
	RegisterError(context.Canceled, context.DeadlineExceeded, io.EOF, io.ErrUnexpectedEOF,
		fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, ErrPanic, ErrOutOfStep)
}

// RegisterError makes errors.Is(err, target) true on rank 0 for each target given, when
// err is the error of a function that ran on a worker and whose error matched target
// there. Register sentinels at package level (in a var declaration or init), so that every
// rank has them. Registering the same error twice does nothing; two different errors of the
// same type and message cannot both be registered (it panics), since they would be told
// apart by identity only. context.Canceled, context.DeadlineExceeded, io.EOF,
// io.ErrUnexpectedEOF, fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, ErrPanic and
// ErrOutOfStep are registered already.
func RegisterError(targets ...error) {
	registry.Lock()
	defer registry.Unlock()
	for _, s := range targets {
		key := typeKey(reflect.TypeOf(s)) + ":" + s.Error()
		if old, ok := registry.sentinels[key]; ok {
			if old != s {
				panic(fmt.Sprintf("pool.RegisterError: another error of type %T reads %q already", s, s.Error()))
			}
			continue
		}
		registry.sentinels[key] = s
		registry.order = append(registry.order, key)
	}
}

// RegisterErrorType makes errors.As find an error of type E on rank 0 when a worker's
// function returned an error whose chain holds one: the value travels encoded with
// encoding/gob, so E's fields that matter must be exported. Call it at package level. It
// panics if gob cannot encode E.
func RegisterErrorType[E error]() {
	t := reflect.TypeFor[E]()
	probe := reflect.New(t).Elem()
	if t.Kind() == reflect.Pointer {
		probe = reflect.New(t.Elem())
	}
	if err := gob.NewEncoder(io.Discard).EncodeValue(probe); err != nil {
		panic(fmt.Sprintf("pool.RegisterErrorType[%v]: %v", t, err))
	}
	registry.Lock()
	registry.types[typeKey(t)] = t
	registry.Unlock()
}

// typeKey names a type across ranks: its package path and name.
func typeKey(t reflect.Type) string {
	if t == nil {
		return "nil"
	}
	if t.Kind() == reflect.Pointer {
		return "*" + typeKey(t.Elem())
	}
	if t.Name() != "" && t.PkgPath() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}

// Encodings' first byte.
const (
	encNone    = 0
	encGeneric = 1
	encTask    = 2
)

// encodeError appends err's encoding to b (one byte for nil).
func encodeError(b []byte, err error) []byte {
	var te *TaskError
	switch {
	case err == nil:
		return append(b, encNone)
	case errors.As(err, &te) && te == err:
		b = append(b, encTask)
		b = binary.AppendUvarint(b, uint64(te.Rank))
		b = appendString(b, te.Host)
		b = binary.AppendUvarint(b, te.Chunk)
		b = binary.AppendVarint(b, int64(te.Element))
		b = appendString(b, te.Task)
		return encodeError(b, te.Err)
	}
	b = append(b, encGeneric)
	b = appendString(b, err.Error())
	registry.RLock()
	defer registry.RUnlock()
	var keys []string
	for _, k := range registry.order {
		if errors.Is(err, registry.sentinels[k]) {
			keys = append(keys, k)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
	}
	return appendTyped(b, err)
}

// appendTyped appends the errors of registered types in err's chain, each as its type's
// key and its gob encoding (one that gob cannot encode is left out: its message stays).
func appendTyped(b []byte, err error) []byte {
	type typed struct {
		key string
		gob []byte
	}
	var found []typed
	walkErrors(err, func(e error) {
		key := typeKey(reflect.TypeOf(e))
		if _, ok := registry.types[key]; !ok {
			return
		}
		var buf bytes.Buffer
		if gob.NewEncoder(&buf).EncodeValue(reflect.ValueOf(e)) == nil {
			found = append(found, typed{key, buf.Bytes()})
		}
	})
	b = binary.AppendUvarint(b, uint64(len(found)))
	for _, f := range found {
		b = appendString(b, f.key)
		b = appendBytes(b, f.gob)
	}
	return b
}

// walkErrors calls visit for err and every error its chain holds (Unwrap() error and
// Unwrap() []error), depth first, at most 64 of them.
func walkErrors(err error, visit func(error)) {
	left := 64
	var walk func(error)
	walk = func(e error) {
		for e != nil && left > 0 {
			left--
			visit(e)
			switch x := e.(type) {
			case interface{ Unwrap() error }:
				e = x.Unwrap()
			case interface{ Unwrap() []error }:
				for _, inner := range x.Unwrap() {
					walk(inner)
				}
				return
			default:
				return
			}
		}
	}
	walk(err)
}

// decodeError rebuilds an error from r (nil for encNone).
func decodeError(r *reader) error {
	switch tag := r.byte(); tag {
	case encNone:
		return nil
	case encTask:
		te := &TaskError{Rank: int(r.uvarint()), Host: r.string(), Chunk: r.uvarint(), Element: int(r.varint()), Task: r.string()}
		te.Err = decodeError(r)
		if te.Err == nil {
			te.Err = errors.New("(no error)")
		}
		return te
	case encGeneric:
		return decodeGeneric(r)
	default:
		r.fail(fmt.Errorf("error encoding of unknown kind %d", tag))
		return errors.New("(undecodable error)")
	}
}

func decodeGeneric(r *reader) error {
	e := &remote{msg: r.string()}
	registry.RLock()
	defer registry.RUnlock()
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		if s, ok := registry.sentinels[r.string()]; ok {
			e.wrapped = append(e.wrapped, s)
		}
	}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		t, ok := registry.types[r.string()]
		data := r.view(r.uvarint())
		if !ok {
			continue
		}
		v := reflect.New(t)
		if gob.NewDecoder(bytes.NewReader(data)).DecodeValue(v) != nil {
			continue
		}
		if te, ok := v.Elem().Interface().(error); ok {
			e.wrapped = append(e.wrapped, te)
		}
	}
	return e
}

// errorBytes is err's encoding alone (nil for nil).
func errorBytes(err error) []byte {
	if err == nil {
		return nil
	}
	return encodeError(nil, err)
}

// errorFrom rebuilds the error errorBytes encoded (nil for none).
func errorFrom(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	r := reader{b: b}
	err := decodeError(&r)
	if r.err != nil {
		return fmt.Errorf("pool: undecodable error from another rank: %w", r.err)
	}
	return err
}
