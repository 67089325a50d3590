//go:build !linux

package taskfarm

import "os"

// launcherStdout is nil: rank 0 writes to its own stdout, which the launcher forwards.
func launcherStdout() *os.File { return nil }
