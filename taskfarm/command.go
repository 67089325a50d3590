package taskfarm

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// Command is `mw exec`.
var Command = cli.Command{
	Name:  "exec",
	Short: "run GNU parallel's command lines as tasks across the ranks (mw exec -h: parallel's options)",
	Run:   runExec,
}

// exitOther is GNU parallel's status for an error that is not a task failing: a bad
// option, an unreadable input, the engine.
const exitOther = 255

// DefaultBuffer is the output of one task stream kept in memory before it spills to a file.
const DefaultBuffer = 4 << 20

// shellPath is the shell that runs composed command lines.
const shellPath = "/bin/sh"

// parseArgs parses and checks exec's command line; every value is checked here, before
// any MPI. A bad command line is an error for exit status 255; -h is flag.ErrHelp.
func parseArgs(env *cli.Env, args []string) (*options, *cli.EngineFlags, error) {
	fs := cli.NewFlagSet(env, "exec", "")
	ef := cli.AddEngineFlags(fs)
	o := &options{maxArgs: -1, totalJobs: -1, argSep: ":::", argFileSep: "::::", delim: "\n",
		rpl: defaultRplNames(), chunk: cli.ChunkSize{N: 1}, termSeq: defaultTermSeq, tries: 1, haltText: "never"}
	p := &parser{o: o, table: optionTable(), set: map[string]bool{}, env: fs.Set}
	rest, err := p.parse(args)
	if err != nil {
		return nil, nil, err
	}
	if p.help {
		if env.Rank == 0 {
			io.WriteString(env.Stdout, execUsage)
		}
		return nil, nil, flag.ErrHelp
	}
	if err := o.resolve(rest, p.set, env); err != nil {
		return nil, nil, err
	}
	if err := o.engine(ef, p.set, env.Rank); err != nil {
		return nil, nil, err
	}
	if env.Rank == 0 {
		for _, w := range o.warnings {
			fmt.Fprintf(env.Stderr, "mw: exec: warning: %s\n", w)
		}
	}
	return o, ef, nil
}

// resolve splits the command from its input groups and derives the settings that depend
// on several options.
func (o *options) resolve(rest []string, set map[string]bool, env *cli.Env) error {
	o.command, o.inputs = splitGroups(rest, o.inputs, o.argSep, o.argFileSep)
	if err := o.resolveModes(set); err != nil {
		return err
	}
	if err := o.resolveRecords(); err != nil {
		return err
	}
	if err := o.resolveOutput(set); err != nil {
		return err
	}
	if err := o.resolveResources(); err != nil {
		return err
	}
	h, err := parseHalt(o.haltText)
	if err != nil {
		return fmt.Errorf("--halt %s: %w", o.haltText, err)
	}
	o.halt = h
	if o.halt.pct > 0 && o.totalJobs < 0 && o.pipe {
		return fmt.Errorf("--halt %s: a percentage needs the number of jobs, unknown for --pipe: give --total-jobs", o.haltText)
	}
	if o.bufferText != "" {
		if o.buffer, err = parseSize(o.bufferText); err != nil || o.buffer < 0 {
			return fmt.Errorf("--buffer %s: must be a size such as 65536, 512K or 4M", o.bufferText)
		}
	} else {
		o.buffer = DefaultBuffer
	}
	if o.tmpdir == "" {
		o.tmpdir = os.TempDir()
	}
	if _, err := o.commandTemplate(nil); err != nil {
		return err
	}
	return nil
}

// splitGroups cuts the words after the options into the command and its ::: and ::::
// groups (:::+ and ::::+ linked to the source before), as GNU parallel reads them.
func splitGroups(rest []string, inputs []source, argSep, fileSep string) ([]string, []source) {
	i := 0
	for i < len(rest) && !isSep(rest[i], argSep, fileSep) {
		i++
	}
	command := rest[:i]
	for i < len(rest) {
		sep := rest[i]
		j := i + 1
		for j < len(rest) && !isSep(rest[j], argSep, fileSep) {
			j++
		}
		group := rest[i+1 : j]
		linked := strings.HasSuffix(sep, "+")
		if strings.TrimSuffix(sep, "+") == fileSep {
			for _, f := range group {
				inputs = append(inputs, source{kind: srcFile, path: f, linked: linked})
			}
		} else {
			inputs = append(inputs, source{kind: srcValues, values: group, linked: linked})
		}
		i = j
	}
	return command, inputs
}

func isSep(a, argSep, fileSep string) bool {
	return a == argSep || a == argSep+"+" || a == fileSep || a == fileSep+"+"
}

