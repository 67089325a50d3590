package taskfarm

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// optArg says whether an option takes a value.
type optArg uint8

const (
	argNone     optArg = iota
	argRequired        // the rest of a bundle, the part after =, or the next argument
	argOptional        // only after = or in a bundle (GNU parallel's -i, -e, -l)
)

// optSpec is one option of GNU parallel's (or mw's own): its names, whether it takes a value,
// and what it sets. An option without apply is refused by name with refuse as the hint.
type optSpec struct {
	long   []string
	short  byte
	arg    optArg
	apply  func(p *parser, v string) error
	refuse string
	mw     bool // mw's own option: abbreviations match parallel's options first
}

// Hints for the kinds of GNU parallel options mw refuses.
const (
	hintRemote  = "mw runs tasks on the ranks of an MPI allocation, not over ssh: start more ranks on more hosts (mpirun --hostfile, srun) and give -j tasks per rank"
	hintPerl    = "mw has no Perl: compute the value in the command (a shell function or script) instead"
	hintPrint   = "mw exec does not print GNU parallel's facts; see mw exec -h"
	hintRetired = "a retired GNU parallel option"
	hintTTY     = "mw captures each task's output and gives tasks no terminal"
	hintSem     = "mw exec has no semaphore mode: use GNU parallel's sem"
	hintSQL     = "mw exec keeps no SQL table: use --joblog and --results"
	hintSpread  = "mw exec gives each block to one task (--pipe, --pipepart); it does not round-robin, shard, bin or group blocks"
)

// names splits "a|b|c" into its names.
func names(s string) []string { return strings.Split(s, "|") }

// optionTable is every option of GNU parallel 20221122 and mw's own. Keeping the refused
// ones here makes them fail by name (never read as the command, never ignored) and keeps
// abbreviations as parallel resolves them.
func optionTable() []optSpec {
	t := append([]optSpec(nil), parallelOptions...)
	return append(append(t, refusedOptions...), mwOptions()...)
}

