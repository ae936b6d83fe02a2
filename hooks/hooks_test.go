package hooks

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lfs-lpm/lpm/progress"
)

func TestShippedHooksTriggerOnTheirPaths(t *testing.T) {
	hooks, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Hook{}
	for _, h := range hooks {
		byName[h.Name] = h
	}
	ld := byName["ldconfig"]
	if !ld.Triggered([]string{"usr/bin/x", "usr/lib/libz.so.1.3.1"}) {
		t.Error("ldconfig does not trigger on a new library")
	}
	if ld.Triggered([]string{"usr/lib/pkgconfig/zlib.pc", "usr/share/doc/x"}) {
		t.Error("ldconfig triggers on files that are not libraries")
	}
	if !byName["info-dir"].Triggered([]string{"usr/share/info/gzip.info.gz"}) {
		t.Error("info-dir does not trigger on a manual")
	}
	if sh := byName["shadow"]; !sh.Triggered([]string{"usr/sbin/pwconv"}) || sh.Triggered([]string{"usr/sbin/useradd"}) {
		t.Error("the shadow hook should trigger on pwconv and nothing else of shadow's")
	}
}

func TestHwdbHookTriggersOnHardwareDatabaseFiles(t *testing.T) {
	hooks, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var hwdb *Hook
	for i := range hooks {
		if hooks[i].Name == "udev-hwdb" {
			hwdb = &hooks[i]
		}
	}
	if hwdb == nil {
		t.Fatal("no udev-hwdb hook is shipped")
	}
	if !hwdb.Triggered([]string{"usr/lib/udev/hwdb.d/20-pci-vendor-model.hwdb"}) {
		t.Error("udev-hwdb does not trigger on a packaged hwdb file")
	}
	if !hwdb.Triggered([]string{"etc/udev/hwdb.d/99-local.hwdb"}) {
		t.Error("udev-hwdb does not trigger on a local hwdb file")
	}
	if hwdb.Triggered([]string{"usr/lib/udev/rules.d/50-udev-default.rules", "etc/udev/hwdb.bin"}) {
		t.Error("udev-hwdb triggers on rules or on its own output")
	}
}

func TestSystemdSetupHookTriggersOnlyOnSystemd(t *testing.T) {
	hooks, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		if h.Name != "systemd-setup" {
			continue
		}
		if !h.Triggered([]string{"usr/bin/systemctl", "usr/bin/systemd-machine-id-setup"}) {
			t.Error("systemd-setup does not trigger when systemd is installed")
		}
		if h.Triggered([]string{"usr/bin/udevadm", "etc/machine-id"}) {
			t.Error("systemd-setup triggers without systemd")
		}
		return
	}
	t.Fatal("no systemd-setup hook is shipped")
}

func TestLocalHooksReplaceAndAdd(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/lpm/hooks")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "ldconfig.toml"), []byte("description = \"mine\"\npaths = [\"opt/*\"]\nexec = [\"/bin/true\"]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "stamp.toml"), []byte("description = \"stamp\"\npaths = [\"usr/bin/*\"]\nexec = [\"/bin/true\"]\n"), 0o644)
	hooks, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	// The shipped hooks other than ldconfig stay; which they are is not
	// this test's business.
	var names []string
	for _, h := range hooks {
		if h.Name == "info-dir" || h.Name == "ldconfig" || h.Name == "stamp" {
			names = append(names, h.Name+":"+h.Description)
		}
	}
	if got := strings.Join(names, " "); got != "info-dir:rebuilding the info directory ldconfig:mine stamp:stamp" {
		t.Errorf("hooks = %s", got)
	}
	os.WriteFile(filepath.Join(dir, "bad.toml"), []byte("paths = [\"x\"]\nexce = [\"typo\"]\n"), 0o644)
	if _, err := Load(root); err == nil || !strings.Contains(err.Error(), "bad.toml") {
		t.Errorf("a hook with an unknown key: %v", err)
	}
}

