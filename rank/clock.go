package rank

import "github.com/mw-hpc/mw/internal/mono"

// monoTime is a reading of the monotonic clock (package mono); the simulator's clock is
// virtual time of the same type.
type monoTime = mono.Time

// monoNow reads the monotonic clock.
func monoNow() monoTime { return mono.Now() }
