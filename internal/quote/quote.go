// Package quote quotes user data for error messages.
package quote

import "strconv"

// most is the most bytes of the data a message shows.
const most = 60

// Clip quotes s in Go syntax (as %q does), cut to its first 60 bytes and marked "..." when
// cut: a line of a binary file given by mistake would otherwise fill the terminal.
func Clip(s string) string {
	if len(s) <= most {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:most]) + "..."
}
