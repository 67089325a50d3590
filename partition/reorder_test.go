package partition

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/frame"
)

// arrival is one Put (or PutGap, when gap) in a scenario.
type arrival struct {
	seq  uint64
	data string
	gap  bool
}

// releaseCase is a scenario: arrivals, then every entry that can be released.
type releaseCase struct {
	name        string
	first       uint64
	mem         int64
	arrivals    []arrival
	wantKept    []bool   // per arrival that is not a gap
	wantSpilled []uint64 // seqs released from the spill file
}

func TestReorderReleasesInOrder(t *testing.T) {
	for _, tc := range []releaseCase{
		{name: "in order", mem: 100,
			arrivals: []arrival{{seq: 0, data: "a"}, {seq: 1, data: "b"}, {seq: 2, data: "c"}},
			wantKept: []bool{true, false, false}},
		{name: "reversed", first: 7, mem: 100,
			arrivals: []arrival{{seq: 9, data: "c"}, {seq: 8, data: "b"}, {seq: 7, data: "a"}},
			wantKept: []bool{false, false, true}},
		{name: "gaps", mem: 100,
			arrivals: []arrival{{seq: 1, gap: true}, {seq: 2, data: "c"}, {seq: 0, gap: true}},
			wantKept: []bool{false}},
		{name: "over the bound spills the incoming result", mem: 4,
			arrivals: []arrival{{seq: 1, data: "bbb"}, {seq: 3, data: "dd"}, {seq: 2, data: "c"}, {seq: 0, data: "a"}},
			wantKept: []bool{false, false, false, true}, wantSpilled: []uint64{3}},
		{name: "the head is never spilled", mem: 1,
			arrivals: []arrival{{seq: 2, data: "c"}, {seq: 0, data: "a big head"}, {seq: 1, data: "b"}},
			wantKept: []bool{false, true, false}, wantSpilled: []uint64{1}},
		{name: "empty results take no memory", mem: 1,
			arrivals: []arrival{{seq: 3, data: "d"}, {seq: 2}, {seq: 1}, {seq: 0}},
			wantKept: []bool{false, false, false, true}},
		{name: "wider than the ring", first: 100, mem: 1,
			arrivals: []arrival{{seq: 300, data: "z"}, {seq: 101, data: "y"}, {seq: 100 + 3*initialRing, gap: true}, {seq: 100, data: "x"}},
			wantKept: []bool{false, false, true}, wantSpilled: []uint64{101}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t) })
	}
}

func (tc releaseCase) run(t *testing.T) {
	r := NewReorder(ReorderConfig{First: tc.first, MemBytes: tc.mem, Dir: t.TempDir()})
	defer func() { require.NoError(t, r.Close()) }()
	want := map[uint64]arrival{}
	var kept []bool
	for _, a := range tc.arrivals {
		want[a.seq] = a
		if a.gap {
			require.NoError(t, r.PutGap(a.seq))
			continue
		}
		k, err := r.Put(a.seq, []byte(a.data))
		require.NoError(t, err)
		kept = append(kept, k)
	}
	require.Equal(t, tc.wantKept, kept)
	var spilled []uint64
	for _, seq := range slices.Sorted(maps.Keys(want)) {
		if seq != r.Next() {
			break // a scenario may leave some entries waiting
		}
		e, ok, err := r.Pop()
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, Entry{Seq: seq, Data: e.Data, Gap: want[seq].gap, Spilled: e.Spilled}, e)
		require.Equal(t, want[seq].data, string(e.Data))
		if e.Spilled {
			spilled = append(spilled, seq)
		}
	}
	require.Equal(t, tc.wantSpilled, spilled)
	_, ok, err := r.Pop()
	require.NoError(t, err)
	require.False(t, ok)
}

func TestReorderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		gap  bool // refuse a PutGap rather than a Put
		seq  uint64
		want string
	}{
		{name: "released", seq: 10, want: "chunk 10 already released"},
		{name: "released gap", gap: true, seq: 9, want: "chunk 9 already released"},
		{name: "held in memory", seq: 12, want: "chunk 12 received twice"},
		{name: "held spilled", gap: true, seq: 13, want: "chunk 13 received twice"},
		{name: "held gap", seq: 14, want: "chunk 14 received twice"},
		{name: "too far ahead", seq: 11 + MaxReorderSpan, want: "past the next to release"},
		{name: "far too far ahead", gap: true, seq: 1<<64 - 1, want: "past the next to release"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReorder(ReorderConfig{First: 10, MemBytes: 3, Dir: t.TempDir()})
			defer func() { require.NoError(t, r.Close()) }()
			mustPut(t, r, 10, "a", true)
			mustPop(t, r, 10, "a", false)
			mustPut(t, r, 12, "ccc", true)
			mustPut(t, r, 13, "d", false)
			require.NoError(t, r.PutGap(14))
			var err error
			if tc.gap {
				err = r.PutGap(tc.seq)
			} else {
				_, err = r.Put(tc.seq, []byte("x"))
			}
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, 3, r.Held(), "a refused entry is not stored")
			require.Less(t, r.Stats().MaxSpan, uint64(8), "a refused seq does not grow the index")
		})
	}
}

func TestReorderSlotSize(t *testing.T) {
	require.Equal(t, uintptr(reorderSlotBytes), unsafe.Sizeof(slot{}), "the docs say what a slot of the index takes")
}

// spillOne returns a Reorder in dir holding chunk 1 ("spilled") in its spill file, chunk 0
// not yet arrived.
func spillOne(t *testing.T, dir string) *Reorder {
	r := NewReorder(ReorderConfig{MemBytes: 1, Dir: dir})
	mustPut(t, r, 1, "spilled", false)
	return r
}

func TestReorderSpillIOErrors(t *testing.T) {
	t.Run("no such directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "missing")
		r := NewReorder(ReorderConfig{MemBytes: 1, Dir: dir})
		mustPut(t, r, 2, "b", true)
		_, err := r.Put(1, []byte("spill me"))
		require.ErrorContains(t, err, "reorder: spill chunk 1")
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Equal(t, 1, r.Held())
		mustPut(t, r, 0, "head", true) // the in-memory path goes on
		require.NoError(t, r.Close())
	})
	t.Run("write to a read-only file", func(t *testing.T) {
		r := spillOne(t, t.TempDir())
		defer func() { require.NoError(t, r.Close()) }()
		restore := swapSpillFile(t, r, readOnlyCopy(t, "spilled"))
		defer restore()
		_, err := r.Put(2, []byte("more"))
		require.ErrorContains(t, err, "reorder: spill chunk 2")
		require.Equal(t, 1, r.Held())
	})
	t.Run("read from a closed file", func(t *testing.T) {
		r := spillOne(t, t.TempDir())
		defer func() { require.NoError(t, r.Close()) }()
		mustPut(t, r, 0, "a", true)
		mustPop(t, r, 0, "a", false)
		closed := readOnlyCopy(t, "spilled")
		require.NoError(t, closed.Close())
		restore := swapSpillFile(t, r, closed)
		_, ok, err := r.Pop()
		require.ErrorContains(t, err, "reorder: read back chunk 1")
		require.ErrorIs(t, err, os.ErrClosed)
		require.False(t, ok)
		restore()
		mustPop(t, r, 1, "spilled", true) // a failed Pop changed nothing
	})
	t.Run("truncate a read-only file", func(t *testing.T) {
		r := spillOne(t, t.TempDir())
		defer func() { require.NoError(t, r.Close()) }()
		mustPut(t, r, 0, "a", true)
		mustPop(t, r, 0, "a", false)
		restore := swapSpillFile(t, r, readOnlyCopy(t, "spilled"))
		_, _, err := r.Pop() // the read succeeds, reclaiming the space does not
		require.ErrorContains(t, err, "reorder: read back chunk 1")
		require.Equal(t, uint64(1), r.Next())
		restore()
		mustPop(t, r, 1, "spilled", true)
		require.Zero(t, r.spill.bytes)
	})
}

