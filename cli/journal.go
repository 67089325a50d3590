package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/mw-hpc/mw/internal/quote"
	"github.com/mw-hpc/mw/rank"
)

// The journal is a text file that the manager appends to, one line per chunk, as the
// ordered output advances, writing each line right after the chunk's output reached the
// file. A kill -9 of the whole job therefore loses at most the chunks in flight, and
// --resume continues from the last line: it truncates the output to the recorded offset,
// checks that the input's first chunks are still the ones the journal saw, and issues the
// rest.
//
//	mw-journal 1 <workload> <key>   header; key: sha256 of the flags that shape the output
//	c <seq> <offset> <crc> [items]  chunk seq is written; the output is offset bytes long;
//	                                crc is the CRC-32C of the chunk's input, in hex; items
//	                                its size when --chunk auto chose it (replayed on resume)
//	x <seq> <offset> <crc> [items]  chunk seq failed every try and --keep-going left it
//	                                out (offset as after the chunk before); a resume
//	                                leaves it out too, and reports it
//	e <offset>                      the output's end (what a Sink writes after the last
//	                                chunk, rank.EndSink) is written; the output is offset
//	                                bytes long (until a later chunk record: a resume that
//	                                computed chunks a --keep-going run left out)
//	r <offset>                      the output is complete, offset bytes long, and about
//	                                to be synced and renamed into place (until a later
//	                                chunk or end record)
//	done <chunks> <offset>          the job completed
//
// A last line without its newline (a kill in the middle of a write) is ignored.

const journalMagic = "mw-journal"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journalRecord is one "c" line.
type journalRecord struct {
	seq    uint64
	offset int64
	crc    uint32
	items  int  // items in the chunk when the engine sized it (--chunk auto), else 0
	left   bool // an "x" record: --keep-going left the chunk out
}

// journalState is what a journal file says.
type journalState struct {
	workload, key string
	records       []journalRecord
	ended         bool  // an "e" record: the output's end is written
	endOffset     int64 // the output's length after its end
	renaming      bool  // an "r" record, the last but for done: the output was complete
	done          bool
	doneOffset    int64
}

// final is the output's length once complete, as far as the journal knows: after its end
// when that is written, else after the last chunk.
func (s *journalState) final() int64 {
	if s.ended {
		return s.endOffset
	}
	_, off := s.next()
	return off
}

// next is the first chunk not yet written, and offset the output's length after the
// chunks before it.
func (s *journalState) next() (uint64, int64) {
	if len(s.records) == 0 {
		return 0, 0
	}
	last := s.records[len(s.records)-1]
	return last.seq + 1, last.offset
}

// nextOrZero is next() on a possibly nil state (a fresh journal).
func (s *journalState) nextOrZero() (uint64, int64) {
	if s == nil {
		return 0, 0
	}
	return s.next()
}

// parseJournal reads a journal. Errors name the line.
func parseJournal(r io.Reader) (*journalState, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		data = data[:i+1] // drop a partial last line
	}
	st := &journalState{}
	for n, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f := strings.Fields(line)
		if n == 0 {
			err = st.header(f)
		} else {
			err = st.record(f)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %v: %s", n+1, err, quote.Clip(line))
		}
	}
	if st.workload == "" {
		return nil, errors.New("line 1: empty journal")
	}
	return st, nil
}

// header reads the journal's first line.
func (s *journalState) header(f []string) error {
	if len(f) != 4 || f[0] != journalMagic || f[1] != "1" {
		return errors.New("not an mw journal (version 1) header")
	}
	s.workload, s.key = f[2], f[3]
	return nil
}

// record applies one record after the header, checking it against those before it.
func (s *journalState) record(f []string) error {
	if s.done {
		return errors.New("record after done")
	}
	switch {
	case (len(f) == 4 || len(f) == 5) && (f[0] == "c" || f[0] == "x"):
		return s.chunkRecord(f)
	case len(f) == 2 && f[0] == "e":
		// A resumed run that had nothing left to compute writes its end again.
		off, err := strconv.ParseInt(f[1], 10, 64)
		if _, prev := s.next(); err != nil || off < prev {
			return errors.New("malformed end record")
		}
		s.ended, s.endOffset, s.renaming = true, off, false
	case len(f) == 2 && f[0] == "r":
		off, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || off != s.final() {
			return errors.New("rename record does not match the chunks before it")
		}
		s.renaming = true
	case len(f) == 3 && f[0] == "done":
		chunks, err1 := strconv.ParseUint(f[1], 10, 64)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		next, _ := s.next()
		if err1 != nil || err2 != nil || chunks != next || off != s.final() {
			return errors.New("done record does not match the chunks before it")
		}
		s.done, s.doneOffset = true, off
	default:
		return errors.New("unknown record")
	}
	return nil
}