// parallelOptions are GNU parallel's options that mw exec supports.
var parallelOptions = []optSpec{
	// Input.
	{long: names("arg-file|argfile"), short: 'a', arg: argRequired, apply: (*parser).argFile},
	{long: names("arg-sep|argsep"), arg: argRequired, apply: func(p *parser, v string) error { p.o.argSep = v; return nil }},
	{long: names("arg-file-sep|argfilesep"), arg: argRequired, apply: func(p *parser, v string) error { p.o.argFileSep = v; return nil }},
	{long: names("null"), short: '0', apply: func(p *parser, _ string) error { p.o.delim = "\x00"; return nil }},
	{long: names("delimiter"), short: 'd', arg: argRequired, apply: (*parser).delimiter},
	{long: names("col-sep|colsep"), short: 'C', arg: argRequired, apply: func(p *parser, v string) error { p.o.colsepText, p.o.colsepSet = v, true; return nil }},
	{long: names("header"), arg: argRequired, apply: func(p *parser, v string) error { p.o.header = v; return nil }},
	{long: names("trim"), arg: argRequired, apply: (*parser).trim},
	{short: 'E', arg: argRequired, apply: func(p *parser, v string) error { p.o.rec.eof, p.o.rec.eofSet = v, true; return nil }},
	{long: names("no-run-if-empty|norunifempty"), short: 'r', apply: func(p *parser, _ string) error { p.o.rec.skipEmpty = true; return nil }},
	{long: names("link|xapply"), apply: func(p *parser, _ string) error { p.o.link = true; return nil }},
	{long: names("max-args|maxargs"), short: 'n', arg: argRequired, apply: func(p *parser, v string) error { return p.maxArgs(v, false) }},
	{long: names("max-replace-args|maxreplaceargs"), short: 'N', arg: argRequired, apply: func(p *parser, v string) error { return p.maxArgs(v, true) }},
	{short: 'X', apply: func(p *parser, _ string) error { p.o.multi = multiContext; return nil }},
	{short: 'm', apply: func(p *parser, _ string) error { p.o.multi = multiArgs; return nil }},
	{long: names("xargs"), apply: func(p *parser, _ string) error { p.o.multi, p.o.noSpread = multiArgs, true; return nil }},
	{long: names("max-chars|maxchars"), short: 's', arg: argRequired, apply: (*parser).maxChars},
	{long: names("shuf"), apply: func(p *parser, _ string) error { p.o.shuf = true; return nil }},
	// Replacement strings.
	{short: 'I', arg: argRequired, apply: func(p *parser, v string) error { return p.rename(rplValue, v) }},
	{long: names("extensionreplace|er"), arg: argRequired, apply: func(p *parser, v string) error { return p.rename(rplNoExt, v) }},
	{long: names("basenamereplace|bnr"), arg: argRequired, apply: func(p *parser, v string) error { return p.rename(rplBase, v) }},
	{long: names("dirnamereplace|dnr"), arg: argRequired, apply: func(p *parser, v string) error { return p.rename(rplDir, v) }},
	{long: names("basenameextensionreplace|bner"), arg: argRequired, apply: func(p *parser, v string) error { return p.rename(rplBaseNoExt, v) }},
	{long: names("seqreplace"), arg: argRequired, apply: func(p *parser, v string) error { return p.rename(rplSeq, v) }},
	{long: names("slotreplace"), arg: argRequired, apply: func(p *parser, v string) error { return p.rename(rplSlot, v) }},
	{long: names("quote"), short: 'q', apply: func(p *parser, _ string) error { p.o.quote = true; return nil }},
	// Running.
	{long: names("jobs|max-procs|maxprocs"), short: 'j', arg: argRequired, apply: (*parser).jobs},
	{short: 'P', arg: argRequired, apply: (*parser).jobs},
	{long: names("timeout"), arg: argRequired, apply: (*parser).timeout},
	{long: names("delay"), arg: argRequired, apply: (*parser).delay},
	{long: names("memfree"), arg: argRequired, apply: (*parser).memfree},
	{long: names("nice"), arg: argRequired, apply: (*parser).nice},
	{long: names("retries"), arg: argRequired, apply: (*parser).retries},
	{long: names("halt-on-error|haltonerror|halt"), arg: argRequired, apply: func(p *parser, v string) error { p.o.haltText = v; return nil }},
	{long: names("term-seq|termseq"), arg: argRequired, apply: (*parser).termSeq},
	{long: names("joblog|jl"), arg: argRequired, apply: func(p *parser, v string) error { p.o.joblog, p.o.joblogSet = v, true; return nil }},
	{long: names("resume"), apply: func(p *parser, _ string) error { p.o.resume = true; return nil }},
	{long: names("resume-failed|resumefailed"), apply: func(p *parser, _ string) error { p.o.resumeFailed = true; return nil }},
	{long: names("retry-failed|retryfailed"), apply: func(p *parser, _ string) error { p.o.retryFailed = true; return nil }},
	{long: names("work-dir|workdir|wd"), arg: argRequired, apply: func(p *parser, v string) error { p.o.workdir = v; return nil }},
	{long: names("tmpdir|tempdir"), arg: argRequired, apply: func(p *parser, v string) error { p.o.tmpdir, p.o.tmpdirGiven = v, true; return nil }},
	{long: names("process-slot-var|processslotvar"), arg: argRequired, apply: (*parser).slotVar},
	// Output.
	{long: names("keep-order|keeporder"), short: 'k', apply: func(p *parser, _ string) error { p.o.keep, p.o.unordered = true, false; return nil }},
	{long: names("no-keep-order|nokeeporder|nok|no-k"), apply: func(p *parser, _ string) error { p.o.keep, p.o.unordered = false, true; return nil }},
	{long: names("group"), apply: func(p *parser, _ string) error { p.o.output = outGroup; return nil }},
	{long: names("ungroup"), short: 'u', apply: func(p *parser, _ string) error { p.o.output = outUngroup; return nil }},
	{long: names("line-buffer|line-buffered|linebuffer|linebuffered|lb"), apply: func(p *parser, _ string) error { p.o.output = outLineBuffer; return nil }},
	{long: names("tag"), apply: func(p *parser, _ string) error { p.o.tag = true; return nil }},
	{long: names("tag-string|tagstring"), arg: argRequired, apply: func(p *parser, v string) error { p.o.tagString, p.o.tagStringSet = v, true; return nil }},
	{short: 'v', apply: func(p *parser, _ string) error { p.o.verbose++; return nil }},
	{long: names("silent"), apply: func(p *parser, _ string) error { p.o.verbose = 0; return nil }},
	{long: names("verbose"), short: 't', apply: func(p *parser, _ string) error { p.o.trace = true; return nil }},
	{long: names("dry-run|dryrun|dr"), apply: func(p *parser, _ string) error { p.o.dryRun = true; return nil }},
	{long: names("results|result|res"), arg: argRequired, apply: func(p *parser, v string) error { p.o.results = v; return nil }},
	{long: names("output-as-files|outputasfiles|files"), apply: func(p *parser, _ string) error { p.o.files = true; return nil }},
	{long: names("progress"), apply: (*parser).progress},
	{long: names("eta"), apply: (*parser).progress},
	{long: names("bar"), apply: (*parser).progress},
	{long: names("total-jobs|totaljobs|total"), arg: argRequired, apply: (*parser).totalJobs},
	// Pipe mode.
	{long: names("pipe|spreadstdin"), apply: func(p *parser, _ string) error { p.o.pipe = true; return nil }},
	{long: names("pipe-part|pipepart"), apply: func(p *parser, _ string) error { p.o.pipePart = true; return nil }},
	{long: names("block-size|blocksize|block"), arg: argRequired, apply: (*parser).block},
	{long: names("recstart"), arg: argRequired, apply: func(p *parser, v string) error { p.o.recStart, p.o.recStartSet = v, true; return nil }},
	{long: names("recend"), arg: argRequired, apply: func(p *parser, v string) error { p.o.recEnd, p.o.recEndSet = v, true; return nil }},
	// Harmless: they ask for what mw does anyway.
	{long: names("will-cite|willcite|nn|nonotice|no-notice"), apply: func(*parser, string) error { return nil }},
	{long: names("gnu"), apply: func(*parser, string) error { return nil }},
	{long: names("plain"), apply: func(*parser, string) error { return nil }},
	{long: names("help"), short: 'h', apply: func(p *parser, _ string) error { p.help = true; return nil }},
}

