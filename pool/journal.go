package pool

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
)

// Map's journal is a file on rank 0 that keeps each chunk's results as they come, so that
// a later Map with the same journal (after a kill, a crash, the time limit) takes them
// from the file and computes only the rest. It starts with a header, journalMagic and the
// call it belongs to (what Map computes, over how many elements), then holds one record a
// chunk that succeeded in full:
//
//	uvarint size, then size bytes: uvarint first, uvarint count, uvarint the CRC-32C of
//	the chunk's input elements as they travel, and the encoded results; then the CRC-32C
//	of those size bytes, 4 bytes little-endian
//
// A record cut short (a kill in the middle of a write) ends the file: the next run
// appends after the last whole record. On resume every record's input must still encode
// to the CRC it recorded, so a changed input is found, never silently mixed in.
const journalMagic = "mw-pool-journal 1\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Journal keeps Map's results in the file at path on rank 0 as they come; a Map given the
// same path later takes the results recorded there and computes only the others. The
// journal checks that the later Map has the same types and the same input (each recorded
// element's encoding), not that its function is the same: one journal, one computation. Elements that failed (KeepGoing) are not
// recorded: a resume computes them again. The file stays when Map returns: remove it to
// start afresh. Map only.
func Journal(path string) Option {
	return func(s *settings) { s.journal, s.given = path, s.given|givenJournal }
}

// journal is an open journal: its file, for appending records.
type journal struct {
	f    *os.File
	path string
	buf  []byte
}

// journalRecord is a record read back: the results of elements first to first+count-1.
type journalRecord struct {
	first, count int
	crc          uint32
	results      []byte
}

// openJournal opens (or creates) the journal at path for the call what over n elements,
// and returns it with the records it holds. A journal of another call is an error.
func openJournal(path, what string, n int) (*journal, []journalRecord, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	header := fmt.Sprintf("%s%s over %d elements\n", journalMagic, what, n)
	recs, end, err := readJournal(bufio.NewReader(f), header)
	if err == nil {
		err = f.Truncate(end) // a record cut short goes
	}
	if err == nil && end == 0 {
		_, err = f.WriteString(header)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return &journal{f: f, path: path}, recs, nil
}

// readJournal reads a journal whose header must be header (an empty file has none yet),
// and returns its whole records and the offset after the last.
func readJournal(r *bufio.Reader, header string) ([]journalRecord, int64, error) {
	got := make([]byte, len(header))
	n, err := io.ReadFull(r, got)
	switch {
	case n == 0 && err == io.EOF:
		return nil, 0, nil
	case !bytes.Equal(got[:n], []byte(header)):
		return nil, 0, fmt.Errorf("it is not the journal of this call (%q): remove it to start afresh", header[len(journalMagic):len(header)-1])
	}
	end := int64(len(header))
	var recs []journalRecord
	for {
		rec, size, ok := readRecord(r)
		if !ok {
			return recs, end, nil
		}
		recs = append(recs, rec)
		end += size
	}
}

// readRecord reads one whole record and its size in the file; false at the end, or at a
// record cut short or damaged.
func readRecord(r *bufio.Reader) (journalRecord, int64, bool) {
	size, err := binary.ReadUvarint(r)
	if err != nil || size > 1<<40 {
		return journalRecord{}, 0, false
	}
	var buf bytes.Buffer // grows with what is there, whatever size claims
	if n, err := io.CopyN(&buf, r, int64(size)+4); err != nil || n != int64(size)+4 {
		return journalRecord{}, 0, false
	}
	body, sum := buf.Bytes()[:size], buf.Bytes()[size:]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(sum) {
		return journalRecord{}, 0, false
	}
	rd := reader{b: body}
	rec := journalRecord{first: int(rd.uvarint()), count: int(rd.uvarint()), crc: uint32(rd.uvarint())}
	rec.results = rd.b
	if rd.err != nil || rec.first < 0 || rec.count < 0 {
		return journalRecord{}, 0, false
	}
	return rec, int64(uvarintLen(size)) + int64(size) + 4, true
}

func uvarintLen(v uint64) int { return len(binary.AppendUvarint(nil, v)) }

// add appends the record of a chunk: its elements, their input's CRC and their results.
func (j *journal) add(first, count int, crc uint32, results []byte) error {
	body := appendUvarints(j.buf[:0], uint64(first), uint64(count), uint64(crc))
	body = append(body, results...)
	rec := binary.AppendUvarint(nil, uint64(len(body)))
	rec = append(rec, body...)
	rec = binary.LittleEndian.AppendUint32(rec, crc32.Checksum(body, castagnoli))
	j.buf = body
	if _, err := j.f.Write(rec); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) close() error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return nil
}

// replay puts the journal's results into out, after checking that each record's elements
// of in still encode to the CRC it recorded; it returns the ranges it covered, sorted.
func replay[T, R any](recs []journalRecord, in []T, inc codec[T], outc codec[R], out []R) ([][2]int, error) {
	var done [][2]int
	for _, rec := range recs {
		lo, hi := rec.first, rec.first+rec.count
		if hi > len(in) {
			return nil, fmt.Errorf("it records elements %d to %d of %d", lo, hi-1, len(in))
		}
		enc, err := inc.append(nil, in[lo:hi])
		if err != nil {
			return nil, err
		}
		if crc32.Checksum(enc, castagnoli) != rec.crc {
			return nil, fmt.Errorf("elements %d to %d are not those it recorded: remove it to start afresh", lo, hi-1)
		}
		if _, err := outc.decode(rec.results, out[lo:hi]); err != nil {
			return nil, fmt.Errorf("the results of elements %d to %d: %w", lo, hi-1, err)
		}
		done = append(done, [2]int{lo, hi})
	}
	slices.SortFunc(done, func(a, b [2]int) int { return a[0] - b[0] })
	for i := 1; i < len(done); i++ {
		if done[i][0] < done[i-1][1] {
			return nil, errors.New("its records overlap")
		}
	}
	return done, nil
}
