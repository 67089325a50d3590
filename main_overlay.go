package main

import "github.com/mw-hpc/mw/overlay"

func init() {
	register(overlay.Command)
	registerGen(overlay.GenMap)
}
