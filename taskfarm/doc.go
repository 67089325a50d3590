// Package taskfarm is `mw exec`: GNU parallel's command lines, run as tasks across the
// ranks of an MPI allocation.
//
//	mpirun -q -np N mw exec [options] [command [arguments]] [::: values] [:::: files]
//
// Rank 0 (the manager) reads the input sources (-a, ::: and :::: groups, stdin), combines
// them as GNU parallel does (all combinations, the first source slowest; --link and :::+
// linked), groups the records into jobs (-n, -N, -X, -m) and numbers them; each job is an
// item of a chunk (--chunk jobs each, default 1), dealt to the worker ranks by the engine.
// Each worker rank runs -j tasks at once (with -np 1, rank 0 runs them itself).
//
// # Composing a command line
//
// A worker composes each job's line as GNU parallel does (template.go): the command's words
// are tokenised once (replacement strings {} {.} {/} {//} {/.} {#} {%}, their positional
// forms {n} {n.} ..., --header's {name}), and for a job the words are joined by spaces with
// each value shell-quoted (quoteValues); -q quotes whole words instead, and a command that
// starts with a replacement string quotes nothing (the value is the command). The line
// runs with /bin/sh -c, except where it needs no shell (direct.go: plain words naming a
// program in PATH, not a shell keyword or built-in, and /bin/sh is dash): then the worker
// starts the program itself, with the arguments the shell would have given it and the PWD
// it would have set.
//
// # Output
//
// A task's stdout and stderr are captured whole in files in --tmpdir and printed by rank 0,
// stdout then stderr, never mixed with another task's, in input order (--unordered: as
// tasks finish), tagged (--tag, --tagstring), saved (--results, --files) or, with -u, not
// captured at all: the task writes to its rank's stdout. Output up to --buffer bytes per
// stream travels to rank 0 in memory; more is handed over as a file in --tmpdir, which rank
// 0 prints and removes (on the same host always, across hosts only with a shared --tmpdir).
//
// # Pipe mode
//
// With --pipe rank 0 cuts stdin into blocks as GNU parallel does (pipe.go: up to --block
// bytes, cut after the last record end followed by a record start, or every -N records;
// --header prepended); each block is a job's stdin. With --pipepart -a FILE rank 0 finds
// the parts' offsets in the file and sends only those; each worker reads its part.
//
// # Joblog, resume, retries, halt
//
// --joblog FILE writes GNU parallel's tab-separated line per task in the order the output
// is printed. --resume skips the jobs in the joblog, --resume-failed only those that
// succeeded, --retry-failed runs the joblog's failed commands again. --retries N tries a
// failing task N times in all, on another worker where there is one. --halt counts tasks
// as they finish (rank.ArrivalSink): now ends the job, and the output stops at the first
// task still running (as GNU parallel -k prints it); soon starts no more tasks. With
// --halt (and --timeout N%) a worker holds one chunk per thread (--window 1), so that the
// tasks issued are the tasks started, as GNU parallel starts them.
//
// # Exit status
//
// 0 when every task succeeded, 1 to 100 the number that failed, 101 more than 100, 255
// another error (including a bad or refused option: every GNU parallel option mw does not
// support is refused by name); a fired fail=1 or done=1 policy exits with the task's own
// status (128+signal if killed). As GNU parallel. `mw exec -h` is the manual.
package taskfarm