// refused is a refused option: long names ("a|b", or ""), a letter (or 0), its value, a hint.
func refused(hint, long string, short byte, arg optArg) optSpec {
	var l []string
	if long != "" {
		l = names(long)
	}
	return optSpec{long: l, short: short, arg: arg, refuse: hint}
}

// refusedOptions are GNU parallel's options mw does not support, each with a hint.
var refusedOptions = []optSpec{
	refused("a debugging option of GNU parallel's", "debug", 'D', argRequired),
	refused(hintSQL, "sql", 0, argRequired), refused(hintSQL, "sql-master|sqlmaster", 0, argRequired),
	refused(hintSQL, "sql-worker|sqlworker", 0, argRequired), refused(hintSQL, "sql-and-worker|sqlandworker", 0, argRequired),
	refused(hintRetired, "", 'g', argNone), refused(hintRetired, "", 'U', argRequired), refused(hintRetired, "", 'T', argNone),
	refused(hintRetired, "", 'H', argRequired), refused(hintRetired, "", 'B', argRequired), refused(hintRetired, "", 'W', argRequired),
	refused(hintRetired, "", 'Y', argNone), refused(hintRetired, "ctrl-c|ctrlc", 0, argNone), refused(hintRetired, "no-ctrl-c|no-ctrlc|noctrlc", 0, argNone),
	refused(hintRetired, "tollef", 0, argNone),
	refused("mw prints each task's output whole (or, with --line-buffer, line by line)", "latest-line|latestline|ll", 0, argNone),
	refused(hintTTY, "tmux", 0, argNone), refused(hintTTY, "tmux-pane|tmuxpane", 0, argNone),
	refused(hintTTY, "open-tty", 'o', argNone), refused(hintTTY, "tty", 0, argNone), refused(hintTTY, "interactive", 'p', argNone),
	refused(hintPerl, "parens", 0, argRequired), refused(hintPerl, "rpl", 0, argRequired), refused(hintPerl, "filter", 0, argRequired),
	refused("mw supports GNU parallel's default replacement strings only ({} {.} {/} {//} {/.} {#} {%} {n} and their positional forms)", "plus", 0, argNone),
	refused("ssh is not used: mw starts tasks on MPI ranks", "ssh-delay|sshdelay", 0, argRequired),
	refused("mw does not watch the load: give -j", "load", 0, argRequired),
	refused("mw does not watch swapping: give --memfree", "noswap", 0, argNone),
	refused(hintPrint, "max-line-length-allowed|maxlinelengthallowed", 0, argNone),
	refused(hintPrint+" (nproc prints the CPUs)", "number-of-cpus|numberofcpus", 0, argNone),
	refused(hintPrint+" (nproc prints the CPUs)", "number-of-sockets|numberofsockets", 0, argNone),
	refused(hintPrint+" (nproc prints the CPUs)", "number-of-cores|numberofcores", 0, argNone),
	refused(hintPrint+" (nproc prints the CPUs)", "number-of-threads|numberofthreads", 0, argNone),
	refused("mw counts CPU threads (as parallel's default does) for -j N%, +N and -N", "use-sockets-instead-of-threads|usesocketsinsteadofthreads", 0, argNone),
	refused("mw counts CPU threads (as parallel's default does) for -j N%, +N and -N", "use-cores-instead-of-threads|usecoresinsteadofthreads", 0, argNone),
	refused("mw counts CPU threads (as parallel's default does) for -j N%, +N and -N", "use-cpus-instead-of-cores|usecpusinsteadofcores", 0, argNone),
	refused("mw exec runs commands; quote with -q or write the quoting yourself", "shell-quote|shellquote|shell_quote", 0, argNone),
	refused("colours are not supported: use --tag or --tagstring", "ctag", 0, argNone),
	refused("colours are not supported: use --tag or --tagstring", "ctag-string|ctagstring", 0, argRequired),
	refused("colours are not supported: use --tag or --tagstring", "color|colour", 0, argNone),
	refused("colours are not supported: use --tag or --tagstring", "color-failed|colour-failed|colorfailed|colourfailed|color-fail|colour-fail|colorfail|colourfail|cf", 0, argNone),
	refused(hintRemote, "onall", 0, argNone), refused(hintRemote, "nonall", 0, argNone),
	refused(hintRemote, "filter-hosts|filterhosts|filter-host", 0, argNone),
	refused(hintRemote, "sshlogin", 'S', argRequired), refused(hintRemote, "sshloginfile|slf", 0, argRequired),
	refused(hintRemote, "controlmaster", 'M', argNone), refused(hintRemote, "ssh", 0, argRequired),
	refused(hintRemote+"; files are where the ranks' shared filesystem has them", "transfer-file|transferfile|transfer-files|transferfiles|tf", 0, argRequired),
	refused(hintRemote+"; files are where the ranks' shared filesystem has them", "return", 0, argRequired),
	refused(hintRemote+"; files are where the ranks' shared filesystem has them", "trc", 0, argRequired),
	refused(hintRemote+"; files are where the ranks' shared filesystem has them", "transfer", 0, argNone),
	refused(hintRemote+"; files are where the ranks' shared filesystem has them", "cleanup", 0, argNone),
	refused(hintRemote+"; files are where the ranks' shared filesystem has them", "basefile|bf", 0, argRequired),
	refused(hintRemote, "rsync-opts|rsyncopts", 0, argRequired),
	refused(hintRemote, "hgrp|hostgrp|hostgroup|hostgroups", 0, argNone),
	refused("write the file in the command (a here-document, or a script)", "template|tmpl", 0, argRequired),
	refused("output is captured in --tmpdir uncompressed", "use-compress-program|compress-program|usecompressprogram|compressprogram", 0, argRequired),
	refused("output is captured in --tmpdir uncompressed", "use-decompress-program|decompress-program|usedecompressprogram|decompressprogram", 0, argRequired),
	refused("output is captured in --tmpdir uncompressed", "compress", 0, argNone),
	refused("tasks inherit mw's environment; under mpirun pass variables with mpirun -x VAR", "env", 0, argRequired),
	refused("tasks inherit mw's environment; under mpirun pass variables with mpirun -x VAR", "recordenv|record-env", 0, argNone),
	refused("tasks inherit mw's environment; under mpirun pass variables with mpirun -x VAR", "session", 0, argNone),
	refused("mw reads no profile: give the options on the command line", "profile", 'J', argRequired),
	refused("an internal option of GNU parallel's", "linkinputsource|xapplyinputsource", 0, argRequired),
	refused("an internal option of GNU parallel's", "_pipe-means-argfiles", 0, argNone),
	refused("an internal option of GNU parallel's", "_parset", 0, argRequired),
	refused("an internal option of GNU parallel's", "_test", 0, argRequired),
	refused("mw prints no citation notice", "bibtex|citation", 0, argNone),
	refused("mw reads no per-job limit command: give -j and --memfree", "limit", 0, argRequired),
	refused("mw does not suspend tasks: give --memfree", "memsuspend", 0, argRequired),
	refused("use -I", "replace", 'i', argOptional),
	refused("use -E", "eof", 'e', argOptional),
	refused("line records are not supported: use -N with --pipe, or -n", "max-lines|maxlines", 'l', argOptional),
	refused("line records are not supported: use -N with --pipe, or -n", "", 'L', argRequired),
	refused("mw exec is not GNU parallel: run mw version", "version", 'V', argNone),
	refused("mw version prints mw's version", "min-version|minversion", 0, argRequired),
	refused(hintPrint, "show-limits|showlimits", 0, argNone),
	refused("a command line longer than -s is run if the system allows it", "exit", 'x', argNone),
	refused(hintSem, "semaphore", 0, argNone), refused(hintSem, "semaphore-timeout|semaphoretimeout|st", 0, argRequired),
	refused(hintSem, "semaphore-name|semaphorename|id", 0, argRequired), refused(hintSem, "fg", 0, argNone),
	refused(hintSem, "bg", 0, argNone), refused(hintSem, "wait", 0, argNone),
	refused("run mw exec from a script instead", "shebang|hashbang", 0, argNone),
	refused("run mw exec from a script instead", "shebang-wrap", 0, argNone),
	refused("cut the first line off the input (tail -n +2) instead", "skip-first-line|skipfirstline", 0, argNone),
	refused("report mw's bugs to its maintainers", "bug", 0, argNone),
	refused(hintSpread, "round-robin|roundrobin|round", 0, argNone),
	refused("--recstart and --recend are fixed strings in mw", "regexp|regex", 0, argNone),
	refused("the block is passed whole, separators included", "remove-rec-sep|removerecsep|rrs", 0, argNone),
	refused("a block is cut when full (or at the end of the input)", "block-timeout|blocktimeout|bt", 0, argRequired),
	refused("the block is the task's stdin", "cat", 0, argNone), refused("the block is the task's stdin", "fifo", 0, argNone),
	refused(hintSpread, "tee", 0, argNone), refused(hintSpread, "shard", 0, argRequired), refused(hintSpread, "bin", 0, argRequired),
	refused(hintSpread, "group-by|groupby", 0, argRequired),
	refused("CSV input is not supported: split columns with --colsep", "csv", 0, argNone),
	refused("GNU parallel's own installer option", "embed", 0, argNone),
	refused("mw has no shell completion", "shell-completion|shellcompletion", 0, argRequired),
}

