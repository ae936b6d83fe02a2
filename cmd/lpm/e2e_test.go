package main

import (
	"database/sql"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
)

func TestInstallBuildsDependenciesInOrderAndRemoveCleansUp(t *testing.T) {
	r := newRoot(t)
	before := r.state()
	out := r.ok("install", "hello")
	// The plan lists hello's build and run dependencies before hello.
	iLib, iTool, iHello := strings.Index(out, "install  libgreet"), strings.Index(out, "install  mkbanner"), strings.Index(out, "install  hello")
	if iLib < 0 || iTool < 0 || iHello < 0 || iLib > iHello || iTool > iHello {
		t.Errorf("plan order wrong:\n%s", out)
	}
	var list []listResult
	r.jsonOut(&list, "list")
	if len(list) != 3 || list[0].Name != "hello" || !list[0].Explicit || list[1].Explicit {
		t.Errorf("list = %+v", list)
	}
	// Every installed file is owned by its package.
	for _, pkg := range []string{"hello", "libgreet", "mkbanner"} {
		var files []fileResult
		r.jsonOut(&files, "files", pkg)
		var paths []string
		for _, f := range files {
			if f.Type != "dir" {
				paths = append(paths, f.Path)
			}
		}
		var owners []ownsResult
		r.jsonOut(&owners, append([]string{"owns"}, paths...)...)
		for _, o := range owners {
			if len(o.Owners) != 1 || o.Owners[0] != pkg {
				t.Errorf("owns %s = %v, want %s", o.Path, o.Owners, pkg)
			}
		}
	}
	// /lib is a symlink to usr/lib: a path through it finds the owner.
	if got := r.ok("owns", "/lib/libgreet.so.1"); !strings.Contains(got, "/usr/lib/libgreet.so.1 is owned by libgreet") {
		t.Errorf("owns through /lib: %q", got)
	}
	if _, err := os.Stat(r.path("var/log/lpm/build/hello-1.0.0.log")); err != nil {
		t.Errorf("build log: %v", err)
	}
	r.ok("verify")
	f, err := os.OpenFile(r.path("usr/bin/hello"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("tampered")
	f.Close()
	out, _, code := r.lpm("verify")
	if code != 1 || !strings.Contains(out, "hello: /usr/bin/hello: content differs") {
		t.Errorf("verify after an edit: exit %d, output %q", code, out)
	}
	r.ok("remove", "hello", "libgreet", "mkbanner")
	// The ldconfig hook's output belongs to no package.
	os.Remove(r.path("etc/ld.so.cache"))
	os.RemoveAll(r.path("var/cache/ldconfig"))
	// Nothing owned is left, and no directory lpm created: the root is as it
	// was, with the directories that were there before still there.
	r.unchanged(before)
}

func TestInstalledProgramRuns(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "hello")
	cmd := osexec.Command(r.path("usr/bin/hello"), "tester")
	cmd.Env = []string{"LD_LIBRARY_PATH=" + r.path("usr/lib")}
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "Hello there, tester! (libgreet 1.1.0)") {
		t.Errorf("hello: %v: %s", err, got)
	}
}

func TestConflictWithAnotherPackagesFileChangesNothing(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "impostor", `name = "impostor"
version = "1.0"
[build]
install = 'mkdir -p "$DESTDIR/usr/include" && echo fake > "$DESTDIR/usr/include/greet.h"'
`)
	r := newRoot(t, tree)
	r.ok("install", "libgreet")
	before := r.state()
	r.fails([]string{"installing impostor 1.0", "/usr/include/greet.h (owned by libgreet)", "nothing was changed", "--overwrite"}, "install", "impostor")
	r.unchanged(before)
	// --overwrite takes the file over; the database follows.
	r.ok("install", "--overwrite", "/usr/include/greet.h", "impostor")
	if got := r.ok("owns", "/usr/include/greet.h"); !strings.Contains(got, "owned by impostor") {
		t.Errorf("after --overwrite: %q", got)
	}
}

func TestConflictWithAnUnownedFileChangesNothing(t *testing.T) {
	r := newRoot(t)
	os.MkdirAll(r.path("usr/include"), 0o755)
	os.WriteFile(r.path("usr/include/greet.h"), []byte("mine\n"), 0o644)
	before := r.state()
	r.fails([]string{"/usr/include/greet.h (exists on disk, owned by no package)"}, "install", "libgreet")
	r.unchanged(before)
}

