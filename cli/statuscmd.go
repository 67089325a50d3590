package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"syscall"
	"time"
)

// StatusPart prints a workload's part of a --status file (its Report.Status, under Key).
type StatusPart struct {
	Key   string
	Print func(w io.Writer, raw json.RawMessage) error
	// ShowsFlights: the part shows the hosts' load and the longest in flight itself, in
	// the workload's words; the chunks' own lists are not printed.
	ShowsFlights bool
}

const statusUsage = `usage: mw status [--json] FILE

Prints the live status a run keeps in its --status FILE (replaced whole every few seconds):
its state, chunks done, rate and ETA, and the workload's own account (mw exec: tasks done
and failed, per host, the longest in flight). Run it from any node that shares the file's
filesystem, as you would check a batch job. --json prints the file as it is.

  mpirun -np 64 mw exec --status run.status --joblog run.log ... &
  mw status run.status
`

// StatusCommand is `mw status FILE`; parts prints each workload's own part of the file,
// by the workload's name.
func StatusCommand(parts map[string]StatusPart) Command {
	return Command{Name: "status", Short: "print a run's --status file as a table (--json: as JSON), from any node",
		Run: func(_ context.Context, env *Env, args []string) error {
			fs := NewFlagSet(env, "status", statusUsage)
			asJSON := fs.Bool("json", false, "print the status file's JSON as it is")
			if err := Parse(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return Usagef("give one status file (mw status [--json] FILE)")
			}
			b, err := os.ReadFile(fs.Arg(0))
			if err != nil {
				return err
			}
			st, raw, err := ParseStatus(b)
			if err != nil {
				return fmt.Errorf("%s: %w", fs.Arg(0), err)
			}
			if *asJSON {
				_, err = env.Stdout.Write(b)
				return err
			}
			return PrintStatus(env.Stdout, st, raw, parts[st.Workload], time.Now())
		}}
}

// ParseStatus reads a --status file: its common part, and each of its fields as raw JSON
// (where the workload's part is).
func ParseStatus(b []byte) (Status, map[string]json.RawMessage, error) {
	var st Status
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return st, nil, fmt.Errorf("not a status file: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, nil, fmt.Errorf("not a status file: %w", err)
	}
	switch {
	case st.Workload == "":
		return st, nil, errors.New("not a status file: no workload")
	case !knownState(st.State):
		return st, nil, fmt.Errorf("not a status file: state %q", st.State)
	case st.Started.IsZero() || st.Updated.IsZero():
		return st, nil, errors.New("not a status file: no start or update time")
	}
	return st, raw, nil
}

func knownState(s string) bool {
	switch s {
	case StateStarting, StateRunning, StateDone, StatePartial, StateFailed, StateStopped:
		return true
	}
	return false
}

