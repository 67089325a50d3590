package taskfarm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mw-hpc/mw/internal/mwtest"
)

func TestMpirunRewritesOutput(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	if mpirunRewritesOutput(env()) || mpirunRewritesOutput(env("OMPI_MCA_orte_tag_output", "0")) {
		t.Error("plain mpirun taken for one that rewrites the output")
	}
	for _, v := range []string{"OMPI_MCA_orte_tag_output", "OMPI_MCA_orte_timestamp_output", "OMPI_MCA_orte_xml_output", "OMPI_MCA_orte_output_filename"} {
		if !mpirunRewritesOutput(env(v, "1")) {
			t.Errorf("%s=1 not seen", v)
		}
	}
	for name, want := range map[string]bool{"mpirun": true, "mpirun.openmpi": true, "mpiexec": true, "orterun": true, "prterun": true,
		"mpirunner": false, "bash": false, "orted": false, "hydra_pmi_proxy": false} {
		if isMpirun(name) != want {
			t.Errorf("isMpirun(%q) = %v", name, !want)
		}
	}
}

// TestLauncherStdoutMPI: under mpirun, rank 0 writes the tasks' output to mpirun's own
// stdout (a task of rank 0 sees that file among rank 0's descriptors), with the same bytes
// as through mpirun's forwarding; with --tag-output or MW_STDOUT=forward it goes through
// mpirun, which tags it.
func TestLauncherStdoutMPI(t *testing.T) {
	needMPI(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	script := `for fd in /proc/$PPID/fd/*; do [ "$(readlink $fd)" = "$1" ] && echo "rank 0 writes to $1"; done; head -c 5000000 /dev/zero | tr '\0' x; echo`
	r := mwtest.Command(t, nil, "sh", "-c", `exec mpirun -q -np 1 "$@" > "$0"`, out, mwtest.Binary(t), "exec", "--quiet", "-q",
		"--", "sh", "-c", script, "sh", out, ":::", "x")
	f.Close()
	b, _ := os.ReadFile(out)
	want := "rank 0 writes to " + out + "\n" + strings.Repeat("x", 5000000) + "\n"
	if r.Code != 0 || string(b) != want {
		t.Fatalf("exit %d, stderr %q, output %.100q (%d bytes), want %d", r.Code, r.Stderr, b, len(b), len(want))
	}
	for _, how := range [][]string{{"--tag-output"}, {"-x", "MW_STDOUT=forward"}} {
		args := append(append([]string{"-q", "-np", "1"}, how...), mwtest.Binary(t), "exec", "--quiet", "echo", ":::", "a", "b")
		r := mwtest.Command(t, nil, "mpirun", args...)
		tagged := how[0] == "--tag-output"
		if r.Code != 0 || tagged && string(r.Stdout) != "[1,0]<stdout>:a\n[1,0]<stdout>:b\n" || !tagged && string(r.Stdout) != "a\nb\n" {
			t.Errorf("mpirun %s: exit %d stdout %q stderr %q", how, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// TestLargeOutputMPI: three tasks printing 5 MB each (more than --buffer: handed over as
// files) under mpirun -np 3 print the same bytes as GNU parallel -k.
func TestLargeOutputMPI(t *testing.T) {
	needMPI(t)
	c := farmCase{name: "large output", input: "a\nb\nc\n",
		mw:       []string{"yes {} | head -c 5000000"},
		parallel: []string{"-k", "yes {} | head -c 5000000"}}
	want := runParallel(t, c)
	got := mpiExec(t, 3, c.input, c.mw...)
	if got.code != want.code || !bytes.Equal([]byte(got.stdout), []byte(want.stdout)) {
		t.Fatalf("exit %d, %d bytes; parallel: exit %d, %d bytes (stderr %q)", got.code, len(got.stdout), want.code, len(want.stdout), got.stderr)
	}
}