// mwOptions are mw's own: the engine's shared flags and exec's additions.
func mwOptions() []optSpec {
	engine := func(name string, arg optArg) optSpec {
		return optSpec{long: []string{name}, arg: arg, mw: true, apply: func(p *parser, v string) error { return p.engine(name, v, arg) }}
	}
	return []optSpec{
		engine("window", argRequired), engine("mode", argRequired), engine("threads", argRequired),
		engine("stats", argRequired), engine("quiet", argNone), engine("trace", argRequired),
		engine("keep-going", argNone), engine("status", argRequired), engine("status-every", argRequired),
		engine("worker-timeout", argRequired), engine("lost-workers", argRequired), engine("crash-limit", argRequired),
		{long: []string{"chunk"}, arg: argRequired, mw: true, apply: func(p *parser, v string) error { return p.o.chunk.Set(v) }},
		{long: []string{"tasks"}, arg: argRequired, mw: true, apply: func(p *parser, v string) error { p.o.tasks = v; return nil }},
		{long: []string{"gpus"}, arg: argRequired, mw: true, apply: func(p *parser, v string) error { p.o.gpus = v; return nil }},
		{long: []string{"cpus-per-task"}, arg: argRequired, mw: true, apply: func(p *parser, v string) error { p.o.cpuShare.text = v; return nil }},
		{long: []string{"gpus-per-task"}, arg: argRequired, mw: true, apply: func(p *parser, v string) error { p.o.gpuShare.text = v; return nil }},
		{long: []string{"unordered"}, mw: true, apply: func(p *parser, _ string) error { p.o.unordered, p.o.keep = true, false; return nil }},
		{long: []string{"shell"}, mw: true, apply: func(p *parser, _ string) error { p.o.quote = false; return nil }},
		{long: []string{"buffer"}, arg: argRequired, mw: true, apply: func(p *parser, v string) error { p.o.bufferText = v; return nil }},
		{long: []string{"journal"}, arg: argRequired, mw: true, refuse: "exec records its progress in --joblog FILE, which --resume reads"},
		{long: []string{"backups"}, arg: argOptional, mw: true, refuse: "tasks have side effects; a backup copy would run a task twice"},
	}
}

