package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lfs-lpm/lpm/archive"
)

// manyFiles is how many files the port "many" installs: enough that a
// build takes a moment, so two at once overlap.
const manyFiles = 2000

// manyPort writes a port that installs manyFiles files under
// usr/share/many; its archive has manyFiles+3 entries (usr, usr/share and
// usr/share/many besides).
func manyPort(t *testing.T) string {
	t.Helper()
	tree := t.TempDir()
	writePort(t, tree, "many", fmt.Sprintf(`name = "many"
version = "1.0"
[build]
install = '''
mkdir -p "$DESTDIR/usr/share/many"
cd "$DESTDIR/usr/share/many"
for i in $(seq %d); do echo "file $i" > "f$i"; done
'''
`, manyFiles))
	return tree
}

// lpmAsync starts lpm against the root and returns a function that waits
// for it and gives its exit code and output.
func (r *testRoot) lpmAsync(args ...string) func() (int, string) {
	r.t.Helper()
	full := []string{"--root", r.dir, "--yes"}
	for _, p := range r.ports {
		full = append(full, "--ports", p)
	}
	cmd := exec.Command(lpmBin, append(full, args...)...)
	cmd.Env = append(os.Environ(), "LPM_CONFIG=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	return func() (int, string) {
		cmd.Wait()
		return cmd.ProcessState.ExitCode(), out.String()
	}
}

func entryCount(t *testing.T, file string) int {
	t.Helper()
	if err := archive.Verify(file); err != nil {
		t.Fatalf("the cached archive does not verify: %v", err)
	}
	m, err := archive.ReadManifest(file)
	if err != nil {
		t.Fatal(err)
	}
	return len(m.Entries)
}

func TestTwoRebuildsOfOnePortAtOnceCacheACompleteArchive(t *testing.T) {
	r := newRoot(t, manyPort(t))
	for round := 0; round < 2; round++ {
		a := r.lpmAsync("build", "--rebuild", "many")
		b := r.lpmAsync("build", "--rebuild", "many")
		for _, wait := range []func() (int, string){a, b} {
			if code, out := wait(); code != 0 {
				t.Fatalf("round %d: a build failed (exit %d):\n%s", round, code, out)
			}
		}
		if n := entryCount(t, r.path("var/cache/lpm/packages/many-1.0-1.lpm")); n != manyFiles+3 {
			t.Fatalf("round %d: the cached archive has %d entries, the port stages %d", round, n, manyFiles+3)
		}
	}
}

func TestAnInstallBesideARebuildInstallsEveryFile(t *testing.T) {
	r := newRoot(t, manyPort(t))
	install := r.lpmAsync("install", "many")
	rebuild := r.lpmAsync("build", "--rebuild", "many")
	for _, wait := range []func() (int, string){install, rebuild} {
		if code, out := wait(); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	}
	entries, err := os.ReadDir(r.path("usr/share/many"))
	if err != nil || len(entries) != manyFiles {
		t.Fatalf("installed %d of %d files (%v)", len(entries), manyFiles, err)
	}
	files := strings.Count(r.ok("files", "many"), "\n")
	if files != manyFiles+3 {
		t.Errorf("the database records %d paths, want %d", files, manyFiles+3)
	}
	r.ok("verify", "many")
}

func TestInstallRefusesATruncatedCachedArchive(t *testing.T) {
	r := newRoot(t, manyPort(t))
	r.ok("build", "many")
	cached := r.path("var/cache/lpm/packages/many-1.0-1.lpm")
	data, err := os.ReadFile(cached)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the end: the manifest still reads, so the archive looks cached.
	if err := os.WriteFile(cached, data[:len(data)-64], 0o644); err != nil {
		t.Fatal(err)
	}
	before := r.state()
	r.fails([]string{cached, "corrupt", "rebuild"}, "install", "many")
	r.unchanged(before)
	if _, err := os.Stat(r.path("usr/share/many")); err == nil {
		t.Error("a directory of the truncated package was left on the root")
	}
	if names, _ := filepath.Glob(r.path("usr/share/.*")); len(names) != 0 {
		t.Errorf("temp files were left: %v", names)
	}
}

func TestARefusedExtractionLeavesNoWorkDirectory(t *testing.T) {
	tree, dist := t.TempDir(), t.TempDir()
	sum := writeTarGz(t, filepath.Join(dist, "x-1.tar.gz"), []tarEntry{
		{name: "x-1/", typ: '5'},
		{name: "x-1/esc", typ: '2', link: "/etc"},
		{name: "x-1/esc/evil", body: "x"},
	})
	writePort(t, tree, "x", `name = "x"
version = "1"
[[source]]
url = "file://`+dist+`/x-1.tar.gz"
sha256 = "`+sum+`"
[build]
install = 'touch $DESTDIR/x'
`)
	r := newRoot(t, tree)
	r.fails([]string{"x-1/esc/evil", "refusing to extract"}, "build", "x")
	if _, err := os.Lstat(r.path("var/tmp/lpm/x-1-1")); err == nil {
		t.Error("the work directory of the refused extraction, hostile symlink and all, was left behind")
	}
}