func TestEditedConfigIsKeptOnUpgradeAndOnRemove(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "libgreet@1.0.0")
	// An unedited config file is simply replaced on upgrade...
	r.ok("upgrade", "libgreet")
	if got, _ := os.ReadFile(r.path("etc/greet.conf")); string(got) != "greeting = Hello there\n" {
		t.Errorf("unedited config after upgrade: %q", got)
	}
	if _, err := os.Stat(r.path("etc/greet.conf.lpmnew")); err == nil {
		t.Error("an unedited config got a .lpmnew")
	}
	// ...an edited one is kept, the new one beside it.
	r2 := newRoot(t)
	r2.ok("install", "libgreet@1.0.0")
	os.WriteFile(r2.path("etc/greet.conf"), []byte("greeting = Howdy\n"), 0o644)
	r2.ok("upgrade")
	if got, _ := os.ReadFile(r2.path("etc/greet.conf")); string(got) != "greeting = Howdy\n" {
		t.Errorf("edited config after upgrade: %q", got)
	}
	if got, _ := os.ReadFile(r2.path("etc/greet.conf.lpmnew")); string(got) != "greeting = Hello there\n" {
		t.Errorf(".lpmnew: %q", got)
	}
	r2.ok("remove", "libgreet")
	if got, _ := os.ReadFile(r2.path("etc/greet.conf.lpmsave")); string(got) != "greeting = Howdy\n" {
		t.Errorf(".lpmsave after remove: %q", got)
	}
	if _, err := os.Stat(r2.path("etc/greet.conf")); err == nil {
		t.Error("the edited config is still in place after remove")
	}
}

func TestUpgradeRemovesGoneFilesAndLeavesUnchangedOnesAlone(t *testing.T) {
	tree := t.TempDir()
	for _, v := range []struct{ dir, version, script string }{
		{"data/1.0.0", "1.0.0", `echo same > $D/same; echo one > $D/changes; echo old > $D/gone`},
		{"data/2.0.0", "2.0.0", `echo same > $D/same; echo two > $D/changes; echo new > $D/added`},
	} {
		writePort(t, tree, v.dir, `name = "data"
version = "`+v.version+`"
[build]
install = 'D="$DESTDIR/usr/share/data"; mkdir -p $D; `+v.script+`'
`)
	}
	r := newRoot(t, tree)
	r.ok("install", "data@1.0.0")
	var st1 syscall.Stat_t
	syscall.Stat(r.path("usr/share/data/same"), &st1)
	r.ok("upgrade", "data")
	var st2 syscall.Stat_t
	syscall.Stat(r.path("usr/share/data/same"), &st2)
	if st1.Ino != st2.Ino {
		t.Error("an unchanged file was rewritten (its inode changed)")
	}
	if got, _ := os.ReadFile(r.path("usr/share/data/changes")); string(got) != "two\n" {
		t.Errorf("changed file = %q", got)
	}
	if _, err := os.Stat(r.path("usr/share/data/gone")); err == nil {
		t.Error("a file the new version lacks is still there")
	}
	if _, err := os.Stat(r.path("usr/share/data/added")); err != nil {
		t.Error("the new file is missing")
	}
	r.ok("verify", "data")
}

func TestChecksumMismatchBuildsNothing(t *testing.T) {
	tree := t.TempDir()
	bad := strings.Repeat("0", 64)
	writePort(t, tree, "libgreet", `name = "libgreet"
version = "9.0.0"
[[source]]
url = "https://distfiles.lpm.invalid/demo/libgreet-1.0.0.tar.gz"
sha256 = "`+bad+`"
[build]
style = "make"
`)
	r := newRoot(t, tree)
	before := r.state()
	line := r.fails([]string{"libgreet-1.0.0.tar.gz", "sha256 mismatch", "expected " + bad, "got fdbc020b"}, "install", "libgreet")
	if !strings.Contains(line, "file://") {
		t.Errorf("the error does not name the URL: %s", line)
	}
	r.unchanged(before)
	if entries, _ := os.ReadDir(r.path("var/cache/lpm/distfiles")); len(entries) != 0 {
		t.Errorf("distfiles after a mismatch: %v", entries)
	}
	if entries, _ := os.ReadDir(r.path("var/cache/lpm/packages")); len(entries) != 0 {
		t.Errorf("a package was built: %v", entries)
	}
}

