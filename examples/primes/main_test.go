package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/mwtest"
)

// sieve is the oracle: the primes below n by the sieve of Eratosthenes.
func sieve(n int) []bool {
	composite := make([]bool, max(n, 2))
	for i := 2; i*i < n; i++ {
		if !composite[i] {
			for j := i * i; j < n; j += i {
				composite[j] = true
			}
		}
	}
	return composite
}

func TestPrimesUnderMPIRun(t *testing.T) {
	const limit, block = 300_000, 7_000
	comp := sieve(limit)
	var want strings.Builder
	total := 0
	for lo := 0; lo < limit; lo += block {
		hi, n := min(lo+block, limit), 0
		for x := max(lo, 2); x < hi; x++ {
			if !comp[x] {
				n++
			}
		}
		total += n
		fmt.Fprintf(&want, "%d %d %d\n", lo, hi, n)
	}
	fmt.Fprintf(&want, "total %d\n", total)

	bin := filepath.Join(t.TempDir(), "primes")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, np := range []int{1, 3} {
		r := mwtest.Command(t, nil, "mpirun", "-np", fmt.Sprint(np), "--oversubscribe", bin, "-limit", fmt.Sprint(limit), "-block", fmt.Sprint(block))
		require.Equal(t, 0, r.Code, "%s", r.Stderr)
		require.Equal(t, want.String(), string(r.Stdout), "np %d", np)
	}
}