// parser reads exec's command line as GNU parallel's Getopt::Long does: bundled single
// letters (-kj4), long options with -- (--jobs 4, --jobs=4, any unique abbreviation, any
// case), options up to the first argument that is not one (the command), -- ending them.
type parser struct {
	o     *options
	table []optSpec
	help  bool
	set   map[string]bool // canonical names of the options given
	env   engineSetter
}

// engineSetter sets one of the engine's shared flags by name.
type engineSetter func(name, value string) error

// parse reads the options and returns the command and its input groups.
func (p *parser) parse(args []string) ([]string, error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return args[i+1:], nil
		case strings.HasPrefix(a, "--"):
			n, err := p.long(a[2:], args[i+1:])
			if err != nil {
				return nil, err
			}
			i += n
		case len(a) > 1 && a[0] == '-':
			n, err := p.bundle(a[1:], args[i+1:])
			if err != nil {
				return nil, err
			}
			i += n
		default:
			return args[i:], nil
		}
		if p.help {
			return nil, nil
		}
	}
	return nil, nil
}

// long reads --name[=value] and returns how many of the following arguments it took.
func (p *parser) long(s string, rest []string) (int, error) {
	name, value, hasValue := strings.Cut(s, "=")
	spec, canon, err := p.lookupLong(name)
	if err != nil {
		return 0, err
	}
	if spec.apply == nil {
		return 0, refuseError(canon, spec.refuse)
	}
	switch {
	case spec.arg == argNone && hasValue:
		return 0, fmt.Errorf("--%s takes no value", canon)
	case spec.arg == argRequired && !hasValue:
		if len(rest) == 0 {
			return 0, fmt.Errorf("--%s needs a value", canon)
		}
		return 1, p.apply(spec, canon, rest[0])
	}
	return 0, p.apply(spec, canon, value)
}

