package taskfarm

import (
	"bytes"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	recs := []record{
		{seq: 1, host: "h", cmd: "true"},
		{seq: 1 << 40, exit: -1, signal: 15, start: -5, runtime: 1 << 50, flags: flagTimedOut, host: "node-7", cmd: "sleep 9",
			stdout: []byte("out\n"), stderr: []byte("err\x00\xff")},
		{seq: 3, flags: flagStdoutSpill | flagStderrSpill, stdout: []byte("/tmp/a"), stdoutLen: 1 << 33, stderr: []byte("/tmp/b"), stderrLen: 7},
		{seq: 4, flags: flagTagged, tag: []byte("a b"), results: "out/1/a/"},
		{seq: 5, attempt: 255, lost: 65535, host: "h"},
	}
	for _, r := range recs {
		b := appendRecord([]byte("prefix"), &r)
		got, err := decodeRecord(b[len("prefix"):])
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		norm := func(x record) record {
			if len(x.stdout) == 0 {
				x.stdout = nil
			}
			if len(x.stderr) == 0 {
				x.stderr = nil
			}
			if len(x.tag) == 0 {
				x.tag = nil
			}
			return x
		}
		if !reflect.DeepEqual(norm(got), norm(r)) {
			t.Errorf("round trip\n%+v\nwant\n%+v", got, r)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {1}, appendRecord(nil, &record{seq: 1})[:5], append(appendRecord(nil, &record{seq: 1}), 0)} {
		if _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%x): no error", bad)
		}
	}
}

// FuzzResult checks that a worker's result never makes the manager panic, and that what
// decodes encodes back to the same bytes.
func FuzzResult(f *testing.F) {
	f.Add(appendRecord(nil, &record{seq: 2, exit: 1, host: "h", cmd: "c", stdout: []byte("o"), stderr: []byte("e")}))
	f.Add(appendRecord(nil, &record{seq: 3, flags: flagStdoutSpill, stdoutLen: 9, stdout: []byte("/p")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if again := appendRecord(nil, &r); !bytes.Equal(again, b) {
			// Varints have one encoding each; only over-long forms could differ.
			r2, err := decodeRecord(again)
			if err != nil || !reflect.DeepEqual(r2, r) {
				t.Fatalf("re-encoding differs: %x vs %x", again, b)
			}
		}
	})
}

func TestSetup(t *testing.T) {
	for _, s := range []setup{
		{managerHost: "vm", ntasks: -1, run: "0a1b2c3d4e5f", kind: jobArgs},
		{ntasks: 0, kind: jobPart, header: []byte("h\n")},
		{managerHost: "node-1.cluster", ntasks: 1 << 40, run: "x", names: []string{"a", "", "c d"}, kind: jobCommand},
	} {
		got, err := decodeSetup(s.encode())
		if len(got.header) == 0 {
			got.header = s.header
		}
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Errorf("setup %+v -> %+v, %v", s, got, err)
		}
	}
	bad := func(s setup) []byte { return s.encode() }
	for _, b := range [][]byte{nil, {2}, {3}, {3, 9}, append(bad(setup{managerHost: "x", run: "r"}), 0),
		bad(setup{run: "../r"}), bad(setup{run: "*"})} {
		if _, err := decodeSetup(b); err == nil {
			t.Errorf("decodeSetup(%x): no error", b)
		}
	}
}

// TestJobRoundTrip: every kind of job decodes to itself; damaged items are refused.
func TestJobRoundTrip(t *testing.T) {
	tests := []struct {
		j    job
		kind jobKind
	}{
		{job{seq: 1, recs: [][]string{{"a"}}}, jobArgs},
		{job{seq: 7, timeout: 5e9, recs: [][]string{{"a", ""}, {"x\x00y", "z"}}}, jobArgs},
		{job{seq: 1 << 40, data: []byte("block\n")}, jobBlock},
		{job{seq: 3, off: 1 << 33, size: 12}, jobPart},
		{job{seq: 4, data: []byte("echo 1; exit 1")}, jobCommand},
		{job{seq: 5, recs: [][]string{{"run 5"}}, req: request{cpus: 4, gpus: 0, gpusSet: true}}, jobArgs},
		{job{seq: 6, recs: [][]string{{"run 6"}}, req: request{cpus: maxTaskCPUs, gpus: maxTaskGPUs, gpusSet: true}}, jobArgs},
	}
	for _, tt := range tests {
		b := appendJob(nil, &tt.j, tt.kind)
		got, err := decodeJob(b, tt.kind)
		if len(got.data) == 0 {
			got.data = tt.j.data
		}
		if err != nil || !reflect.DeepEqual(got, tt.j) {
			t.Errorf("job %+v -> %+v, %v", tt.j, got, err)
		}
		for _, cut := range [][]byte{b[:len(b)-1], append(b, 0)} {
			if _, err := decodeJob(cut, tt.kind); err == nil {
				t.Errorf("decodeJob(%x): no error", cut)
			}
		}
	}
}
