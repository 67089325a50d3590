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

// TestLauncherStdoutMPI: under Open MPI's mpirun, rank 0 writes the tasks' output to
// mpirun's own stdout (a task of rank 0 sees that file among rank 0's descriptors), with
// the same bytes as through mpirun's forwarding; with --tag-output or MW_STDOUT=forward it
// goes through mpirun, which tags it. Under MPICH's hydra, whose proxy (hydra_pmi_proxy, not
// the launcher) is a rank's parent, rank 0 writes through the forwarding: the same bytes,
// and -prepend-rank tags them.
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
	argv := mwtest.Job{NP: 1, OpenMPI: []string{"-q"}}.Argv(mwtest.Binary(t), "exec", "--quiet", "-q",
		"--", "sh", "-c", script, "sh", out, ":::", "x")
	r := mwtest.Command(t, nil, "sh", append([]string{"-c", `exec "$@" > "$0"`, out}, argv...)...)
	f.Close()
	b, _ := os.ReadFile(out)
	want := strings.Repeat("x", 5000000) + "\n"
	if mwtest.OpenMPI() {
		want = "rank 0 writes to " + out + "\n" + want
	}
	if r.Code != 0 || string(b) != want {
		t.Fatalf("exit %d, stderr %q, output %.100q (%d bytes), want %d", r.Code, r.Stderr, b, len(b), len(want))
	}
	tag := "[1,0]<stdout>:"
	if !mwtest.OpenMPI() {
		tag = "[0] "
	}
	for _, job := range []mwtest.Job{{NP: 1, Tagged: true}, {NP: 1, Env: []string{"MW_STDOUT=forward"}}} {
		job.OpenMPI = []string{"-q"}
		r := job.Run(t, nil, mwtest.Binary(t), "exec", "--quiet", "echo", ":::", "a", "b")
		want := "a\nb\n"
		if job.Tagged {
			want = tag + "a\n" + tag + "b\n"
		}
		if r.Code != 0 || string(r.Stdout) != want {
			t.Errorf("%q: exit %d stdout %q stderr %q, want %q", job.Argv("mw"), r.Code, r.Stdout, r.Stderr, want)
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
