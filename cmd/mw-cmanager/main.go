// Command mw-cmanager is the Go twin of scripts/bench/cmanager.c: rank 0 hands out N 8-byte
// tasks to the other ranks, keeping W tasks in flight per worker; each worker answers each
// task with an 8-byte reply (2 x task + 1), and rank 0 gives the worker that answered its
// next task. Rank 0 checks that the replies sum to N x N and prints, as cmanager.c does,
//
//	tasks N workers K window W seconds T tasks/s R
//
// Usage:
//
//	mpirun -np K+1 mw-cmanager [-pattern blocking|poll] [N [W]]   (defaults: N = 200000, W = 4)
//
// It measures what is left between the C loop and the engine, in two steps:
//
//   - -pattern blocking (the default) makes cmanager.c's calls: MPI_Send, and MPI_Recv of
//     an 8-byte message. What it loses to C is the binding's cost (cgo) to any Go program.
//   - -pattern poll makes the engine's calls (rank's wire), on every rank, and nothing else:
//     sends start with MPI_Isend and MPI_Test at once (IsendTest, one reusable Request per
//     message in flight), and receives poll with MPI_Improbe and MPI_Mrecv (TryRecv) until a
//     message is there, testing unfinished sends between polls. An engine whose one MPI
//     goroutine must never block in MPI (it also serves other goroutines' sends, timers and
//     interrupts) pays at least this, before any work of its own.
//
// MPI runs at MPI_THREAD_SINGLE, as cmanager.c's MPI_Init does, on the main goroutine locked
// to the main thread. scripts/bench/engine.sh runs both patterns next to cmanager.c.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/mw-hpc/mw/internal/mpimain"
	"github.com/mw-hpc/mw/mpi"
)

// MPI is called from the main goroutine only, locked to the main thread from the start.
func init() { runtime.LockOSThread() }

// Tags, as in cmanager.c.
const (
	tagTask  = 1
	tagReply = 2
	tagStop  = 3
)

// errUsage marks a usage error (exit code 2).
var errUsage = errors.New("usage: mpirun -np K+1 mw-cmanager [-pattern blocking|poll] [N [W]]")