func TestRunUsesTheHostCommandWhenTheRootHasNone(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/lpm/hooks")
	os.MkdirAll(dir, 0o755)
	marker := filepath.Join(root, "ran")
	os.WriteFile(filepath.Join(dir, "mark.toml"), []byte(`description = "marking"
paths = ["usr/bin/*"]
exec = ["/usr/bin/nothing-here"]
host_exec = ["/bin/sh", "-c", "echo {root} > {root}/ran"]
`), 0o644)
	var out bytes.Buffer
	if err := Run(root, []string{"usr/bin/tool"}, &progress.Printer{Out: &out}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(marker); strings.TrimSpace(string(got)) != root {
		t.Errorf("host command did not run with the root: %q", got)
	}
	if !strings.Contains(out.String(), "hook mark: marking (with the host's /bin/sh") {
		t.Errorf("log line: %q", out.String())
	}
}

func TestAFailingHookNamesItself(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/lpm/hooks")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "fail.toml"), []byte(`description = "failing"
paths = ["etc/*"]
exec = ["/nonexistent"]
host_exec = ["/bin/sh", "-c", "echo broken >&2; exit 4"]
`), 0o644)
	err := Run(root, []string{"etc/x"}, &progress.Printer{Quiet: true})
	if err == nil || !strings.Contains(err.Error(), "hook fail failed") || !strings.Contains(err.Error(), "broken") {
		t.Errorf("error = %v", err)
	}
}

func TestTheShippedLdconfigHookDeclaresItsTemp(t *testing.T) {
	hooks, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		if h.Name == "ldconfig" {
			if len(h.Temps) != 1 || h.Temps[0] != "etc/ld.so.cache~" {
				t.Errorf("ldconfig's temps: %v, want [etc/ld.so.cache~]", h.Temps)
			}
			return
		}
	}
	t.Error("no shipped ldconfig hook")
}

func TestAFailingHookGivesItsLastLineAndTheNextHooksStillRun(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/lpm/hooks")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "a-fail.toml"), []byte(`description = "failing"
paths = ["etc/*"]
exec = ["/nonexistent"]
host_exec = ["/bin/sh", "-c", "echo a mere warning >&2; echo the real cause >&2; exit 4"]
`), 0o644)
	os.WriteFile(filepath.Join(dir, "b-mark.toml"), []byte(`description = "marking"
paths = ["etc/*"]
exec = ["/nonexistent"]
host_exec = ["/bin/sh", "-c", "touch {root}/ran"]
`), 0o644)
	err := Run(root, []string{"etc/x"}, &progress.Printer{Quiet: true})
	var f *Failure
	if !errors.As(err, &f) || f.Hook != "a-fail" || !strings.HasPrefix(f.Cause, "the real cause") || !strings.Contains(f.Output, "a mere warning") {
		t.Errorf("failure = %#v (error %v)", f, err)
	}
	if _, err := os.Stat(filepath.Join(root, "ran")); err != nil {
		t.Errorf("the hook after the failed one did not run: %v", err)
	}
}

// Triggered skips path.Match for a path that lacks a pattern's literal
// start; a pattern whose special characters come early, or escape one,
// still matches what path.Match matches.
func TestTriggeredMatchesAsPathMatchDoes(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"usr/lib/lib*.so*", "usr/lib/libz.so.1", true},
		{"usr/lib/lib*.so*", "usr/share/libz.so.1", false},
		{"usr/lib/lib*.so*", "usr/lib", false},
		{"*/lib/x", "usr/lib/x", true},
		{"usr/[lm]ib/x", "usr/mib/x", true},
		{"usr/[lm]ib/x", "usr/nib/x", false},
		{`etc/a\*b`, "etc/a*b", true},
		{`etc/a\*b`, "etc/axb", false},
		{"etc/exact", "etc/exact", true},
		{"etc/exact", "etc/exactly", false},
		{"usr/[", "usr/[", false}, // a bad pattern matches nothing
	}
	for _, tt := range tests {
		if got := (Hook{Paths: []string{tt.pattern}}).Triggered([]string{"other/path", tt.path}); got != tt.want {
			t.Errorf("pattern %q, path %q: Triggered = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}
