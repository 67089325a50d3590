package human

import (
	"slices"
	"testing"
)

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0 tasks"}, {1, "1 task"}, {2, "2 tasks"}} {
		if got := Plural(c.n, "task"); got != c.want {
			t.Errorf("Plural(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	if got := Plural(uint64(1), "core"); got != "1 core" {
		t.Errorf("Plural(uint64 1) = %q", got)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 363: "363 B", 999: "999 B", 1000: "1.0 kB", 8000: "8.0 kB",
		150e6: "150.0 MB", 2_150_000_000: "2.15 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHosts(t *testing.T) {
	got := Hosts([]string{"n2", "", "n1", "n2", "n1"})
	if !slices.Equal(got, []string{"n1", "n2"}) {
		t.Errorf("Hosts = %q", got)
	}
	if Hosts(nil) != nil {
		t.Error("Hosts(nil) is not empty")
	}
}