// readOnlyCopy returns a file holding content, open read-only.
func readOnlyCopy(t *testing.T, content string) *os.File {
	name := filepath.Join(t.TempDir(), "copy")
	require.NoError(t, os.WriteFile(name, []byte(content), 0o600))
	f, err := os.Open(name)
	require.NoError(t, err)
	return f
}

// swapSpillFile puts f in place of r's only spill file and returns the function that puts
// the spill file back (and closes f).
func swapSpillFile(t *testing.T, r *Reorder, f *os.File) (restore func()) {
	require.Len(t, r.spill.segs, 1)
	seg := r.spill.segs[0]
	orig := seg.f
	seg.f = f
	return func() {
		if seg.f == f {
			seg.f = orig
			_ = f.Close() // already closed in one test
		}
	}
}

func TestReorderLeavesNothingInDir(t *testing.T) {
	dir := t.TempDir()
	r := NewReorder(ReorderConfig{MemBytes: 1, Dir: dir})
	r.spill.segBytes = 4 // several segments
	for seq := uint64(1); seq < 20; seq++ {
		mustPut(t, r, seq, "result", false)
	}
	require.Greater(t, len(r.spill.segs), 1)
	requireEmptyDir(t, dir) // unlinked as soon as created
	segs := r.spill.segs
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close twice")
	for _, seg := range segs {
		_, err := seg.f.Stat()
		require.ErrorIs(t, err, os.ErrClosed)
	}
	requireEmptyDir(t, dir)
	_, err := r.Put(0, nil)
	require.ErrorIs(t, err, errReorderClosed)
	require.ErrorIs(t, r.PutGap(0), errReorderClosed)
	_, _, err = r.Pop()
	require.ErrorIs(t, err, errReorderClosed)
}

func TestReorderNoSpillNoFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing") // creating a file here would fail
	r := NewReorder(ReorderConfig{MemBytes: 10, Dir: dir})
	for seq := uint64(9); seq < 10; seq-- {
		mustPut(t, r, seq, "x", true)
	}
	for seq := uint64(0); seq < 10; seq++ {
		mustPop(t, r, seq, "x", false)
	}
	require.Empty(t, r.spill.segs)
	require.NoError(t, r.Close())
}

func requireEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, ents)
}

func TestReorderReclaimsSpillSpace(t *testing.T) {
	t.Run("stalls one after another", func(t *testing.T) {
		r := NewReorder(ReorderConfig{MemBytes: 10, Dir: t.TempDir()})
		defer func() { require.NoError(t, r.Close()) }()
		const stall, size = 50, 10
		for head := uint64(0); head < 20*stall; head += stall {
			for seq := head + 1; seq < head+stall; seq++ {
				putFor(t, r, seq, size)
			}
			require.Positive(t, r.spill.bytes)
			putFor(t, r, head, size)
			popAll(t, r)
			require.Zero(t, r.spill.bytes)
			fi, err := r.spill.segs[0].f.Stat()
			require.NoError(t, err)
			require.Zero(t, fi.Size(), "truncated once all is read back")
		}
		require.Len(t, r.spill.segs, 1)
		require.LessOrEqual(t, r.Stats().MaxDiskBytes, int64(stall*size))
	})
	t.Run("stalls that overlap", func(t *testing.T) {
		// Every 50th chunk comes in 120 chunks late, so some chunk always stalls the head
		// and the spill never empties: segments free as the head passes them.
		r := NewReorder(ReorderConfig{MemBytes: 1, Dir: t.TempDir()})
		defer func() { require.NoError(t, r.Close()) }()
		const chunks, late, size = 10000, 120, 10
		r.spill.segBytes = 100
		for i := uint64(0); i < chunks+late; i++ {
			if i < chunks && i%50 != 0 {
				putFor(t, r, i, size)
			}
			if i >= late && (i-late)%50 == 0 {
				putFor(t, r, i-late, size)
			}
			popAll(t, r)
		}
		require.Equal(t, uint64(chunks), r.Next())
		st := r.Stats()
		require.Greater(t, st.SpilledBytes, uint64(chunks*size/2))
		// Without reclaiming, the files would hold every result spilled (about 100,000
		// bytes in 1,000 segments); unread ones stay under late x size = 1,200 bytes.
		require.LessOrEqual(t, len(r.spill.segs), 30)
		require.LessOrEqual(t, st.MaxDiskBytes, int64(30*(100+size)))
		require.Zero(t, r.spill.bytes)
	})
}