// chunkRecord applies a chunk's record: "c SEQ OFFSET CRC [ITEMS]" for a chunk written,
// "x ..." for one left out.
func (s *journalState) chunkRecord(f []string) error {
	seq, err1 := strconv.ParseUint(f[1], 10, 64)
	off, err2 := strconv.ParseInt(f[2], 10, 64)
	crc, err3 := strconv.ParseUint(f[3], 16, 32)
	items := 0
	var err4 error
	if len(f) == 5 {
		items, err4 = strconv.Atoi(f[4])
		if err4 == nil && items < 1 {
			err4 = errors.New("items")
		}
	}
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || off < 0 {
		return errors.New("malformed chunk record")
	}
	want, prev := s.next()
	if seq != want {
		return fmt.Errorf("chunk %d where %d was expected", seq, want)
	}
	if off < prev {
		return errors.New("output offset goes backwards")
	}
	if f[0] == "x" && len(s.records) > 0 && off != prev {
		return errors.New("a chunk left out wrote bytes") // (the first may follow a header)
	}
	s.records = append(s.records, journalRecord{seq, off, uint32(crc), items, f[0] == "x"})
	// A chunk after an end: the run that wrote the end had left chunks out
	// (--keep-going), and a resume computed them; its end comes again.
	s.ended, s.renaming = false, false
	return nil
}

// notOutputFlags do not change the output's bytes: a resume may change them.
var notOutputFlags = map[string]bool{
	"resume": true, "journal": true, "window": true, "threads": true, "mode": true,
	"backups": true, "quiet": true, "stats": true, "trace": true, "retries": true, "keep-going": true,
	"status": true, "status-every": true,
}

