// Package mpi is a small cgo binding to MPI, the only cgo in mw. It builds against Open MPI
// (the default) or MPICH's family (MPICH, Intel MPI, Cray MPICH, MVAPICH), chosen by build
// tag: none for Open MPI's pkg-config file ompi-c, mpich for mpich, and mpicc for an MPI
// that cgo's C compiler finds itself (CC=mpicc, or CGO_CFLAGS and CGO_LDFLAGS). Only
// impl.go knows which it is (Implementation, Version, LibraryVersion, SetParamDefault), and
// lost.go (WatchLost: the launcher's notice of a lost rank, from Open MPI's runtime through
// its own PMIx library, found at run time); the rest is standard MPI-3.
//
// Its names follow github.com/sbromberger/gompi (Start, Stop, IsOn, WorldRank, WorldSize, a
// Communicator with Rank, Size, Barrier, Abort), but it is not a drop-in replacement: every
// call here returns an error. It moves bytes only: messages are []byte, counts are in bytes,
// and every MPI return code becomes a Go error of one line naming the call and the error
// class, such as "mpi: MPI_Send: MPI_ERR_RANK: invalid rank" (Start sets MPI_ERRORS_RETURN
// on MPI_COMM_WORLD and MPI_COMM_SELF so MPI never aborts the process on its own). Nothing
// here logs or panics, and only Abort ends the process.
//
// # Threading contract
//
// MPI knows threads, not goroutines. The caller must make every MPI call (every function and
// method of this package except those named below as safe anywhere) from one goroutine
// locked to its OS thread with runtime.LockOSThread, the one that called Start.
// Start(ThreadFunneled) is then enough under any MPI, and so is Start(ThreadSingle) in
// practice (it formally means a one-thread process, which a Go program never is, but Open
// MPI and MPICH need only that one thread make the calls). Open MPI 4.1 turns on its
// internal locks at any level above ThreadSingle, at some 40 ns per small message on a
// 2-core test machine; MPICH only at ThreadMultiple. Calls from other threads are allowed
// only as far as the granted level permits: with ThreadSerialized any thread may call, never
// two at once; with ThreadMultiple, concurrently. Nothing in this package locks: the
// contract is the caller's.
//
// IsOn, WorldRank, WorldSize, Nop, Implementation, Version, LibraryVersion, SharedMemoryBTL,
// ThreadLevel.String and Error are safe to call from any goroutine at any time;
// SetParamDefault belongs before Start, on one goroutine. WatchLost makes no MPI call: it
// may be called from any goroutine between Start and Stop.
//
// # Buffers
//
// Blocking calls (Send, Recv, RecvInto, RecvFixed, TryRecv, Bcast) pass the slice to MPI
// for the duration of the call only. Isend and IsendTest pin their slice with a
// runtime.Pinner until they, Wait or Test report completion; the caller must not modify it
// until then and must complete every Request (or Abandon it, when its peer is gone: its
// slice then stays MPI's for good). Empty and nil slices work everywhere. A
// message is at most math.MaxInt32 bytes (MPI counts are C ints); Bcast cuts longer
// buffers into pieces of at most 1 GiB.
//
// # Cost
//
// Every operation is one cgo call (a C helper does, for example, MPI_Mprobe, MPI_Get_count and
// MPI_Mrecv together); only a received message too big for the buffer given takes a second
// call, after Go allocates room for it. Send, RecvInto and TryRecv into a buffer with room
// allocate nothing. Every 64th call also checks whether the calling goroutine has gone 2 ms
// without yielding and if so calls runtime.Gosched, to keep the Go scheduler from handing its
// P to another thread at every cgo call (see yieldEvery in the source).
package mpi

