package main

import "github.com/mw-hpc/mw/interp"

func init() {
	register(interp.Command)
	registerGen(interp.GenFrames)
}
