package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// quickPort is a port whose build only writes one file, named after it.
func quickPort(name, version, depends string) string {
	return `name = "` + name + `"
version = "` + version + `"
` + depends + `
[build]
install = 'mkdir -p $DESTDIR/usr/share/` + name + `; echo $VERSION > $DESTDIR/usr/share/` + name + `/version'
`
}

func planString(plan []stepResult) string {
	var lines []string
	for _, s := range plan {
		lines = append(lines, s.Action+" "+s.Port+" "+s.New)
	}
	return strings.Join(lines, "\n")
}

func TestProvidedPackagesServeBuildsAndAreNeverInstalled(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "gcc", quickPort("gcc", "14.2.0", "[depends]\nrun = [\"gmp\"]"))
	writePort(t, tree, "gmp", quickPort("gmp", "6.3.0", ""))
	writePort(t, tree, "bc", quickPort("bc", "7.0.3", "[depends]\nbuild = [\"gcc >=14\"]"))
	r := newRoot(t, tree)
	var plan []stepResult
	r.jsonOut(&plan, "--assume-installed", "gcc=14.2.0", "install", "--dry-run", "bc")
	if got, want := planString(plan), "build bc 7.0.3\ninstall bc 7.0.3\nprovided gcc 14.2.0"; got != want {
		t.Errorf("plan with gcc provided:\n%s\nwant:\n%s", got, want)
	}
	// Asked for, the provided gcc is installed from its port; the build
	// of bc still uses the system's gcc and does not wait for it.
	r.jsonOut(&plan, "--assume-installed", "gcc=14.2.0", "install", "--dry-run", "bc", "gcc")
	if got, want := planString(plan), "build bc 7.0.3\ninstall bc 7.0.3\nbuild gmp 6.3.0\ninstall gmp 6.3.0\nbuild gcc 14.2.0\ninstall gcc 14.2.0"; got != want {
		t.Errorf("plan asking for the provided gcc:\n%s\nwant:\n%s", got, want)
	}
	r.ok("--assume-installed", "gcc=14.2.0", "install", "bc")
	if out := r.ok("list"); strings.Contains(out, "gcc") || !strings.Contains(out, "bc") {
		t.Errorf("after installing bc with gcc provided, list says:\n%s", out)
	}
	if out := r.ok("--assume-installed", "gcc=14.2.0", "why", "gcc"); !strings.Contains(out, "gcc 14.2.0 is provided by the system") {
		t.Errorf("why gcc: %q", out)
	}
	if out := r.ok("--assume-installed", "gcc=14.2.0", "upgrade", "--dry-run"); strings.Contains(out, "install") {
		t.Errorf("upgrade with gcc provided plans an install:\n%s", out)
	}
}

// The temporary tools are often another version than the tree's port (an
// older book's, or a local override): the provided package still serves,
// and nothing looks for a port at its version.
func TestProvidedPackageServesABuildWhenItsPortHasAnotherVersion(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "gcc", quickPort("gcc", "15.1.0", ""))
	writePort(t, tree, "bc", quickPort("bc", "7.0.3", "[depends]\nbuild = [\"gcc >=14\"]"))
	r := newRoot(t, tree)
	out := r.ok("--assume-installed", "gcc=14.2.0", "install", "bc")
	if !strings.Contains(out, "provided") {
		t.Errorf("the plan does not show gcc as provided:\n%s", out)
	}
	if list := r.ok("list"); strings.Contains(list, "gcc") || !strings.Contains(list, "bc") {
		t.Errorf("after installing bc with gcc 14.2.0 provided, list says:\n%s", list)
	}
}

// An archive installed as it is may need a package the system provides:
// that is as good as an installed one, as for a port.
func TestInstallFileAcceptsAProvidedDependency(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "bc", quickPort("bc", "7.0.3", "[depends]\nrun = [\"glibc\"]"))
	r := newRoot(t, tree)
	r.ok("--assume-installed", "glibc=2.41", "build", "bc")
	archive := filepath.Join(r.dir, "var/cache/lpm/packages/bc-7.0.3-1.lpm")
	r.fails([]string{"it needs glibc, which is not installed"}, "install", "--file", archive)
	r.ok("--assume-installed", "glibc=2.41", "install", "--file", archive)
	if out := r.ok("list"); !strings.Contains(out, "bc") || strings.Contains(out, "glibc") {
		t.Errorf("after install --file of bc with glibc provided, list says:\n%s", out)
	}
}

