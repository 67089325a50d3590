package taskfarm

import (
	"encoding/binary"
	"errors"
	"math"
)

// record is one finished task as a worker reports it to the manager.
type record struct {
	seq     uint64 // task number, 1-based
	exit    int64  // exit value; -1 when killed by --timeout (as GNU parallel logs it)
	signal  uint64 // signal that ended it, 0 for none
	start   int64  // Unix nanoseconds
	runtime int64  // nanoseconds
	flags   uint8
	attempt uint8  // the try that ran it (Chunk.Attempt): above 0 for a retried task
	lost    uint16 // workers lost while they held it (Chunk.Lost): above 0, it ran again
	host    string
	cmd     string // the command line as composed (the joblog's Command, -v's line)
	tag     []byte // --tag or --tagstring: put before each line of output; nil for none
	results string // --results: the file or directory (ending in /) for its output
	// stdout and stderr hold the output, or, when spilled, the path of the file holding
	// it on the worker's host (its size in the *Size fields).
	stdout, stderr       []byte
	stdoutLen, stderrLen int64

	pgid int // the task's process group, on the worker only (not encoded)
}

// Record flags.
const (
	flagTimedOut    = 1 << iota // killed by --timeout
	flagStdoutSpill             // stdout is a file path
	flagStderrSpill             // stderr is a file path
	flagTagged                  // tag is put before each line (it may be empty: --pipe --tag)
	flagAll         = 1<<iota - 1
)

func (r *record) failed() bool   { return r.exit != 0 || r.signal != 0 }
func (r *record) timedOut() bool { return r.flags&flagTimedOut != 0 }

func (r *record) stdoutSize() int64 {
	if r.flags&flagStdoutSpill != 0 {
		return r.stdoutLen
	}
	return int64(len(r.stdout))
}

func (r *record) stderrSize() int64 {
	if r.flags&flagStderrSpill != 0 {
		return r.stderrLen
	}
	return int64(len(r.stderr))
}

// appendRecord encodes r after b.
func appendRecord(b []byte, r *record) []byte {
	b = binary.AppendUvarint(b, r.seq)
	b = binary.AppendVarint(b, r.exit)
	b = binary.AppendUvarint(b, r.signal)
	b = binary.AppendVarint(b, r.start)
	b = binary.AppendVarint(b, r.runtime)
	b = append(b, r.flags, r.attempt)
	b = binary.AppendUvarint(b, uint64(r.lost))
	b = appendString(b, r.host)
	b = appendString(b, r.cmd)
	b = appendBytes(b, r.tag)
	b = appendString(b, r.results)
	if r.flags&flagStdoutSpill != 0 {
		b = binary.AppendVarint(b, r.stdoutLen)
	}
	b = appendBytes(b, r.stdout)
	if r.flags&flagStderrSpill != 0 {
		b = binary.AppendVarint(b, r.stderrLen)
	}
	return appendBytes(b, r.stderr)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errRecord = errors.New("malformed task result")

// decoder reads the fields of an encoded record, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = errRecord
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.err = errRecord
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errRecord
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte1() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errRecord
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// spillFiles lists the files the record's output was spilled to (none, one or two).
func (r *record) spillFiles() []string {
	var fs []string
	if r.flags&flagStdoutSpill != 0 {
		fs = append(fs, string(r.stdout))
	}
	if r.flags&flagStderrSpill != 0 {
		fs = append(fs, string(r.stderr))
	}
	return fs
}

// decodeRecord decodes one record; its byte slices alias b.
func decodeRecord(b []byte) (record, error) {
	d := decoder{b: b}
	var r record
	r.seq = d.uvarint()
	r.exit = d.varint()
	r.signal = d.uvarint()
	r.start = d.varint()
	r.runtime = d.varint()
	r.flags = d.byte1()
	r.attempt = d.byte1()
	lost := d.uvarint()
	r.host = string(d.bytes())
	r.cmd = string(d.bytes())
	r.tag = d.bytes()
	r.results = string(d.bytes())
	if r.flags&flagStdoutSpill != 0 {
		r.stdoutLen = d.varint()
	}
	r.stdout = d.bytes()
	if r.flags&flagStderrSpill != 0 {
		r.stderrLen = d.varint()
	}
	r.stderr = d.bytes()
	switch {
	case d.err != nil:
		return record{}, d.err
	case len(d.b) != 0, r.seq == 0, r.flags&^flagAll != 0, r.stdoutLen < 0, r.stderrLen < 0, lost > math.MaxUint16:
		return record{}, errRecord
	}
	r.lost = uint16(lost)
	return r, nil
}
