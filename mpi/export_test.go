package mpi

import "time"

// SetBcastChunk makes Bcast hand MPI pieces of at most n (at least 1) bytes, so tests can
// cover the pieces without 2 GiB buffers; restore puts the 1 GiB back.
func SetBcastChunk(n int) (restore func()) {
	old := bcastChunk
	bcastChunk = max(n, 1)
	return func() { bcastChunk = old }
}

// SendCopy is sendCopy, for the tests.
const SendCopy = sendCopy

// ErrorMsg is errorMsg, for the tests.
var ErrorMsg = errorMsg

// LostState is lostState, for the tests.
var LostState = lostState

// PinnedRequest is a Request under way that pins buf, as Isend leaves one, without MPI.
func PinnedRequest(buf []byte) *Request {
	r := &Request{req: 1, pinned: true}
	r.pin.Pin(&buf[0])
	return r
}

// WatchPause is a watch's pause after queries that took took, in order, for the tests.
func WatchPause(interval time.Duration, took ...time.Duration) time.Duration {
	w := &watch{}
	for _, d := range took {
		w.took[w.polls%watchRecent] = d
		w.polls++
	}
	return w.pause(interval)
}
