package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/mw-hpc/mw/rank"
)

// EngineFlags are the engine's flags, spelled the same in every workload.
type EngineFlags struct {
	Mode    string
	Backups bool
	Window  int
	Threads int
	Retries int
	Stats   string
	Quiet   bool
	// Unordered is set by workloads that offer it (exec --unordered); no flag here.
	Unordered bool
}

// AddEngineFlags registers the engine's flags on fs and returns where they land.
func AddEngineFlags(fs *flag.FlagSet) *EngineFlags {
	ef := &EngineFlags{}
	def := rank.DefaultConfig()
	fs.IntVar(&ef.Window, "window", def.Window, "chunks in flight per worker thread")
	fs.StringVar(&ef.Mode, "mode", "push", "push: the manager keeps every worker's window full; pull: workers ask for chunks")
	fs.BoolVar(&ef.Backups, "backups", def.Backups, "re-issue straggling chunks to idle workers at the end (first result wins); --backups=false turns it off")
	fs.IntVar(&ef.Threads, "threads", 0, "threads computing chunks on each worker rank (0: the rank's share of the node's CPUs)")
	fs.IntVar(&ef.Retries, "retries", 0, "re-issue a chunk whose worker fails up to `N` times, on other workers")
	fs.StringVar(&ef.Stats, "stats", "", "write the run report as JSON to `FILE`")
	fs.BoolVar(&ef.Quiet, "quiet", false, "print no progress and no run report")
	return ef
}

// Validate checks the engine flags' values.
func (ef *EngineFlags) Validate() error {
	if ef.Window < 1 {
		return Usagef("--window %d: must be at least 1", ef.Window)
	}
	if ef.Threads < 0 {
		return Usagef("--threads %d: must be 0 (automatic) or more", ef.Threads)
	}
	if ef.Retries < 0 || ef.Retries > rank.MaxAttempt {
		return Usagef("--retries %d: must be between 0 and %d", ef.Retries, rank.MaxAttempt)
	}
	if _, err := rank.ParseMode(ef.Mode); err != nil {
		return Usagef("--mode %q: %v", ef.Mode, err)
	}
	return nil
}

// ChunkSize is a --chunk value: a number of items, or auto.
type ChunkSize struct {
	Auto bool
	N    int
}

// String implements flag.Value.
func (c *ChunkSize) String() string {
	if c.Auto {
		return "auto"
	}
	return strconv.Itoa(c.N)
}

// Set implements flag.Value.
func (c *ChunkSize) Set(s string) error {
	if s == "auto" {
		*c = ChunkSize{Auto: true}
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("must be a whole number of items, at least 1, or auto")
	}
	*c = ChunkSize{N: n}
	return nil
}

// Or returns N, or def when the size is auto.
func (c ChunkSize) Or(def int) int {
	if c.Auto || c.N < 1 {
		return def
	}
	return c.N
}

// RunJob starts the rank's transport and runs job on it with the engine flags. On rank 0 it
// returns the manager's error (wrapped with the workload's name by the caller's message);
// on a worker it returns nil once the manager stops it, or the worker's own fatal error.
func RunJob(ctx context.Context, env *Env, job rank.Job, ef *EngineFlags) (rank.Stats, error) {
	t, err := env.Transport()
	if err != nil {
		return rank.Stats{}, err
	}
	cfg := rank.DefaultConfig()
	cfg.Window = ef.Window
	cfg.Threads = ef.Threads
	cfg.Retries = ef.Retries
	cfg.Mode, _ = rank.ParseMode(ef.Mode)
	cfg.Backups = ef.Backups
	cfg.Unordered = ef.Unordered
	st, err := rank.Run(ctx, t, job, cfg)
	if err != nil || t.Rank() != 0 {
		return st, err
	}
	if !ef.Quiet {
		fmt.Fprintln(env.Stderr, st.Summary(job.Name))
	}
	if ef.Stats != "" {
		if err := WriteStats(ef.Stats, st); err != nil {
			return st, err
		}
	}
	return st, nil
}
