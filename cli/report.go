package cli

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/mw-hpc/mw/rank"
)

// Report is a workload's own account of a run, in its words (tasks, frames), added to the
// engine's account in chunks. Every function is optional and runs on the manager (rank 0).
type Report struct {
	// Key names the workload's part in the --stats and --status files ("tasks", "latency").
	Key string
	// Summary, when not nil, is the run report's line instead of Stats.Summary.
	Summary func(st rank.Stats) string
	// Stats returns the workload's part of --stats: a value encoding/json makes an object,
	// or nil for none. Called once the run has ended.
	Stats func(st rank.Stats) any
	// Status returns the workload's part of --status, or nil for none. It is called from
	// the engine's progress goroutine while the manager runs the job: it must be safe for
	// that, and cheap.
	Status func(p rank.Progress) any
}

// appendPart splices key: part into the JSON object obj (as MarshalIndent writes it, two
// spaces per level), before its closing brace. A nil part leaves obj as it is.
func appendPart(obj []byte, key string, part any) ([]byte, error) {
	if part == nil || key == "" {
		return obj, nil
	}
	b, err := json.MarshalIndent(part, "  ", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	end := bytes.LastIndexByte(obj, '}')
	if end < 0 || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		return nil, fmt.Errorf("%s: not a JSON object", key)
	}
	head := bytes.TrimRight(obj[:end], " \n")
	sep := ",\n"
	if bytes.HasSuffix(head, []byte("{")) {
		sep = "\n"
	}
	k, _ := json.Marshal(key)
	out := append(append([]byte(nil), head...), sep+"  "...)
	out = append(append(append(out, k...), ": "...), b...)
	return append(out, "\n}"...), nil
}
