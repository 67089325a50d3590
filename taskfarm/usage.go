package taskfarm

// execUsage is `mw exec -h`: GNU parallel's man page's sections, for what mw exec does.
const execUsage = `NAME
  mw exec - GNU parallel's command lines, run as tasks across the ranks of an MPI allocation

SYNOPSIS
  mw exec [options] [command [arguments]] < list_of_arguments
  mw exec [options] [command [arguments]] ( ::: arguments | :::+ arguments |
          :::: argfiles | ::::+ argfiles ) ...
  mw exec [options] --pipe command < data        mw exec [options] --pipepart -a FILE command
  mpirun -q -np N mw exec ...                     (rank 0 reads and prints; the others run tasks)

DESCRIPTION
  For each input (a line of stdin or of -a FILE, a ::: value, a combination of several
  sources) mw exec composes a command line and runs it as a task, the way GNU parallel does:
  the command's words are joined by spaces, each replacement string replaced by its value
  quoted for the shell (so a value never runs as code), and the line is run by /bin/sh
  ($PARALLEL_SHELL if set). A line that needs no shell (plain words naming a program, no
  expansions, redirections, pipes or globs) runs without one: same result, one process
  less. Without a replacement string the values are appended. Without a command each input
  is the command. Output is printed as GNU parallel -k prints it: each task's stdout then
  its stderr, whole, in input order (--unordered: as tasks finish). Exit status as GNU
  parallel's. Under mpirun, -j is the tasks each worker rank runs at once.

OPTIONS
  Input sources
  ::: values        values as an input source; several sources give all combinations,
                    the first varying slowest
  :::+ values       linked to the source before (values taken together; shortest ends)
  :::: files        files as input sources (- is stdin); ::::+ linked
  -a, --arg-file FILE  an input source (repeatable; - is stdin). Without any: stdin
  --link            link all sources (the shorter ones wrap around)
  --arg-sep SEP, --arg-file-sep SEP  use SEP instead of ::: or ::::
  -0, --null        records end with NUL;  -d, --delimiter DELIM  records end with DELIM
                    (\n \t \0 \\ \xHH \NNN understood)
  -C, --colsep RE   split each record into columns {1} {2} ... at the regular expression RE
                    (Go's RE2: Perl's syntax but for backreferences and look-arounds);
                    implies --trim lr
  --trim n|l|r|lr   remove white space around values
  --header :        the first line of each source names its columns: {name} {name.} ...
                    (under mpirun write --header=:, mpirun reads a lone : itself);
                    --header 0 names file sources by their paths
  -E EOF            a record equal to EOF ends its source;  -r  skip records of white space
  -n N              N values per command line;  -N N  likewise, {1}..{N} being the values;
                    -N0 reads one value per job and inserts none
  -X                as many values as fit (-s), the words holding {} repeated for each;
  -m, --xargs       as many values as fit, {} replaced by all of them; at the end of the
                    input -X and -m spread the values over the -j job slots
  -s, --max-chars N  the longest command line -X, -m and -n compose (default as GNU
                    parallel on Linux: 63664)
  --shuf            run the jobs in random order (all input is read first)

  Replacement strings
  {}  the value    {.}  without extension   {/}  basename   {//}  dirname   {/.}  both
  {#} job number   {%}  job slot (1 to -j on each rank)
  {n} {n.} {n/} {n//} {n/.}  the n-th value (of the sources, columns or -N values); -n from
                    the end;  {name} with --header
  -I STR  --extensionreplace STR  --basenamereplace STR  --dirnamereplace STR
  --basenameextensionreplace STR  --seqreplace STR  --slotreplace STR   rename them
  -q, --quote       quote every word of the command too: it runs as given, no shell syntax
  Tasks also see PARALLEL_SEQ, PARALLEL_JOBSLOT, MW_TASK, MW_SLOT, MW_RANK and MW_NTASKS.

  Running
  -j, --jobs N      tasks at once on each worker rank: N, N% of its CPUs, +N, -N, or 0 (as
                    many as the open-file limit allows), or a file holding one of them;
                    default: its share of the node's CPUs
  --timeout T|N%    kill a task after T seconds (s, m, h, d allowed) or N% of the median
                    runtime of the tasks that succeeded, through --term-seq
  --term-seq SEQ    how tasks are killed (default TERM,200,TERM,100,TERM,50,KILL,25)
  --delay T         the ranks together start one task per T
  --memfree SIZE    start no task while less memory is available; below half of it the
                    youngest task is killed and run again later
  --nice N          run tasks at niceness N (never lower than mw's own)
  --retries N       try a failing task N times in all, on another worker where possible
                    (0: as many as mw allows, 256)
  --halt WHEN,WHY=N  stop early: WHEN now (kill running tasks) or soon (start no more),
                    WHY fail, success or done, N a count or a percentage; also 0 1 2 -1 -2
                    and N%. Counted as tasks finish, as GNU parallel counts
  --joblog FILE     a line per task (GNU parallel's columns; +FILE appends)
  --resume          skip the jobs the joblog has;  --resume-failed  run its failed ones again
  --retry-failed    run the failed commands of the joblog again (the command line's
                    command and inputs are not used)
  --workdir DIR, --wd DIR  run tasks in DIR;  --tmpdir DIR  capture output there
  --process-slot-var NAME  set NAME to the job slot - 1 in each task

  Output
  -k, --keep-order  output in input order (mw's default);  --no-keep-order, --nok and mw's
                    --unordered: as tasks finish
  --group           each task's output whole (the default);  --line-buffer, --lb  the
                    same bytes (whole lines: each task's when it ends)
  -u, --ungroup     tasks write straight to stdout (under mpirun each rank's stdout)
  --tag             put the values and a tab before each output line;  --tagstring STR
                    put STR (with replacement strings) instead
  -v                print each command line before its output;  -t, --verbose  on stderr
  --dry-run         print the command lines instead of running them
  --results DIR     save each task's stdout, stderr and number under DIR/1/value/...
                    (with --header, DIR/name/value/...); with replacement strings, in the
                    file (or directory, ending in /) they name. Nothing is printed
  --files           save each task's stdout to a file in --tmpdir and print its name
  --bar, --eta, --progress  show mw's progress line (also with --quiet)
  --total-jobs N    the number of jobs, for the progress line and --halt N%

  Pipe mode
  --pipe            cut stdin (or -a FILE) into blocks, one task per block on its stdin
  --block SIZE      block size (K M G: 1024s, k m g: 1000s; default 1M); a block ends
                    after a record end followed by a record start
  --recstart STR, --recend STR  the records' separators (default: --recend '\n')
  -N N              N records per block;  --header :|N  prepended to every block
  --pipepart        with -a FILE, a regular file: the manager finds the parts, each worker
                    reads its own from the file (a shared filesystem under mpirun);
                    --block -N: N parts per job slot (default -10)

flags:
  mw's own, shared by every workload: --chunk N (jobs per message, default 1),
  --window N (default 2; 1 with --halt or --timeout N%), --mode push|pull, --threads N
  (same as -j N), --stats FILE (tasks succeeded, failed, timed out, retried, output
  written, the slowest), --status FILE (a live status, replaced every --status-every
  DURATION, default 2s; read it with mw status FILE), --trace FILE, --quiet,
  --keep-going. And exec's: --tasks FILE (each line a command: -a FILE without a
  command), --buffer SIZE (output kept in memory per stream before it spills to --tmpdir;
  default 4M), --shell (the default: compose through the shell; undoes -q).

  Cores and GPUs (mw's own), on each worker rank:
  --cpus-per-task N  bind each task to N cores of its own, of those the rank may use (its
                    binding); the rank runs cores / N tasks at once (unless -j says)
  --gpus N|auto     the rank's GPUs (auto: from CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES,
                    Slurm's SLURM_STEP_GPUS, nvidia-smi, rocm-smi or the device files), one
                    per task by default: each task sees only its own in
                    CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES and ZE_AFFINITY_MASK, and
                    {gpu} in the command; the rank runs as many tasks at once as it has
  --gpus-per-task N  GPUs per task (0: none, the variables empty)
  Both take replacement strings too (--cpus-per-task {2}: a column of the input). A task
  starts once its cores and GPUs are free, in the order the tasks came (none starved).

  --tasks FILE lines that are mw's (disBatch's #DISBATCH BARRIER [CHECK] too):
  #MW BARRIER       every task before it finishes before any task after it starts
  #MW BARRIER CHECK  the same; if a task since the barrier before failed, the run stops
                    there (the tasks after it are not run)
  #MW cpus=N gpus=N  the cores and GPUs of the tasks after it, up to the next such line

  Every other GNU parallel option is refused by name (exit 255) with a hint: -S and the
  other remote options (mw uses MPI ranks), {= perl =}, --plus, --rpl, --csv, --tee,
  --round-robin, --shard, --bin, --group-by, --cat, --fifo, --tmux, --semaphore, ...

EXAMPLES
  ls *.fastq | mpirun -q -np 4 mw exec -j 8 gzip -9
  mpirun -q -np 9 mw exec --joblog run.log ./analyse --in {} --out out/{/.}.csv :::: samples.txt
  mpirun -q -np 9 mw exec --joblog run.log --resume ./analyse ... :::: samples.txt   (after a kill)
  mw exec -k echo {1} {2} ::: a b ::: 1 2
  mpirun -q -np 4 mw exec --pipepart -a huge.fastq --block 100M 'gzip -c > {#}.gz'
  seq 1000000 | mpirun -q -np 4 mw exec --halt now,success=1 ./try-key

EXIT STATUS
  0 all tasks succeeded; 1-100 that many failed; 101 more than 100 failed; 255 another
  error (a bad or refused option, an unreadable input). With --halt ...,fail=1 or done=1,
  the status of the task that fired; with a percentage, the percentage that failed.

DIFFERENCES FROM GNU PARALLEL
  See the README's "Coming from GNU parallel": -j, {%} and --delay count per worker rank;
  output is ordered by default; --retries and -X's line length as parallel's, but not its
  Perl; under mpirun a lone : argument is mpirun's (write --header=:).
`
