package main

import (
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/mw-hpc/mw/internal/mpitest"
	"github.com/mw-hpc/mw/mpi"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(mpitest.Main(m)) }

// TestUnderMpirun runs the inner tests (TestMPI*) under mpirun with 2 and 3 ranks.
func TestUnderMpirun(t *testing.T) {
	for _, np := range []int{2, 3} {
		t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) { mpitest.Run(t, np, "TestMPI.*") })
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-pattern", "spin"}, {"-x"}, {"0"}, {"10", "0"}, {"ten"}, {"10", "2", "3"},
	} {
		err := run(args, io.Discard, io.Discard)
		require.ErrorIs(t, err, errUsage, "args %q", args)
	}
}

// peers are the patterns under test, made afresh for each run.
var peers = map[string]func(c *mpi.Communicator) peer{
	"blocking": func(c *mpi.Communicator) peer { return &blocking{c: c} },
	"poll":     func(c *mpi.Communicator) peer { return &polling{c: c, in: make([]byte, 64)} },
}

// TestMPILoops: in both patterns, at windows 1 and 5, every task is answered and the sum
// checks (manage fails otherwise), and every rank ends.
func TestMPILoops(t *testing.T) {
	mpitest.Inner(t)
	c := mpi.World()
	for _, name := range []string{"blocking", "poll"} {
		for _, w := range []int{1, 5} {
			p := peers[name](c)
			var err error
			if c.Rank() == 0 {
				err = manage(p, c.Size()-1, 1000, w)
			} else {
				err = serve(p)
			}
			require.NoError(t, err, "%s, window %d", name, w)
			if pp, ok := p.(*polling); ok {
				require.Empty(t, pp.inFlight, "sends in flight after flush")
			}
		}
	}
}

// wrongOnce answers its first task wrongly.
type wrongOnce struct {
	peer
	done bool
}

func (w *wrongOnce) send(v uint64, to, tag int) error {
	if tag == tagReply && !w.done {
		w.done, v = true, v+2
	}
	return w.peer.send(v, to, tag)
}

// TestMPILoopsCheckTheReplies: one wrong reply from each worker fails the manager, which
// still stops the workers.
func TestMPILoopsCheckTheReplies(t *testing.T) {
	mpitest.Inner(t)
	c := mpi.World()
	for _, name := range []string{"blocking", "poll"} {
		p := peers[name](c)
		if c.Rank() == 0 {
			err := manage(p, c.Size()-1, 100, 2)
			want := fmt.Sprintf("replies sum to %d, want 10000", 10000+2*(c.Size()-1))
			require.ErrorContains(t, err, want, name)
			continue
		}
		require.NoError(t, serve(&wrongOnce{peer: p}), name)
	}
}