func putFor(t *testing.T, r *Reorder, seq uint64, size int) {
	t.Helper()
	_, err := r.Put(seq, resultFor(seq, size))
	require.NoError(t, err)
}

func popAll(t *testing.T, r *Reorder) {
	t.Helper()
	for {
		e, ok, err := r.Pop()
		require.NoError(t, err)
		if !ok {
			return
		}
		require.True(t, e.Gap || bytes.Equal(resultFor(e.Seq, len(e.Data)), e.Data), "chunk %d", e.Seq)
	}
}

// resultFor is the size-byte result of chunk seq in tests: different for every seq.
func resultFor(seq uint64, size int) []byte {
	out := make([]byte, size)
	for i := range out {
		out[i] = byte(seq>>(8*(i%8))) + byte(i)
	}
	return out
}

// mustPut stores data as chunk seq's result and checks where it went: in memory (kept as
// the caller's buffer when its turn has come, else copied) or, wantMem false, to the file.
func mustPut(t *testing.T, r *Reorder, seq uint64, data string, wantMem bool) {
	t.Helper()
	head, spilled := seq == r.Next(), r.Stats().Spilled
	kept, err := r.Put(seq, []byte(data))
	require.NoError(t, err)
	require.Equal(t, head, kept, "kept chunk %d", seq)
	require.Equal(t, wantMem, r.Stats().Spilled == spilled, "chunk %d in memory", seq)
}

func mustPop(t *testing.T, r *Reorder, seq uint64, data string, wantSpilled bool) {
	t.Helper()
	e, ok, err := r.Pop()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, Entry{Seq: seq, Data: []byte(data), Spilled: wantSpilled}, e)
}

// checker drives a Reorder and a naive oracle (a map and a sort) side by side and fails the
// test when they disagree, or when the Reorder breaks its memory bound or buffer contract.
type checker struct {
	t       testing.TB
	r       *Reorder
	next    uint64            // the oracle's next seq to release
	held    map[uint64][]byte // the oracle's waiting entries (nil for a gap)
	kept    map[uint64][]byte // the caller's buffers r kept, by seq
	arrived map[uint64]bool   // every seq stored
	out     []uint64          // seqs released, in order
}

func newChecker(t testing.TB, cfg ReorderConfig) *checker {
	return &checker{t: t, r: NewReorder(cfg), next: cfg.First,
		held: map[uint64][]byte{}, kept: map[uint64][]byte{}, arrived: map[uint64]bool{}}
}

// refused is the oracle's word on storing seq: the error it expects, or "".
func (c *checker) refused(seq uint64) string {
	switch {
	case seq < c.next:
		return "already released"
	case c.arrived[seq]:
		return "received twice"
	}
	return ""
}

// put stores result out of seq (a gap when gap) in both and checks the answer.
func (c *checker) put(seq uint64, out []byte, gap bool) {
	want := c.refused(seq)
	var kept bool
	var err error
	if gap {
		err = c.r.PutGap(seq)
	} else {
		kept, err = c.r.Put(seq, out)
	}
	if want != "" {
		require.ErrorContains(c.t, err, want, "chunk %d", seq)
		return
	}
	require.NoError(c.t, err)
	c.arrived[seq] = true
	switch {
	case gap:
		c.held[seq] = nil
	case kept:
		c.held[seq], c.kept[seq] = bytes.Clone(out), out
	default:
		c.held[seq] = bytes.Clone(out)
		for i := range out {
			out[i] ^= 0xff // the caller reuses a buffer r did not keep
		}
	}
	c.checkBounds()
}

