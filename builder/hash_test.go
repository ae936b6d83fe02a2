package builder

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lfs-lpm/lpm/config"
	"github.com/lfs-lpm/lpm/ports"
)

func TestTheBuildHashFollowsThePortAndItsBuildSettingsOnly(t *testing.T) {
	tree := t.TempDir()
	dir := filepath.Join(tree, "tool")
	os.MkdirAll(dir, 0o755)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("port.toml", "name = \"tool\"\nversion = \"1.0\"\n[build]\ninstall = 'true'\n")
	hash := func(c config.Build) string {
		t.Helper()
		tr, err := ports.Load(tree)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tr.Lookup("tool", nil)
		if err != nil {
			t.Fatal(err)
		}
		h, err := (&Builder{Cfg: &config.Config{Build: c}}).BuildHash(p)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := config.Build{Jobs: 2, MakeFlags: "-j2", CFlags: "-O2", Strip: true}
	h := hash(base)
	write("footprint", "usr/bin/tool\n")
	if hash(base) != h {
		t.Errorf("a footprint, a record of a build's output, changed the build hash")
	}
	more := base
	more.Jobs, more.MakeFlags, more.Parallel, more.DistccHosts = 8, "-j8", 4, "box/8"
	if hash(more) != h {
		t.Errorf("jobs, parallel builds or distcc changed the build hash")
	}
	other := base
	other.CFlags = "-O3"
	if hash(other) == h {
		t.Errorf("other cflags kept the build hash")
	}
	write("fix.patch", "--- a\n+++ b\n")
	if hash(base) == h {
		t.Errorf("a new file in the port kept the build hash")
	}
}