// resolveModes checks the modes that change what a job is: --tasks, --retry-failed,
// --pipe and --pipepart.
func (o *options) resolveModes(set map[string]bool) error {
	switch {
	case o.tasks != "" && len(o.command) > 0:
		return fmt.Errorf("--tasks %s and a command %q: with --tasks each line is the command; give one of them", o.tasks, strings.Join(o.command, " "))
	case o.tasks != "" && len(o.inputs) > 0:
		return errors.New("--tasks and -a, ::: or ::::: the tasks come from one of them")
	case o.tasks != "":
		o.inputs = []source{{kind: srcFile, path: o.tasks}}
	case o.retryFailed && !o.joblogSet:
		return errors.New("--retry-failed reads the failed jobs from --joblog: give --joblog FILE")
	case o.pipe && o.pipePart:
		o.pipe = false // --pipepart is a faster --pipe
	}
	if (o.pipe || o.pipePart) && len(o.command) == 0 {
		return errors.New("--pipe and --pipepart need a command to pipe into (e.g. cat)")
	}
	if o.pipePart {
		files := 0
		for _, s := range o.inputs {
			if s.kind != srcFile || s.path == "-" {
				return errors.New("--pipepart reads one regular file, given with -a FILE or :::: FILE")
			}
			files++
		}
		if files != 1 {
			return errors.New("--pipepart reads one regular file, given with -a FILE or :::: FILE")
		}
	}
	if o.pipe && len(o.inputs) > 1 || o.pipe && len(o.inputs) == 1 && o.inputs[0].kind != srcFile {
		return errors.New("--pipe reads one input (stdin, or -a FILE): ::: values and several inputs are not supported")
	}
	if (o.pipe || o.pipePart) && (o.multi != multiNone || o.maxArgs >= 0 && !set["max-replace-args"]) {
		return errors.New("--pipe and --pipepart take -N (records per block), not -n, -X or -m")
	}
	if o.pipePart && o.maxArgs >= 0 {
		return errors.New("--pipepart cuts parts by --block, not by records: -N is not supported with it (as in GNU parallel)")
	}
	if o.blockSet && o.block < 0 && !o.pipePart {
		return fmt.Errorf("--block %d: a negative block (parts per job slot) needs --pipepart", o.block)
	}
	return nil
}

// resolveRecords checks how input is cut into records and values.
func (o *options) resolveRecords() error {
	o.rec.delim = o.delim
	if o.colsepSet {
		re, err := regexp.Compile(o.colsepText)
		if err != nil {
			return fmt.Errorf("--colsep %s: not a regular expression mw reads (Go's RE2 syntax, close to Perl's): %w", quoteArg(o.colsepText), err)
		}
		o.rec.colsep = re
		if o.trimText == "" {
			o.trimText = "lr" // --colsep implies --trim lr
		}
	}
	switch o.header {
	case "", "0":
	case ":", ".*\\n", "(.*\\n)", "1":
		o.header = ":"
	default:
		if n, err := strconv.Atoi(o.header); err != nil || n < 1 || !o.pipe && !o.pipePart {
			return fmt.Errorf("--header %s: mw takes --header : (the first line), 0 (file names), or with --pipe a number of lines; not a regular expression", quoteArg(o.header))
		}
	}
	o.rec.header = o.header
	if o.recStartSet || o.recEndSet {
		if !o.pipe && !o.pipePart {
			return errors.New("--recstart and --recend cut --pipe's blocks: give --pipe or --pipepart")
		}
	}
	return nil
}

// resolveOutput checks the output options.
func (o *options) resolveOutput(set map[string]bool) error {
	if o.results != "" {
		for _, ext := range []string{".csv", ".tsv", ".json"} {
			if strings.HasSuffix(o.results, ext) {
				return fmt.Errorf("--results %s: CSV, TSV and JSON output files are not supported: give a directory", o.results)
			}
		}
	}
	if o.joblog == "+" || o.joblog == "" && o.joblogSet {
		return errors.New("--joblog: give a file name")
	}
	if (o.resume || o.resumeFailed) && !o.joblogSet {
		return errors.New("--resume and --resume-failed read the --joblog: give --joblog FILE")
	}
	if o.output == outUngroup {
		o.unordered, o.keep = true, false
		if o.tag || o.tagStringSet {
			o.warnings = append(o.warnings, "--tag and --tagstring do not apply with -u (tasks write straight to stdout), as in GNU parallel")
		}
	}
	if os.Getenv("PARALLEL") != "" {
		o.warnings = append(o.warnings, "$PARALLEL is not read: give its options on the command line")
	}
	return nil
}

