package rank

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mw-hpc/mw/internal/frame"
)

// The engine's protocol. A frame (one transport message) carries one or more records, each
// a header and its data. The manager puts every chunk ready for one worker in one frame, and
// a worker every answer it has ready; nothing waits to fill a frame. Workload authors never
// see any of this.

// kind says what a record is.
type kind uint8

// Record kinds.
const (
	kindTask      kind = 1 + iota // manager -> worker: compute chunk seq (ticket to echo)
	kindResult                    // worker -> manager: the result of chunk seq
	kindError                     // worker -> manager: chunk seq failed; data is the message
	kindStop                      // manager -> worker: no more work, exit; worker -> manager: acknowledged
	kindSetup                     // manager -> worker: setup announced; data is its length (8 bytes)
	kindAbort                     // manager -> worker: the job failed before work; data is why
	kindReady                     // worker -> manager: worker is up (data: threads, host)
	kindAsk                       // worker -> manager: pull mode, one of its first threads x window free slots
	kindDrain                     // manager -> worker: start no more chunks; hand back those not started
	kindSkip                      // worker -> manager: chunk seq was handed back unstarted (a drain)
	kindFail                      // worker -> manager: the worker gives up; data is its host, a NUL, and why
	kindHeartbeat                 // worker -> manager: alive, computing what it holds
	kindMax
)

var kindNames = [...]string{"?", "task", "result", "error", "stop", "setup", "abort", "ready", "ask", "drain", "skip", "fail", "heartbeat"}