// bundle reads -abc: single letters, the first one taking a value taking the rest of the
// bundle or the next argument.
func (p *parser) bundle(s string, rest []string) (int, error) {
	for i := 0; i < len(s); i++ {
		spec := p.lookupShort(s[i])
		if spec == nil {
			return 0, fmt.Errorf("unknown option -%c", s[i])
		}
		canon := string(s[i])
		if spec.apply == nil {
			return 0, refuseError(canon, spec.refuse)
		}
		if spec.arg == argNone {
			if err := p.apply(spec, canon, ""); err != nil {
				return 0, err
			}
			continue
		}
		if i+1 < len(s) {
			return 0, p.apply(spec, canon, s[i+1:])
		}
		if len(rest) == 0 {
			return 0, fmt.Errorf("-%c needs a value", s[i])
		}
		return 1, p.apply(spec, canon, rest[0])
	}
	return 0, nil
}

func (p *parser) apply(spec *optSpec, canon, v string) error {
	key := canon
	if len(spec.long) > 0 {
		key = spec.long[0]
	}
	p.set[key] = true
	if err := spec.apply(p, v); err != nil {
		if len(canon) == 1 {
			return fmt.Errorf("-%s %s: %w", canon, quoteArg(v), err)
		}
		return fmt.Errorf("--%s %s: %w", canon, quoteArg(v), err)
	}
	return nil
}