// journalKey hashes the workload's name, the flags set on the command line that shape the
// output, and the positional arguments.
func journalKey(name string, fs *flag.FlagSet) string {
	var parts []string
	fs.Visit(func(f *flag.Flag) {
		if !notOutputFlags[f.Name] {
			parts = append(parts, f.Name+"="+f.Value.String())
		}
	})
	sort.Strings(parts)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", name, strings.Join(parts, "\x00"), strings.Join(fs.Args(), "\x00"))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// journal is the open journal of a run on the manager.
type journal struct {
	path   string
	f      *os.File
	prior  *journalState  // what --resume found; nil for a fresh run
	header string         // a fresh run's header, which start writes
	sink   *journaledSink // this run's journaling sink
}

// openJournal opens the journal: with resume and an existing, non-empty file, it reads it
// and checks that it belongs to this command; otherwise the run is fresh, and start empties
// the file and writes the header once the workload's files are open. It holds an exclusive
// lock on the file for the run, so two runs never share a journal.
func openJournal(path, name, key string, resume bool) (*journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s is in use by another run (%v)", path, err)
	}
	j := &journal{path: path, f: f}
	fail := func(err error) (*journal, error) {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	var data []byte
	if resume {
		if data, err = io.ReadAll(f); err != nil {
			return fail(err)
		}
	}
	if len(data) > 0 {
		st, err := parseJournal(bytes.NewReader(data))
		if err != nil {
			return fail(err)
		}
		if st.workload != name || st.key != key {
			f.Close()
			return nil, fmt.Errorf("journal %s was written by a different command (%s with other flags or input); run the same command, or remove the journal to start over", path, st.workload)
		}
		j.prior = st
		// Drop a partial last line so that new lines start on a line of their own.
		if err := f.Truncate(int64(bytes.LastIndexByte(data, '\n') + 1)); err != nil {
			return fail(err)
		}
		_, err = f.Seek(0, io.SeekEnd)
	} else {
		j.header = fmt.Sprintf("%s 1 %s %s\n", journalMagic, name, key)
	}
	if err != nil {
		return fail(err)
	}
	return j, nil
}

// start empties a fresh journal (one with no prior run to resume) and writes its header.
func (j *journal) start() error {
	err := j.f.Truncate(0)
	if err == nil {
		_, err = j.f.WriteString(j.header)
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) write(format string, args ...any) error {
	if _, err := fmt.Fprintf(j.f, format, args...); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return nil
}

// journaledSource skips the chunks a resumed journal has written, checking that their input
// is unchanged, and numbers the rest from 0 for the engine. It remembers each issued
// chunk's CRC for the journal line.
type journaledSource struct {
	src   rank.Source
	sized rank.SizedSource // src, when the engine sizes its chunks
	skip  []journalRecord
	crcs  map[uint64]uint32
	items map[uint64]int
}

// journaledSizedSource is a journaledSource over a SizedSource: the engine keeps sizing.
type journaledSizedSource struct{ *journaledSource }

func (s journaledSizedSource) NextN(n int) (rank.Chunk, error) { return s.next(n) }
func (s journaledSizedSource) Remaining() int64                { return s.sized.Remaining() }

func (s *journaledSource) Next() (rank.Chunk, error) { return s.next(0) }

// read gets one chunk of the wrapped source: of n items when sized.
func (s *journaledSource) read(n int) (rank.Chunk, error) {
	if s.sized != nil {
		return s.sized.NextN(max(n, 1))
	}
	return s.src.Next()
}

func (s *journaledSource) next(n int) (rank.Chunk, error) {
	for len(s.skip) > 0 {
		c, err := s.read(s.skip[0].items)
		if err == io.EOF {
			return c, fmt.Errorf("resume: the input ends before chunk %d, which the journal recorded: the input changed", s.skip[0].seq)
		}
		if err != nil {
			return c, err
		}
		if c.Seq != s.skip[0].seq || crc32.Checksum(c.Data, castagnoli) != s.skip[0].crc {
			return c, fmt.Errorf("resume: chunk %d of the input differs from the one the journal recorded: the input changed; remove the journal to start over", c.Seq)
		}
		s.skip = s.skip[1:]
	}
	c, err := s.read(n)
	if err != nil {
		return c, err
	}
	s.crcs[c.Seq] = crc32.Checksum(c.Data, castagnoli)
	if s.sized != nil {
		s.items[c.Seq] = c.Items
	}
	return c, nil
}

// journaledSink writes each result through the workload's Sink, then its journal line.
type journaledSink struct {
	sink    rank.Sink
	src     *journaledSource
	out     *Output
	j       *journal
	last    uint64 // the last chunk journaled, when any is
	written bool
}

var (
	_ rank.EndSink      = (*journaledSink)(nil)
	_ rank.GapSink      = (*journaledSink)(nil)
	_ rank.ArrivalSink  = (*journaledSink)(nil)
	_ rank.TraceLabeler = (*journaledSink)(nil)
)

func (s *journaledSink) Put(seq uint64, out []byte) error {
	perr := s.sink.Put(seq, out)
	if perr != nil && !errors.Is(perr, rank.ErrDone) && !errors.Is(perr, rank.ErrDrain) {
		return perr
	}
	if err := s.record("c", seq); err != nil {
		return err
	}
	return perr
}

// Arrived implements rank.ArrivalSink for a workload's Sink that is one.
func (s *journaledSink) Arrived(seq uint64, out []byte) error {
	if a, ok := s.sink.(rank.ArrivalSink); ok {
		return a.Arrived(seq, out)
	}
	return nil
}

// TraceLabel implements rank.TraceLabeler for a workload's Sink that is one.
func (s *journaledSink) TraceLabel(c rank.Chunk, result []byte) (string, []byte) {
	if l, ok := s.sink.(rank.TraceLabeler); ok {
		return l.TraceLabel(c, result)
	}
	return "", nil
}

// LeftOut implements rank.GapSink: an "x" record, after the workload's own LeftOut.
func (s *journaledSink) LeftOut(seq uint64) error {
	if g, ok := s.sink.(rank.GapSink); ok {
		if err := g.LeftOut(seq); err != nil {
			return err
		}
	}
	return s.record("x", seq)
}

// record writes the journal line of chunk seq (kind c or x) with the output's length.
func (s *journaledSink) record(kind string, seq uint64) error {
	off, err := s.out.Offset()
	if err != nil {
		return err
	}
	crc := s.src.crcs[seq]
	delete(s.src.crcs, seq)
	if items, ok := s.src.items[seq]; ok {
		delete(s.src.items, seq)
		err = s.j.write("%s %d %d %08x %d\n", kind, seq, off, crc, items)
	} else {
		err = s.j.write("%s %d %d %08x\n", kind, seq, off, crc)
	}
	if err != nil {
		return err
	}
	s.last, s.written = seq, true
	return nil
}

// End implements rank.EndSink: the workload's end, if its Sink has one, then its journal
// line.
func (s *journaledSink) End() error {
	e, ok := s.sink.(rank.EndSink)
	if !ok {
		return nil
	}
	if err := e.End(); err != nil {
		return err
	}
	off, err := s.out.Offset()
	if err != nil {
		return err
	}
	return s.j.write("e %d\n", off)
}

// lastWritten is the last chunk this run journaled.
func (ef *EngineFlags) lastWritten() (uint64, bool) {
	if ef.jrn == nil || ef.jrn.sink == nil || !ef.jrn.sink.written {
		return 0, false
	}
	return ef.jrn.sink.last, true
}