func (k kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// answer reports whether k is a worker's answer to a chunk it held.
func (k kind) answer() bool { return k == kindResult || k == kindError || k == kindSkip }

// valid reports whether k is a known record kind.
func (k kind) valid() bool { return k >= kindTask && k < kindMax }

// record is one record of a frame.
type record struct {
	kind    kind
	ask     bool          // answers in pull mode: the slot this frees asks for the next chunk
	attempt int           // tasks: which try of the chunk this is (0 first), at most MaxAttempt
	ticket  uint32        // tasks and answers: the manager's handle of the chunk in flight, echoed
	seq     uint64        // tasks and answers: the chunk
	work    time.Duration // results: the time the worker spent computing the chunk
	thread  int           // results: which of the worker's threads computed it
	data    []byte
}

// recordHeader is the size of a record's header: kind (1 byte; its top bit is ask),
// attempt (1), thread (2), ticket (4), seq (8), work in microseconds (4, saturating), data
// length (4), little-endian.
const recordHeader = 24

// askBit is the bit of a record's kind byte that carries record.ask.
const askBit = 0x80

// MaxAttempt is the most retries a chunk can have (the attempt travels in one byte).
const MaxAttempt = 255

// maxRecordData bounds one record's data (its length travels in 4 bytes).
const maxRecordData = math.MaxUint32

// appendRecord appends r, header and data, to b.
func appendRecord(b []byte, r record) []byte {
	var h [recordHeader]byte
	h[0] = byte(r.kind)
	if r.ask {
		h[0] |= askBit
	}
	h[1] = byte(r.attempt)
	binary.LittleEndian.PutUint16(h[2:4], uint16(r.thread))
	binary.LittleEndian.PutUint32(h[4:8], r.ticket)
	binary.LittleEndian.PutUint64(h[8:16], r.seq)
	us := r.work.Microseconds()
	binary.LittleEndian.PutUint32(h[16:20], uint32(min(max(us, 0), math.MaxUint32)))
	binary.LittleEndian.PutUint32(h[20:24], uint32(len(r.data)))
	b = append(b, h[:]...)
	return append(b, r.data...)
}

// parseRecord decodes the record at the start of b and returns the bytes after it. The
// record's data aliases b. A truncated record or one of an unknown kind is an error naming
// the sender.
func parseRecord(from int, b []byte) (record, []byte, error) {
	if len(b) < recordHeader {
		return record{}, nil, fmt.Errorf("rank %d sent a record of %d bytes, shorter than the %d-byte header", from, len(b), recordHeader)
	}
	r := record{
		kind: kind(b[0] &^ askBit), ask: b[0]&askBit != 0, attempt: int(b[1]),
		thread: int(binary.LittleEndian.Uint16(b[2:4])),
		ticket: binary.LittleEndian.Uint32(b[4:8]),
		seq:    binary.LittleEndian.Uint64(b[8:16]),
		work:   time.Duration(binary.LittleEndian.Uint32(b[16:20])) * time.Microsecond,
	}
	if !r.kind.valid() {
		return record{}, nil, fmt.Errorf("rank %d sent a record of unknown kind %d", from, b[0]&^askBit)
	}
	n := uint64(binary.LittleEndian.Uint32(b[20:24]))
	if n > uint64(len(b)-recordHeader) {
		return record{}, nil, fmt.Errorf("rank %d sent a %s record of %d bytes in a frame with %d left", from, r.kind, n, len(b)-recordHeader)
	}
	end := recordHeader + int(n)
	r.data = b[recordHeader:end:end]
	return r, b[end:], nil
}

// eachRecord calls fn with every record of frame, in order, until fn returns an error. An
// empty frame is an error: every frame carries at least one record.
func eachRecord(from int, frame []byte, fn func(record) error) error {
	if len(frame) == 0 {
		return fmt.Errorf("rank %d sent an empty message", from)
	}
	for len(frame) > 0 {
		r, rest, err := parseRecord(from, frame)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		frame = rest
	}
	return nil
}

// maxBatch bounds the bytes of a frame that carries several records: a record that would
// take a frame past it starts a new frame. It is Open MPI's shared-memory eager limit as mw
// sets it (32 KiB): a larger message waits for the receiver's handshake. A single record
// larger than this travels alone.
const maxBatch = 32 << 10

// outbox collects the records for each peer during a step and seals them into frames: one
// frame per peer and step, unless the records pass maxBatch. The owner loop takes the sealed
// frames and sends them. Used by one goroutine.
type outbox struct {
	open   []([]byte) // per peer: the frame being filled, nil for none
	dirty  []int      // peers with an open frame, in order of their first record
	sealed []outFrame // frames ready to send, in order
}

// outFrame is a frame for peer to, in a buffer from package frame.
type outFrame struct {
	to    int
	frame []byte
}

func newOutbox(peers int) *outbox { return &outbox{open: make([][]byte, peers)} }

// add appends r to peer to's frame.
func (o *outbox) add(to int, r record) {
	f := o.open[to]
	need := recordHeader + len(r.data)
	if f != nil && len(f)+need > maxBatch {
		o.sealed = append(o.sealed, outFrame{to: to, frame: f})
		f = nil
	}
	switch {
	case f == nil:
		if o.open[to] == nil {
			o.dirty = append(o.dirty, to)
		}
		f = frame.Get(max(need, firstFrame))[:0]
	case len(f)+need > cap(f):
		// Double, within maxBatch: a frame in flight holds its buffer's capacity.
		g := frame.Get(min(max(2*cap(f), len(f)+need), maxBatch))[:len(f)]
		copy(g, f)
		frame.Put(f)
		f = g
	}
	o.open[to] = appendRecord(f, r)
}

// firstFrame is the capacity a frame starts with: room for a few records.
const firstFrame = 256

// seal closes every open frame and returns every frame ready to send, in order. The slice
// is valid until the next add.
func (o *outbox) seal() []outFrame {
	for _, to := range o.dirty {
		o.sealed = append(o.sealed, outFrame{to: to, frame: o.open[to]})
		o.open[to] = nil
	}
	o.dirty = o.dirty[:0]
	s := o.sealed
	o.sealed = o.sealed[:0]
	return s
}

// pending reports whether any record waits to be sent.
func (o *outbox) pending() bool { return len(o.dirty) > 0 || len(o.sealed) > 0 }
