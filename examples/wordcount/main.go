// Command wordcount counts the words of text files across an MPI job with mw's library:
// rank 0 reads the files in blocks of whole lines, lazily (the workers never open them),
// the workers count each block's words, and rank 0 adds the counts up and prints each
// word with its count, most frequent first. A word is a run of letters and digits, in
// lower case.
//
//	mpirun -np 3 ./wordcount -top 20 book1.txt book2.txt
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strings"
	"unicode"

	"github.com/mw-hpc/mw/pool"
)

// countWords counts the words of a block of text.
func countWords(_ context.Context, block string) (map[string]int, error) {
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(block, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		counts[strings.ToLower(w)]++
	}
	return counts, nil
}

// blocks yields the files' text in blocks of whole lines of about size bytes; a file it
// cannot read ends it, with *err set.
func blocks(paths []string, size int, err *error) iter.Seq[string] {
	return func(yield func(string) bool) {
		var b strings.Builder
		more := true
		for _, p := range paths {
			e := eachLine(p, func(line string) bool {
				b.WriteString(line)
				if b.Len() >= size {
					more = yield(b.String())
					b.Reset()
				}
				return more
			})
			if e != nil {
				*err = e
			}
			if e != nil || !more {
				return
			}
		}
		if b.Len() > 0 {
			yield(b.String())
		}
	}
}

// eachLine calls line for each line of the file at path, with its newline (one is added
// to a last line without), until it returns false.
func eachLine(path string, line func(string) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		s, err := r.ReadString('\n')
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		if s != "" && !line(s) {
			return nil
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

func main() {
	top := flag.Int("top", 0, "print the `N` most frequent words only (0: every word)")
	size := flag.Int("block", 64<<10, "bytes of text per block (one element)")
	flag.Parse()
	pool.Main(func(ctx context.Context) error {
		if flag.NArg() == 0 || *size < 1 || *top < 0 {
			return errors.New("usage: wordcount [-top N] [-block BYTES] FILE...")
		}
		var readErr error
		total := map[string]int{}
		for counts, err := range pool.Stream(ctx, blocks(flag.Args(), *size, &readErr), countWords) {
			if err != nil {
				return err
			}
			for w, n := range counts {
				total[w] += n
			}
		}
		if readErr != nil || !pool.IsManager() {
			return readErr
		}
		return print(total, *top)
	})
}

// print writes "count word" lines, most frequent first, ties in the words' order.
func print(total map[string]int, top int) error {
	words := make([]string, 0, len(total))
	for w := range total {
		words = append(words, w)
	}
	slices.SortFunc(words, func(a, b string) int { return cmp.Or(total[b]-total[a], strings.Compare(a, b)) })
	if top > 0 && top < len(words) {
		words = words[:top]
	}
	out := bufio.NewWriter(os.Stdout)
	for _, w := range words {
		fmt.Fprintf(out, "%d %s\n", total[w], w)
	}
	return out.Flush()
}
