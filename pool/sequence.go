package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mw-hpc/mw/internal/human"
)

// The sequence of collective calls. Every rank runs the same program, and each collective
// call (Map, Stream, Broadcast, Execute, Run) needs every rank at once. A rank that does
// something else (returns from Main's body, panics, makes another call) would leave the
// others waiting for it forever; so before each call the ranks check that they agree:
//
//	rank 0 -> every worker   call n: what rank 0 calls (and the settings workers take)
//	every worker -> rank 0   reply n: where this worker is (the same call, another call,
//	                         past the end of Main's body, or panicked there)
//	rank 0 -> every worker   verdict n: go ahead, or the error every rank returns
//	(the engine's run, when the verdict was to go ahead)
//	rank 0 -> every worker   done n: the call's outcome, the same error on every rank
//
// The end of Main's body is the last step of the sequence, checked the same way: rank 0
// announces it, and only when every rank is there do they all stop MPI. A worker that got
// there early answers each of rank 0's later calls with where it is, so rank 0 reports it
// at once ("rank 2 on node7 returned from pool.Main's body after 1 collective call, while
// rank 0 called pool.Map[...] at main.go:20"), and the job ends. Nothing waits without a
// reason that some rank will act on.

// enter starts a collective call at pos on this rank: rank 0 announces it with payload
// (the settings the workers take) and returns once every worker agreed; a worker waits
// for rank 0's call, answers, and returns rank 0's payload. The error, if any, is the same
// on every rank: the call must not go ahead.
func (w *world) enter(ctx context.Context, pos position, payload []byte) ([]byte, error) {
	pos.calls = w.calls
	w.calls++
	switch {
	case w.alone():
		return payload, nil
	case w.t.Rank() == 0:
		return payload, w.lead(ctx, pos, payload, w.judgeCall)
	case w.over != nil:
		return nil, w.over
	}
	lead, verdict, err := w.follow(ctx, pos)
	switch {
	case err != nil:
		return nil, err
	case verdict != nil:
		return nil, verdict
	case lead.pos.state != atCall:
		return nil, fmt.Errorf("%w: rank 0 ended the job", ErrOutOfStep)
	}
	return lead.data, nil
}

// leave ends a collective call that went ahead: rank 0 sends its outcome (err) to every
// worker, and a worker returns the outcome rank 0 sent, so that every rank returns the
// same error from the call. A worker whose own part failed (err: its transport, its
// context) returns that at once.
func (w *world) leave(ctx context.Context, err error) error {
	switch {
	case w.alone():
		return err
	case w.t.Rank() == 0:
		serr := w.own(context.WithoutCancel(ctx), func() error {
			return w.workers(func(r int) error { return w.send(r, ctl{typ: ctlDone, n: w.n, data: errorBytes(err)}) })
		})
		if err == nil && serr != nil {
			err = fmt.Errorf("tell the workers the outcome: %w", serr)
		}
		return err
	case err != nil:
		return err
	}
	var outcome error
	werr := w.own(ctx, func() error {
		var err error
		outcome, err = w.awaitError(ctx, ctlDone, "say how its call ended")
		return err
	})
	if werr != nil {
		return werr
	}
	return outcome
}

// awaitError waits for rank 0's message typ (a verdict, an outcome) on this rank's call,
// and returns the error it carries. A later call that comes first means rank 0 left this
// one: the call is held for the next step, and the error says so. Call it from the owner
// loop; err is this rank's own failure.
func (w *world) awaitError(ctx context.Context, typ ctlType, what string) (carried, err error) {
	for {
		_, m, err := w.next(ctx, func() string { return "for rank 0 to " + what })
		switch {
		case err != nil:
			return nil, err
		case m.typ == typ && m.n == w.n:
			return errorFrom(m.data), nil
		case m.typ == ctlCall && m.n > w.n:
			w.held = &m
			return fmt.Errorf("%w: rank 0 went on to %s at %s instead of waiting to %s", ErrOutOfStep, m.pos.what, m.pos.where, what), nil
		}
	}
}

// lead is rank 0's side of a step: it announces pos, collects every worker's position,
// and sends the verdict judge gives, which it returns.
func (w *world) lead(ctx context.Context, pos position, payload []byte, judge func(position, []*position) error) error {
	w.n++
	n, size := w.n, w.t.Size()
	pos.host = w.t.Host()
	at := make([]*position, size)
	var verdict error
	err := w.own(ctx, func() error {
		if err := w.workers(func(r int) error { return w.send(r, ctl{typ: ctlCall, n: n, pos: pos, data: payload}) }); err != nil {
			return err
		}
		for r := 1; r < size; r++ {
			for at[r] == nil && !w.gone[r] {
				from, m, err := w.next(ctx, func() string { return w.waitingFor(pos, at) })
				if err != nil {
					return err
				}
				if m.typ == ctlReply && m.n == n && from > 0 && !w.gone[from] && at[from] == nil {
					at[from] = &m.pos // (anything else is stale: a reply to a call rank 0 left)
					w.hosts[from] = m.pos.host
				}
			}
		}
		verdict = judge(pos, at)
		return w.workers(func(r int) error { return w.send(r, ctl{typ: ctlVerdict, n: n, data: errorBytes(verdict)}) })
	})
	if err != nil {
		return err
	}
	return verdict
}

