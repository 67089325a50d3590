package rank

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Kind says what a message is. Workload authors never see it.
type Kind uint8

// Message kinds of the engine's protocol.
const (
	KindTask   Kind = 1 + iota // manager -> worker: compute chunk Seq
	KindResult                 // worker -> manager: the result of chunk Seq
	KindError                  // worker -> manager: chunk Seq failed; Data is the message
	KindStop                   // manager -> worker: no more work, exit
	KindSetup                  // manager -> worker: setup announced; Data is its length (8 bytes)
	KindAbort                  // manager -> worker: the job failed before work; Data is why
	KindReady                  // worker -> manager: worker is up (Data: threads, host)
	KindAsk                    // worker -> manager: pull mode, one of its first threads x window free slots
	KindDrain                  // manager -> worker: start no more chunks; hand back those not started
	KindSkip                   // worker -> manager: chunk Seq was handed back unstarted (a drain)
	KindFail                   // worker -> manager: the worker gives up; Data is its host, a NUL, and why
	kindMax
)

var kindNames = [...]string{"?", "task", "result", "error", "stop", "setup", "abort", "ready", "ask", "drain", "skip", "fail"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// answer reports whether k is a worker's answer to a chunk it held.
func (k Kind) answer() bool { return k == KindResult || k == KindError || k == KindSkip }

// Valid reports whether k is a known message kind.
func (k Kind) Valid() bool { return k >= KindTask && k < kindMax }

// Msg is one framed message between ranks.
type Msg struct {
	From    int // sender's rank, filled in by the transport on receipt
	Kind    Kind
	Attempt int // tasks: which try of the chunk this is (0 first), at most MaxAttempt
	Seq     uint64
	Work    time.Duration // results: the time the worker spent computing the chunk
	Thread  int           // results: which of the worker's threads computed it
	Data    []byte
	// Ask, on an answer (result, error, skip) in pull mode: the slot it frees asks for the
	// next chunk, in the same message (a separate KindAsk would cost the manager a third
	// message per chunk).
	Ask bool

	frame []byte // the pooled buffer Data aliases, if any: putFrame it once Data is done with
}

// HeaderLen is the size of the frame header that precedes Data on the wire:
// kind (1 byte; its top bit is Ask), attempt (1 byte), thread (2 bytes), seq (8 bytes), work in microseconds
// (4 bytes, saturating), little-endian.
const HeaderLen = 16

// askBit is the bit of a frame's kind byte that carries Msg.Ask.
const askBit = 0x80

// MaxAttempt is the most retries a chunk can have (the attempt travels in one byte).
const MaxAttempt = 255

// PutHeader writes m's header into b[:HeaderLen].
func PutHeader(b []byte, m Msg) {
	b[0] = byte(m.Kind)
	if m.Ask {
		b[0] |= askBit
	}
	b[1] = byte(m.Attempt)
	binary.LittleEndian.PutUint16(b[2:4], uint16(m.Thread))
	binary.LittleEndian.PutUint64(b[4:12], m.Seq)
	us := m.Work.Microseconds()
	binary.LittleEndian.PutUint32(b[12:HeaderLen], uint32(min(max(us, 0), math.MaxUint32)))
}

// ParseFrame decodes a frame received from rank from. The Data aliases frame. A frame
// shorter than the header or of an unknown kind is an error naming the sender.
func ParseFrame(from int, frame []byte) (Msg, error) {
	if len(frame) < HeaderLen {
		return Msg{}, fmt.Errorf("rank %d sent a %d-byte message, shorter than the %d-byte header", from, len(frame), HeaderLen)
	}
	m := Msg{
		From: from, Kind: Kind(frame[0] &^ askBit), Ask: frame[0]&askBit != 0, Attempt: int(frame[1]),
		Thread: int(binary.LittleEndian.Uint16(frame[2:4])),
		Seq:    binary.LittleEndian.Uint64(frame[4:12]),
		Work:   time.Duration(binary.LittleEndian.Uint32(frame[12:HeaderLen])) * time.Microsecond,
		Data:   frame[HeaderLen:],
	}
	if !m.Kind.Valid() {
		return Msg{}, fmt.Errorf("rank %d sent a message of unknown kind %d", from, frame[0]&^askBit)
	}
	return m, nil
}

// Transport moves framed messages between ranks.
//
// Concurrency contract: Send is safe for concurrent use by many goroutines; Recv is called
// from one goroutine at a time; Broadcast is a collective call that every rank makes once
// at the same point of the protocol, from the goroutine that calls Recv. Send takes
// ownership of m.Data: the caller must not modify it afterwards. Close releases the
// transport; a Send or Recv after Close, or pending when the transport fails, returns an
// error (ErrClosed or the failure), never blocks forever.
type Transport interface {
	Rank() int
	Size() int
	Send(ctx context.Context, to int, m Msg) error
	Recv(ctx context.Context) (Msg, error)
	// Broadcast sends data from root to every rank; non-root ranks pass a slice of the
	// right length and get it filled.
	Broadcast(ctx context.Context, root int, data []byte) error
	// Host is this rank's host name, for messages.
	Host() string
	Close() error
}

// ErrClosed is returned by a Transport after Close.
var ErrClosed = errors.New("transport closed")

// errInterrupted is returned by the Recv of an interrupter after Interrupt.
var errInterrupted = errors.New("receive interrupted")

// interrupter is a Transport whose Recv can be interrupted, for the manager of a
// LiveSource. Interrupt is safe for concurrent use: it makes the Recv under way, or else
// the next one, return errInterrupted (once for any number of Interrupts before it).
type interrupter interface {
	Interrupt()
}

// costClock is a Transport that charges the manager for its own time (the simulator: its
// calls take real time that the manager is not charged for, so a wall clock would count
// them too, and the sizer would see messages many times dearer than they are).
// managerTime is the time charged so far, up to the latest call into the transport; a call
// charges the time since the one before. Called by the goroutine that receives. Elsewhere
// the manager times itself on the monotonic clock (ownClock).
type costClock interface {
	managerTime() time.Duration
}
