package taskfarm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// haltWhen is when --halt stops the job.
type haltWhen uint8

const (
	haltNever haltWhen = iota
	haltSoon           // start no more tasks (those queued at workers go back); those running finish and are printed
	haltNow            // kill the running tasks and stop
)

// haltWhy is what --halt counts.
type haltWhy uint8

const (
	haltFail haltWhy = iota
	haltSuccess
	haltDone
)

// haltPolicy is a parsed --halt value with GNU parallel's meaning.
type haltPolicy struct {
	when  haltWhen
	why   haltWhy
	count int64   // halt when this many tasks failed/succeeded/finished (when pct is 0)
	pct   float64 // or this fraction of all tasks (0 < pct <= 1)
	text  string  // as given
}

// parseHalt reads a --halt value: never, when,why=N or when,why=N% with when now or soon
// and why fail, success or done; and GNU parallel's short forms 0, 1, 2, -1, -2 and N%.
func parseHalt(s string) (haltPolicy, error) {
	short := map[string]string{"0": "never", "1": "soon,fail=1", "2": "now,fail=1", "-1": "soon,success=1", "-2": "now,success=1"}
	v := s
	if l, ok := short[v]; ok {
		v = l
	}
	if strings.HasSuffix(v, "%") && !strings.Contains(v, ",") {
		v = "soon,fail=" + v
	}
	h := haltPolicy{text: v}
	if v == "never" {
		return h, nil
	}
	when, rest, ok1 := strings.Cut(v, ",")
	why, num, ok2 := strings.Cut(rest, "=")
	if !ok1 || !ok2 {
		return h, fmt.Errorf("must be never or WHEN,WHY=N[%%] (e.g. now,fail=1 or soon,fail=10%%)")
	}
	switch when {
	case "now":
		h.when = haltNow
	case "soon":
		h.when = haltSoon
	default:
		return h, fmt.Errorf("%q: WHEN must be now or soon", when)
	}
	switch why {
	case "fail":
		h.why = haltFail
	case "success":
		h.why = haltSuccess
	case "done":
		h.why = haltDone
	default:
		return h, fmt.Errorf("%q: WHY must be fail, success or done", why)
	}
	if p, ok := strings.CutSuffix(num, "%"); ok {
		n, err := strconv.ParseFloat(p, 64)
		if err != nil || !(n > 0 && n <= 100) {
			return h, fmt.Errorf("%q: a percentage must be above 0 and at most 100", num)
		}
		h.pct = n / 100
		return h, nil
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 {
		return h, fmt.Errorf("%q: the count must be a whole number, at least 1", num)
	}
	h.count = n
	return h, nil
}

// tally counts finished tasks and applies the halt policy to them, in the order the
// manager hands them over, and computes the exit status as GNU parallel does.
type tally struct {
	policy    haltPolicy
	total     int64 // tasks this run, for percentages; -1 unknown
	completed int64
	failed    int64
	halted    haltWhen // set once: the policy fired
	code      int      // exit status fixed when the policy fired
	codeSet   bool
}

// add counts one finished task and reports whether the policy fires now (once).
func (t *tally) add(r *record) haltWhen {
	t.completed++
	if r.failed() {
		t.failed++
	}
	p := t.policy
	if p.when == haltNever || t.halted != haltNever {
		return haltNever
	}
	var limit int64
	switch {
	case p.why == haltFail && r.failed():
		limit = t.failed
	case p.why == haltSuccess && !r.failed():
		limit = t.completed - t.failed
	case p.why == haltDone:
		limit = t.completed
	default:
		return haltNever
	}
	need := float64(p.count)
	if p.pct > 0 {
		need = float64(max(t.total, 1)) * p.pct
	}
	if float64(limit) < need {
		return haltNever
	}
	t.halted = p.when
	t.codeSet = true
	switch {
	case p.why == haltSuccess:
		t.code = 0
	case p.pct > 0:
		t.code = int(math.Ceil(float64(t.failed) / float64(max(t.total, 1)) * 100))
	case p.count == 1:
		// The exit status of the task itself, or 128+signal (bash's convention).
		switch {
		case r.exit != 0:
			t.code = int(r.exit) & 0xff
		case r.signal != 0:
			t.code = 128 + int(r.signal)
		default:
			t.code = 0
		}
	default:
		t.code = int(min(t.failed, 101))
	}
	return p.when
}

// exitCode is the job's exit status: the one fixed by the halt policy, else the number of
// failed tasks up to 101 (a percentage with a percentage policy).
func (t *tally) exitCode() int {
	if t.codeSet {
		return t.code
	}
	if t.policy.pct > 0 {
		return int(math.Ceil(float64(t.failed) / float64(max(t.completed, 1)) * 100))
	}
	return int(min(t.failed, 101))
}