// checkBounds checks the counts and that memory beyond the head result stays in the bound.
func (c *checker) checkBounds() {
	require.Equal(c.t, len(c.held), c.r.Held())
	head := int64(0)
	if s := c.r.ring[c.r.next&uint64(len(c.r.ring)-1)]; s.state == stateMem {
		head = int64(len(s.data))
	}
	require.LessOrEqual(c.t, c.r.memBytes-head, c.r.memMax)
}

// pop releases one entry from both and checks they agree.
func (c *checker) pop() {
	e, ok, err := c.r.Pop()
	require.NoError(c.t, err)
	want, has := c.held[c.next]
	require.Equal(c.t, has, ok, "chunk %d released", c.next)
	if !ok {
		return
	}
	require.Equal(c.t, c.next, e.Seq)
	require.Equal(c.t, want == nil, e.Gap)
	require.Equal(c.t, string(want), string(e.Data), "chunk %d", e.Seq)
	if buf, wasKept := c.kept[e.Seq]; wasKept {
		require.False(c.t, e.Spilled)
		require.Equal(c.t, unsafe.SliceData(buf), unsafe.SliceData(e.Data), "a kept buffer comes back as itself")
		delete(c.kept, e.Seq)
	}
	delete(c.held, c.next)
	c.out = append(c.out, c.next)
	c.next++
	c.checkBounds()
}

// drain pops what is ready and checks the order released is the sorted order of arrivals up
// to the first seq missing.
func (c *checker) drain() {
	for {
		if _, ok := c.held[c.next]; !ok {
			break
		}
		c.pop()
	}
	c.pop() // the next has not arrived: nothing is released
	all := slices.Sorted(maps.Keys(c.arrived))
	require.True(c.t, slices.Equal(all[:len(c.out)], c.out), "released %v of %v", c.out, all)
}

// close closes the Reorder and checks nothing is left in dir.
func (c *checker) close(dir string) {
	require.NoError(c.t, c.r.Close())
	ents, err := os.ReadDir(dir)
	require.NoError(c.t, err)
	require.Empty(c.t, ents)
}

func TestReorderMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(300)
		mem := []int64{1, 16, 64, 1 << 20}[rng.IntN(4)]
		maxSize, gapRate, jumble := 1+rng.IntN(40), rng.Float64()/4, 1+rng.IntN(2*n)
		first := []uint64{0, 1 << 62, 1<<64 - 400}[rng.IntN(3)]
		t.Run(fmt.Sprintf("round=%d/n=%d/mem=%d/jumble=%d", round, n, mem, jumble), func(t *testing.T) {
			dir := t.TempDir()
			c := newChecker(t, ReorderConfig{First: first, MemBytes: mem, Dir: dir})
			if rng.IntN(2) == 0 {
				c.r.spill.segBytes = int64(1 + rng.IntN(200))
			}
			for _, seq := range jumbled(rng, n, jumble) {
				if rng.Float64() < gapRate {
					c.put(first+seq, nil, true)
				} else {
					c.put(first+seq, resultFor(seq, rng.IntN(maxSize+1)), false)
				}
				for range rng.IntN(3) {
					c.pop()
				}
			}
			c.drain()
			require.Equal(t, first+uint64(n), c.r.Next())
			require.Zero(t, c.r.spill.held)
			require.Zero(t, c.r.spill.bytes, "every segment truncated")
			c.close(dir)
		})
	}
}

// jumbled returns 0..n-1 in an order where each seq comes at most about jumble places from
// its own (jumble >= n: any order).
func jumbled(rng *rand.Rand, n, jumble int) []uint64 {
	keys := make([]float64, n)
	seqs := make([]uint64, n)
	for i := range seqs {
		seqs[i] = uint64(i)
		keys[i] = float64(i) + rng.Float64()*float64(jumble)
	}
	slices.SortFunc(seqs, func(a, b uint64) int {
		if keys[a] < keys[b] {
			return -1
		}
		return 1
	})
	return seqs
}