func TestABuildOffATerminalSaysEachPhaseAndItsTime(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "plain", `name = "plain"
version = "1.0"
[build]
build = 'echo compiling'
install = 'mkdir -p "$DESTDIR/usr/share/plain"; echo hi > "$DESTDIR/usr/share/plain/f"'
`)
	r := newRoot(t, tree)
	_, errOut, code := r.lpm("build", "plain")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	for _, want := range []string{"plain-1.0-1: build\n", "plain-1.0-1: build: done in ", "plain-1.0-1: install\n", "plain-1.0-1: install: done in "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "items") || strings.Contains(errOut, "\r") || strings.Contains(errOut, "compiling") {
		t.Errorf("a phase off a terminal counts lines, redraws, or repeats the log:\n%s", errOut)
	}
}

// asUser runs lpm as an unprivileged user (nobody) when the tests run as
// root, and as the tests' own user otherwise, against a root that user
// owns.
func asUser(t *testing.T, r *testRoot, args ...string) (string, int) {
	t.Helper()
	full := []string{"--root", r.dir}
	for _, p := range r.ports {
		full = append(full, "--ports", p)
	}
	cmd := exec.Command(lpmBin, append(full, args...)...)
	cmd.Env = append(os.Environ(), "LPM_CONFIG=", "HOME=/")
	if os.Geteuid() == 0 {
		const nobody = 65534
		// Open the test's own directories to nobody, and never their
		// parent, the machine's /tmp: made 0755 it keeps every other
		// user out (apt's _apt among them).
		for _, p := range append([]string{filepath.Dir(lpmBin), filepath.Dir(r.dir), r.dir}, r.ports...) {
			os.Chmod(p, 0o755)
		}
		for _, p := range r.ports {
			if parent := filepath.Dir(p); parent != filepath.Clean(os.TempDir()) {
				os.Chmod(parent, 0o755)
			}
		}
		filepath.Walk(r.dir, func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				err = os.Lchown(p, nobody, nobody)
			}
			return err
		})
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func TestABuildWithoutTheSandboxSaysSoOnce(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "plain", `name = "plain"
version = "1.0"
[build]
build = 'echo compiling'
install = 'mkdir -p "$DESTDIR/usr/share/plain"; echo hi > "$DESTDIR/usr/share/plain/f"'
`)
	r := newRoot(t, tree)
	out, code := asUser(t, r, "build", "plain")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if n := strings.Count(out, "warning: building without the sandbox: it needs root"); n != 1 {
		t.Errorf("the missing sandbox was said %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "build.sandbox = false") {
		t.Errorf("the warning does not say how to silence it:\n%s", out)
	}
	if os.Geteuid() == 0 {
		// As root, the sandbox is there and nothing is said.
		r2 := newRoot(t, tree)
		if _, errOut, _ := r2.lpm("build", "plain"); strings.Contains(errOut, "sandbox") {
			t.Errorf("a root build warned about the sandbox:\n%s", errOut)
		}
	}
}

// suitePort writes a make-style port whose source has a test suite with
// one failing test; advisory sets check_advisory.
func suitePort(t *testing.T, advisory bool) string {
	t.Helper()
	tree, dist := t.TempDir(), t.TempDir()
	makefile := "all:\n\techo built > suite.out\n" +
		"check:\n\t@echo 'PASS: t-basic'\n\t@echo 'FAIL: t-locale'\n\t@false\n" +
		"install:\n\tmkdir -p $(DESTDIR)$(PREFIX)/share/suite\n\tcp suite.out $(DESTDIR)$(PREFIX)/share/suite/\n"
	sum := writeTarGz(t, filepath.Join(dist, "suite-1.0.tar.gz"), []tarEntry{
		{name: "suite-1.0/", typ: '5'},
		{name: "suite-1.0/Makefile", body: makefile},
	})
	extra := ""
	if advisory {
		extra = "check_advisory = true\n"
	}
	writePort(t, tree, "suite", `name = "suite"
version = "1.0"
[[source]]
url = "file://`+dist+`/suite-1.0.tar.gz"
sha256 = "`+sum+`"
[build]
style = "make"
`+extra)
	return tree
}