// lookupLong finds a long option by its name, any case, or a unique abbreviation: among
// GNU parallel's options first, then mw's own (so that mw's names never make one of
// parallel's abbreviations ambiguous).
func (p *parser) lookupLong(name string) (*optSpec, string, error) {
	lname := strings.ToLower(name)
	for i := range p.table {
		for _, l := range p.table[i].long {
			if l == lname {
				return &p.table[i], l, nil
			}
		}
	}
	for _, mw := range []bool{false, true} {
		var match *optSpec
		var canon string
		var candidates []string
		ambiguous := false
		for i := range p.table {
			spec := &p.table[i]
			if spec.mw != mw || lname == "" {
				continue
			}
			for _, l := range spec.long {
				if !strings.HasPrefix(l, lname) {
					continue
				}
				candidates = append(candidates, l)
				switch {
				case match == nil:
					match, canon = spec, l
				case match != spec:
					ambiguous = true
				}
			}
		}
		if ambiguous {
			return nil, "", fmt.Errorf("option --%s is ambiguous (%s)", name, strings.Join(candidates, ", "))
		}
		if match != nil {
			return match, canon, nil
		}
	}
	return nil, "", fmt.Errorf("unknown option --%s", name)
}

func (p *parser) lookupShort(c byte) *optSpec {
	for i := range p.table {
		if p.table[i].short == c {
			return &p.table[i]
		}
	}
	return nil
}

// refuseError says that a GNU parallel option is not supported, and what to do instead.
func refuseError(canon, hint string) error {
	dash := "--"
	if len(canon) == 1 {
		dash = "-"
	}
	return &refusal{msg: fmt.Sprintf("%s%s is GNU parallel's and not supported by mw exec: %s", dash, canon, hint)}
}

// refusal is a GNU parallel option mw does not support.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

