package cli

import (
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/rank"
)

func TestParseJournal(t *testing.T) {
	good := "mw-journal 1 selftest abc\nc 0 10 0000beef\nc 1 25 00000001\n"
	st, err := parseJournal(strings.NewReader(good))
	require.NoError(t, err)
	require.Equal(t, "selftest", st.workload)
	next, off := st.next()
	require.Equal(t, uint64(2), next)
	require.Equal(t, int64(25), off)
	require.False(t, st.done)

	// A partial last line (a kill mid-write) is ignored.
	st, err = parseJournal(strings.NewReader(good + "c 2 4"))
	require.NoError(t, err)
	require.Len(t, st.records, 2)

	// Journals that parse: whether done, whether an end record stands, the output's
	// final length, and where a resume truncates it (after the last chunk).
	for _, tc := range []struct {
		why, tail   string
		done, ended bool
		final, next int64
	}{
		{"done", "done 2 25\n", true, false, 25, 25},
		// The output's end (a GeoJSON's closing brackets) after the last chunk, written
		// again by a resume that had nothing left to compute.
		{"end twice", "e 29\ne 29\ndone 2 29\n", true, true, 29, 25},
		// --keep-going left the last chunk out and the run was killed before done: a
		// resume computes it after the end, and writes the end again.
		{"chunk after end", "e 29\nc 2 40 00000002\n", false, false, 40, 40},
		{"end again", "e 29\nc 2 40 00000002\ne 44\ndone 3 44\n", true, true, 44, 40},
	} {
		st, err := parseJournal(strings.NewReader(good + tc.tail))
		require.NoError(t, err, tc.why)
		require.Equal(t, tc.done, st.done, tc.why)
		require.Equal(t, tc.ended, st.ended, tc.why)
		require.Equal(t, tc.final, st.final(), tc.why)
		_, off := st.next()
		require.Equal(t, tc.next, off, "%s: a resume truncates to the last chunk", tc.why)
	}

	// The rename record: the output was complete at that length, until a later chunk or
	// end (a resume that computed what --keep-going left out).
	for tail, renaming := range map[string]bool{
		"":                          false,
		"r 25\n":                    true,
		"e 29\nr 29\n":              true,
		"r 25\ndone 2 25\n":         true,
		"r 25\nc 2 40 00000002\n":   false,
		"e 29\nr 29\nc 2 40 0000\n": false,
		"e 29\nr 29\ne 29\n":        false,
	} {
		st, err := parseJournal(strings.NewReader(good + tail))
		require.NoError(t, err, tail)
		require.Equal(t, renaming, st.renaming, tail)
	}
	for _, bad := range []string{"r 24\n", "e 29\nr 25\n", "r\n", "r x\n"} {
		_, err := parseJournal(strings.NewReader(good + bad))
		require.Error(t, err, bad)
	}

	// A chunk --keep-going left out: no bytes, and remembered as such.
	st, err = parseJournal(strings.NewReader(good + "x 2 25 00000002\nc 3 30 00000003\n"))
	require.NoError(t, err)
	require.Len(t, st.records, 4)
	require.True(t, st.records[2].left)
	require.False(t, st.records[3].left)
	_, err = parseJournal(strings.NewReader(good + "x 2 26 00000002\n"))
	require.ErrorContains(t, err, "a chunk left out wrote bytes")
	// The first chunk left out comes after the output's header (overlay's).
	st, err = parseJournal(strings.NewReader("mw-journal 1 overlay k\nx 0 46 e11ad8c7\nc 1 90 00000001\n"))
	require.NoError(t, err)
	require.True(t, st.records[0].left)

	for name, bad := range map[string]string{
		"empty":            "",
		"not a journal":    "hello\n",
		"gap":              "mw-journal 1 s k\nc 0 1 0\nc 2 3 0\n",
		"backwards offset": "mw-journal 1 s k\nc 0 9 0\nc 1 3 0\n",
		"bad crc":          "mw-journal 1 s k\nc 0 9 xyz\n",
		"record after end": "mw-journal 1 s k\nc 0 9 0\ndone 1 9\nc 1 9 0\n",
		"wrong done":       "mw-journal 1 s k\nc 0 9 0\ndone 5 9\n",
		"done before end":  "mw-journal 1 s k\nc 0 9 0\ne 12\ndone 1 9\n",
		"end before chunk": "mw-journal 1 s k\nc 0 9 0\ne 8\n",
		"blank line":       "mw-journal 1 s k\n\n",
		"unknown":          "mw-journal 1 s k\nz\n",
	} {
		_, err := parseJournal(strings.NewReader(bad))
		require.Error(t, err, name)
	}
}

func TestJournalKeyIgnoresFlagsThatKeepTheBytes(t *testing.T) {
	key := func(args ...string) string {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		AddEngineFlags(fs)
		fs.Int("items", 0, "")
		require.NoError(t, fs.Parse(args))
		return journalKey("selftest", fs)
	}
	base := key("--items", "5")
	require.Equal(t, base, key("--items", "5", "--window", "9", "--threads", "3", "--resume", "--journal", "j"))
	require.NotEqual(t, base, key("--items", "6"))
}

func FuzzJournal(f *testing.F) {
	f.Add([]byte("mw-journal 1 selftest abc\nc 0 10 0000beef\nc 1 25 00000001\ndone 2 25\n"))
	f.Add([]byte("mw-journal 1 s k\nc 0 1"))
	f.Add([]byte("mw-journal 1 s k\nc 0 9 0\ne 12\ndone 1 12\n"))
	f.Add([]byte("mw-journal 1 s k\nc 0 9 0\ne 12\nc 1 20 0\ne 22\ndone 2 22\n"))
	f.Add([]byte("mw-journal 1 s k\nc 0 9 0\nx 1 9 0\nc 2 20 0 4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseJournal(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		// Whatever parses is consistent: consecutive chunks, offsets never going back.
		var off int64
		for i, r := range st.records {
			require.Equal(t, uint64(i), r.seq)
			require.GreaterOrEqual(t, r.offset, off)
			if r.left && i > 0 {
				require.Equal(t, off, r.offset, "a chunk left out wrote bytes")
			}
			off = r.offset
		}
		require.GreaterOrEqual(t, st.final(), off)
		if st.done {
			require.Equal(t, st.final(), st.doneOffset)
		}
	})
}

// arrivalSink ends the job at the first result it hears of.
type arrivalSink struct{ heard []uint64 }

func (s *arrivalSink) Put(uint64, []byte) error { return nil }
func (s *arrivalSink) Arrived(seq uint64, _ []byte) error {
	s.heard = append(s.heard, seq)
	return rank.ErrDone
}

// A journaled Sink still hears of results as they arrive, when it asks to.
func TestJournaledSinkForwardsArrivals(t *testing.T) {
	inner := &arrivalSink{}
	var s rank.Sink = &journaledSink{sink: inner}
	a, ok := s.(rank.ArrivalSink)
	require.True(t, ok)
	require.ErrorIs(t, a.Arrived(7, nil), rank.ErrDone)
	require.Equal(t, []uint64{7}, inner.heard)
	require.NoError(t, (&journaledSink{sink: rank.Sink(nil)}).Arrived(1, nil), "a plain Sink hears nothing")
}
