package taskfarm

import (
	"encoding/binary"
	"encoding/json"

	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

var _ rank.TraceLabeler = (*sink)(nil)

// traceArgs are a task's fields in a --trace span: its number as {#} and the joblog count
// it, and, once it ran, its command, exit value and host.
type traceArgs struct {
	Task     uint64 `json:"task"`
	Tasks    int    `json:"tasks,omitempty"` // in the chunk (--chunk), from Task on
	Failed   int    `json:"failed,omitempty"`
	Command  string `json:"command,omitempty"`
	Exit     *int64 `json:"exit,omitempty"`
	Signal   uint64 `json:"signal,omitempty"`
	TimedOut bool   `json:"timed_out,omitempty"`
	Host     string `json:"host,omitempty"`
	Try      int    `json:"try,omitempty"`
}

// TraceLabel names a chunk's spans by its tasks ("task 17", "tasks 17-20"), from the
// records of its result, or from its jobs while it has none.
func (s *sink) TraceLabel(c rank.Chunk, result []byte) (string, []byte) {
	a, ok := resultArgs(result)
	if !ok {
		a, ok = chunkArgs(c.Data)
	}
	if !ok {
		return "", nil
	}
	name := taskRange(a.Task, uint64(a.Tasks))
	b, err := json.Marshal(a)
	if err != nil {
		return name, nil
	}
	return name, b
}

// resultArgs reads a result's task records: the first task's fields, the count and the
// failures.
func resultArgs(result []byte) (traceArgs, bool) {
	var a traceArgs
	n := 0
	err := partition.Unpack(result, func(_ int, item []byte) error {
		r, err := decodeRecord(item)
		if err != nil {
			return err
		}
		if n == 0 {
			exit := r.exit
			a = traceArgs{Task: r.seq, Command: clip(r.cmd), Exit: &exit, Signal: r.signal, TimedOut: r.timedOut(),
				Host: r.host, Try: int(r.attempt) + 1}
		}
		n++
		if r.failed() {
			a.Failed++
		}
		return nil
	})
	if err != nil || n == 0 {
		return traceArgs{}, false
	}
	a.Tasks = n
	return a, true
}

// chunkArgs reads a chunk's jobs: the first task's number and the count.
func chunkArgs(data []byte) (traceArgs, bool) {
	var a traceArgs
	n := 0
	err := partition.Unpack(data, func(_ int, item []byte) error {
		seq, k := binary.Uvarint(item)
		if k <= 0 || seq == 0 {
			return errRecord
		}
		if n == 0 {
			a.Task = seq
		}
		n++
		return nil
	})
	if err != nil || n == 0 {
		return traceArgs{}, false
	}
	a.Tasks = n
	return a, true
}
