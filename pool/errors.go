package pool

import (
	"errors"
	"fmt"
	"strings"
)

// TaskError is the error of an element (Map, Stream) or a task (Submit) whose function
// failed on a worker: where it ran, what it was, and the function's own error. Err is
// rebuilt on rank 0 from what the worker sent: its message, and the sentinels and typed
// errors of its chain that RegisterError and RegisterErrorType made known, so that
// errors.Is and errors.As find them (through TaskError's Unwrap).
type TaskError struct {
	Rank    int    // the worker's rank under MPI; its number in process (InProcess); 0 in a run of one process
	Host    string // the worker's host under MPI, else ""
	Chunk   uint64 // the chunk that held the element
	Element int    // the element's index in the input, or the task's number (Submit: 0, 1, ...)
	Task    string // Submit: the task's name; "" for Map and Stream
	Err     error
}

func (e *TaskError) Error() string {
	var b strings.Builder
	switch {
	case e.Host != "":
		fmt.Fprintf(&b, "rank %d on %s: ", e.Rank, e.Host)
	case e.Rank > 0:
		fmt.Fprintf(&b, "worker %d in process: ", e.Rank)
	}
	if e.Task != "" {
		fmt.Fprintf(&b, "task %s #%d: ", e.Task, e.Element)
	} else {
		fmt.Fprintf(&b, "element %d (chunk %d): ", e.Element, e.Chunk)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *TaskError) Unwrap() error { return e.Err }

// PartialError is the error of a Map run with KeepGoing in which some elements failed:
// their results are the zero value, and each failure is in Failed, in input order.
type PartialError struct{ Failed []*TaskError }

func (e *PartialError) Error() string {
	n := len(e.Failed)
	if n == 1 {
		return "1 element failed: " + e.Failed[0].Error()
	}
	return fmt.Sprintf("%d elements failed; the first: %v", n, e.Failed[0])
}

// Unwrap returns the failures, for errors.Is and errors.As.
func (e *PartialError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f
	}
	return errs
}

// ErrPanic is wrapped by the error of a function that panicked on a worker (Map, Stream,
// Submit); the message has the panic's value and where it happened.
var ErrPanic = errors.New("panic")

// ErrOutOfStep is wrapped by the error of a job whose ranks did not make the same
// collective calls (Map, Stream, Broadcast, Execute, Run) in the same order: one returned
// from Main's body, panicked, or called something else while rank 0 called a function.
// Every rank gets it from the call where they parted, and Main on rank 0 prints it.
var ErrOutOfStep = errors.New("ranks out of step")

// outOfStep is ErrOutOfStep's error: which rank did what, while rank 0 did what.
type outOfStep struct{ msg string }

func (e *outOfStep) Error() string        { return e.msg }
func (e *outOfStep) Is(target error) bool { return target == ErrOutOfStep }

// remote is an error rebuilt from its encoding: the message it had, and the registered
// sentinels and typed errors its chain held where it was made.
type remote struct {
	msg     string
	wrapped []error
}

func (e *remote) Error() string   { return e.msg }
func (e *remote) Unwrap() []error { return e.wrapped }
