package rank

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// pollLog is a Transport that says whether its rank shares its cores (CoreSharer) and counts,
// of the frames it hands its owner loop, those after which the loop's next call was a Send
// (it sent what the frame led to at once) and those after which it was a poll that found
// nothing. Only the owner loop calls it, and the test reads it once the rank is done.
type pollLog struct {
	Transport
	shares                       bool
	last                         string
	sentAfterRecv, idleAfterRecv int
}

func (p *pollLog) SharesCores() bool { return p.shares }

func (p *pollLog) Recv() (int, []byte, bool, error) {
	from, f, ok, err := p.Transport.Recv()
	switch {
	case ok:
		p.note("recv")
	case err == nil:
		p.note("idle")
	}
	return from, f, ok, err
}

func (p *pollLog) Send(to int, f []byte) error {
	p.note("send")
	return p.Transport.Send(to, f)
}

func (p *pollLog) note(call string) {
	if p.last == "recv" {
		switch call {
		case "send":
			p.sentAfterRecv++
		case "idle":
			p.idleAfterRecv++
		}
	}
	p.last = call
}

// TestSendsBeforePollingWhereRanksShareCores: where ranks share their cores (CoreSharer),
// the manager sends the chunks a result frees before it polls again, and a worker the
// result of a chunk it computed inline; elsewhere both take every frame there is first,
// and send after.
func TestSendsBeforePollingWhereRanksShareCores(t *testing.T) {
	inline := true
	forceInline = &inline
	defer func() { forceInline = nil }()
	const workers, chunks = 2, 200
	for _, shares := range []bool{false, true} {
		h := newHarness(workers, chunks)
		logs := make([]*pollLog, workers+1)
		for r := range logs {
			logs[r] = &pollLog{Transport: h.net.Rank(r), shares: shares}
		}
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		var wg sync.WaitGroup
		werrs := make([]error, workers+1)
		for r := 1; r <= workers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, werrs[r] = Run(ctx, logs[r], h.job(r), cfgWith(1, 1))
			}()
		}
		_, err := Run(ctx, logs[0], h.job(0), cfgWith(1, 1))
		wg.Wait()
		cancel()
		require.NoError(t, err)
		for r := 1; r <= workers; r++ {
			require.NoError(t, werrs[r], "worker %d", r)
		}
		requireInOrder(t, h.sink, chunks)
		mgr, answered, polled := logs[0], 0, 0
		for _, w := range logs[1:] {
			answered, polled = answered+w.sentAfterRecv, polled+w.idleAfterRecv
		}
		if !shares {
			require.Zero(t, mgr.sentAfterRecv, "manager, cores not shared")
			require.LessOrEqual(t, answered, workers, "workers, cores not shared: the stop's acknowledgements at most")
			continue
		}
		// Every result but the last few frees a chunk for its worker (window 1).
		require.GreaterOrEqual(t, mgr.sentAfterRecv, chunks-workers, "manager: sent before polling (%d polled first)", mgr.idleAfterRecv)
		// Every chunk but the first few is computed inline, and answered at once.
		require.GreaterOrEqual(t, answered, chunks/2, "workers: answered before polling (%d polled first)", polled)
	}
}
