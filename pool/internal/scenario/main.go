// Command scenario is a pool program for pool's tests under mpirun, one behaviour per
// -case. "all" makes every kind of collective call and prints what rank 0 got (the same
// bytes with any number of ranks); the others leave the sequence of collective calls in
// the ways a user's program can, and each must end the job with one line naming the rank
// and what it did, never hang.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/pool"
)

// ErrOdd is a worker's error that must keep its identity on rank 0.
var ErrOdd = errors.New("odd element")

func init() { pool.RegisterError(ErrOdd) }

var (
	upper = pool.NewTask("upper", func(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil })
	half  = pool.NewTask("half", func(_ context.Context, x int) (int, error) {
		if x%2 == 1 {
			return 0, fmt.Errorf("half of %d: %w", x, ErrOdd)
		}
		return x / 2, nil
	})
)

func square(_ context.Context, x int) (int, error) { return x * x, nil }

func failFive(_ context.Context, x int) (int, error) {
	if x == 5 {
		return 0, fmt.Errorf("element value %d: %w", x, ErrOdd)
	}
	return x, nil
}

var in = []int{1, 2, 3, 4, 5, 6, 7, 8}

func main() {
	which := flag.String("case", "all", "what the ranks do")
	flag.Parse()
	me := launch.FromEnv().Rank
	if *which == "no-main" {
		_, err := pool.Map(context.Background(), in, square)
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", me, err)
		os.Exit(1)
	}
	pool.Main(func(ctx context.Context) error {
		if *which == "all" {
			return all(ctx, me)
		}
		return leave(ctx, *which, me)
	})
}

// all makes each kind of collective call once.
func all(ctx context.Context, me int) error {
	table, err := pool.Broadcast(ctx, func() (map[int]string, error) {
		return map[int]string{1: "one", 4: "four", 9: "nine"}, nil
	})
	if err != nil {
		return err
	}
	named, err := pool.Map(ctx, in, func(_ context.Context, x int) (string, error) { return table[x*x], nil })
	if err != nil {
		return err
	}
	ran := 0 // elements of Stream's input made on this rank: rank 0's only
	input := func(yield func(int) bool) {
		for i := range 1000 {
			ran++
			if !yield(i) {
				return
			}
		}
	}
	sum := 0
	for r, err := range pool.Stream(ctx, input, square) {
		if err != nil {
			return err
		}
		sum += r
	}
	if me != 0 && ran != 0 {
		return fmt.Errorf("rank %d ran Stream's input", me)
	}
	_, err = pool.Map(ctx, in, failFive)
	var te *pool.TaskError
	isOdd, asTask := errors.Is(err, ErrOdd), errors.As(err, &te)
	if !isOdd || !asTask {
		return fmt.Errorf("on rank %d Map's error is %v: errors.Is %v, errors.As %v", me, err, isOdd, asTask)
	}
	var tasks []string
	err = pool.Execute(ctx, func(ctx context.Context, ex *pool.Executor) error {
		u, h1, h2 := pool.Submit(ex, upper, "mw"), pool.Submit(ex, half, 10), pool.Submit(ex, half, 3)
		s, err := u.Wait(ctx)
		if err != nil {
			return err
		}
		v, err := h1.Wait(ctx)
		if err != nil {
			return err
		}
		_, err = h2.Wait(ctx)
		tasks = append(tasks, s, fmt.Sprint(v), fmt.Sprint(errors.Is(err, ErrOdd)))
		return nil
	})
	if err != nil || me != 0 {
		return err
	}
	fmt.Println(named)
	fmt.Println(sum, ran)
	fmt.Printf("element %d is odd: %v\n", te.Element, isOdd)
	fmt.Println(tasks)
	return nil
}

// leave leaves the sequence as the case says.
func leave(ctx context.Context, which string, me int) error {
	switch {
	case which == "early-return" && me == 1:
		return nil
	case which == "rank0-early" && me == 0:
		return nil
	case which == "worker-panic" && me == 1:
		panic("boom")
	case which == "other-call" && me == 2:
		_, err := pool.Broadcast(ctx, func() (string, error) { return "x", nil })
		return err
	}
	out, err := pool.Map(ctx, in, square)
	if err != nil {
		return err
	}
	switch {
	case which == "worker-error" && me == 2:
		return errors.New("custom failure")
	case which == "rank0-panic" && me == 0:
		panic("rank 0 gives up")
	case which == "rank0-panic":
		_, err := pool.Map(ctx, in, square)
		return err
	}
	if me == 0 {
		fmt.Println(out)
	}
	return nil
}
