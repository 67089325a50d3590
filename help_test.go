package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/mw-hpc/mw/cli"
)

// TestHelpListsWorkloadsApart: mw -h lists the workloads under their heading, and mw
// status, which runs no job, in the usage lines only.
func TestHelpListsWorkloadsApart(t *testing.T) {
	var out bytes.Buffer
	if err := helpCmd(context.Background(), &cli.Env{Stdout: &out}, nil); err != nil {
		t.Fatal(err)
	}
	usage, rest, _ := strings.Cut(out.String(), "workloads:\n")
	workloads, _, _ := strings.Cut(rest, "\n\n")
	for _, w := range []string{"exec", "interp", "overlay", "selftest"} {
		if !strings.Contains(workloads, "  "+w+" ") {
			t.Errorf("workload %s not listed:\n%s", w, workloads)
		}
	}
	if strings.Contains(workloads, "status") || !strings.Contains(usage, "mw status [--json] FILE") {
		t.Errorf("mw status belongs in the usage, not the workloads:\n%s", out.String())
	}
	if _, _, c, err := pick([]string{"status"}); err != nil || c.Name != "status" {
		t.Errorf("pick(status): %v, %q", err, c.Name)
	}
}
