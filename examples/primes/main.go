// Command primes counts the primes below a limit across an MPI job with mw's library:
// the range is cut into blocks, each block is counted by trial division on a worker, and
// rank 0 prints each block's count in order and the total.
//
//	mpirun -np 3 ./primes -limit 2000000 -block 100000
package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/mw-hpc/mw/pool"
)

// Block is a half-open range [Lo, Hi) of integers.
type Block struct{ Lo, Hi int }

// countPrimes counts the primes in b by trial division by odd numbers.
func countPrimes(_ context.Context, b Block) (int, error) {
	n := 0
	for x := max(b.Lo, 2); x < b.Hi; x++ {
		if isPrime(x) {
			n++
		}
	}
	return n, nil
}

func isPrime(x int) bool {
	if x < 4 {
		return x >= 2
	}
	if x%2 == 0 {
		return false
	}
	for d := 3; d*d <= x; d += 2 {
		if x%d == 0 {
			return false
		}
	}
	return true
}

func main() {
	limit := flag.Int("limit", 1_000_000, "count the primes below `N`")
	block := flag.Int("block", 50_000, "integers per block (one task)")
	flag.Parse()
	pool.Main(func(ctx context.Context) error {
		if *limit < 0 || *block < 1 {
			return fmt.Errorf("-limit must be >= 0 and -block >= 1")
		}
		var blocks []Block
		for lo := 0; lo < *limit; lo += *block {
			blocks = append(blocks, Block{lo, min(lo+*block, *limit)})
		}
		counts, err := pool.Map(ctx, blocks, countPrimes, pool.Chunk(2))
		if err != nil || !pool.IsManager() {
			return err
		}
		total := 0
		for i, c := range counts {
			fmt.Printf("%d %d %d\n", blocks[i].Lo, blocks[i].Hi, c)
			total += c
		}
		fmt.Printf("total %d\n", total)
		return nil
	})
}
