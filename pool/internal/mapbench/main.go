// Command mapbench measures pool.Map of an empty function: the library's own cost per
// element, for scripts/bench/pool.sh. Each -n is one Map call (after a warm-up call);
// rank 0 prints "chunk n seconds elements/s" for each.
//
//	mpirun -np 3 ./mapbench -chunk 0 -n 10000000,30000000
package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mw-hpc/mw/pool"
)

func identity(_ context.Context, x int) (int, error) { return x, nil }

func main() {
	ns := flag.String("n", "10000000", "comma-separated element counts, one Map call each")
	chunk := flag.Int("chunk", 0, "elements per chunk; 0 lets the engine size them (auto)")
	flag.Parse()
	pool.Main(func(ctx context.Context) error {
		if _, err := pool.Map(ctx, make([]int, 1000), identity); err != nil {
			return err
		}
		for _, f := range strings.Split(*ns, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("-n %q: %w", f, err)
			}
			var in []int
			if pool.IsManager() {
				in = make([]int, n)
				for i := range in {
					in[i] = i
				}
			}
			start := time.Now()
			out, err := pool.Map(ctx, in, identity, pool.Chunk(*chunk))
			secs := time.Since(start).Seconds()
			if err != nil || !pool.IsManager() {
				if err != nil {
					return err
				}
				continue
			}
			if len(out) != n || n > 0 && out[n-1] != n-1 {
				return fmt.Errorf("wrong results: %d of %d", len(out), n)
			}
			label := "auto"
			if *chunk > 0 {
				label = strconv.Itoa(*chunk)
			}
			fmt.Printf("%s %d %.3f %.0f\n", label, n, secs, float64(n)/secs)
		}
		return nil
	})
}