func TestFailingBuildShowsPhaseLogTailAndChangesNothing(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "broken", `name = "broken"
version = "1.0"
[build]
configure = 'echo configuring fine'
build = 'echo compiling; echo "error: widget.c:3: boom" >&2; exit 3'
install = 'true'
`)
	r := newRoot(t, tree)
	before := r.state()
	_, errOut, code := r.lpm("install", "broken")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	log := r.path("var/log/lpm/build/broken-1.0.log")
	for _, want := range []string{"error: widget.c:3: boom", "building broken-1.0-1: phase build failed", log} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if data, _ := os.ReadFile(log); !strings.Contains(string(data), "configuring fine") {
		t.Errorf("log lacks the configure output: %q", data)
	}
	r.unchanged(before)
}

func TestHostileTarballIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"dot-dot", []tarEntry{{name: "x-1/", typ: '5'}, {name: "x-1/../../evil", body: "x"}}, "../../evil"},
		{"absolute", []tarEntry{{name: "/tmp/lpm-evil", body: "x"}}, "/tmp/lpm-evil"},
		{"through a symlink", []tarEntry{{name: "x-1/", typ: '5'}, {name: "x-1/esc", typ: '2', link: "/etc"}, {name: "x-1/esc/evil", body: "x"}}, "x-1/esc/evil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, dist := t.TempDir(), t.TempDir()
			sum := writeTarGz(t, filepath.Join(dist, "x-1.tar.gz"), tc.entries)
			writePort(t, tree, "x", `name = "x"
version = "1"
[[source]]
url = "file://`+dist+`/x-1.tar.gz"
sha256 = "`+sum+`"
[build]
install = 'touch $DESTDIR/x'
`)
			r := newRoot(t, tree)
			before := r.state()
			r.fails([]string{tc.want, "refusing to extract"}, "install", "x")
			r.unchanged(before)
			for _, p := range []string{"/tmp/lpm-evil", "/etc/evil", filepath.Join(r.dir, "var/tmp/evil")} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

func TestMalformedPortIsAOneLineError(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "mangled", "name = \"mangled\"\nversion = \"1.0\"\n[build\ninstall = 'true'\n")
	r := newRoot(t, tree)
	before := r.state()
	r.fails([]string{"port mangled does not parse", filepath.Join(tree, "mangled/port.toml") + ":3"}, "install", "mangled")
	r.unchanged(before)
	out, _, code := r.lpm("lint", tree)
	if code != 1 || !strings.Contains(out, "mangled/port.toml:3: error:") {
		t.Errorf("lint: exit %d: %s", code, out)
	}
}

func TestNewerDatabaseSchemaIsRefused(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "libgreet")
	db, err := sql.Open("sqlite3", pkgdb.Path(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	dbBytes, _ := os.ReadFile(pkgdb.Path(r.dir))
	r.fails([]string{"schema 99", "upgrade lpm"}, "list")
	r.fails([]string{"schema 99", "upgrade lpm"}, "install", "hello")
	r.fails([]string{"schema 99", "upgrade lpm"}, "remove", "libgreet")
	if after, _ := os.ReadFile(pkgdb.Path(r.dir)); string(after) != string(dbBytes) {
		t.Error("the newer database file was modified")
	}
	if _, err := os.Stat(r.path("etc/greet.conf")); err != nil {
		t.Error("libgreet's files were touched")
	}
}

func TestRemoveRefusesWhileANeededPackageStays(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "hello")
	before := r.state()
	r.fails([]string{"libgreet is needed by hello"}, "remove", "libgreet")
	r.unchanged(before)
	r.fails([]string{"nosuch", "not installed"}, "remove", "nosuch")
	r.unchanged(before)
}

func TestBuildReusesTheArchiveUnlessRebuild(t *testing.T) {
	r := newRoot(t)
	out := strings.TrimSpace(r.ok("build", "mkbanner"))
	if !strings.HasSuffix(out, "mkbanner-0.3.0-1.lpm") {
		t.Fatalf("build printed %q", out)
	}
	fi1, _ := os.Stat(out)
	_, errOut, _ := r.lpm("build", "mkbanner")
	if !strings.Contains(errOut, "using cached") {
		t.Errorf("second build did not reuse the archive: %s", errOut)
	}
	r.ok("build", "--rebuild", "mkbanner")
	fi2, _ := os.Stat(out)
	if os.SameFile(fi1, fi2) {
		t.Error("--rebuild did not write a new archive")
	}
	// The archive installs as it is into another root.
	r2 := newRoot(t)
	r2.ok("install", "--file", out)
	if got := r2.ok("owns", "/usr/bin/mkbanner"); !strings.Contains(got, "owned by mkbanner") {
		t.Errorf("owns after install --file: %q", got)
	}
	r.ok("install", "hello")
	r2.fails([]string{"needs libgreet ^1.0", "not installed"}, "install", "--file", strings.Replace(out, "mkbanner-0.3.0-1", "hello-1.0.0-1", 1))
}

