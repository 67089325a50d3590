package main

import "github.com/mw-hpc/mw/cli"

// mw status FILE: a run's --status file as a table.
func init() { register(cli.StatusCommand(map[string]cli.StatusPart{})) }
