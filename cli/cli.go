// Package cli holds what every mw workload's command line shares: the environment a command
// runs in, usage errors and exit codes, the engine's common flags, and input/output files
// that are never left half-written.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mw-hpc/mw/rank"
)

// Exit codes shared by every workload (mw exec uses GNU parallel's instead).
const (
	ExitOK      = 0
	ExitRuntime = 1
	ExitUsage   = 2
)

// Env is the world a command runs in. Only rank 0 writes to Stdout.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Rank is this process's MPI rank as read from the launcher's environment before MPI
	// starts (0 when not under mpirun). Use it to let only rank 0 print usage errors.
	Rank int
	// Transport starts the rank's transport (MPI under mpirun, or alone) on first call and
	// returns it; later calls return the same one. Commands that need no engine never call it.
	Transport func() (rank.Transport, error)
}

// Command is one `mw <name>` subcommand.
type Command struct {
	Name  string
	Short string // one line for `mw -h`
	// Run parses args (without the command name) and runs the command. It returns a
	// *UsageError for bad flags or values (exit 2), an *ExitError for a specific exit code,
	// and any other error for a runtime failure (exit 1). flag.ErrHelp means help was shown.
	Run func(ctx context.Context, env *Env, args []string) error
}

// UsageError is a mistake in the command line: bad flag, bad value, too few ranks.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with a formatted message. Say what is wrong and how to fix
// it, e.g. Usagef("--window %d: must be at least 1", n).
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ExitError carries a specific exit code (mw exec's GNU parallel codes). Err may be nil
// when there is nothing more to print.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by a Command to the process exit code.
func ExitCode(err error) int {
	var ee *ExitError
	var ue *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return ExitUsage
	default:
		return ExitRuntime
	}
}