func TestInstallFileRefusesAHostileArchive(t *testing.T) {
	r := newRoot(t)
	bad := filepath.Join(t.TempDir(), "evil.lpm")
	os.WriteFile(bad, []byte("not an archive at all"), 0o644)
	before := r.state()
	r.fails([]string{"evil.lpm"}, "install", "--file", bad)
	r.unchanged(before)
}

func TestSandboxStopsWritesOutsideWorkAndStaging(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the build sandbox needs root")
	}
	tree := t.TempDir()
	writePort(t, tree, "careless", `name = "careless"
version = "1.0"
[build]
install = 'mkdir -p "$DESTDIR/usr/bin"; echo oops > "$ROOT/etc/careless.conf"'
`)
	r := newRoot(t, tree)
	before := r.state()
	_, errOut, code := r.lpm("install", "careless")
	if code != 1 || !strings.Contains(errOut, "Read-only file system") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
	r.unchanged(before)
}

func TestASecondWriterWaitsOrFails(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "mkbanner")
	lock, err := installer.AcquireLock(r.dir, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.fails([]string{"another lpm is changing this root", "lock"}, "remove", "--no-wait", "mkbanner")
	// Queries do not wait for the writer.
	if out := r.ok("list"); !strings.Contains(out, "mkbanner") {
		t.Errorf("list while another lpm holds the lock: %q", out)
	}
	// Without --no-wait a second writer waits, says so, and goes on once
	// the first is done.
	cmd := osexec.Command(lpmBin, "--root", r.dir, "--yes", "remove", "mkbanner")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := os.Stat(r.path("usr/bin/mkbanner")); err != nil {
		t.Error("the second writer did not wait for the lock")
	}
	lock.Release()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the waiting writer failed: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "waiting for another lpm") {
		t.Errorf("the waiting writer did not say so: %s", stderr.String())
	}
	if _, err := os.Stat(r.path("usr/bin/mkbanner")); err == nil {
		t.Error("the waiting remove did not happen after the lock was released")
	}
}

func TestQueriesSpeakJSON(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "hello")
	var info infoResult
	r.jsonOut(&info, "info", "hello")
	if info.Name != "hello" || !info.Installed || info.Depends[0] != "libgreet ^1.0" {
		t.Errorf("info = %+v", info)
	}
	var port infoResult
	r.jsonOut(&port, "info", "libgreet")
	if port.Version != "1.1.0" {
		t.Errorf("info libgreet = %+v", port)
	}
	var found []searchResult
	r.jsonOut(&found, "search", "greet")
	if len(found) != 2 || found[0].Name != "hello" || found[1].Installed != "1.1.0" {
		t.Errorf("search = %+v", found)
	}
	var diffs []installer.Difference
	r.jsonOut(&diffs, "verify")
	if len(diffs) != 0 {
		t.Errorf("verify = %+v", diffs)
	}
	var plan []stepResult
	r.jsonOut(&plan, "upgrade", "--dry-run")
	if len(plan) != 0 {
		t.Errorf("upgrade plan on an up-to-date root = %+v", plan)
	}
}

func TestCompletionAndManPages(t *testing.T) {
	r := newRoot(t)
	if out := r.ok("completion", "bash"); !strings.Contains(out, "__start_lpm") {
		t.Error("bash completion lacks its entry function")
	}
	dir := t.TempDir()
	r.ok("man", dir)
	for _, page := range []string{"lpm.8", "lpm-install.8", "lpm-owns.8"} {
		if _, err := os.Stat(filepath.Join(dir, page)); err != nil {
			t.Errorf("man page %s: %v", page, err)
		}
	}
}

