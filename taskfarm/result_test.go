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
	for _, s := range []setup{{"vm", -1, "0a1b2c3d4e5f"}, {"", 0, ""}, {"node-1.cluster", 1 << 40, "x"}} {
		got, err := decodeSetup(s.encode())
		if err != nil || got != s {
			t.Errorf("setup %+v -> %+v, %v", s, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {3}, append(setup{"x", 1, "r"}.encode(), 0), setup{"x", 1, "../r"}.encode(), setup{"x", 1, "*"}.encode()} {
		if _, err := decodeSetup(bad); err == nil {
			t.Errorf("decodeSetup(%x): no error", bad)
		}
	}
}
