package main

import "github.com/mw-hpc/mw/taskfarm"

func init() { register(taskfarm.Command) }
