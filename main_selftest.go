package main

import "github.com/mw-hpc/mw/selftest"

func init() { register(selftest.Command) }
