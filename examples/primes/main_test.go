package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/examples/internal/exrun"
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

	bin := exrun.Build(t, "primes")
	nps := []int{0} // alone
	if exrun.MPI(t) {
		nps = append(nps, 1, 3)
	}
	for _, np := range nps {
		r := exrun.Run(t, np, bin, "-limit", fmt.Sprint(limit), "-block", fmt.Sprint(block))
		require.Equal(t, 0, r.Code, "%s", r.Stderr)
		require.Equal(t, want.String(), string(r.Stdout), "np %d (0: alone)", np)
	}
}