// engine sets the engine's flags from exec's: -j is the threads of each rank, --retries
// the engine's re-issues, and checks them with the files.
func (o *options) engine(ef *cli.EngineFlags, set map[string]bool, rank0 int) error {
	ef.Backups = false
	ef.Unordered = o.unordered
	ef.Quiet = ef.Quiet && !o.progressWant
	files := []cli.File{cli.Out("the tasks' output", "-")}
	for _, in := range o.inputs {
		if in.kind == srcFile {
			files = append(files, cli.In("-a", in.path))
		}
	}
	files = append(files, cli.Out("--joblog", joblogPath(o.joblog)))
	o.slotsOnRank0 = runtime.NumCPU()
	o.res = o.findResources(rank0)
	if n := o.resourceSlots(o.res); n > 0 && !o.jobsSet && !set["threads"] {
		ef.Threads = min(n, rank.MaxThreads)
	}
	if o.jobsSet {
		o.slotsOnRank0 = o.jobs.slots(runtime.NumCPU())
		threads := o.jobs.slots(rankCPUs(rank0))
		if o.jobs.kind == '=' && o.jobs.value == 0 {
			threads = fdThreads()
		}
		threads = min(threads, rank.MaxThreads)
		if set["threads"] && ef.Threads != threads {
			return fmt.Errorf("-j %s and --threads %d disagree: give one of them", o.jobs.text, ef.Threads)
		}
		ef.Threads = threads
		ef.Window = min(ef.Window, max(1, rank.MaxInFlight/threads))
	}
	if (o.halt.when != haltNever || o.timeoutPct > 0) && !set["window"] {
		// A task issued is then a task started: --halt stops and --timeout N% measures
		// what GNU parallel would have started, not tasks waiting in a window.
		ef.Window = 1
	}
	if o.jobs.kind != '=' || o.jobs.value != 0 { // -j 0 asks for as many as can be
		o.threads = ef.Threads
	}
	switch {
	case o.tries == 0:
		ef.Retries = rank.MaxAttempt
	case o.tries-1 > rank.MaxAttempt:
		return fmt.Errorf("--retries %d: at most %d tries", o.tries, rank.MaxAttempt+1)
	default:
		ef.Retries = o.tries - 1
	}
	return ef.Validate(files...)
}

// fdThreads is -j 0, as many tasks as possible: as many as the open-file limit allows
// (each running task holds a few descriptors).
func fdThreads() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 250
	}
	return max(1, int(min(lim.Cur, 1<<20)-64)/4)
}

// commandTemplate builds the command's template, the column names of --header rewritten
// to positions. Without any replacement string {} is appended (not with --pipe); without
// a command each value is the command.
func (o *options) commandTemplate(names []string) (*template, error) {
	words := rewriteNames(o.command, names)
	if len(words) == 0 && o.retryFailed {
		words = nil
	}
	t, err := parseTemplate(words, o.rpl)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		t.toks = []token{{kind: tokRpl, rpl: rplValue}}
		t.counts[rplKey{kind: rplValue}] = 1
		return t, nil
	}
	if !t.hasRpl() && !o.pipe && !o.pipePart {
		t.toks = append(t.toks, token{kind: tokSpace}, token{kind: tokRpl, rpl: rplValue})
		t.counts[rplKey{kind: rplValue}] = 1
		t.words++
	}
	return t, nil
}

// rewriteNames replaces {name}, {name.}, {name/}, {name//} and {name/.} of the --header
// column names with their positions, as GNU parallel does.
func rewriteNames(words, names []string) []string {
	if len(names) == 0 {
		return words
	}
	out := append([]string(nil), words...)
	for i := range out {
		for id, n := range names {
			for _, suf := range []string{"", "/", "//", ".", "/."} {
				out[i] = strings.ReplaceAll(out[i], "{"+n+suf+"}", "{"+strconv.Itoa(id+1)+suf+"}")
			}
		}
	}
	return out
}

// composeMode is how values and words of the command are quoted.
func (o *options) composeMode(t *template) composeMode {
	return composeMode{quoteValues: !o.quote && !t.startsWithRpl(), quoteWords: o.quote, context: o.multi == multiContext || o.replaceArgs && !o.pipe}
}

func runExec(ctx context.Context, env *cli.Env, args []string) error {
	o, ef, err := parseArgs(env, args)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		// GNU parallel's status for a bad command line; main says "Run 'mw exec -h'".
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			err = &cli.UsageError{Msg: err.Error()}
		}
		return &cli.ExitError{Code: exitOther, Err: err}
	}
	return o.run(ctx, env, ef)
}
