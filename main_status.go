package main

import (
	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/taskfarm"
)

// mw status FILE: a run's --status file as a table; exec's part lists its tasks.
func init() {
	registerTool(cli.StatusCommand(map[string]cli.StatusPart{"exec": taskfarm.StatusPart}))
}
