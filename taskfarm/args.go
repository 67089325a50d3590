package taskfarm

import (
	"fmt"
	"io"
	"regexp"
	"strings"
)

// recordSource yields argument records: one record holds a value (or columns) from every
// input source, in GNU parallel's order: all combinations, the first source varying
// slowest; linked sources (--link, :::+) advance together.
type recordSource interface {
	next() ([]string, error) // io.EOF after the last
}

// inputSet is the manager's open input sources with their headers read.
type inputSet struct {
	readers []*sourceReader
	names   []string // column names from --header, by position (1-based id - 1)
	records recordSource
}

// openInputs opens the sources, reads their --header lines and builds the combination.
func openInputs(srcs []source, link bool, opt *recordOptions, stdin io.Reader) (*inputSet, error) {
	in := &inputSet{}
	for _, s := range srcs {
		r, err := openSource(s, opt, stdin)
		if err != nil {
			in.Close()
			return nil, err
		}
		in.readers = append(in.readers, r)
	}
	if err := in.readHeaders(srcs, opt); err != nil {
		in.Close()
		return nil, err
	}
	recs, err := combine(in.readers, srcs, link)
	if err != nil {
		in.Close()
		return nil, err
	}
	in.records = recs
	return in, nil
}

// readHeaders takes each source's first record as its column names (--header :), or
// names file sources by their paths (--header 0), as GNU parallel numbers them.
func (in *inputSet) readHeaders(srcs []source, opt *recordOptions) error {
	switch opt.header {
	case "":
		return nil
	case "0":
		for _, s := range srcs {
			if s.kind == srcFile {
				in.names = append(in.names, s.path)
			}
		}
		return nil
	}
	sep := opt.colsep
	if sep == nil {
		sep = tabSep
	}
	for _, r := range in.readers {
		rec, err := r.rr.next()
		if err == io.EOF {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the header of %s: %w", r.src.name(), err)
		}
		line := strings.TrimSuffix(string(rec), "\r")
		in.names = append(in.names, perlSplit(sep, line)...)
	}
	return nil
}

// Close closes every source.
func (in *inputSet) Close() error {
	for _, r := range in.readers {
		r.Close()
	}
	return nil
}

// combine builds the records of several sources. A single source streams; so does the first
// of several, unless it is linked: the others are read into memory, as their values repeat.
func combine(readers []*sourceReader, srcs []source, link bool) (recordSource, error) {
	var groups [][]*sourceReader
	for i, r := range readers {
		if i == 0 || !(link || srcs[i].linked) {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], r)
	}
	if len(groups) == 1 && len(groups[0]) == 1 {
		return readers[0], nil
	}
	c := &combination{}
	for gi, g := range groups {
		if gi == 0 && len(g) == 1 {
			c.outer = g[0]
			continue
		}
		lg, err := readGroup(g, link)
		if err != nil {
			return nil, err
		}
		c.inner = append(c.inner, lg)
	}
	return c, nil
}

// linkedGroup is sources advancing together, read into memory: with --link the shorter
// ones wrap around (its length is the longest's), with :::+ the shortest ends it.
type linkedGroup struct {
	sources [][][]string // per source, its records
	n       int
	wrap    bool
}

func readGroup(g []*sourceReader, wrap bool) (*linkedGroup, error) {
	lg := &linkedGroup{wrap: wrap}
	for i, r := range g {
		var recs [][]string
		for {
			rec, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			recs = append(recs, rec)
		}
		lg.sources = append(lg.sources, recs)
		switch {
		case i == 0:
			lg.n = len(recs)
		case wrap:
			lg.n = max(lg.n, len(recs))
		default:
			lg.n = min(lg.n, len(recs))
		}
	}
	for _, recs := range lg.sources {
		if len(recs) == 0 {
			lg.n = 0 // nothing to combine with
		}
	}
	return lg, nil
}

// record appends the group's i-th record to rec.
func (lg *linkedGroup) record(rec []string, i int) []string {
	for _, recs := range lg.sources {
		rec = append(rec, recs[i%len(recs)]...)
	}
	return rec
}

// combination is the records of several groups: every combination, the first group varying
// slowest. The first group streams when it is one source (outer).
type combination struct {
	outer   *sourceReader
	inner   []*linkedGroup
	cur     []string // the outer record being combined
	idx     []int    // position in each inner group
	started bool
	done    bool
}

func (c *combination) next() ([]string, error) {
	if c.done {
		return nil, io.EOF
	}
	if !c.started {
		c.started = true
		c.idx = make([]int, len(c.inner))
		for _, g := range c.inner {
			if g.n == 0 {
				c.done = true
				return nil, io.EOF
			}
		}
		if err := c.advanceOuter(); err != nil {
			return nil, err
		}
	} else if !c.step() {
		if err := c.advanceOuter(); err != nil {
			return nil, err
		}
	}
	rec := append([]string(nil), c.cur...)
	for gi, g := range c.inner {
		rec = g.record(rec, c.idx[gi])
	}
	return rec, nil
}

// step moves to the next combination of the inner groups, the last varying fastest; false
// when they wrapped around (the outer record is done). Without an outer source the first
// inner group is the slowest, and wrapping it ends the records.
func (c *combination) step() bool {
	for gi := len(c.inner) - 1; gi >= 0; gi-- {
		c.idx[gi]++
		if c.idx[gi] < c.inner[gi].n {
			return true
		}
		c.idx[gi] = 0
	}
	return false
}

// advanceOuter reads the next outer record (or, without an outer source, ends the records
// after the first pass).
func (c *combination) advanceOuter() error {
	if c.outer == nil {
		if c.cur != nil {
			c.done = true
			return io.EOF
		}
		c.cur = []string{}
		return nil
	}
	rec, err := c.outer.next()
	if err != nil {
		if err == io.EOF {
			c.done = true
		}
		return err
	}
	c.cur = rec
	return nil
}

// tabSep splits --header lines without --colsep.
var tabSep = regexp.MustCompile("\t")