func TestAnAdvisoryCheckThatFailsIsAWarningAndTheBuildGoesOn(t *testing.T) {
	r := newRoot(t, suitePort(t, true))
	_, errOut, code := r.lpm("install", "suite")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	log := r.path("var/log/lpm/build/suite-1.0.log")
	var warning string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(l, "warning: ") && strings.Contains(l, "check") {
			warning = l
		}
	}
	for _, want := range []string{"suite-1.0-1", "check phase failed", log} {
		if !strings.Contains(warning, want) {
			t.Errorf("the warning %q lacks %q:\n%s", warning, want, errOut)
		}
	}
	data, _ := os.ReadFile(log)
	if !strings.Contains(string(data), "FAIL: t-locale") || !strings.Contains(string(data), "PASS: t-basic") {
		t.Errorf("the log lost the check output:\n%s", data)
	}
	if _, err := os.Stat(r.path("usr/share/suite/suite.out")); err != nil {
		t.Errorf("the package was not installed: %v", err)
	}

	// Without the key a failing check still stops the build.
	strict := newRoot(t, suitePort(t, false))
	before := strict.state()
	strict.fails([]string{"building suite-1.0-1: phase check failed"}, "install", "suite")
	strict.unchanged(before)
}

func TestAPhaseThatLeavesABackgroundProcessEndsWithIt(t *testing.T) {
	tree := t.TempDir()
	marker := filepath.Join(t.TempDir(), "late")
	// The background job would keep the phase's output open for a minute,
	// and then write where the build no longer looks.
	writePort(t, tree, "stray", `name = "stray"
version = "1.0"
[build]
install = '''
mkdir -p "$DESTDIR/usr/share/stray"
echo ok > "$DESTDIR/usr/share/stray/ok"
( sleep 60; echo late > `+marker+` ) &
'''
`)
	r := newRoot(t, tree)
	done := make(chan struct{})
	var errOut string
	var code int
	go func() {
		_, errOut, code = r.lpm("install", "stray")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("lpm waited for a process the install phase left in the background")
	}
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if _, err := os.Stat(r.path("usr/share/stray/ok")); err != nil {
		t.Errorf("the package was not installed: %v", err)
	}
	log, _ := os.ReadFile(r.path("var/log/lpm/build/stray-1.0.log"))
	if !strings.Contains(string(log), "left processes running in the background") {
		t.Errorf("the log does not say the leftovers were killed:\n%s", log)
	}
	if out, _ := exec.Command("pgrep", "-f", "echo late > "+marker).Output(); len(out) > 0 {
		t.Errorf("the background process is still running: pid %s", out)
	}
}

func TestTwoSourcesSharingATopDirectoryUnpackTogether(t *testing.T) {
	tree, dist := t.TempDir(), t.TempDir()
	// As tcl's source and its documentation tarball: both unpack into
	// tcl8.6.16/.
	srcSum := writeTarGz(t, filepath.Join(dist, "two-1-src.tar.gz"), []tarEntry{
		{name: "two-1/", typ: '5'},
		{name: "two-1/main.c", body: "int main(void) { return 0; }\n"},
	})
	docSum := writeTarGz(t, filepath.Join(dist, "two-1-html.tar.gz"), []tarEntry{
		{name: "two-1/", typ: '5'},
		{name: "two-1/html/", typ: '5'},
		{name: "two-1/html/index.html", body: "<p>two</p>\n"},
	})
	writePort(t, tree, "two", `name = "two"
version = "1"
[[source]]
url = "file://`+dist+`/two-1-src.tar.gz"
sha256 = "`+srcSum+`"
[[source]]
url = "file://`+dist+`/two-1-html.tar.gz"
sha256 = "`+docSum+`"
[build]
install = '''
test -f main.c
mkdir -p "$DESTDIR/usr/share/doc/two"
cp html/index.html "$DESTDIR/usr/share/doc/two/"
'''
`)
	r := newRoot(t, tree)
	r.ok("install", "two")
	if _, err := os.Stat(r.path("usr/share/doc/two/index.html")); err != nil {
		t.Errorf("the second source did not join the first's directory: %v", err)
	}

	// A file both sources hold is still refused, naming it.
	clash := writeTarGz(t, filepath.Join(dist, "two-1-html.tar.gz"), []tarEntry{
		{name: "two-1/", typ: '5'},
		{name: "two-1/main.c", body: "other\n"},
	})
	writePort(t, tree, "two", `name = "two"
version = "1"
release = 2
[[source]]
url = "file://`+dist+`/two-1-src.tar.gz"
sha256 = "`+srcSum+`"
[[source]]
url = "file://`+dist+`/two-1-html.tar.gz"
sha256 = "`+clash+`"
[build]
install = 'true'
`)
	r.fails([]string{"two-1/main.c is in two sources"}, "build", "two")
}
