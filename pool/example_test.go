package pool_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/mw-hpc/mw/pool"
)

// Map squares numbers on three in-process workers; the results come back in input order.
func ExampleMap() {
	in := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	squares, err := pool.Map(context.Background(), in, func(_ context.Context, x int) (int, error) {
		return x * x, nil
	}, pool.InProcess(3), pool.Chunk(3))
	fmt.Println(squares, err)
	// Output: [1 4 9 16 25 36 49 64 81 100] <nil>
}

// A failing element ends the job with an error that names it.
func ExampleMap_error() {
	_, err := pool.Map(context.Background(), []string{"a", "b", "", "d"}, func(_ context.Context, s string) (string, error) {
		if s == "" {
			return "", fmt.Errorf("empty string")
		}
		return strings.ToUpper(s), nil
	}, pool.InProcess(2))
	// The error names the rank that failed ("rank 1 on inproc: ..."), which may be either.
	_, cause, _ := strings.Cut(err.Error(), ": ")
	fmt.Println(cause)
	// Output: chunk 2: element 2: empty string
}
