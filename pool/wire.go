package pool

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Pool's own messages between ranks, sent between two runs of the engine (never during
// one): rank 0 announces each collective call, every worker answers with where it is, and
// rank 0 sends the verdict and, after the run, its outcome (see sequence.go). Each is one
// transport frame that starts with ctlMagic: a byte the engine never starts a frame with
// (its record kinds start at 1), so a frame of either kind that reaches the other is
// recognized, not misread.
var ctlMagic = [4]byte{0, 'M', 'W', 'P'}

// ctlType says what a control message is.
type ctlType byte

const (
	ctlCall    ctlType = 1 + iota // rank 0 -> worker: call n is pos (payload: the settings)
	ctlReply                      // worker -> rank 0: at call n this rank is at pos
	ctlVerdict                    // rank 0 -> worker: call n goes ahead (data empty) or fails (data: the error)
	ctlDone                       // rank 0 -> worker: call n ended (data: its error, or empty)
)

// ctl is one control message.
type ctl struct {
	typ  ctlType
	n    uint64   // the collective call it concerns, numbered by rank 0 from 1
	pos  position // call: rank 0's; reply: the worker's
	data []byte   // call: the settings; verdict, done: an encoded error (errcodec.go)
}

// Where a rank is in the sequence of collective calls.
const (
	atCall   byte = 1 + iota // in a collective call: what, where
	atEnd                    // returned from Main's body: err (encoded; empty for none)
	atPanic                  // Main's body panicked: what is the value, where the panic
	atCancel                 // rank 0 stopped waiting for this call (its context ended)
)

// position is where a rank is: in which collective call, or past the end of Main's body.
type position struct {
	state byte
	what  string // the call, as every rank must make it: "pool.Map[int, int](main.square)"
	where string // its place in the source, for messages: "main.go:20"
	calls int    // collective calls the rank made before this point
	host  string
	err   []byte
}

// appendCtl appends m's encoding, magic first.
func appendCtl(b []byte, m ctl) []byte {
	b = append(b, ctlMagic[:]...)
	b = append(b, byte(m.typ))
	b = binary.AppendUvarint(b, m.n)
	b = append(b, m.pos.state)
	b = appendString(b, m.pos.what)
	b = appendString(b, m.pos.where)
	b = binary.AppendUvarint(b, uint64(m.pos.calls))
	b = appendString(b, m.pos.host)
	b = appendBytes(b, m.pos.err)
	return appendBytes(b, m.data)
}

// errNotCtl is parseCtl's answer for a frame that is not pool's (the engine's).
var errNotCtl = errors.New("not a control message")

// parseCtl decodes a control message; the result does not alias f.
func parseCtl(f []byte) (ctl, error) {
	if len(f) < len(ctlMagic)+1 || [4]byte(f[:4]) != ctlMagic {
		return ctl{}, errNotCtl
	}
	r := reader{b: f[len(ctlMagic):]}
	m := ctl{typ: ctlType(r.byte())}
	m.n = r.uvarint()
	m.pos.state = r.byte()
	m.pos.what = r.string()
	m.pos.where = r.string()
	m.pos.calls = int(r.uvarint())
	m.pos.host = r.string()
	m.pos.err = r.bytes()
	m.data = r.bytes()
	if r.err != nil {
		return ctl{}, fmt.Errorf("malformed control message: %w", r.err)
	}
	if m.typ < ctlCall || m.typ > ctlDone {
		return ctl{}, fmt.Errorf("control message of unknown type %d", m.typ)
	}
	return m, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// reader decodes what the append functions wrote. The first error sticks: later reads
// return zero values, and err says what was wrong.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail(errShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// view returns the next n bytes without copying them.
func (r *reader) view(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) string() string { return string(r.view(r.uvarint())) }

// bytes returns a copy of the next length-prefixed bytes (nil when empty).
func (r *reader) bytes() []byte {
	p := r.view(r.uvarint())
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}