// PrintStatus prints a status as text, as of now: the run, its chunks, and the workload's
// part through part.Print (when the file has it).
func PrintStatus(w io.Writer, st Status, raw map[string]json.RawMessage, part StatusPart, now time.Time) error {
	var b bytes.Buffer
	age := now.Sub(st.Updated)
	elapsed := Seconds(st.Elapsed)
	live := st.State == StateStarting || st.State == StateRunning
	if live {
		fmt.Fprintf(&b, "%s: %s on %s (pid %d) for %s; updated %s ago (every %s)\n", st.Workload, st.State, st.Host, st.PID,
			Dur(elapsed), Dur(age), Dur(Seconds(st.Every)))
		if gone := goneNote(st, age); gone != "" {
			fmt.Fprintf(&b, "  %s\n", gone)
		}
	} else {
		fmt.Fprintf(&b, "%s: %s on %s (pid %d) in %s, %s ago\n", st.Workload, st.State, st.Host, st.PID, Dur(elapsed), Dur(age))
	}
	if st.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", st.Error)
	}
	fmt.Fprintf(&b, "chunks: %s done", DoneOf(st.Chunks, st.Total))
	if live {
		fmt.Fprintf(&b, ", %d in flight, %d workers; %s chunks/s, ETA %s", st.InFlight, st.Workers, Rate(st.Rate), ETAText(st.ETA))
	}
	b.WriteString("\n")
	for _, l := range st.Lost {
		fmt.Fprintf(&b, "lost: rank %d on %s at %s (%s), %d chunks issued again\n", l.Rank, l.Host, Dur(Seconds(l.At)), l.How, l.Reissued)
	}
	if !part.ShowsFlights {
		printFlights(&b, st)
	}
	if r, ok := raw[part.Key]; ok && part.Print != nil && string(r) != "null" {
		if err := part.Print(&b, r); err != nil {
			return fmt.Errorf("its %s: %w", part.Key, err)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// printFlights prints the hosts' chunks in flight and the chunks in flight longest.
func printFlights(b *bytes.Buffer, st Status) {
	width := len("host")
	for _, h := range st.Running {
		width = max(width, len(h.Host))
	}
	if len(st.Running) > 0 {
		fmt.Fprintf(b, "  %-*s %5s %9s\n", width, "host", "ranks", "in flight")
	}
	for _, h := range st.Running {
		fmt.Fprintf(b, "  %-*s %5d %9d\n", width, h.Host, h.Ranks, h.Chunks)
	}
	if len(st.Longest) > 0 {
		fmt.Fprintln(b, "longest in flight (sent to a worker: computing there, or queued):")
	}
	for _, f := range st.Longest {
		backup := ""
		if f.Backup {
			backup = " (backup copy)"
		}
		fmt.Fprintf(b, "  chunk %-8d %8s  rank %d on %s%s\n", f.Chunk, Dur(Seconds(f.Seconds)), f.Rank, f.Host, backup)
	}
}

// goneNote says when a running job's file looks abandoned: its process is gone (on this
// host), or it has not been updated for much longer than its interval.
func goneNote(st Status, age time.Duration) string {
	if host, _ := os.Hostname(); host == st.Host && st.PID > 0 && syscall.Kill(st.PID, 0) == syscall.ESRCH {
		return fmt.Sprintf("process %d on %s is gone: the run ended without its last update (killed?)", st.PID, st.Host)
	}
	every := Seconds(st.Every)
	if age > 3*every+10*time.Second {
		return fmt.Sprintf("no update for %s: the run may be gone, or its node cut off", Dur(age))
	}
	return ""
}

// DoneOf is "12/40 (30.0%)", or "12" when the total is not known.
func DoneOf(done uint64, total int64) string {
	if total <= 0 {
		return fmt.Sprint(done)
	}
	return fmt.Sprintf("%d/%d (%.1f%%)", done, total, 100*float64(done)/float64(total))
}

// ETAText is an estimate of the seconds left as a duration, "-" when not known (negative).
func ETAText(secs float64) string {
	if secs < 0 {
		return "-"
	}
	return Dur(Seconds(secs))
}

// Seconds is a number of seconds as a duration, held within the durations there are (a
// status file may say anything).
func Seconds(s float64) time.Duration {
	switch {
	case math.IsNaN(s):
		return 0
	case s >= math.MaxInt64/float64(time.Second):
		return math.MaxInt64
	case s <= math.MinInt64/float64(time.Second):
		return -math.MaxInt64
	}
	return time.Duration(s * float64(time.Second))
}

// Dur is a duration as a person reads it: 850ms, 4.2s, 1m23s, 3h5m.
func Dur(d time.Duration) string {
	switch {
	case d == math.MinInt64:
		return "-" + Dur(math.MaxInt64)
	case d < 0:
		return "-" + Dur(-d)
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < 10*time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// Rate is a rate per second with the digits that matter: 0.05, 3.2, 148, 12345.
func Rate(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r < 0.1:
		return fmt.Sprintf("%.3f", r)
	case r < 10:
		return fmt.Sprintf("%.2f", r)
	case r < 100:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.0f", r)
}