// FuzzReorder drives Put, PutGap and Pop from the fuzz bytes against the oracle: the first
// byte picks the memory bound, then each pair of bytes is one call (duplicates and released
// seqs included) and the size of its result.
func FuzzReorder(f *testing.F) {
	f.Add([]byte{1, 4, 3, 0, 5, 2, 6, 3, 0})
	f.Add([]byte{0, 8, 9, 12, 4, 0, 1, 3, 3, 3, 3})
	f.Add([]byte{200, 1, 40, 5, 40, 9, 40, 0, 40, 3, 0})
	dir := f.TempDir() // one for every input: each leaves it empty
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 1000 {
			return
		}
		const first = 3 // seqs below it are refused too
		c := newChecker(t, ReorderConfig{First: first, MemBytes: int64(data[0]), Dir: dir})
		c.r.spill.segBytes = int64(data[0]%64) + 64 // a few results a segment
		for i := 1; i+1 < len(data); i += 2 {
			op, arg := data[i]%4, data[i+1]
			seq := c.next + uint64(data[i]>>2) - 2 // a seq from next-2 to next+61
			switch op {
			case 0, 1:
				c.put(seq, resultFor(seq, int(arg%48)), false)
			case 2:
				c.put(seq, nil, true)
			default:
				for range arg%4 + 1 {
					c.pop()
				}
			}
		}
		c.drain()
		c.close(dir)
	})
}

// benchReorder measures one Put and its share of Pops with results arriving in blocks of
// window chunks, each block in reverse (the head last), the bytes held bounded by mem.
func benchReorder(b *testing.B, window int, mem int64) {
	r := NewReorder(ReorderConfig{MemBytes: mem, Dir: b.TempDir()})
	defer func() { require.NoError(b, r.Close()) }()
	bufs := make([][]byte, window)
	for i := range bufs {
		bufs[i] = make([]byte, 64)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		block := uint64(i / window * window)
		seq := block + uint64(window-1-i%window)
		if block+uint64(window) > uint64(b.N) {
			seq = uint64(i) // the last, partial block in order
		}
		if _, err := r.Put(seq, bufs[seq%uint64(window)]); err != nil {
			b.Fatal(err)
		}
		for {
			_, ok, err := r.Pop()
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
		}
	}
	if r.Held() != 0 {
		b.Fatalf("%d entries left", r.Held())
	}
}

func BenchmarkReorderInOrder(b *testing.B)  { benchReorder(b, 1, 0) }
func BenchmarkReorderWindow64(b *testing.B) { benchReorder(b, 64, 0) }
func BenchmarkReorderSpill(b *testing.B)    { benchReorder(b, 64, 64*16) }

// TestReorderPutFrame: a result handed over in its frame comes back in its turn from the
// frame itself, not a copy, with the result's bytes only.
func TestReorderPutFrame(t *testing.T) {
	r := NewReorder(ReorderConfig{MemBytes: 100, Dir: t.TempDir()})
	defer r.Close()
	buf := append(frame.Get(8)[:0], "hdr:late"...)
	require.NoError(t, r.PutFrame(1, buf, 4))
	require.EqualValues(t, 4, r.memBytes)
	mustPut(t, r, 0, "first", true)
	mustPop(t, r, 0, "first", false)
	e, ok, err := r.Pop()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "late", string(e.Data))
	require.Equal(t, unsafe.SliceData(buf[4:]), unsafe.SliceData(e.Data), "the frame itself")
	require.Zero(t, r.memBytes)

	// Past the memory bound it spills like any result, and the frame is given back.
	big := append(frame.Get(200)[:0], make([]byte, 200)...)
	require.NoError(t, r.PutFrame(3, big, 50))
	require.EqualValues(t, 1, r.Stats().Spilled)
	require.Error(t, r.PutFrame(3, append(frame.Get(8)[:0], "dup"...), 0), "a duplicate")
}