func TestCheckDependenciesJoinBuildsOnlyWhenChecksRun(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "dejagnu", quickPort("dejagnu", "1.6.3", ""))
	writePort(t, tree, "bc", quickPort("bc", "7.0.3", "[depends]\ncheck = [\"dejagnu\"]"))
	r := newRoot(t, tree)
	var plan []stepResult
	r.jsonOut(&plan, "install", "--dry-run", "bc")
	if got, want := planString(plan), "build dejagnu 1.6.3\ninstall dejagnu 1.6.3\nbuild bc 7.0.3\ninstall bc 7.0.3"; got != want {
		t.Errorf("plan with checks on:\n%s\nwant:\n%s", got, want)
	}
	t.Setenv("LPM_BUILD_CHECK", "false")
	r.jsonOut(&plan, "install", "--dry-run", "bc")
	if got, want := planString(plan), "build bc 7.0.3\ninstall bc 7.0.3"; got != want {
		t.Errorf("plan with checks off:\n%s\nwant:\n%s", got, want)
	}
}

func TestPortsWithAnExplicitSemverAreSeenAsInstalled(t *testing.T) {
	tree := t.TempDir()
	for _, v := range []string{"25", "26"} {
		writePort(t, tree, "tool/r"+v, quickPort("tool", "r"+v, `semver = "`+v+`.0.0"`))
	}
	writePort(t, tree, "app", quickPort("app", "1.0", "[depends]\nrun = [\"tool >=25\"]"))
	r := newRoot(t, tree)
	r.ok("install", "app", "tool@r25")
	var plan []stepResult
	r.jsonOut(&plan, "install", "--dry-run", "app")
	if len(plan) != 0 {
		t.Errorf("a second install of app plans:\n%s", planString(plan))
	}
	r.jsonOut(&plan, "upgrade", "--dry-run", "tool")
	if got, want := planString(plan), "build tool r26\nupgrade tool r26"; got != want {
		t.Errorf("upgrade tool plans:\n%s\nwant:\n%s", got, want)
	}
	if out := r.ok("why", "tool"); !strings.Contains(out, "tool r25") {
		t.Errorf("why tool: %q", out)
	}
	r.fails([]string{"tool is needed by app"}, "remove", "tool@r25")
	r.ok("hold", "tool")
	r.jsonOut(&plan, "upgrade", "--dry-run")
	if len(plan) != 0 {
		t.Errorf("upgrade with tool held plans:\n%s", planString(plan))
	}
	_, errOut, _ := r.lpm("upgrade", "tool")
	if !strings.Contains(errOut, "tool is held at r25") {
		t.Errorf("upgrade of the held tool says:\n%s", errOut)
	}
}

func TestWhyAndRemoveAgreeOnWhatIsNeeded(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "libc", quickPort("libc", "2.41", ""))
	writePort(t, tree, "tool", quickPort("tool", "1.0", "[depends]\nrun = [\"libc\"]"))
	writePort(t, tree, "app", quickPort("app", "1.0", "[depends]\nrun = [\"tool\"]"))
	r := newRoot(t, tree)
	r.ok("install", "app")
	// Removing what the user asked for leaves tool, which needs libc.
	r.ok("remove", "app")
	r.fails([]string{"libc is needed by tool"}, "remove", "libc")
	if out := r.ok("why", "libc"); !strings.Contains(out, "libc 2.41 is needed at run time by tool") {
		t.Errorf("why libc: %q, want it to name tool as remove does", out)
	}
	r.fails([]string{"no installed package needs it", "lpm remove tool would be safe"}, "why", "tool")
}

func TestUpgradeNamesTheHoldThatKeepsAPackage(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "hello", "libgreet@1.0.0")
	r.ok("hold", "libgreet")
	_, errOut, code := r.lpm("upgrade", "libgreet")
	if code != 0 || !strings.Contains(errOut, "libgreet is held at 1.0.0; lpm hold --release libgreet lets it upgrade") {
		t.Errorf("upgrade of the held libgreet: exit %d\n%s", code, errOut)
	}
}
