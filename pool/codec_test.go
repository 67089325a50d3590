package pool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func roundTrip[T any](t *testing.T, xs []T) []T {
	t.Helper()
	c := codecFor[T]()
	b, err := c.append([]byte{9}, xs)
	require.NoError(t, err)
	got := make([]T, len(xs))
	rest, err := c.decode(append(b[1:], 7), got)
	require.NoError(t, err)
	require.Equal(t, []byte{7}, rest)
	return got
}

type plainPair struct {
	A int32
	B [2]float64
}

type withPointers struct {
	Name string
	Next *int
}

func TestCodecKinds(t *testing.T) {
	require.Equal(t, plainKind, codecFor[plainPair]().kind)
	require.Equal(t, stringKind, codecFor[string]().kind)
	require.Equal(t, bytesKind, codecFor[[]byte]().kind)
	require.Equal(t, gobKind, codecFor[withPointers]().kind)
	require.Equal(t, gobKind, codecFor[map[string]int]().kind)

	require.Equal(t, []plainPair{{1, [2]float64{2, 3}}, {-4, [2]float64{}}}, roundTrip(t, []plainPair{{1, [2]float64{2, 3}}, {-4, [2]float64{}}}))
	require.Equal(t, []string{"", "a", "ü"}, roundTrip(t, []string{"", "a", "ü"}))
	require.Equal(t, [][]byte{{}, {1, 2}}, roundTrip(t, [][]byte{nil, {1, 2}}))
	five := 5
	require.Equal(t, []withPointers{{"x", &five}}, roundTrip(t, []withPointers{{"x", &five}}))
}

func TestCodecRefusesShortInput(t *testing.T) {
	_, err := codecFor[int64]().decode([]byte{1, 2, 3}, make([]int64, 1))
	require.Error(t, err)
	_, err = codecFor[string]().decode([]byte{5, 'a'}, make([]string, 1))
	require.Error(t, err)
}

var errSentinel = errors.New("sentinel for the codec test")

type typedErr struct{ N int }

func (e typedErr) Error() string { return fmt.Sprint("typed ", e.N) }

func init() {
	RegisterError(errSentinel)
	RegisterErrorType[typedErr]()
}

func TestErrorCodec(t *testing.T) {
	require.Nil(t, errorFrom(errorBytes(nil)))
	orig := fmt.Errorf("outer: %w", errors.Join(errSentinel, typedErr{7}, context.Canceled))
	got := errorFrom(errorBytes(orig))
	require.Equal(t, orig.Error(), got.Error())
	require.ErrorIs(t, got, errSentinel)
	require.ErrorIs(t, got, context.Canceled)
	require.NotErrorIs(t, got, io.EOF)
	var te typedErr
	require.ErrorAs(t, got, &te)
	require.Equal(t, 7, te.N)

	task := &TaskError{Rank: 3, Host: "n1", Chunk: 4, Element: -1, Task: "t", Err: orig}
	back := errorFrom(errorBytes(task))
	var bt *TaskError
	require.ErrorAs(t, back, &bt)
	require.Equal(t, task.Error(), bt.Error())
	require.Equal(t, -1, bt.Element)
	require.ErrorIs(t, back, errSentinel)

	require.Panics(t, func() { RegisterError(errors.New(errSentinel.Error())) })
}

func TestCtlRoundTrip(t *testing.T) {
	m := ctl{typ: ctlReply, n: 7, pos: position{state: atEnd, what: "w", where: "x.go:1", calls: 3, host: "h", err: []byte{1, 2}}, data: []byte("payload")}
	got, err := parseCtl(appendCtl(nil, m))
	require.NoError(t, err)
	require.Equal(t, m, got)
	_, err = parseCtl([]byte{1, 0, 0, 0, 0})
	require.ErrorIs(t, err, errNotCtl)
}

// FuzzDecode feeds arbitrary bytes to the parsers of what other ranks send: control
// messages, chunks' answers, encoded errors. None may panic or allocate without bound.
func FuzzDecode(f *testing.F) {
	f.Add(appendCtl(nil, ctl{typ: ctlCall, n: 1, pos: position{state: atCall, what: "pool.Map"}}))
	f.Add(errorBytes(&TaskError{Rank: 1, Err: errSentinel}))
	ans := appendUvarints(nil, 3, 2)
	ans = append(ans, chunkOK, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0)
	f.Add(ans)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseCtl(b)
		_ = errorFrom(b)
		if a, err := readAnswer(0, b); err == nil && codecFor[int]().fits(uint64(a.count), len(a.results)) {
			_ = decodeInto(a, codecFor[int](), make([]int, a.count))
			_ = decodeInto(a, codecFor[string](), make([]string, a.count))
		}
	})
}

// FuzzJournal feeds arbitrary files to the journal's reader: it never panics, and what it
// accepts lies within the file.
func FuzzJournal(f *testing.F) {
	const header = journalMagic + "pool.Map[int, int] over 4 elements\n"
	j := []byte(header)
	body := appendUvarints(nil, 0, 2, 7)
	body = append(body, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0)
	j = binary.AppendUvarint(j, uint64(len(body)))
	j = append(j, body...)
	j = binary.LittleEndian.AppendUint32(j, crc32.Checksum(body, castagnoli))
	f.Add(j)
	f.Add(j[:len(j)-2])
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, end, err := readJournal(bufio.NewReader(bytes.NewReader(b)), header)
		if err == nil && end > int64(len(b)) {
			t.Fatalf("%d records end at %d, past the file's %d bytes", len(recs), end, len(b))
		}
	})
}
