package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpitransport"
	"github.com/mw-hpc/mw/rank"
)

// commands maps a workload name to its command, tools a command that runs no job (mw
// status) to its command, and gens `mw gen <what>` to its command. Each registers itself
// from its own main_<name>.go file.
var (
	commands = map[string]cli.Command{}
	tools    = map[string]cli.Command{}
	gens     = map[string]cli.Command{}
)

func register(c cli.Command)     { commands[c.Name] = c }
func registerTool(c cli.Command) { tools[c.Name] = c }
func registerGen(c cli.Command)  { gens[c.Name] = c }

// run is the whole program but for the exit: it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	me := launch.FromEnv().Rank
	if me != 0 {
		stdout = io.Discard // only rank 0 writes to stdout
	}
	var (
		once sync.Once
		tr   rank.Transport
		terr error
	)
	env := &cli.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Rank: me}
	env.Transport = func() (rank.Transport, error) {
		once.Do(func() { tr, terr = mpitransport.Start() })
		return tr, terr
	}
	defer func() {
		if tr != nil {
			tr.Close()
		}
	}()

	name, rest, cmd, err := pick(args)
	if err == nil && cmd.Run != nil {
		err = cmd.Run(ctx, env, rest)
	}
	if errors.Is(err, flag.ErrHelp) {
		return cli.ExitOK
	}
	if cause := context.Cause(ctx); err != nil && ctx.Err() != nil && cause != ctx.Err() {
		err = stoppedBy{cause: cause, err: err} // "stopped: terminated signal received"
	}
	if err != nil && me == 0 {
		report(stderr, name, err)
	}
	if err != nil && me != 0 && !isUsage(err) {
		// A worker's own fatal error (the manager's are reported by the manager).
		fmt.Fprintf(stderr, "mw[%d@%s]: %s: %v\n", me, hostOf(tr), name, err)
	}
	return cli.ExitCode(err)
}

// hostOf names this rank's host: as its transport does, or as the system does when MPI
// never started.
func hostOf(tr rank.Transport) string {
	if tr != nil {
		return tr.Host()
	}
	host, _ := os.Hostname()
	return host
}

func isUsage(err error) bool {
	var ue *cli.UsageError
	return errors.As(err, &ue)
}

func report(w io.Writer, name string, err error) {
	var ee *cli.ExitError
	if errors.As(err, &ee) && ee.Err == nil {
		return
	}
	msg := err.Error()
	if name != "" && !strings.HasPrefix(msg, "mw") {
		msg = "mw: " + name + ": " + msg
	} else if name == "" {
		msg = "mw: " + msg
	}
	fmt.Fprintln(w, msg)
	if isUsage(err) && name != "" {
		fmt.Fprintf(w, "Run 'mw %s -h' for help.\n", name)
	}
}

// pick finds the command named by args[0] (or the built-in help and version).
func pick(args []string) (name string, rest []string, cmd cli.Command, err error) {
	if len(args) == 0 {
		return "", nil, cli.Command{}, cli.Usagef("no workload given; run 'mw -h' for the list")
	}
	name, rest = args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		return name, rest, cli.Command{Run: helpCmd}, nil
	case "version", "--version", "-version":
		return name, rest, cli.Command{Run: func(_ context.Context, env *cli.Env, _ []string) error {
			printVersion(env.Stdout)
			return nil
		}}, nil
	case "gen":
		if len(rest) == 0 || rest[0] == "-h" || rest[0] == "--help" {
			return name, rest, cli.Command{Run: func(_ context.Context, env *cli.Env, _ []string) error {
				w := env.Stdout // asked for (-h); a usage error goes to stderr
				if len(rest) == 0 {
					w = env.Stderr
				}
				fmt.Fprintf(w, "usage: mw gen <what> [flags]: make a synthetic input\n\n")
				listCommands(w, gens)
				if len(rest) == 0 {
					return cli.Usagef("say what to generate: %s", strings.Join(names(gens), " or "))
				}
				return nil
			}}, nil
		}
		g, ok := gens[rest[0]]
		if !ok {
			return "", rest, cli.Command{}, cli.Usagef("gen %q: unknown; one of %s", rest[0], strings.Join(names(gens), ", "))
		}
		return "gen " + rest[0], rest[1:], g, nil
	}
	c, ok := commands[name]
	if !ok {
		c, ok = tools[name]
	}
	if !ok {
		return "", rest, cli.Command{}, cli.Usagef("unknown workload %q; one of %s (mw -h lists them)", name, strings.Join(names(commands), ", "))
	}
	return name, rest, c, nil
}

func helpCmd(_ context.Context, env *cli.Env, _ []string) error {
	w := env.Stdout
	fmt.Fprint(w, `mw: one binary that turns an MPI allocation into a manager-workers machine.

usage: mpirun -np N mw <workload> [flags]     (-np 1 works too: the manager does the work)
       mw gen <what> [flags]                   make a synthetic input
       mw status [--json] FILE                 print a run's --status file, from any node
       mw version

Rank 0 is the manager: it cuts the ordered input into numbered chunks, deals them to the
workers and writes the results in input order. Every workload takes the engine's flags
(--window, --threads, --retries, --stats, --quiet); 'mw <workload> -h' lists all of its flags.

workloads:
`)
	listCommands(w, commands)
	fmt.Fprint(w, "\ngenerators (mw gen <what>):\n")
	listCommands(w, gens)
	fmt.Fprint(w, "\nexit codes: 0 success, 1 runtime error, 2 usage error; mw exec uses GNU parallel's.\n")
	return nil
}

func names(m map[string]cli.Command) []string {
	var ns []string
	for n := range m {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func listCommands(w io.Writer, m map[string]cli.Command) {
	for _, n := range names(m) {
		fmt.Fprintf(w, "  %-10s %s\n", n, m[n].Short)
	}
}

// stoppedBy is the error of a run that a signal (the cause) cut short. The operation it
// interrupted ("send chunk 235 to rank 1: context canceled") says nothing more, and is left
// out of the message; any other error is kept after the cause.
type stoppedBy struct{ cause, err error }

func (s stoppedBy) Error() string {
	if errors.Is(s.err, context.Canceled) {
		msg := "stopped: " + s.cause.Error()
		var u *rank.StopUnanswered
		if errors.As(s.err, &u) {
			msg += "; " + u.Detail()
		}
		return msg
	}
	return s.cause.Error() + ": " + s.err.Error()
}

func (s stoppedBy) Unwrap() error { return s.err }