/*
#cgo noescape mw_send
#cgo nocallback mw_send
#cgo noescape mw_recv
#cgo nocallback mw_recv
#cgo noescape mw_tryrecv
#cgo nocallback mw_tryrecv
#cgo noescape mw_recvfixed
#cgo nocallback mw_recvfixed
#cgo noescape mw_mrecv
#cgo nocallback mw_mrecv
#cgo nocallback mw_imrecv
#cgo nocallback mw_iprobe
#cgo nocallback mw_isend
#cgo nocallback mw_wait
#cgo nocallback mw_test
#cgo noescape mw_bcast
#cgo nocallback mw_bcast
#cgo nocallback mw_barrier
#cgo noescape mw_processor
#cgo nocallback mw_processor
#cgo noescape mw_error_string
#cgo nocallback mw_error_string
#cgo noescape mw_nop
#cgo nocallback mw_nop

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <mpi.h>

// Handles cross to Go as uintptr_t: cgo checks every pointer argument to an incomplete type
// such as MPI_Comm (its struct is opaque) for Go pointers, at some 20 ns a call.
#define MW_COMM(c) ((MPI_Comm)(c))

// Which MPI call failed, for the Go error; see callNames.
enum {
	MW_INIT_THREAD = 1, MW_COMM_SET_ERRHANDLER, MW_COMM_RANK, MW_COMM_SIZE, MW_FINALIZE,
	MW_SEND, MW_MPROBE, MW_IMPROBE, MW_IPROBE, MW_GET_COUNT, MW_MRECV, MW_ISEND, MW_WAIT,
	MW_TEST, MW_BCAST, MW_BARRIER, MW_ABORT, MW_GET_PROCESSOR_NAME, MW_INITIALIZED,
	MW_FINALIZED, MW_RECV, MW_IMRECV,
};

// What a receive did.
enum { MW_NONE = 0, MW_RECEIVED = 1, MW_HELD = 2 };

// A non-NULL address for zero-byte buffers.
static char mw_dummy;

static inline char *mw_buf(char *p, int n) { return n == 0 || p == NULL ? &mw_dummy : p; }

// One call's outcome, returned by value so no Go pointer crosses for it.
typedef struct {
	int rc;      // MPI return code
	int call;    // MW_* of the call that returned rc
	int state;   // MW_NONE, MW_RECEIVED or MW_HELD
	int source, tag, count;
	int extra;   // call-specific: granted thread level, flag
	int rank, size;
	uintptr_t msg;     // MPI_Message matched, when state == MW_HELD
	uintptr_t req;     // MPI_Request from mw_isend
} mw_res;

static mw_res mw_fail(int call, int rc) { mw_res r = {0}; r.rc = rc; r.call = call; return r; }

static int mw_level(int l) {
	switch (l) {
	case 0: return MPI_THREAD_SINGLE;
	case 1: return MPI_THREAD_FUNNELED;
	case 2: return MPI_THREAD_SERIALIZED;
	default: return MPI_THREAD_MULTIPLE;
	}
}

static int mw_unlevel(int l) {
	if (l == MPI_THREAD_SINGLE) return 0;
	if (l == MPI_THREAD_FUNNELED) return 1;
	if (l == MPI_THREAD_SERIALIZED) return 2;
	return 3;
}

// mw_state reports 0 before MPI_Init, 1 while running, 2 after MPI_Finalize.
static mw_res mw_state(void) {
	int init = 0, fin = 0, rc;
	if ((rc = MPI_Initialized(&init)) != MPI_SUCCESS) return mw_fail(MW_INITIALIZED, rc);
	if ((rc = MPI_Finalized(&fin)) != MPI_SUCCESS) return mw_fail(MW_FINALIZED, rc);
	mw_res r = {0};
	r.extra = fin ? 2 : init ? 1 : 0;
	return r;
}

static mw_res mw_start(int required) {
	int provided = 0, rc;
	if ((rc = MPI_Init_thread(NULL, NULL, mw_level(required), &provided)) != MPI_SUCCESS)
		return mw_fail(MW_INIT_THREAD, rc);
	mw_res r = {0};
	r.extra = mw_unlevel(provided);
	if ((rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN)) != MPI_SUCCESS ||
	    (rc = MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN)) != MPI_SUCCESS) {
		r.rc = rc; r.call = MW_COMM_SET_ERRHANDLER; return r;
	}
	if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &r.rank)) != MPI_SUCCESS) { r.rc = rc; r.call = MW_COMM_RANK; return r; }
	if ((rc = MPI_Comm_size(MPI_COMM_WORLD, &r.size)) != MPI_SUCCESS) { r.rc = rc; r.call = MW_COMM_SIZE; return r; }
	return r;
}

static uintptr_t mw_comm_world(void) { return (uintptr_t)MPI_COMM_WORLD; }

static int mw_send(char *buf, int n, int dest, int tag, uintptr_t comm) {
	return MPI_Send(mw_buf(buf, n), n, MPI_BYTE, dest, tag, MW_COMM(comm));
}

// mw_take finishes a matched message: its size into r, and when it fits in cap, the receive.
static mw_res mw_take(char *buf, int cap, MPI_Message msg, MPI_Status *st) {
	mw_res r = {0};
	int n = 0, rc;
	if ((rc = MPI_Get_count(st, MPI_BYTE, &n)) != MPI_SUCCESS) return mw_fail(MW_GET_COUNT, rc);
	if (n == MPI_UNDEFINED) return mw_fail(MW_GET_COUNT, MPI_ERR_COUNT);
	r.source = st->MPI_SOURCE;
	r.tag = st->MPI_TAG;
	r.count = n;
	if (n > cap) {
		r.state = MW_HELD;
		r.msg = (uintptr_t)msg;
		return r;
	}
	if ((rc = MPI_Mrecv(mw_buf(buf, n), n, MPI_BYTE, &msg, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
		return mw_fail(MW_MRECV, rc);
	r.state = MW_RECEIVED;
	return r;
}

static mw_res mw_recv(char *buf, int cap, int source, int tag, uintptr_t comm) {
	MPI_Message msg;
	MPI_Status st;
	int rc = MPI_Mprobe(source, tag, MW_COMM(comm), &msg, &st);
	if (rc != MPI_SUCCESS) return mw_fail(MW_MPROBE, rc);
	return mw_take(buf, cap, msg, &st);
}

static mw_res mw_tryrecv(char *buf, int cap, int source, int tag, uintptr_t comm) {
	MPI_Message msg;
	MPI_Status st;
	int flag = 0;
	int rc = MPI_Improbe(source, tag, MW_COMM(comm), &flag, &msg, &st);
	if (rc != MPI_SUCCESS) return mw_fail(MW_IMPROBE, rc);
	if (!flag) { mw_res r = {0}; return r; }
	return mw_take(buf, cap, msg, &st);
}

// mw_imrecv starts receiving matched message m into buf (MPI_Imrecv), and tests it once.
static mw_res mw_imrecv(char *buf, int n, uintptr_t m) {
	MPI_Message msg = (MPI_Message)m;
	MPI_Request req;
	int rc = MPI_Imrecv(mw_buf(buf, n), n, MPI_BYTE, &msg, &req);
	if (rc != MPI_SUCCESS) return mw_fail(MW_IMRECV, rc);
	mw_res r = {0};
	if ((rc = MPI_Test(&req, &r.extra, MPI_STATUS_IGNORE)) != MPI_SUCCESS) return mw_fail(MW_TEST, rc);
	r.req = (uintptr_t)req;
	return r;
}

static mw_res mw_recvfixed(char *buf, int n, int source, int tag, uintptr_t comm) {
	MPI_Status st;
	int rc = MPI_Recv(mw_buf(buf, n), n, MPI_BYTE, source, tag, MW_COMM(comm), &st);
	if (rc != MPI_SUCCESS) return mw_fail(MW_RECV, rc);
	mw_res r = {0};
	if ((rc = MPI_Get_count(&st, MPI_BYTE, &r.count)) != MPI_SUCCESS) return mw_fail(MW_GET_COUNT, rc);
	if (r.count == MPI_UNDEFINED || r.count < 0 || r.count > n) return mw_fail(MW_GET_COUNT, MPI_ERR_COUNT);
	r.state = MW_RECEIVED;
	r.source = st.MPI_SOURCE;
	r.tag = st.MPI_TAG;
	return r;
}

static mw_res mw_mrecv(char *buf, int n, uintptr_t m) {
	MPI_Message msg = (MPI_Message)m;
	int rc = MPI_Mrecv(mw_buf(buf, n), n, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
	if (rc != MPI_SUCCESS) return mw_fail(MW_MRECV, rc);
	mw_res r = {0};
	r.state = MW_RECEIVED;
	return r;
}

static mw_res mw_iprobe(int source, int tag, uintptr_t comm) {
	MPI_Status st;
	int flag = 0, n = 0;
	int rc = MPI_Iprobe(source, tag, MW_COMM(comm), &flag, &st);
	if (rc != MPI_SUCCESS) return mw_fail(MW_IPROBE, rc);
	mw_res r = {0};
	if (!flag) return r;
	if ((rc = MPI_Get_count(&st, MPI_BYTE, &n)) != MPI_SUCCESS) return mw_fail(MW_GET_COUNT, rc);
	if (n == MPI_UNDEFINED) return mw_fail(MW_GET_COUNT, MPI_ERR_COUNT);
	r.extra = 1;
	r.source = st.MPI_SOURCE;
	r.tag = st.MPI_TAG;
	r.count = n;
	return r;
}

// mw_isend starts a send and, with test, tests it at once (MPI_Test) in the same call:
// r.extra says whether it is done already (r.req is then MPI_REQUEST_NULL). With copy (C
// memory of at least n bytes) it sends a copy of buf made there, and keeps no pointer to buf.
static mw_res mw_isend(char *buf, int n, int dest, int tag, uintptr_t comm, int test, uintptr_t copy) {
	if (copy) {
		memcpy((char *)copy, buf, n);
		buf = (char *)copy;
	}
	MPI_Request req;
	int rc = MPI_Isend(mw_buf(buf, n), n, MPI_BYTE, dest, tag, MW_COMM(comm), &req);
	if (rc != MPI_SUCCESS) return mw_fail(MW_ISEND, rc);
	mw_res r = {0};
	if (test && (rc = MPI_Test(&req, &r.extra, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
		return mw_fail(MW_TEST, rc);
	r.req = (uintptr_t)req;
	return r;
}

static mw_res mw_wait(uintptr_t r0) {
	MPI_Request req = (MPI_Request)r0;
	int rc = MPI_Wait(&req, MPI_STATUS_IGNORE);
	if (rc != MPI_SUCCESS) return mw_fail(MW_WAIT, rc);
	mw_res r = {0};
	r.extra = 1;
	return r;
}

static mw_res mw_test(uintptr_t r0) {
	MPI_Request req = (MPI_Request)r0;
	mw_res r = {0};
	int rc = MPI_Test(&req, &r.extra, MPI_STATUS_IGNORE);
	if (rc != MPI_SUCCESS) return mw_fail(MW_TEST, rc);
	return r;
}

static int mw_bcast(char *buf, size_t n, int root, uintptr_t comm, size_t chunk) {
	if (n == 0) return MPI_Bcast(&mw_dummy, 0, MPI_BYTE, root, MW_COMM(comm));
	for (size_t off = 0; off < n; off += chunk) {
		size_t k = n - off < chunk ? n - off : chunk;
		int rc = MPI_Bcast(buf + off, (int)k, MPI_BYTE, root, MW_COMM(comm));
		if (rc != MPI_SUCCESS) return rc;
	}
	return MPI_SUCCESS;
}

static void mw_nop(void) {}

static int mw_barrier(uintptr_t comm) { return MPI_Barrier(MW_COMM(comm)); }

static int mw_abort(uintptr_t comm, int code) { return MPI_Abort(MW_COMM(comm), code); }

static int mw_finalize(void) { return MPI_Finalize(); }

static int mw_processor(char *buf, int *n) { return MPI_Get_processor_name(buf, n); }

// mw_error_string describes an error code: its class and the library's text for it.
static int mw_error_string(int code, char *buf, int *n) {
	int cls = -1;
	if (MPI_Error_string(code, buf, n) != MPI_SUCCESS) *n = 0;
	if (MPI_Error_class(code, &cls) != MPI_SUCCESS) cls = -1;
	return cls;
}

// mw_class_name names the standard error classes an mw call can return; NULL for others.
static const char *mw_class_name(int cls) {
	switch (cls) {
#define MW_CLASS(c) case c: return #c;
	MW_CLASS(MPI_ERR_BUFFER) MW_CLASS(MPI_ERR_COUNT) MW_CLASS(MPI_ERR_TYPE) MW_CLASS(MPI_ERR_TAG)
	MW_CLASS(MPI_ERR_COMM) MW_CLASS(MPI_ERR_RANK) MW_CLASS(MPI_ERR_REQUEST) MW_CLASS(MPI_ERR_ROOT)
	MW_CLASS(MPI_ERR_GROUP) MW_CLASS(MPI_ERR_OP) MW_CLASS(MPI_ERR_ARG) MW_CLASS(MPI_ERR_UNKNOWN)
	MW_CLASS(MPI_ERR_TRUNCATE) MW_CLASS(MPI_ERR_OTHER) MW_CLASS(MPI_ERR_INTERN)
	MW_CLASS(MPI_ERR_PENDING) MW_CLASS(MPI_ERR_IN_STATUS) MW_CLASS(MPI_ERR_NO_MEM)
#undef MW_CLASS
	}
	return NULL;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ThreadLevel is an MPI thread support level, MPI_THREAD_SINGLE to MPI_THREAD_MULTIPLE.
type ThreadLevel int

// The MPI thread support levels, in increasing order.
const (
	ThreadSingle     ThreadLevel = iota // MPI_THREAD_SINGLE: one thread in the process
	ThreadFunneled                      // MPI_THREAD_FUNNELED: only the thread that called Start calls MPI
	ThreadSerialized                    // MPI_THREAD_SERIALIZED: any thread, one at a time
	ThreadMultiple                      // MPI_THREAD_MULTIPLE: any thread, concurrently
)

// String returns the MPI name of the level, such as "MPI_THREAD_FUNNELED".
func (l ThreadLevel) String() string {
	switch l {
	case ThreadSingle:
		return "MPI_THREAD_SINGLE"
	case ThreadFunneled:
		return "MPI_THREAD_FUNNELED"
	case ThreadSerialized:
		return "MPI_THREAD_SERIALIZED"
	case ThreadMultiple:
		return "MPI_THREAD_MULTIPLE"
	}
	return "ThreadLevel(" + strconv.Itoa(int(l)) + ")"
}

// Wildcards for the source and tag of Recv, RecvInto, TryRecv and Iprobe.
const (
	AnySource = int(C.MPI_ANY_SOURCE) // receive from any rank
	AnyTag    = int(C.MPI_ANY_TAG)    // receive any tag
)

// Status describes a received or probed message.
type Status struct {
	Source int // rank of the sender
	Tag    int // tag it was sent with
	Count  int // length in bytes
}

// Error is an MPI call's failure: Start sets MPI_ERRORS_RETURN, so every MPI error code comes
// back as an *Error. Its text is "mpi: <Call>: <Msg>", one line under every MPI.
type Error struct {
	Call  string // the MPI function, such as "MPI_Send"
	Code  int    // the MPI error code it returned
	Class int    // its error class (MPI_Error_class), such as MPI_ERR_RANK's value; -1 if unknown
	// Msg is the class's name and the library's text for Code (MPI_Error_string), such as
	// "MPI_ERR_RANK: invalid rank" (Open MPI) or "MPI_ERR_RANK: Invalid rank has value 99
	// but must be nonnegative and less than 2" (MPICH, the last line of its error stack).
	Msg string
}

// Error returns "mpi: <Call>: <Msg>".
func (e *Error) Error() string { return "mpi: " + e.Call + ": " + e.Msg }

// ErrNotRunning is wrapped by the error of any call made before Start or after Stop.
var ErrNotRunning = errors.New("MPI is not running")

var callNames = [...]string{
	C.MW_INIT_THREAD:         "MPI_Init_thread",
	C.MW_COMM_SET_ERRHANDLER: "MPI_Comm_set_errhandler",
	C.MW_COMM_RANK:           "MPI_Comm_rank",
	C.MW_COMM_SIZE:           "MPI_Comm_size",
	C.MW_FINALIZE:            "MPI_Finalize",
	C.MW_SEND:                "MPI_Send",
	C.MW_MPROBE:              "MPI_Mprobe",
	C.MW_IMPROBE:             "MPI_Improbe",
	C.MW_IPROBE:              "MPI_Iprobe",
	C.MW_GET_COUNT:           "MPI_Get_count",
	C.MW_MRECV:               "MPI_Mrecv",
	C.MW_ISEND:               "MPI_Isend",
	C.MW_WAIT:                "MPI_Wait",
	C.MW_TEST:                "MPI_Test",
	C.MW_BCAST:               "MPI_Bcast",
	C.MW_BARRIER:             "MPI_Barrier",
	C.MW_ABORT:               "MPI_Abort",
	C.MW_GET_PROCESSOR_NAME:  "MPI_Get_processor_name",
	C.MW_INITIALIZED:         "MPI_Initialized",
	C.MW_FINALIZED:           "MPI_Finalized",
	C.MW_RECV:                "MPI_Recv",
	C.MW_IMRECV:              "MPI_Imrecv",
}

// mpiError turns an MPI return code of the call with index call into an *Error.
func mpiError(call C.int, rc C.int) error {
	var buf [C.MPI_MAX_ERROR_STRING + 1]C.char
	var n C.int
	class := C.mw_error_string(rc, &buf[0], &n)
	var name string
	if p := C.mw_class_name(class); p != nil {
		name = C.GoString(p)
	}
	return &Error{Call: callNames[call], Code: int(rc), Class: int(class), Msg: errorMsg(name, C.GoStringN(&buf[0], n), int(rc))}
}

// errorMsg makes one line of an error's class name (or "") and the library's text for it:
// Open MPI's "MPI_ERR_RANK: invalid rank" as it is, and of MPICH's error stack ("Invalid
// rank, error stack:\nMPI_Send(...) failed\nfunc(78).: Invalid rank has value 99 ...") the
// text of its last line, after the class name.
func errorMsg(class, text string, code int) string {
	text = strings.TrimSpace(text)
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
		if _, after, ok := strings.Cut(text, ": "); ok {
			text = after
		}
	}
	switch {
	case text == "" && class == "":
		return "MPI error code " + strconv.Itoa(code)
	case text == "":
		return class
	case class == "" || strings.HasPrefix(text, class):
		return text
	}
	return class + ": " + text
}

func notRunning(call C.int) error {
	return fmt.Errorf("mpi: %s: %w", callNames[call], ErrNotRunning)
}

func tooLarge(call C.int, n int) error {
	return fmt.Errorf("mpi: %s: %d bytes is more than the %d an MPI count can hold", callNames[call], n, math.MaxInt32)
}

// cint converts a rank, tag or code to a C int; values out of range become math.MinInt32,
// which MPI rejects as a rank and as a tag, so they fail as MPI errors instead of wrapping.
func cint(x int) C.int {
	if x != int(int32(x)) {
		return C.int(math.MinInt32)
	}
	return C.int(x)
}

// ptr is the address of b's backing array, nil if it has none. It is a *C.char rather than an
// unsafe.Pointer because cgo checks unsafe.Pointer arguments for Go pointers on every call
// (about 15 ns) but knows a char holds none.
func ptr(b []byte) *C.char { return (*C.char)(unsafe.Pointer(unsafe.SliceData(b))) }

// capCount is b's capacity as an MPI count, capped at math.MaxInt32.
func capCount(b []byte) C.int {
	if cap(b) > math.MaxInt32 {
		return math.MaxInt32
	}
	return C.int(cap(b))
}

// Process state: 0 never started, 1 running, 2 stopped.
const (
	stateIdle = iota
	stateRunning
	stateStopped
)

var (
	state     atomic.Int32
	worldRank atomic.Int64
	worldSize atomic.Int64
	world     = Communicator{size: 1}
)

func init() { worldSize.Store(1) }

// Start initializes MPI with MPI_Init_thread asking for the required thread level, sets
// MPI_ERRORS_RETURN on MPI_COMM_WORLD, and returns the level MPI granted. The calling
// goroutine should be locked to its OS thread (see the package doc). If MPI grants less than
// required, Start returns the granted level and an error naming both; MPI is then running and
// the caller should Stop (or Abort). Start fails if MPI was already started, by this package
// or otherwise; MPI cannot be started again after Stop.
func Start(required ThreadLevel) (granted ThreadLevel, err error) {
	if required < ThreadSingle || required > ThreadMultiple {
		return 0, fmt.Errorf("mpi: MPI_Init_thread: invalid thread level %v", required)
	}
	s := C.mw_state()
	if s.rc != 0 {
		return 0, mpiError(s.call, s.rc)
	}
	switch s.extra {
	case 1:
		return 0, errors.New("mpi: MPI_Init_thread: MPI is already started")
	case 2:
		return 0, errors.New("mpi: MPI_Init_thread: MPI was stopped and cannot be started again")
	}
	r := C.mw_start(C.int(required))
	if r.rc != 0 && r.call == C.MW_INIT_THREAD {
		return 0, mpiError(r.call, r.rc)
	}
	// MPI is initialized from here on, whatever else fails.
	granted = ThreadLevel(r.extra)
	world = Communicator{comm: C.mw_comm_world(), rank: int(r.rank), size: int(r.size)}
	worldRank.Store(int64(r.rank))
	worldSize.Store(int64(r.size))
	state.Store(stateRunning)
	if r.rc != 0 {
		return granted, mpiError(r.call, r.rc)
	}
	if granted < required {
		return granted, fmt.Errorf("mpi: MPI_Init_thread: granted thread level %v is below the required %v", granted, required)
	}
	return granted, nil
}

// Stop shuts MPI down with MPI_Finalize. Every Request must be complete. After Stop, every
// call but IsOn, WorldRank, WorldSize, Nop and Version fails: with ErrNotRunning, and
// SetParamDefault because MPI was started.
func Stop() error {
	if state.Load() != stateRunning {
		return notRunning(C.MW_FINALIZE)
	}
	state.Store(stateStopped)
	world = Communicator{size: 1}
	worldRank.Store(0)
	worldSize.Store(1)
	if rc := C.mw_finalize(); rc != 0 {
		return mpiError(C.MW_FINALIZE, rc)
	}
	return nil
}

// IsOn reports whether Start has initialized MPI and Stop has not yet finalized it. It is safe
// to call from any goroutine.
func IsOn() bool { return state.Load() == stateRunning }

// WorldRank returns this process's rank in MPI_COMM_WORLD, or 0 when MPI is not running. It
// is safe to call from any goroutine.
func WorldRank() int { return int(worldRank.Load()) }

// WorldSize returns the number of processes in MPI_COMM_WORLD, or 1 when MPI is not running.
// It is safe to call from any goroutine.
func WorldSize() int { return int(worldSize.Load()) }

// Processor returns the name of this processor (MPI_Get_processor_name), usually the host
// name.
func Processor() (string, error) {
	if !IsOn() {
		return "", notRunning(C.MW_GET_PROCESSOR_NAME)
	}
	var buf [C.MPI_MAX_PROCESSOR_NAME + 1]C.char
	var n C.int
	if rc := C.mw_processor(&buf[0], &n); rc != 0 {
		return "", mpiError(C.MW_GET_PROCESSOR_NAME, rc)
	}
	return C.GoStringN(&buf[0], n), nil
}

// Communicator is an MPI communicator. Its methods follow the package's threading contract.
type Communicator struct {
	comm C.uintptr_t // MPI_Comm; 0 when MPI is not running
	rank int
	size int
}

// World returns MPI_COMM_WORLD. The pointer is the same before Start, while running and after
// Stop; its methods fail with ErrNotRunning while MPI is not running.
func World() *Communicator { return &world }

// Rank returns this process's rank in c (0 when MPI is not running).
func (c *Communicator) Rank() int { return c.rank }

// Size returns the number of processes in c (1 when MPI is not running).
func (c *Communicator) Size() int { return c.size }

// Send sends buf to rank dest with tag (MPI_Send) and returns when buf may be reused.
func (c *Communicator) Send(buf []byte, dest, tag int) error {
	if c.comm == 0 {
		return notRunning(C.MW_SEND)
	}
	if len(buf) > math.MaxInt32 {
		return tooLarge(C.MW_SEND, len(buf))
	}
	rc := C.mw_send(ptr(buf), C.int(len(buf)), cint(dest), cint(tag), c.comm)
	tick() // after the call: between a receive and the send that answers it, every ns counts
	if rc != 0 {
		return mpiError(C.MW_SEND, rc)
	}
	return nil
}

// Recv waits for a message from source (or AnySource) with tag (or AnyTag) and returns it in
// a new slice of its length. It matches and receives the message as one (MPI_Mprobe,
// MPI_Get_count, MPI_Mrecv), so it is safe when several senders race.
func (c *Communicator) Recv(source, tag int) ([]byte, Status, error) {
	return c.RecvInto(nil, source, tag)
}

// RecvInto is Recv receiving into buf's capacity: it returns buf[:n] if the message's n bytes
// fit in cap(buf), otherwise a new slice.
func (c *Communicator) RecvInto(buf []byte, source, tag int) ([]byte, Status, error) {
	if c.comm == 0 {
		return nil, Status{}, notRunning(C.MW_MPROBE)
	}
	tick()
	r := C.mw_recv(ptr(buf), capCount(buf), cint(source), cint(tag), c.comm)
	return finishRecv(buf, &r)
}

// RecvFixed receives a message of at most len(buf) bytes from source with tag into buf,
// with a single MPI_Recv as C code does when it knows the size, and returns buf[:n]. A
// longer message is an error (MPI_ERR_TRUNCATE) and is lost, so use it only where the
// protocol bounds the size; RecvInto takes any size, for one MPI call more (the probe).
func (c *Communicator) RecvFixed(buf []byte, source, tag int) ([]byte, Status, error) {
	if c.comm == 0 {
		return nil, Status{}, notRunning(C.MW_RECV)
	}
	if len(buf) > math.MaxInt32 {
		return nil, Status{}, tooLarge(C.MW_RECV, len(buf))
	}
	tick()
	r := C.mw_recvfixed(ptr(buf), C.int(len(buf)), cint(source), cint(tag), c.comm)
	if r.rc != 0 {
		return nil, Status{}, mpiError(r.call, r.rc)
	}
	return buf[:r.count], Status{Source: int(r.source), Tag: int(r.tag), Count: int(r.count)}, nil
}

// TryRecv is RecvInto that does not wait: if a message from source with tag is pending
// (MPI_Improbe) it receives it and returns ok = true, otherwise it returns ok = false at once.
// This is the call for a polling loop.
func (c *Communicator) TryRecv(buf []byte, source, tag int) (data []byte, st Status, ok bool, err error) {
	if c.comm == 0 {
		return nil, Status{}, false, notRunning(C.MW_IMPROBE)
	}
	tick()
	r := C.mw_tryrecv(ptr(buf), capCount(buf), cint(source), cint(tag), c.comm)
	if r.rc == 0 && r.state == C.MW_NONE {
		return nil, Status{}, false, nil
	}
	data, st, err = finishRecv(buf, &r)
	return data, st, err == nil, err
}

// Message is a message matched (MPI_Improbe) and not received yet: StartRecv receives it.
type Message struct {
	msg   C.uintptr_t
	Count int // its size in bytes
}

// TryRecvSmall is TryRecv that receives at once only a message of at most small bytes that
// fits buf: one sent eagerly, whose data came with its envelope. A larger one is matched and
// returned held, for StartRecv to receive without waiting: a large message's data comes
// from its sender (rendezvous), and a blocking receive of it waits for the sender, forever
// when the sender is dead. ok reports a message received or held.
func (c *Communicator) TryRecvSmall(buf []byte, small, source, tag int) (data []byte, st Status, held *Message, ok bool, err error) {
	if c.comm == 0 {
		return nil, Status{}, nil, false, notRunning(C.MW_IMPROBE)
	}
	tick()
	k := min(cap(buf), max(small, 0))
	r := C.mw_tryrecv(ptr(buf), capCount(buf[:k:k]), cint(source), cint(tag), c.comm)
	switch {
	case r.rc != 0:
		return nil, Status{}, nil, false, mpiError(r.call, r.rc)
	case r.state == C.MW_NONE:
		return nil, Status{}, nil, false, nil
	}
	st = Status{Source: int(r.source), Tag: int(r.tag), Count: int(r.count)}
	if r.state == C.MW_HELD {
		return nil, st, &Message{msg: r.msg, Count: int(r.count)}, true, nil
	}
	return buf[:st.Count], st, nil, true, nil
}

// StartRecv starts receiving held message m into buf (MPI_Imrecv; len(buf) is m.Count) with
// r, which must be new or done, and tests it once: done reports it complete. Otherwise buf
// stays pinned, MPI's, until Test reports r done.
func (c *Communicator) StartRecv(m *Message, buf []byte, r *Request) (done bool, err error) {
	if c.comm == 0 {
		return false, notRunning(C.MW_IMRECV)
	}
	if r.req != 0 && !r.done {
		return false, errors.New("mpi: MPI_Imrecv: Request still in use")
	}
	if len(buf) != m.Count {
		return false, fmt.Errorf("mpi: MPI_Imrecv: a buffer of %d bytes for a message of %d", len(buf), m.Count)
	}
	tick()
	*r = Request{pin: r.pin, copyBuf: r.copyBuf}
	if len(buf) > 0 {
		r.pin.Pin(&buf[0])
		r.pinned = true
	}
	return r.started(C.mw_imrecv(ptr(buf), C.int(len(buf)), m.msg))
}

// started takes the outcome of a call that started r's operation and tested it once: done
// when the test said so; a failure at the start or at the test leaves the buffer MPI's no
// longer, as a failed Test does.
func (r *Request) started(res C.mw_res) (done bool, err error) {
	if res.rc != 0 {
		r.finish()
		return false, mpiError(res.call, res.rc)
	}
	r.req = res.req
	if res.extra != 0 {
		r.finish()
		return true, nil
	}
	return false, nil
}

// finishRecv completes a receive whose message was matched by mw_recv or mw_tryrecv: if it
// did not fit in buf, it receives the held message into a new slice.
func finishRecv(buf []byte, r *C.mw_res) ([]byte, Status, error) {
	if r.rc != 0 {
		return nil, Status{}, mpiError(r.call, r.rc)
	}
	st := Status{Source: int(r.source), Tag: int(r.tag), Count: int(r.count)}
	if r.state == C.MW_RECEIVED {
		return buf[:st.Count], st, nil
	}
	out := make([]byte, st.Count)
	if m := C.mw_mrecv(ptr(out), r.count, r.msg); m.rc != 0 {
		return nil, Status{}, mpiError(m.call, m.rc)
	}
	return out, st, nil
}

// Iprobe reports whether a message from source with tag is pending (MPI_Iprobe) and, if so,
// its Status. It does not receive the message; with several receivers of one source, prefer
// TryRecv, which cannot lose a race.
func (c *Communicator) Iprobe(source, tag int) (bool, Status, error) {
	if c.comm == 0 {
		return false, Status{}, notRunning(C.MW_IPROBE)
	}
	tick()
	r := C.mw_iprobe(cint(source), cint(tag), c.comm)
	if r.rc != 0 {
		return false, Status{}, mpiError(r.call, r.rc)
	}
	if r.extra == 0 {
		return false, Status{}, nil
	}
	return true, Status{Source: int(r.source), Tag: int(r.tag), Count: int(r.count)}, nil
}

// Request is a pending non-blocking operation. The caller must complete it with Wait, or Test
// until it reports done, before dropping it, or give it up with Abandon. A Request must not be
// copied.
type Request struct {
	req     C.uintptr_t // MPI_Request
	pin     runtime.Pinner
	pinned  bool    // pin holds the buffer
	copyBuf *C.char // C memory of sendCopy bytes that small sends go from, or nil
	done    bool
}

// sendCopy is the largest send that Isend and IsendTest copy into C memory of the Request's
// own (allocated at its first small send, freed once the Request is unreachable) instead of
// pinning the caller's buffer: a copy that small costs less than runtime.Pinner's Pin and
// Unpin, which take a lock each.
const sendCopy = 256

// Isend starts sending buf to rank dest with tag (MPI_Isend). A buf of up to sendCopy bytes
// is copied, and free again when Isend returns; MPI keeps a longer buf's address, so Isend
// pins it until Wait or Test reports completion, and the caller must not modify it until
// then.
func (c *Communicator) Isend(buf []byte, dest, tag int) (*Request, error) {
	r := &Request{}
	if _, err := c.isend(r, buf, dest, tag, false); err != nil {
		return nil, err
	}
	return r, nil
}

// IsendTest is Isend, then Test at once, in one call, with a Request the caller owns: r must
// be new (the zero Request) or done. It reports done when MPI is finished with buf already
// (a small message usually is); otherwise buf stays pinned (unless copied, as in Isend), and
// the caller completes r with Wait or Test as after Isend, and may then use it again. A
// reused Request keeps its Pinner and its copy memory, so a steady stream of sends allocates
// nothing.
func (c *Communicator) IsendTest(r *Request, buf []byte, dest, tag int) (done bool, err error) {
	return c.isend(r, buf, dest, tag, true)
}

// isend starts sending buf with r (which must be new or done), from a copy (up to sendCopy
// bytes) or pinning buf, and with test tests the send at once: Isend and IsendTest.
func (c *Communicator) isend(r *Request, buf []byte, dest, tag int, test bool) (done bool, err error) {
	if c.comm == 0 {
		return false, notRunning(C.MW_ISEND)
	}
	if len(buf) > math.MaxInt32 {
		return false, tooLarge(C.MW_ISEND, len(buf))
	}
	if r.req != 0 && !r.done {
		return false, errors.New("mpi: MPI_Isend: Request still in use")
	}
	tick()
	*r = Request{pin: r.pin, copyBuf: r.copyBuf}
	var from C.uintptr_t // the copy to send from
	switch n := len(buf); {
	case n > sendCopy:
		r.pin.Pin(&buf[0])
		r.pinned = true
	case n > 0:
		if r.copyBuf == nil {
			r.copyBuf = (*C.char)(C.malloc(sendCopy))
			if r.copyBuf == nil {
				return false, errors.New("mpi: MPI_Isend: out of C memory")
			}
			runtime.AddCleanup(r, func(p *C.char) { C.free(unsafe.Pointer(p)) }, r.copyBuf)
		}
		from = C.uintptr_t(uintptr(unsafe.Pointer(r.copyBuf)))
	}
	ctest := C.int(0)
	if test {
		ctest = 1
	}
	return r.started(C.mw_isend(ptr(buf), C.int(len(buf)), cint(dest), cint(tag), c.comm, ctest, from))
}

// Wait blocks until r completes (MPI_Wait) and releases its buffer. Waiting again on a
// completed request returns at once. The Status is that of a receive; a request from Isend
// carries none, so it returns the zero Status.
func (r *Request) Wait() (Status, error) {
	if r == nil {
		return Status{}, errors.New("mpi: MPI_Wait: nil Request")
	}
	if r.done {
		return Status{}, nil
	}
	if !IsOn() {
		return Status{}, notRunning(C.MW_WAIT)
	}
	tick()
	res := C.mw_wait(r.req)
	r.finish()
	if res.rc != 0 {
		return Status{}, mpiError(res.call, res.rc)
	}
	return Status{}, nil
}

// Test reports whether r has completed (MPI_Test), releasing its buffer when it has. Once it
// has reported done, it keeps doing so.
func (r *Request) Test() (done bool, err error) {
	if r == nil {
		return false, errors.New("mpi: MPI_Test: nil Request")
	}
	if r.done {
		return true, nil
	}
	if !IsOn() {
		return false, notRunning(C.MW_TEST)
	}
	tick()
	res := C.mw_test(r.req)
	if res.rc != 0 {
		// A request that fails is complete: MPI no longer uses its buffer.
		r.finish()
		return true, mpiError(res.call, res.rc)
	}
	if res.extra == 0 {
		return false, nil
	}
	r.finish()
	return true, nil
}

func (r *Request) finish() {
	r.done = true
	if r.pinned {
		r.pin.Unpin()
		r.pinned = false
	}
}

// abandoned holds the Requests given up with Abandon: MPI may still use their buffers.
var abandoned struct {
	sync.Mutex
	reqs []*Request
}

// Abandon gives r up without completing it, as for an operation with a peer that is gone (a
// send to it over TCP, a large message from it, never completes). MPI may still read or
// write r's buffer, so r, and the buffer it pins, stay reachable for the rest of the process
// (dropped, a pinned Request would make the runtime panic, and its buffer could be reused
// while MPI writes into it). The caller must not use r again. A done r is left alone. Safe
// from any goroutine; it makes no MPI call.
func (r *Request) Abandon() {
	if r == nil || r.done {
		return
	}
	abandoned.Lock()
	abandoned.reqs = append(abandoned.reqs, r)
	abandoned.Unlock()
}

// Go 1.26's sysmon takes the P away from a goroutine that is in a cgo call once that goroutine
// has gone 10 ms (forcePreemptNS) without being scheduled anew, and does it again at every
// sysmon tick (20 us) while it stays so: a goroutine that only makes MPI calls, as a ping-pong
// loop or an engine's polling loop does, is never scheduled anew, so from 10 ms on nearly
// every call of 10 us or more pays a handoff to another thread and back (on a rank bound to
// one core, two context switches), which made a 44 KB ping-pong 40% slower than C. So every
// 64th MPI call checks the clock, and if this goroutine has not yielded for yieldEvery it
// calls runtime.Gosched, which schedules it anew (on the same thread if it is locked to one).
const yieldEvery = 2 * time.Millisecond

var (
	calls     atomic.Uint32
	lastYield atomic.Int64 // time.Now().UnixNano() at the last yield
)

// Nop makes an empty call into C, as every call of this package does before MPI's own work:
// what it costs (cmd/mw-pingpong measures it) is the least a cgo binding adds to each MPI
// call. Safe from any goroutine, with or without MPI.
func Nop() { C.mw_nop() }

// tick counts an MPI call; see yieldEvery.
func tick() {
	if calls.Add(1)&63 == 0 {
		yieldIfDue()
	}
}

func yieldIfDue() {
	now := time.Now().UnixNano()
	if now-lastYield.Load() >= int64(yieldEvery) {
		lastYield.Store(now)
		runtime.Gosched()
	}
}

// bcastChunk is the largest piece Bcast hands MPI at once; tests lower it.
var bcastChunk = 1 << 30

// Bcast broadcasts buf from rank root to every rank of c, in place (MPI_Bcast). buf must
// have the same length on every rank; it may be empty, and longer than an MPI count (it goes
// in pieces of at most 1 GiB).
func (c *Communicator) Bcast(buf []byte, root int) error {
	if c.comm == 0 {
		return notRunning(C.MW_BCAST)
	}
	tick()
	if rc := C.mw_bcast(ptr(buf), C.size_t(len(buf)), cint(root), c.comm, C.size_t(bcastChunk)); rc != 0 {
		return mpiError(C.MW_BCAST, rc)
	}
	return nil
}

// Barrier blocks until every rank of c has called it (MPI_Barrier).
func (c *Communicator) Barrier() error {
	if c.comm == 0 {
		return notRunning(C.MW_BARRIER)
	}
	tick()
	if rc := C.mw_barrier(c.comm); rc != 0 {
		return mpiError(C.MW_BARRIER, rc)
	}
	return nil
}

// Abort ends every process of c with exit code code (MPI_Abort). It does not return unless
// MPI fails to abort or is not running.
func (c *Communicator) Abort(code int) error {
	if c.comm == 0 {
		return notRunning(C.MW_ABORT)
	}
	if rc := C.mw_abort(c.comm, cint(code)); rc != 0 {
		return mpiError(C.MW_ABORT, rc)
	}
	return nil
}