// quoteArg shows a value in a message: as it is, or quoted when it has spaces or is empty.
func quoteArg(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\n") {
		return fmt.Sprintf("%q", v)
	}
	return v
}

// The values of options, each checked as it is read.

func (p *parser) argFile(v string) error {
	p.o.inputs = append(p.o.inputs, source{kind: srcFile, path: v})
	return nil
}

func (p *parser) delimiter(v string) error {
	d, err := parseDelimiter(v)
	p.o.delim = d
	return err
}

func (p *parser) trim(v string) error {
	switch v {
	case "n", "l", "r", "lr", "rl":
		p.o.trimText = v
		return nil
	}
	return errors.New("must be n, l, r, lr or rl")
}

func (p *parser) maxArgs(v string, replace bool) error {
	n, err := parseSize(v)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return errors.New("must be a whole number, 0 or more")
	}
	p.o.maxArgs, p.o.replaceArgs = int(n), replace
	return nil
}

func (p *parser) maxChars(v string) error {
	n, err := parseSize(v)
	if err != nil || n < 1 || n > math.MaxInt32 {
		return errors.New("must be a number of characters, at least 1")
	}
	p.o.maxChars = int(n)
	return nil
}

func (p *parser) rename(k rplKind, v string) error {
	if v == "" {
		return errors.New("the replacement string is empty")
	}
	p.o.rpl.rename(k, v)
	return nil
}

func (p *parser) jobs(v string) error {
	j, err := parseJobs(v)
	p.o.jobs, p.o.jobsSet = j, true
	return err
}

func (p *parser) timeout(v string) error {
	p.o.timeoutText = v
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) {
			return errors.New("a percentage of the median runtime must be more than 0")
		}
		p.o.timeoutPct = f / 100
		return nil
	}
	d, err := parseDuration(v)
	if err == nil && d <= 0 {
		err = errors.New("must be more than 0")
	}
	p.o.timeout = d
	return err
}

func (p *parser) delay(v string) error {
	if strings.HasSuffix(v, "auto") {
		return errors.New("an automatic delay (auto) is not supported: give a duration")
	}
	d, err := parseDuration(v)
	p.o.delay = d
	return err
}

func (p *parser) memfree(v string) error {
	n, err := parseSize(v)
	if err == nil && n < 0 {
		err = errors.New("must be a size, 0 or more")
	}
	p.o.memfree = n
	return err
}

func (p *parser) nice(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < -20 || n > 19 {
		return errors.New("must be a niceness from -20 to 19")
	}
	p.o.nice, p.o.niceSet = n, true
	return nil
}

func (p *parser) retries(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return errors.New("must be a number of tries, 0 or more (0: as many as mw allows)")
	}
	p.o.tries = n
	return nil
}

func (p *parser) termSeq(v string) error {
	seq, err := parseTermSeq(v)
	p.o.termSeq = seq
	return err
}

func (p *parser) slotVar(v string) error {
	if v == "" || strings.ContainsAny(v, "=\x00") {
		return errors.New("must be a variable name")
	}
	p.o.slotVar = v
	return nil
}

func (p *parser) progress(string) error {
	p.o.progressWant = true
	return nil
}

func (p *parser) totalJobs(v string) error {
	n, err := parseSize(v)
	if err != nil || n < 0 {
		return errors.New("must be a number of jobs")
	}
	p.o.totalJobs = n
	return nil
}

func (p *parser) block(v string) error {
	n, err := parseSize(v)
	if err != nil || n == 0 {
		return errors.New("must be a size such as 1M or 100k (or, with --pipepart, -N: N parts per job slot)")
	}
	p.o.block, p.o.blockSet = n, true
	return nil
}

// engine sets one of the engine's shared flags.
func (p *parser) engine(name, v string, arg optArg) error {
	if arg == argNone {
		v = "true"
	}
	return p.env(name, v)
}