func main() {
	os.Exit(mpimain.End("mw-cmanager", run(os.Args[1:], os.Stdout, os.Stderr), errUsage, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mw-cmanager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pattern := fs.String("pattern", "blocking", "MPI calls to make: blocking (MPI_Send, MPI_Recv) or poll (the engine's)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *pattern != "blocking" && *pattern != "poll" {
		return fmt.Errorf("%w: bad -pattern %q", errUsage, *pattern)
	}
	n, w := 200000, 4
	var err error
	switch a := fs.Args(); {
	case len(a) > 2:
		return errUsage
	case len(a) == 2:
		if w, err = strconv.Atoi(a[1]); err != nil || w < 1 {
			return fmt.Errorf("%w: bad window %q", errUsage, a[1])
		}
		fallthrough
	case len(a) == 1:
		if n, err = strconv.Atoi(a[0]); err != nil || n < 1 {
			return fmt.Errorf("%w: bad task count %q", errUsage, a[0])
		}
	}
	if _, err := mpi.Start(mpi.ThreadSingle); err != nil {
		return err
	}
	c := mpi.World()
	if c.Size() < 2 {
		return fmt.Errorf("%w: needs at least 2 ranks, have %d", errUsage, c.Size())
	}
	if err := c.Barrier(); err != nil {
		return err
	}
	var p peer = &blocking{c: c}
	if *pattern == "poll" {
		p = &polling{c: c, in: make([]byte, 64)}
	}
	if c.Rank() != 0 {
		return serve(p)
	}
	t0 := time.Now()
	if err := manage(p, c.Size()-1, n, w); err != nil {
		return err
	}
	t := time.Since(t0).Seconds()
	_, err = fmt.Fprintf(stdout, "tasks %d workers %d window %d seconds %.3f tasks/s %.0f\n", n, c.Size()-1, w, t, float64(n)/t)
	return err
}

// A peer sends and receives 8-byte messages (empty ones to stop) in one pattern of MPI calls.
// Not safe for concurrent use.
type peer interface {
	// send sends v to rank to with tag; the peer may still be sending it when send returns.
	send(v uint64, to, tag int) error
	// recv waits for a message from source (or mpi.AnySource), of any tag: its 8 bytes, or 0
	// for an empty stop message.
	recv(source int) (v uint64, st mpi.Status, err error)
	// flush completes every send.
	flush() error
}

// manage is rank 0: it deals n tasks to workers (ranks 1 to workers), w in flight per worker,
// checks the sum of the replies, and stops the workers.
func manage(p peer, workers, n, w int) error {
	next, done, sum := 0, 0, uint64(0)
	for range w {
		for k := 1; k <= workers && next < n; k++ {
			if err := p.send(uint64(next), k, tagTask); err != nil {
				return err
			}
			next++
		}
	}
	for done < n {
		v, st, err := p.recv(mpi.AnySource)
		if err != nil {
			return err
		}
		if st.Tag != tagReply || st.Count != 8 {
			return fmt.Errorf("rank %d sent tag %d with %d bytes, want a reply (tag %d, 8 bytes)", st.Source, st.Tag, st.Count, tagReply)
		}
		done++
		sum += v
		if next < n {
			if err := p.send(uint64(next), st.Source, tagTask); err != nil {
				return err
			}
			next++
		}
	}
	for k := 1; k <= workers; k++ {
		if err := p.send(0, k, tagStop); err != nil {
			return err
		}
	}
	if want := uint64(n) * uint64(n); sum != want { // the replies 2t+1 for t < n sum to n^2
		return fmt.Errorf("replies sum to %d, want %d", sum, want)
	}
	return p.flush()
}

// serve is a worker: it answers each task t with 2t+1 until rank 0 says stop.
func serve(p peer) error {
	for {
		v, st, err := p.recv(0)
		if err != nil {
			return err
		}
		if st.Tag == tagStop {
			return p.flush()
		}
		if st.Tag != tagTask || st.Count != 8 {
			return fmt.Errorf("rank 0 sent tag %d with %d bytes, want a task (tag %d, 8 bytes)", st.Tag, st.Count, tagTask)
		}
		if err := p.send(2*v+1, 0, tagReply); err != nil {
			return err
		}
	}
}

// blocking is the pattern of cmanager.c: MPI_Send, and MPI_Recv into an 8-byte buffer.
type blocking struct {
	c       *mpi.Communicator
	out, in [8]byte
}

func (b *blocking) send(v uint64, to, tag int) error {
	if tag == tagStop {
		return b.c.Send(nil, to, tag)
	}
	binary.LittleEndian.PutUint64(b.out[:], v)
	return b.c.Send(b.out[:], to, tag)
}

func (b *blocking) recv(source int) (uint64, mpi.Status, error) {
	data, st, err := b.c.RecvFixed(b.in[:], source, mpi.AnyTag)
	return value(data), st, err
}

func (b *blocking) flush() error { return nil }

// polling is the engine's pattern: IsendTest, and TryRecv in a loop that tests the sends
// still in flight between polls.
type polling struct {
	c        *mpi.Communicator
	in       []byte     // receive buffer
	inFlight []*message // sent, not yet complete
	free     []*message // complete, for reuse
}

// message is a send: its Request and its buffer (IsendTest copies 8 bytes into the
// Request's C memory, as the engine's small sends are; the buffer is reused once the send is
// complete all the same).
type message struct {
	req mpi.Request
	buf [8]byte
}

func (p *polling) send(v uint64, to, tag int) error {
	var m *message
	if k := len(p.free); k > 0 {
		m, p.free = p.free[k-1], p.free[:k-1]
	} else {
		m = &message{}
	}
	buf := m.buf[:]
	if tag == tagStop {
		buf = nil
	}
	binary.LittleEndian.PutUint64(m.buf[:], v)
	done, err := p.c.IsendTest(&m.req, buf, to, tag)
	if err != nil {
		return err
	}
	if done {
		p.free = append(p.free, m)
	} else {
		p.inFlight = append(p.inFlight, m)
	}
	return nil
}

// progress tests the sends in flight, in order, and frees the complete ones.
func (p *polling) progress() error {
	k := 0
	for _, m := range p.inFlight {
		done, err := m.req.Test()
		if err != nil {
			return err
		}
		if done {
			p.free = append(p.free, m)
		} else {
			p.inFlight[k] = m
			k++
		}
	}
	clear(p.inFlight[k:])
	p.inFlight = p.inFlight[:k]
	return nil
}

func (p *polling) recv(source int) (uint64, mpi.Status, error) {
	for {
		if err := p.progress(); err != nil {
			return 0, mpi.Status{}, err
		}
		data, st, ok, err := p.c.TryRecv(p.in, source, mpi.AnyTag)
		if err != nil || ok {
			return value(data), st, err
		}
	}
}

func (p *polling) flush() error {
	for _, m := range p.inFlight {
		if _, err := m.req.Wait(); err != nil {
			return err
		}
	}
	p.inFlight = p.inFlight[:0]
	return nil
}

// value is an 8-byte message's value, or 0 for any other length (the caller checks it).
func value(data []byte) uint64 {
	if len(data) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(data)
}
