package interp_test

import (
	"fmt"

	"github.com/mw-hpc/mw/interp"
)

// Enlarge one row of 6 pixels 3 times: every third output pixel copies an input pixel,
// the others are cubic blends, with the overshoot of cubic interpolation next to the step.
func ExampleKernel() {
	k, err := interp.NewKernel(6, 1, 3)
	if err != nil {
		panic(err)
	}
	src := []byte{50, 50, 50, 200, 200, 200}
	dst := make([]byte, k.OutSize())
	k.Enlarge(dst, src)
	fmt.Println(dst)
	// Output:
	// [50 50 50 50 50 44 39 50 94 156 200 211 206 200 200 200 200 200]
}

// Frames for tests and demos, the same bytes for the same seed.
func ExampleGenerator() {
	g := interp.NewGenerator(56, 256, 1)
	a, b := g.Frame(nil, 0), g.Frame(nil, 0)
	fmt.Println(len(a), string(a) == string(b))
	// Output:
	// 14336 true
}
