// Package frame recycles the byte buffers that carry messages between ranks: the engine
// builds outgoing frames in them and a transport receives into them, so that steady-state
// traffic allocates nothing, large frames included (an interp chunk is a few hundred KiB,
// which would otherwise keep the garbage collector and the page-fault handler busy).
//
// There is one pool per power-of-two capacity from 64 B to 64 MiB. A pool holds a buffer as
// the pointer to its first byte (its class gives its capacity): a pointer goes into an
// interface without the allocation that boxing a slice header would cost at every Put.
// Get and Put are safe for concurrent use.
package frame

import (
	"math/bits"
	"sync"
	"unsafe"
)

const (
	minClass = 6  // 64 B
	maxClass = 26 // 64 MiB
)

var pools [maxClass + 1]sync.Pool

// class is the pool of a buffer of n bytes: the smallest power of two that holds it.
func class(n int) int { return max(bits.Len(uint(n-1)), minClass) }

// Get returns a buffer of length n, from a pool when one of its class is free. Its
// capacity is the class's (a power of two) for n up to 64 MiB.
func Get(n int) []byte {
	c := class(n)
	if c > maxClass {
		return make([]byte, n)
	}
	if p, ok := pools[c].Get().(*byte); ok {
		return unsafe.Slice(p, 1<<c)[:n]
	}
	return make([]byte, n, 1<<c)
}

// Cap is the capacity of the buffer Get(n) returns.
func Cap(n int) int {
	if c := class(n); c <= maxClass {
		return 1 << c
	}
	return n
}

// Put gives b back for a later Get. b must not be used afterwards. A buffer whose capacity
// is not a pool's class (not from Get, or resliced from its start) is left to the garbage
// collector.
func Put(b []byte) {
	if c := class(cap(b)); c <= maxClass && cap(b) == 1<<c {
		pools[c].Put(unsafe.SliceData(b))
	}
}
