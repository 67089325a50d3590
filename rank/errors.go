package rank

import (
	"fmt"
	"strings"

	"github.com/mw-hpc/mw/internal/human"
)

// StopUnanswered is the error of a run that a cancellation (a signal) ended while some
// worker ranks did not answer the manager's stop: most likely they had died before it
// (killed, out of memory), and the launcher is ending the job because of that.
type StopUnanswered struct {
	Err   error
	Ranks []string // "rank R on HOST"
}

func (e *StopUnanswered) Error() string { return e.Err.Error() + "; " + e.Detail() }

// Detail names the ranks that did not answer, and how to run so that such a loss costs only
// the lost ranks' chunks.
func (e *StopUnanswered) Detail() string {
	return strings.Join(e.Ranks, ", ") + " did not answer the stop (gone before it: killed, out of memory?); " +
		"run mpirun --enable-recovery to finish the job without a lost worker"
}

func (e *StopUnanswered) Unwrap() error { return e.Err }

// FailedChunk is a chunk left out of the output by --keep-going.
type FailedChunk struct {
	Seq   uint64
	Who   string // "rank R on HOST"
	Cause string
}

// PartialError is the result of a --keep-going run in which some chunks failed every try:
// the output is complete but for them.
type PartialError struct{ Failed []FailedChunk }

func (e *PartialError) Error() string {
	var b strings.Builder
	were := "were"
	if len(e.Failed) == 1 {
		were = "was"
	}
	fmt.Fprintf(&b, "%s failed and %s left out of the output:", human.Plural(len(e.Failed), "chunk"), were)
	for i, f := range e.Failed {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, " chunk %d (%s: %s);", f.Seq, f.Who, f.Cause)
	}
	return strings.TrimSuffix(b.String(), ";")
}