func TestUpgradeCannotBreakWhatDependsOnIt(t *testing.T) {
	tree := t.TempDir()
	for _, v := range []string{"1.0.0", "1.4.0", "2.0.0"} {
		writePort(t, tree, "base/"+v, `name = "base"
version = "`+v+`"
[build]
install = 'mkdir -p $DESTDIR/usr/share/base; echo $VERSION > $DESTDIR/usr/share/base/version'
`)
	}
	writePort(t, tree, "app", `name = "app"
version = "1.0.0"
[depends]
run = ["base ^1.0"]
[build]
install = 'mkdir -p $DESTDIR/usr/share/app; touch $DESTDIR/usr/share/app/x'
`)
	r := newRoot(t, tree)
	r.ok("install", "app", "base@1.0.0")
	out := r.ok("upgrade", "base")
	if !strings.Contains(out, "1.0.0 -> 1.4.0") {
		t.Errorf("upgrade plan:\n%s", out)
	}
	if got, _ := os.ReadFile(r.path("usr/share/base/version")); string(got) != "1.4.0\n" {
		t.Errorf("base after upgrade = %q, want the newest 1.x", got)
	}
	before := r.state()
	r.fails([]string{"your request cannot be satisfied"}, "install", "base@2")
	_, explanation, _ := r.lpm("install", "base@2")
	for _, want := range []string{"Because", "app 1.0.0 depends on base ^1.0", "you asked for base 2", "you have installed app"} {
		if !strings.Contains(explanation, want) {
			t.Errorf("explanation lacks %q:\n%s", want, explanation)
		}
	}
	r.unchanged(before)
}

func TestHistoryAndUndo(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "libgreet@1.0.0")
	r.ok("upgrade", "libgreet")
	var hist []historyEntry
	r.jsonOut(&hist, "history")
	if len(hist) != 2 || hist[0].Packages[0].OldVersion != "1.0.0" || hist[0].Packages[0].NewVersion != "1.1.0" || hist[0].State != "done" {
		t.Fatalf("history = %+v", hist)
	}
	r.ok("undo")
	if got, _ := os.ReadFile(r.path("usr/include/greet.h")); !strings.Contains(string(got), `"1.0.0"`) {
		t.Errorf("after undo the header is %q", got)
	}
	var info infoResult
	r.jsonOut(&info, "info", "libgreet")
	if info.Version != "1.0.0" {
		t.Errorf("after undo libgreet is %s", info.Version)
	}
	r.ok("verify")
	// Undoing the first install removes the package.
	r.ok("undo", "1")
	if _, err := os.Stat(r.path("usr/include/greet.h")); err == nil {
		t.Error("undo of the install left its files")
	}
}

func TestWhyAndHold(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "hello")
	if out := r.ok("why", "libgreet"); !strings.Contains(out, "hello 1.0.0 -> libgreet 1.1.0") || !strings.Contains(out, "run dep of hello") {
		t.Errorf("why libgreet: %q", out)
	}
	r.fails([]string{"no installed package needs it at run time"}, "why", "mkbanner")
	r.ok("undo")
	r.ok("install", "hello", "libgreet@1.0.0")
	r.ok("hold", "libgreet")
	var plan []stepResult
	r.jsonOut(&plan, "upgrade", "--dry-run")
	if len(plan) != 0 {
		t.Errorf("upgrade touches a held package: %+v", plan)
	}
	_, explanation, code := r.lpm("install", "libgreet@1.1.0")
	if code != 1 || !strings.Contains(explanation, "libgreet is held at 1.0.0") {
		t.Errorf("install of another version of a held package: exit %d\n%s", code, explanation)
	}
	r.ok("hold", "--release", "libgreet")
	r.jsonOut(&plan, "upgrade", "--dry-run")
	// 1.1.0's archive is still cached from the first install: no build.
	if len(plan) != 1 || plan[0].Action != "upgrade" || plan[0].New != "1.1.0" {
		t.Errorf("after release: %+v", plan)
	}
}

func TestDiffConfigShowsYourEditsAndThePackagesChanges(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "libgreet@1.0.0")
	os.WriteFile(r.path("etc/greet.conf"), []byte("greeting = Howdy\n"), 0o644)
	r.ok("upgrade", "libgreet")
	out := r.ok("diff-config", "libgreet")
	for _, want := range []string{"-greeting = Hello\n+greeting = Howdy", "+greeting = Hello there", "diff3 -m"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff-config lacks %q:\n%s", want, out)
		}
	}
}

