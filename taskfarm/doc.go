// Package taskfarm is `mw exec`: a task farm of shell commands across an MPI allocation,
// the way GNU parallel runs them on one machine.
//
//	mpirun -q -np N mw exec [flags] [--] COMMAND [ARGS...]   one task per input line
//	mpirun -q -np N mw exec [flags] --tasks FILE             each line is a shell command
//
// Rank 0 reads the input lines (-a FILE, repeatable, or stdin), numbers them from 1 and
// deals them to the worker ranks in chunks (--chunk tasks each, default 1); each worker runs
// -j tasks at once. With -np 1, rank 0 runs them itself.
//
// # Commands
//
// In COMMAND and ARGS, {} is the line, {#} the task number, {%} the slot running it (1 to
// -j, per rank), {/} the line without its directory, {//} its directory, {.} the line
// without its extension and {/.} the basename without its extension, all with GNU
// parallel's definitions. Without any of them the line is appended as the last argument.
// Values are single arguments, never re-parsed by a shell: a line "; rm -rf x" is data.
// With --shell the words are joined into a /bin/sh script and the values are quoted for
// it (GNU parallel's default behaviour). With --tasks each line is run by /bin/sh -c.
// Empty lines are tasks (with an empty value), and a last line without a newline is read.
//
// Each task runs in the current directory (--workdir DIR), with stdin from /dev/null and
// MW_TASK (its number), MW_RANK, MW_SLOT and MW_NTASKS (the number of input lines when
// the input is a file, else empty) added to the environment, in a process group of its own:
// --timeout, --halt now and a stopped job end the whole group (TERM, then KILL).
//
// # Output
//
// A task's stdout and stderr are captured whole in files in --tmpdir (as GNU parallel does)
// and printed by rank 0, stdout then stderr, never mixed with another task's, in input
// order (--unordered: as tasks finish). Output up to --buffer bytes per stream travels to
// rank 0 in memory; more is handed over as a file in --tmpdir, which rank 0 prints and
// removes: on the same host that is always possible, across hosts only with a --tmpdir
// that rank 0 shares (without one, large output travels in memory).
//
// # Joblog, resume, retries, halt
//
// --joblog FILE writes GNU parallel's tab-separated line per task (Seq, Host, Starttime,
// JobRuntime, Send, Receive, Exitval, Signal, Command), in the order the output is printed,
// each line flushed as it is written. --resume skips the tasks in the joblog; --resume-failed
// skips only those that succeeded. Both append to the joblog. A task whose output was not
// printed when the run was killed is not in the joblog, and runs again.
//
// --retries N re-runs a failed task (non-zero exit, signal, timeout) up to N more times on
// another worker where there is one; only the last try is printed and logged.
//
// --halt WHEN,WHY=N has GNU parallel's meaning: WHEN is now (kill the running tasks) or
// soon (start no more), WHY is fail, success or done, N a count or a percentage. It counts
// tasks as they finish, whatever the output order (rank.ArrivalSink). With now, the task
// that fired is printed even if earlier tasks were still running (they are killed); tasks
// waiting behind one that still ran are neither printed nor logged, as GNU parallel -k
// does. With soon, the tasks queued at the workers go back unstarted (rank.ErrDrain); a
// slot freed at the very moment of the halt may still start one before its worker hears.
//
// # Exit status
//
// 0 when every task succeeded, 1 to 100 the number that failed, 101 more than 100, 255
// another error (including a bad command line); a fired fail=1 or done=1 policy exits with
// the task's own status (128+signal if killed). As GNU parallel.
package taskfarm
