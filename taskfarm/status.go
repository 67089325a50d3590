package taskfarm

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// taskStatus is exec's part of the --status file (stable field names for scripts): tasks as
// they finish, in any order.
type taskStatus struct {
	Total    int64        `json:"total"` // tasks this run issues, -1 when not known
	Finished uint64       `json:"finished"`
	Failed   uint64       `json:"failed"`
	InFlight uint64       `json:"in_flight"` // sent to a worker: running there, or queued
	Resumed  uint64       `json:"in_joblog_already"`
	Rate     float64      `json:"tasks_per_second"`
	ETA      float64      `json:"eta_seconds"` // -1 when not known
	Hosts    []hostJSON   `json:"hosts"`
	Longest  []flyingJSON `json:"longest_in_flight"`
	Barrier  string       `json:"waiting_at_barrier,omitempty"`
	Stopped  string       `json:"stopped_early,omitempty"`
}

type hostJSON struct {
	Host     string `json:"host"`
	Finished uint64 `json:"finished"`
	Failed   uint64 `json:"failed"`
	Ranks    int    `json:"ranks"`            // its worker ranks now
	InFlight int    `json:"chunks_in_flight"` // tasks in flight with --chunk 1
}

type flyingJSON struct {
	Task    uint64  `json:"task"`
	Tasks   uint64  `json:"tasks"` // in its chunk (--chunk), from Task on
	Seconds float64 `json:"seconds"`
	What    string  `json:"what"`
	Rank    int     `json:"rank"`
	Host    string  `json:"host"`
	Backup  bool    `json:"backup,omitempty"` // a backup copy (the first runs on elsewhere)
}

// statusJSON is the status of the run as of progress report p: tasks as they finish, the
// hosts' load, and the tasks in flight longest (the engine's, named by their tasks).
func (a *account) statusJSON(p rank.Progress) taskStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	ts := taskStatus{Total: a.total, Finished: a.finished, Failed: a.finishedFailed, Resumed: a.resumed, ETA: -1,
		Hosts: []hostJSON{}, Longest: []flyingJSON{}, Barrier: a.barrier, Stopped: a.stopped}
	if secs := p.Elapsed.Seconds(); secs > 0 {
		ts.Rate = float64(a.finished) / secs
	}
	if a.total >= 0 && ts.Rate > 0 && int64(a.finished) <= a.total {
		ts.ETA = float64(a.total-int64(a.finished)) / ts.Rate
	}
	for h, t := range a.hosts {
		ts.Hosts = append(ts.Hosts, hostJSON{Host: h, Finished: t.done, Failed: t.failed})
	}
	for _, l := range cli.HostLoads(p.Running) {
		i := slices.IndexFunc(ts.Hosts, func(h hostJSON) bool { return h.Host == l.Host })
		if i < 0 {
			i = len(ts.Hosts)
			ts.Hosts = append(ts.Hosts, hostJSON{Host: l.Host})
		}
		ts.Hosts[i].Ranks, ts.Hosts[i].InFlight = l.Ranks, l.Chunks
	}
	sort.Slice(ts.Hosts, func(i, j int) bool { return ts.Hosts[i].Host < ts.Hosts[j].Host })
	for _, c := range a.flying {
		ts.InFlight += c.tasks
	}
	for _, f := range cli.LongFlights(p) {
		c, ok := a.flying[f.Chunk]
		if ok && len(ts.Longest) < keepLongest {
			ts.Longest = append(ts.Longest, flyingJSON{Task: c.first, Tasks: c.tasks, Seconds: f.Seconds, What: c.what,
				Rank: f.Rank, Host: f.Host, Backup: f.Backup})
		}
	}
	return ts
}

// StatusPart prints exec's part of a --status file (mw status).
var StatusPart = cli.StatusPart{Key: "tasks", Print: printTaskStatus, ShowsFlights: true}

func printTaskStatus(w io.Writer, raw json.RawMessage) error {
	var ts taskStatus
	if err := json.Unmarshal(raw, &ts); err != nil {
		return err
	}
	fmt.Fprintf(w, "tasks: %s finished, %d failed; %d in flight", cli.DoneOf(ts.Finished, ts.Total), ts.Failed, ts.InFlight)
	if ts.Resumed > 0 {
		fmt.Fprintf(w, ", %d in the joblog already", ts.Resumed)
	}
	fmt.Fprintf(w, "; %s tasks/s, ETA %s\n", cli.Rate(ts.Rate), cli.ETAText(ts.ETA))
	if ts.Barrier != "" {
		fmt.Fprintf(w, "  waiting at %s\n", ts.Barrier)
	}
	if ts.Stopped != "" {
		fmt.Fprintf(w, "  %s\n", ts.Stopped)
	}
	printHosts(w, ts.Hosts)
	if len(ts.Longest) > 0 {
		fmt.Fprintln(w, "longest in flight (sent to a worker: running there, or queued):")
	}
	for _, f := range ts.Longest {
		which := taskRange(f.Task, f.Tasks)
		where := fmt.Sprintf("rank %d on %s", f.Rank, f.Host)
		if f.Backup {
			where += ", a backup copy"
		}
		fmt.Fprintf(w, "  %-12s %8s  %s (%s)\n", which, cli.Dur(cli.Seconds(f.Seconds)), f.What, where)
	}
	return nil
}

// printHosts prints the hosts' tasks finished and failed, and their worker ranks' chunks
// in flight (tasks, with --chunk 1).
func printHosts(w io.Writer, hosts []hostJSON) {
	width := len("host")
	for _, h := range hosts {
		width = max(width, len(h.Host))
	}
	if len(hosts) > 0 {
		fmt.Fprintf(w, "  %-*s %9s %7s %5s %9s\n", width, "host", "finished", "failed", "ranks", "in flight")
	}
	for _, h := range hosts {
		fmt.Fprintf(w, "  %-*s %9d %7d %5d %9d\n", width, h.Host, h.Finished, h.Failed, h.Ranks, h.InFlight)
	}
}

// taskRange names the tasks of a chunk from first, 1-based as {#}: "task 7", "tasks 7-9".
func taskRange(first, tasks uint64) string {
	if tasks > 1 {
		return fmt.Sprintf("tasks %d-%d", first, first+tasks-1)
	}
	return fmt.Sprintf("task %d", first)
}
