package pool_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/pool"
)

func TestJournalResumes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "squares.journal")
	in := make([]int, 100)
	for i := range in {
		in[i] = i
	}
	// squares squares its elements, records each in seen, and fails those from 60 on
	// when fail is set. Every closure it makes is the same function for the journal.
	squares := func(seen *sync.Map, fail bool) func(context.Context, int) (int, error) {
		return func(_ context.Context, x int) (int, error) {
			seen.Store(x, true)
			if fail && x >= 60 {
				return 0, errors.New("not now")
			}
			return x * x, nil
		}
	}
	computed := func(seen *sync.Map) (xs []int) {
		seen.Range(func(k, _ any) bool { xs = append(xs, k.(int)); return true })
		slices.Sort(xs)
		return xs
	}
	// A first run: the elements from 60 on fail (chunks of 10: 0-59 are recorded).
	var first sync.Map
	out, err := pool.Map(ctx, in, squares(&first, true), pool.Journal(path), pool.Chunk(10), pool.KeepGoing(), pool.InProcess(2))
	var pe *pool.PartialError
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Failed, 40)
	require.Equal(t, 59*59, out[59])

	// The run after computes only what the journal lacks, and gives every result.
	var second sync.Map
	out, err = pool.Map(ctx, in, squares(&second, false), pool.Journal(path), pool.InProcess(3))
	require.NoError(t, err)
	require.Equal(t, in[60:], computed(&second))
	for i, v := range out {
		require.Equal(t, i*i, v)
	}
	// A complete journal: nothing left to compute.
	var third sync.Map
	out, err = pool.Map(ctx, in, squares(&third, false), pool.Journal(path))
	require.NoError(t, err)
	require.Empty(t, computed(&third))
	require.Equal(t, 99*99, out[99])

	// A record cut short (a kill mid-write) is dropped; the rest is kept.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data[:len(data)-3], 0o644))
	var fourth sync.Map
	out, err = pool.Map(ctx, in, squares(&fourth, false), pool.Journal(path))
	require.NoError(t, err)
	redone := computed(&fourth)
	require.NotEmpty(t, redone)
	require.Less(t, len(redone), 100)
	require.Equal(t, 99*99, out[99])
}

func TestJournalRefusesAnotherCall(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j")
	id := func(_ context.Context, x int) (int, error) { return x, nil }
	_, err := pool.Map(ctx, []int{1, 2, 3}, id, pool.Journal(path))
	require.NoError(t, err)
	_, err = pool.Map(ctx, []int{1, 2, 3, 4}, id, pool.Journal(path))
	require.ErrorContains(t, err, "it is not the journal of this call")
	_, err = pool.Map(ctx, []int{1, 2, 3}, func(_ context.Context, x int) (int64, error) { return int64(x), nil }, pool.Journal(path))
	require.ErrorContains(t, err, "it is not the journal of this call")
	_, err = pool.Map(ctx, []int{1, 5, 3}, id, pool.Journal(path))
	require.ErrorContains(t, err, "are not those it recorded")
	for _, err := range pool.Stream(ctx, nil, id, pool.Journal(path)) {
		require.ErrorContains(t, err, "pool.Journal does not apply")
	}
}
