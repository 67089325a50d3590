package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/mw-hpc/mw/rank"
)

// statsJSON is the --stats file's layout (stable field names for scripts).
type statsJSON struct {
	WallSeconds  float64    `json:"wall_seconds"`
	Workers      int        `json:"workers"`
	Threads      int        `json:"threads"`
	Chunks       uint64     `json:"chunks"`
	BytesIn      uint64     `json:"bytes_in"`
	BytesOut     uint64     `json:"bytes_out"`
	ChunksPerSec float64    `json:"chunks_per_second"`
	Retries      uint64     `json:"retries"`
	Backups      uint64     `json:"backups"`
	Released     int        `json:"workers_released_early"`
	LeftOut      uint64     `json:"left_out"`
	Skipped      uint64     `json:"skipped"`
	PerWorker    []uint64   `json:"chunks_per_worker"`
	MaxReorder   int        `json:"max_reorder"`
	Spilled      uint64     `json:"spilled"`
	SpilledBytes uint64     `json:"spilled_bytes"`
	Hosts        []string   `json:"hosts"`
	ManagerCPU   float64    `json:"manager_cpu_seconds"`
	Alone        bool       `json:"one_process"`
	Wakeups      uint64     `json:"manager_wakeups"`
	RungWakeups  uint64     `json:"manager_rung_wakeups"`
	Lost         []lostJSON `json:"lost_workers"`
}

// lostJSON is a lost worker in the run report.
type lostJSON struct {
	Rank     int     `json:"rank"`
	Host     string  `json:"host"`
	AtSecond float64 `json:"at_seconds"`
	How      string  `json:"how"`
	Reissued int     `json:"chunks_issued_again"`
}

// WriteStats writes the run report as JSON to path ("-" for stdout) as CreateOutput does:
// a file atomically, a device or a pipe (/dev/stderr, a FIFO) in place.
func WriteStats(path string, stdout io.Writer, st rank.Stats) error {
	o, err := CreateOutput(path, stdout)
	if err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	return writeStats(o, st, Report{})
}

// writeStats writes the run report as JSON to o, with the workload's part (rep.Stats under
// rep.Key), and commits it (aborts it on an error).
func writeStats(o *Output, st rank.Stats, rep Report) error {
	js := statsJSON{
		WallSeconds: st.Wall.Seconds(), Workers: st.Workers, Threads: st.Threads, Chunks: st.Chunks,
		BytesIn: st.BytesIn, BytesOut: st.BytesOut, Retries: st.Retries, Backups: st.Backups,
		Released: st.Released, LeftOut: st.LeftOut, Skipped: st.Skipped, PerWorker: st.PerWorker,
		MaxReorder: st.MaxReorder, Spilled: st.Spilled, SpilledBytes: st.SpilledBytes, Hosts: st.Hosts,
		ManagerCPU: st.ManagerCPU.Seconds(), Alone: st.Alone, Wakeups: st.Wakeups, RungWakeups: st.RungWakeups,
	}
	if s := st.Wall.Seconds(); s > 0 {
		js.ChunksPerSec = float64(st.Chunks) / s
	}
	js.Lost = []lostJSON{}
	for _, l := range st.Lost {
		js.Lost = append(js.Lost, lostJSON{Rank: l.Rank, Host: l.Host, AtSecond: l.At.Seconds(), How: l.How, Reissued: l.Reissued})
	}
	b, err := json.MarshalIndent(js, "", "  ")
	if err == nil && rep.Stats != nil {
		b, err = appendPart(b, rep.Key, rep.Stats(st))
	}
	if err != nil {
		o.Abort()
		return fmt.Errorf("write stats: %w", err)
	}
	if _, err := o.Write(append(b, '\n')); err != nil {
		o.Abort()
		return fmt.Errorf("write stats: %w", err)
	}
	if err := o.Commit(); err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	return nil
}
