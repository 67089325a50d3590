// Package human formats counts, sizes and host lists for the lines people read: run
// reports, status and error messages.
package human

import (
	"fmt"
	"slices"
)

// Plural is n with its noun, in the plural unless n is 1: "1 worker", "2 workers".
func Plural[N ~int | ~int64 | ~uint64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Bytes is a size in bytes in decimal units: 363 B, 8.0 kB, 150.0 MB, 2.15 GB.
func Bytes(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// Hosts is the non-empty host names, each once, sorted.
func Hosts(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}
