package frame

import (
	"testing"
)

func TestGetSizesAndReuse(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 4096, 1 << 20, 64 << 20} {
		b := Get(n)
		if len(b) != n {
			t.Fatalf("Get(%d): len %d", n, len(b))
		}
		if c := cap(b); c&(c-1) != 0 || c < n {
			t.Fatalf("Get(%d): cap %d is not a power of two holding n", n, c)
		}
		Put(b)
	}
	big := Get(64<<20 + 1)
	if len(big) != 64<<20+1 {
		t.Fatalf("a buffer past the largest class: len %d", len(big))
	}
	Put(big) // not pooled, and no panic
	Put(make([]byte, 10, 100))
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	allocs := testing.AllocsPerRun(1000, func() {
		b := Get(300)
		b[0] = 1
		Put(b)
	})
	if allocs > 0.01 {
		t.Fatalf("%.2f allocations per Get and Put, want none", allocs)
	}
}

func TestCapIsGetsCapacity(t *testing.T) {
	for _, n := range []int{0, 1, 64, 65, 3000, 4096, 4097, 64 << 20, 64<<20 + 1} {
		b := Get(n)
		if Cap(n) != cap(b) {
			t.Errorf("Cap(%d) = %d, Get's capacity %d", n, Cap(n), cap(b))
		}
		Put(b)
	}
}