// waitingFor says what rank 0 waits for, for the notice of a long wait.
func (w *world) waitingFor(pos position, at []*position) string {
	var late []string
	for r := 1; r < len(at); r++ {
		if at[r] == nil && !w.gone[r] {
			late = append(late, w.who(r))
		}
	}
	return fmt.Sprintf("in %s at %s for %s to make the same call or return from pool.Main's body", pos.what, pos.where, strings.Join(late, ", "))
}

// follow is a worker's side of a step: it waits for rank 0's next call, answers with pos,
// and waits for the verdict. It returns rank 0's call and the verdict; err is this rank's
// own failure (its transport, its context).
func (w *world) follow(ctx context.Context, pos position) (lead ctl, verdict, err error) {
	pos.host = w.t.Host()
	err = w.own(ctx, func() error {
		call, err := w.awaitCall(ctx, pos)
		if err != nil {
			return err
		}
		lead, w.n = call, call.n
		if call.pos.state != atCall && pos.state == atCall {
			defer func() { w.over = firstErr(verdict, errors.New("rank 0 ended the job")) }()
		}
		if err := w.send(0, ctl{typ: ctlReply, n: call.n, pos: pos}); err != nil {
			return err
		}
		verdict, err = w.awaitError(ctx, ctlVerdict, "give its verdict on "+call.pos.what)
		return err
	})
	return lead, verdict, err
}

// awaitCall returns rank 0's next call: one that came early, or the next to come. The
// verdicts and outcomes of calls this rank left are dropped.
func (w *world) awaitCall(ctx context.Context, pos position) (ctl, error) {
	if m := w.held; m != nil {
		w.held = nil
		return *m, nil
	}
	for {
		_, m, err := w.next(ctx, func() string { return "for rank 0 " + pos.waitText() })
		if err != nil {
			return ctl{}, err
		}
		if m.typ == ctlCall && m.n > w.n {
			return m, nil
		}
	}
}

// waitText is what a rank at pos waits for rank 0 to do.
func (p position) waitText() string {
	if p.state == atCall {
		return fmt.Sprintf("to call %s (this rank called it at %s)", p.what, p.where)
	}
	return "to return from pool.Main's body"
}

// judgeCall is rank 0's verdict on a collective call: every worker must be making it.
func (w *world) judgeCall(pos position, at []*position) error {
	for r := 1; r < len(at); r++ {
		if p := at[r]; p != nil && (p.state != atCall || p.what != pos.what) {
			return &outOfStep{fmt.Sprintf("%s %s, while rank 0 called %s at %s", w.who(r), p.did(), pos.what, pos.where)}
		}
	}
	return nil
}

// judgeEnd is rank 0's verdict at the end of Main's body: the job's error, when rank 0's
// own body did not fail (its error comes first): a worker still making calls, or one whose
// body failed or panicked.
func (w *world) judgeEnd(pos position, at []*position) error {
	switch {
	case pos.state == atPanic:
		return errors.New("rank 0 " + pos.did())
	case len(pos.err) > 0:
		return errorFrom(pos.err) // rank 0's own failure, which it reports itself
	}
	for r := 1; r < len(at); r++ {
		switch p := at[r]; {
		case p == nil: // gone
		case p.state == atCall:
			return &outOfStep{fmt.Sprintf("%s %s, after rank 0 returned from pool.Main's body (%s)", w.who(r), p.did(), human.Plural(pos.calls, "collective call"))}
		case p.state == atPanic:
			return fmt.Errorf("%s %s", w.who(r), p.did())
		case len(p.err) > 0:
			return fmt.Errorf("%s: %w", w.who(r), errorFrom(p.err))
		}
	}
	return nil
}

// did says what a rank at p did, for rank 0's messages.
func (p position) did() string {
	switch p.state {
	case atCall:
		return fmt.Sprintf("called %s at %s", p.what, p.where)
	case atPanic:
		return fmt.Sprintf("panicked outside a task (%s) at %s, after %s", p.what, p.where, human.Plural(p.calls, "collective call"))
	}
	if len(p.err) > 0 {
		return fmt.Sprintf("returned from pool.Main's body with an error (%v) after %s", errorFrom(p.err), human.Plural(p.calls, "collective call"))
	}
	return "returned from pool.Main's body after " + human.Plural(p.calls, "collective call")
}

// end is the last step of the sequence, at the end of Main's body (pos: how it ended).
// It waits for any collective call still running on this rank, then: rank 0 announces the
// end, calls report with the job's error (its own first, else a worker's) and only then
// releases the workers, so that what it reports is out before any rank exits (a launcher
// may end the job at the first rank that exits non-zero); a worker answers each of rank
// 0's calls with pos until rank 0 announces the end too, and returns the verdict.
func (w *world) end(ctx context.Context, pos position, report func(error)) error {
	w.mu.Lock() // a call that a goroutine of the body still makes ends first
	defer w.mu.Unlock()
	pos.calls = w.calls
	switch {
	case w.alone():
		err := errorFrom(pos.err)
		report(err)
		return err
	case w.t.Rank() == 0:
		return w.lead(ctx, pos, nil, func(pos position, at []*position) error {
			verdict := w.judgeEnd(pos, at)
			report(verdict)
			return verdict
		})
	case w.over != nil:
		return w.over // rank 0 ended the sequence already, when this rank was in a call
	}
	for {
		lead, verdict, err := w.follow(ctx, pos)
		if err != nil {
			return err
		}
		if lead.pos.state != atCall {
			return verdict
		}
	}
}
