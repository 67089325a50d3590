package taskfarm

import (
	"strings"
	"testing"
)

func TestParseHalt(t *testing.T) {
	tests := []struct {
		in   string
		want haltPolicy
		err  string
	}{
		{"never", haltPolicy{text: "never"}, ""},
		{"0", haltPolicy{text: "never"}, ""},
		{"now,fail=1", haltPolicy{when: haltNow, why: haltFail, count: 1, text: "now,fail=1"}, ""},
		{"2", haltPolicy{when: haltNow, why: haltFail, count: 1, text: "now,fail=1"}, ""},
		{"1", haltPolicy{when: haltSoon, why: haltFail, count: 1, text: "soon,fail=1"}, ""},
		{"-1", haltPolicy{when: haltSoon, why: haltSuccess, count: 1, text: "soon,success=1"}, ""},
		{"-2", haltPolicy{when: haltNow, why: haltSuccess, count: 1, text: "now,success=1"}, ""},
		{"soon,fail=3", haltPolicy{when: haltSoon, why: haltFail, count: 3, text: "soon,fail=3"}, ""},
		{"soon,fail=10%", haltPolicy{when: haltSoon, why: haltFail, pct: 0.1, text: "soon,fail=10%"}, ""},
		{"25%", haltPolicy{when: haltSoon, why: haltFail, pct: 0.25, text: "soon,fail=25%"}, ""},
		{"now,done=2", haltPolicy{when: haltNow, why: haltDone, count: 2, text: "now,done=2"}, ""},
		{"later,fail=1", haltPolicy{}, "WHEN"},
		{"now,oops=1", haltPolicy{}, "WHY"},
		{"now,fail=0", haltPolicy{}, "at least 1"},
		{"now,fail=x", haltPolicy{}, "at least 1"},
		{"now,fail=0%", haltPolicy{}, "percentage"},
		{"now,fail=101%", haltPolicy{}, "percentage"},
		{"now", haltPolicy{}, "WHEN,WHY"},
		{"", haltPolicy{}, "WHEN,WHY"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseHalt(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseHalt(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestTally replays task outcomes through the halt policy. The expected halt points and
// exit statuses are GNU parallel 20221122's for the same sequences run with -j1.
func TestTally(t *testing.T) {
	type outcome struct{ exit, signal int64 }
	ok := func(int64) outcome { return outcome{} }
	fail := func(e int64) outcome { return outcome{exit: e} }
	tests := []struct {
		halt     string
		total    int64
		tasks    []outcome
		haltsAt  int // 1-based task at which the policy fires, 0 for never
		when     haltWhen
		exitCode int
	}{
		// parallel -j1 --halt now,fail=1 'exit {}' ::: 0 0 7 0 3  -> stops after 7, exit 7
		{"now,fail=1", -1, []outcome{ok(0), ok(0), fail(7), ok(0), fail(3)}, 3, haltNow, 7},
		// --halt soon,fail=2 ::: 0 5 7 4 3 -> stops after 7, exit 2
		{"soon,fail=2", -1, []outcome{ok(0), fail(5), fail(7), fail(4), fail(3)}, 3, haltSoon, 2},
		// --halt now,success=1 ::: 5 0 7 0 -> stops after the 0, exit 0
		{"now,success=1", -1, []outcome{fail(5), ok(0), fail(7), ok(0)}, 2, haltNow, 0},
		// --halt soon,fail=1 ::: 0 5 7 -> exit 5
		{"soon,fail=1", -1, []outcome{ok(0), fail(5), fail(7)}, 2, haltSoon, 5},
		// --halt now,done=2 ::: 1 0 7 -> exit 1 (one failed)
		{"now,done=2", -1, []outcome{fail(1), ok(0), fail(7)}, 2, haltNow, 1},
		// --halt now,fail=1 'kill -9 $$' -> exit 137
		{"now,fail=1", -1, []outcome{{signal: 9}}, 1, haltNow, 137},
		// a timeout (Exitval -1) with fail=1: parallel exits with -1, that is 255
		{"now,fail=1", -1, []outcome{{exit: -1, signal: 15}}, 1, haltNow, 255},
		// --halt now,fail=50% ::: 0 1 1 0 0 0 -> never fires, exit ceil(2/6*100) = 34
		{"now,fail=50%", 6, []outcome{ok(0), fail(1), fail(1), ok(0), ok(0), ok(0)}, 0, haltNever, 34},
		// fires at 3 of 6 failed: exit 50
		{"soon,fail=50%", 6, []outcome{fail(1), fail(1), ok(0), fail(2), ok(0), ok(0)}, 4, haltSoon, 50},
		{"never", -1, []outcome{fail(1), fail(2), ok(0)}, 0, haltNever, 2},
		{"now,success=1", -1, []outcome{fail(1), fail(2)}, 0, haltNever, 2},
	}
	for _, tt := range tests {
		t.Run(tt.halt, func(t *testing.T) {
			p, err := parseHalt(tt.halt)
			if err != nil {
				t.Fatal(err)
			}
			ty := tally{policy: p, total: tt.total}
			at := 0
			for i, o := range tt.tasks {
				r := record{seq: uint64(i + 1), exit: o.exit, signal: uint64(o.signal)}
				if w := ty.add(&r); w != haltNever {
					if at != 0 {
						t.Fatalf("fired twice, at %d and %d", at, i+1)
					}
					at = i + 1
					if w != tt.when {
						t.Errorf("fired %v, want %v", w, tt.when)
					}
				}
			}
			if at != tt.haltsAt {
				t.Errorf("fired at task %d, want %d", at, tt.haltsAt)
			}
			if c := ty.exitCode(); c != tt.exitCode {
				t.Errorf("exit status %d, want %d", c, tt.exitCode)
			}
		})
	}
	// Many failures: 101.
	ty := tally{policy: haltPolicy{}}
	for i := 0; i < 150; i++ {
		ty.add(&record{seq: uint64(i + 1), exit: 1})
	}
	if c := ty.exitCode(); c != 101 {
		t.Errorf("150 failures: exit %d, want 101", c)
	}
}