func TestKernelsInstallSideBySideAndTheLastOrRunningOneStays(t *testing.T) {
	tree := t.TempDir()
	for _, v := range []string{"6.1.0", "6.13.4"} {
		writePort(t, tree, "kern/"+v, `name = "kern"
version = "`+v+`"
slot = true
[build]
install = 'mkdir -p $DESTDIR/boot; echo $VERSION > $DESTDIR/boot/vmlinuz-$VERSION-lfs-12.3; echo map > $DESTDIR/boot/System.map-$VERSION'
`)
	}
	r := newRoot(t, tree)
	r.ok("install", "kern@6.1.0")
	if out := r.ok("upgrade"); !strings.Contains(out, "install  kern  6.13.4") {
		t.Errorf("upgrade does not install the new kernel beside the old:\n%s", out)
	}
	var list []listResult
	r.jsonOut(&list, "list")
	if len(list) != 2 || list[0].Name != "kern+6.1.0" || list[1].Name != "kern+6.13.4" {
		t.Fatalf("list = %+v", list)
	}
	for _, img := range []string{"boot/vmlinuz-6.1.0-lfs-12.3", "boot/vmlinuz-6.13.4-lfs-12.3"} {
		if _, err := os.Stat(r.path(img)); err != nil {
			t.Errorf("%s: %v", img, err)
		}
	}
	before := r.state()
	r.fails([]string{"kern is installed in several versions (6.1.0, 6.13.4)", "kern@6.1.0"}, "remove", "kern")
	t.Setenv("LPM_RUNNING_KERNEL", "6.13.4")
	r.fails([]string{"kern+6.13.4", "the running kernel (6.13.4)"}, "remove", "kern@6.13")
	r.unchanged(before)
	r.ok("remove", "kern@~6.1")
	if _, err := os.Stat(r.path("boot/vmlinuz-6.1.0-lfs-12.3")); err == nil {
		t.Error("the removed kernel's image is still there")
	}
	t.Setenv("LPM_RUNNING_KERNEL", "")
	r.fails([]string{"without a kernel"}, "remove", "kern")
	if got := r.ok("files", "kern"); !strings.Contains(got, "/boot/vmlinuz-6.13.4-lfs-12.3") {
		t.Errorf("files kern: %s", got)
	}
}

// A port's files and patches are its own regular files: a link in the
// port directory to a file of the host (a chroot build could not read
// it) or to a device is refused before anything is built.
func TestPortFileThatIsALinkOrDeviceIsRefused(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{secret, "/dev/zero"} {
		t.Run(filepath.Base(target), func(t *testing.T) {
			tree, dist := t.TempDir(), t.TempDir()
			sum := writeTarGz(t, filepath.Join(dist, "x-1.tar.gz"), []tarEntry{{name: "x-1/", typ: '5'}, {name: "x-1/a", body: "a"}})
			writePort(t, tree, "x", `name = "x"
version = "1"
files = ["extra.conf"]
[[source]]
url = "file://`+dist+`/x-1.tar.gz"
sha256 = "`+sum+`"
[build]
install = 'mkdir -p $DESTDIR/etc; cp $FILES/extra.conf $DESTDIR/etc/'
`)
			if err := os.Symlink(target, filepath.Join(tree, "x", "extra.conf")); err != nil {
				t.Fatal(err)
			}
			r := newRoot(t, tree)
			before := r.state()
			r.fails([]string{"port x", "extra.conf", "put the file itself in the port"}, "install", "x")
			r.unchanged(before)
		})
	}
	// A link to another port's file in the same tree is that file.
	tree, dist := t.TempDir(), t.TempDir()
	sum := writeTarGz(t, filepath.Join(dist, "x-1.tar.gz"), []tarEntry{{name: "x-1/", typ: '5'}, {name: "x-1/a", body: "a"}})
	writePort(t, tree, "x", `name = "x"
version = "1"
files = ["extra.conf"]
[[source]]
url = "file://`+dist+`/x-1.tar.gz"
sha256 = "`+sum+`"
[build]
install = 'mkdir -p $DESTDIR/etc; cp $FILES/extra.conf $DESTDIR/etc/'
`)
	os.MkdirAll(filepath.Join(tree, "shared"), 0o755)
	os.WriteFile(filepath.Join(tree, "shared", "extra.conf"), []byte("shared\n"), 0o644)
	if err := os.Symlink("../shared/extra.conf", filepath.Join(tree, "x", "extra.conf")); err != nil {
		t.Fatal(err)
	}
	r := newRoot(t, tree)
	r.ok("install", "x")
	if data, _ := os.ReadFile(r.path("etc/extra.conf")); string(data) != "shared\n" {
		t.Errorf("etc/extra.conf = %q, want the shared file's content", data)
	}
}
