package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lfs-lpm/lpm/archive"
)

// Tests of the transaction engine as a user meets it: full disks, type
// changes, a damaged database, a read-only root after a crash.

// packDir packs the staging directory stage as package name at version.
func packDir(t *testing.T, stage, name, version string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+"-"+version+".lpm")
	if _, err := archive.Create(out, stage, archive.Manifest{Name: name, Version: version, Release: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

// smallDisk turns the root into a tmpfs of size (e.g. "16m").
func smallDisk(t *testing.T, r *testRoot, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", r.dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", r.dir).Run() })
	for _, d := range []string{"etc/lpm", "usr/lib", "var/lib"} {
		os.MkdirAll(r.path(d), 0o755)
	}
}

// fill writes a file until the filesystem has no block left.
func fill(t *testing.T, file string) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for len(block) > 0 {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			block = block[:len(block)/2]
		}
	}
	var st syscall.Statfs_t
	syscall.Statfs(filepath.Dir(file), &st)
	if st.Bavail != 0 {
		t.Fatalf("the disk still has %d blocks free", st.Bavail)
	}
}

func TestRemoveWorksOnAFullDisk(t *testing.T) {
	r := newRoot(t)
	smallDisk(t, r, "16m")
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "usr/share/big"), 0o755)
	os.WriteFile(filepath.Join(stage, "usr/share/big/blob"), make([]byte, 4<<20), 0o644)
	for _, f := range []string{"a", "b", "c"} {
		os.WriteFile(filepath.Join(stage, "usr/share/big", f), []byte(f+"\n"), 0o644)
	}
	r.ok("install", "--file", packDir(t, stage, "big", "1.0"))
	fill(t, r.path("filler"))

	r.ok("remove", "big")
	if _, err := os.Stat(r.path("usr/share/big")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/usr/share/big after remove: %v", err)
	}
	if out := r.ok("list"); out != "" {
		t.Errorf("list after remove: %q", out)
	}
	r.ok("verify")
}

// configPackage packs a package with one config file, etc/NAME.conf.
func configPackage(t *testing.T, name, version, conf string) string {
	t.Helper()
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "etc"), 0o755)
	os.WriteFile(filepath.Join(stage, "etc", name+".conf"), []byte(conf), 0o644)
	os.MkdirAll(filepath.Join(stage, "usr/share", name), 0o755)
	os.WriteFile(filepath.Join(stage, "usr/share", name, "data"), []byte(version+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), name+"-"+version+".lpm")
	m := archive.Manifest{Name: name, Version: version, Release: 1, Backup: []string{"etc/" + name + ".conf"}}
	if _, err := archive.Create(out, stage, m); err != nil {
		t.Fatal(err)
	}
	return out
}

// crashAt runs lpm with a named crash point and expects it killed.
func (r *testRoot) crashAt(point string, args ...string) {
	r.t.Helper()
	cmd := exec.Command(lpmBin, append([]string{"--root", r.dir, "--yes", "-q"}, args...)...)
	cmd.Env = append(os.Environ(), "LPM_CONFIG=", "LPM_TEST_CRASH="+point)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		r.t.Fatalf("lpm %v with LPM_TEST_CRASH=%s: %v, want killed", args, point, err)
	}
}

func TestPristineConfigCopiesFollowTheTransactionThroughACrash(t *testing.T) {
	for _, tt := range []struct {
		point, want string
	}{
		{"staged:1", "one\n"},    // rolled back: the old packaged version
		{"applied:1", "one\n"},   // rolled back
		{"committed:1", "two\n"}, // finished: the new packaged version
	} {
		t.Run(tt.point, func(t *testing.T) {
			r := newRoot(t)
			r.ok("install", "--file", configPackage(t, "c", "1.0", "one\n"))
			r.crashAt(tt.point, "install", "--file", configPackage(t, "c", "2.0", "two\n"))
			r.ok("verify") // recovers
			pristine := r.path("var/lib/lpm/pristine/c/etc/c.conf")
			if got, err := os.ReadFile(pristine); err != nil || string(got) != tt.want {
				t.Errorf("pristine copy after the crash: %q, %v; want %q", got, err, tt.want)
			}
			if live, _ := os.ReadFile(r.path("etc/c.conf")); string(live) != tt.want {
				t.Errorf("live config after the crash: %q, want %q", live, tt.want)
			}
			if left, _ := filepath.Glob(r.path("var/lib/lpm/pristine/c/etc/*lpm*")); len(left) > 0 {
				t.Errorf("temps left beside the pristine copy: %v", left)
			}
		})
	}
	t.Run("remove", func(t *testing.T) {
		r := newRoot(t)
		r.ok("install", "--file", configPackage(t, "c", "1.0", "one\n"))
		r.crashAt("committed:1", "remove", "c")
		r.ok("verify")
		if _, err := os.Stat(r.path("var/lib/lpm/pristine/c")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the removed package's pristine copies after the crash: %v", err)
		}
	})
}

func TestQueriesOnAReadOnlyRootWarnOfAnUnrecoveredCrash(t *testing.T) {
	r := newRoot(t)
	smallDisk(t, r, "64m")
	r.ok("install", "--file", configPackage(t, "c", "1.0", "one\n"))
	// Killed after staging: no live path changed yet, so only the journal
	// tells that the root is not as the database says.
	r.crashAt("staged:1", "install", "--file", configPackage(t, "c", "2.0", "two\n"))
	if out, err := exec.Command("mount", "-o", "remount,ro", r.dir).CombinedOutput(); err != nil {
		t.Skipf("remount read-only: %v %s", err, out)
	}
	out, errOut, code := r.lpm("list")
	if code != 0 || !strings.Contains(out, "c") {
		t.Errorf("list on the read-only root: exit %d: %s %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "not recovered") || !strings.Contains(lines[0], "var/lib/lpm/lpm.db") || !strings.Contains(lines[0], "remount it read-write") {
		t.Errorf("list's warning: %q; want one line naming the journal and what to do", errOut)
	}
	out, errOut, code = r.lpm("verify")
	if code != 1 || !strings.Contains(out, "not recovered") {
		t.Errorf("verify on the read-only root: exit %d, want 1: %s %s", code, out, errOut)
	}
	if out, err := exec.Command("mount", "-o", "remount,rw", r.dir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-write: %v %s", err, out)
	}
	r.ok("verify")
	if _, errOut, _ := r.lpm("list"); strings.Contains(errOut, "not recovered") {
		t.Errorf("list still warns after recovery: %s", errOut)
	}
}

func TestAHookKilledMidwayLeavesNoTempBehind(t *testing.T) {
	r := newRoot(t)
	// The ldconfig hook, as a root without ldconfig runs it (on the host),
	// with lpm killed while the cache's temp is written.
	hook := `description = "updating the shared library cache"
paths = ["usr/lib/lib*.so*"]
exec = ["/usr/sbin/ldconfig"]
host_exec = ["sh", "-c", "echo partial > {root}/etc/ld.so.cache~; kill -9 $PPID"]
temps = ["etc/ld.so.cache~"]
`
	os.MkdirAll(r.path("etc/lpm/hooks"), 0o755)
	os.WriteFile(r.path("etc/lpm/hooks/ldconfig.toml"), []byte(hook), 0o644)
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "usr/lib"), 0o755)
	os.WriteFile(filepath.Join(stage, "usr/lib/libx.so.1"), []byte("not really ELF\n"), 0o644)
	cmd := exec.Command(lpmBin, "--root", r.dir, "--yes", "install", "--file", packDir(t, stage, "x", "1.0"))
	cmd.Env = append(os.Environ(), "LPM_CONFIG=")
	if err := cmd.Run(); err == nil {
		t.Fatal("lpm was not killed by the hook")
	}
	if _, err := os.Stat(r.path("etc/ld.so.cache~")); err != nil {
		t.Fatalf("the test hook made no temp: %v", err)
	}
	os.Remove(r.path("etc/lpm/hooks/ldconfig.toml"))
	_, errOut, _ := r.lpm("list")
	if _, err := os.Stat(r.path("etc/ld.so.cache~")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("etc/ld.so.cache~ after the next lpm: %v (stderr %s)", err, errOut)
	}
	if !strings.Contains(errOut, "ld.so.cache~") {
		t.Errorf("the next lpm did not say what it removed: %q", errOut)
	}
}

// A rebuild killed midway leaves a database with some packages: it must not
// pass for the truth (list would say the rest is not installed), and the
// next rebuild-db finishes the job.
func TestAnInterruptedRebuildIsRefusedUntilRebuildDBRunsAgain(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "hello")
	if err := os.Truncate(r.path("var/lib/lpm/lpm.db"), 0); err != nil {
		t.Fatal(err)
	}
	r.crashAt("registered:1", "rebuild-db")
	for _, args := range [][]string{{"list"}, {"verify"}, {"install", "hello"}} {
		r.fails([]string{"lpm.db is incomplete", "rebuild-db was interrupted", "run lpm rebuild-db again"}, args...)
	}
	out := r.ok("rebuild-db")
	for _, want := range []string{"registered hello 1.0.0", "registered libgreet ", "registered mkbanner "} {
		if !strings.Contains(out, want) {
			t.Errorf("the second rebuild-db did not register everything (%q missing):\n%s", want, out)
		}
	}
	r.ok("verify")
	if list := r.ok("list"); !strings.Contains(list, "mkbanner") || !strings.Contains(list, "hello") {
		t.Errorf("after the second rebuild-db, list says:\n%s", list)
	}
}

func TestAnEmptiedDatabaseIsRefusedAndRebuiltFromTheCache(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "hello") // libgreet, mkbanner and hello: real builds
	installed := r.ok("list")
	if !strings.Contains(installed, "hello") || !strings.Contains(installed, "libgreet") {
		t.Fatalf("installed: %s", installed)
	}
	// Filesystem damage: the database is emptied, its -wal and the rest
	// of the root stay.
	if err := os.Truncate(r.path("var/lib/lpm/lpm.db"), 0); err != nil {
		t.Fatal(err)
	}
	before := r.state()
	r.fails([]string{"lpm.db is empty", "damaged", "rebuild-db"}, "install", "--file", configPackage(t, "c", "1.0", "one\n"))
	r.fails([]string{"lpm.db is empty", "rebuild-db"}, "list")
	r.unchanged(before)
	if fi, err := os.Stat(r.path("var/lib/lpm/lpm.db")); err != nil || fi.Size() != 0 {
		t.Errorf("the emptied database was touched: %v %v", fi.Size(), err)
	}

	out := r.ok("rebuild-db")
	for _, want := range []string{"registered hello 1.0.0", "registered libgreet "} {
		if !strings.Contains(out, want) {
			t.Errorf("rebuild-db's report lacks %q:\n%s", want, out)
		}
	}
	if aside, _ := filepath.Glob(r.path("var/lib/lpm/lpm.db.damaged-*")); len(aside) == 0 {
		t.Error("the damaged database was not kept")
	}
	r.ok("verify")
	if got := r.ok("owns", "/usr/bin/hello"); !strings.Contains(got, "owned by hello") {
		t.Errorf("owns after the rebuild: %s", got)
	}
	// Names and versions come back; why each was installed is lost (all
	// are explicit now, so none looks removable).
	versions := func(list string) string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
			out = append(out, strings.Join(strings.Fields(l)[:2], " "))
		}
		return strings.Join(out, "\n")
	}
	if got := r.ok("list"); versions(got) != versions(installed) {
		t.Errorf("list after the rebuild:\n%s\nbefore the damage:\n%s", got, installed)
	}
	// And the root is usable again.
	r.ok("remove", "hello")
	if _, err := os.Stat(r.path("usr/bin/hello")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/usr/bin/hello after remove: %v", err)
	}
}

func TestRebuildDBReportsWhatMatchesNoArchive(t *testing.T) {
	r := newRoot(t)
	a := configPackage(t, "c", "1.0", "one\n")
	r.ok("install", "--file", a)
	os.Truncate(r.path("var/lib/lpm/lpm.db"), 0)
	os.WriteFile(r.path("usr/share/c/data"), []byte("changed\n"), 0o644)
	out, errOut, code := r.lpm("rebuild-db", a)
	if code != 1 || !strings.Contains(out, "not recovered: c: ") || !strings.Contains(out, "/usr/share/c/data content differs") {
		t.Errorf("rebuild-db over a changed file: exit %d\n%s\n%s", code, out, errOut)
	}
	if list := r.ok("list"); list != "" {
		t.Errorf("registered anyway: %s", list)
	}
}

func TestSetuidFilesAreNamedInThePlanAndTheSummary(t *testing.T) {
	tree := t.TempDir()
	hello, err := os.ReadFile(filepath.Join(repo(t), "demo/ports/hello/port.toml"))
	if err != nil {
		t.Fatal(err)
	}
	writePort(t, tree, "hello", string(hello)+"install = 'make PREFIX=/usr DESTDIR=\"$DESTDIR\" install && chmod 4755 \"$DESTDIR/usr/bin/hello\"'\n")
	r := newRoot(t, tree)
	_, errOut, code := r.lpm("install", "hello")
	if code != 0 || !strings.Contains(errOut, "hello: installed /usr/bin/hello (setuid 0, mode 4755)") {
		t.Fatalf("install of a setuid program: exit %d; its summary does not say so:\n%s", code, errOut)
	}
	// An archive as it is: the plan of install --file says so too.
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(stage, "usr/bin/ping"), []byte("#!/bin/sh\n"), 0o755)
	os.Chmod(filepath.Join(stage, "usr/bin/ping"), 0o2755|os.ModeSetgid)
	if plan := r.ok("install", "--file", "--dry-run", packDir(t, stage, "ping", "1.0")); !strings.Contains(plan, "ping installs /usr/bin/ping (setgid 0, mode 2755)") {
		t.Errorf("install --file --dry-run does not name the setgid file:\n%s", plan)
	}
	r.ok("remove", "hello")
	// Built now: the plan knows.
	if plan := r.ok("install", "--dry-run", "hello"); !strings.Contains(plan, "hello installs /usr/bin/hello (setuid 0, mode 4755)") {
		t.Errorf("the plan does not name the setuid file:\n%s", plan)
	}
}

func TestRemoveOnAFullDiskWithoutTheReserveSaysWhatToDo(t *testing.T) {
	r := newRoot(t)
	smallDisk(t, r, "16m")
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "usr/share/big"), 0o755)
	os.WriteFile(filepath.Join(stage, "usr/share/big/blob"), make([]byte, 4<<20), 0o644)
	r.ok("install", "--file", packDir(t, stage, "big", "1.0"))
	os.Remove(r.path("var/lib/lpm/reserve")) // a root from before the reserve
	fill(t, r.path("filler"))
	before := r.state()
	r.fails([]string{"no space left on", "even for its journal", "nothing was changed", "free some space"}, "remove", "big")
	r.unchanged(before)
}

func TestRebuildDBReplacesADatabaseWithDamagedPages(t *testing.T) {
	r := newRoot(t)
	c := configPackage(t, "c", "1.0", "one\n")
	r.ok("install", "--file", c)
	db := r.path("var/lib/lpm/lpm.db")
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096; i < len(data); i++ {
		data[i] = 0xa5 // every page but the header's
	}
	os.WriteFile(db, data, 0o644)
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")
	r.fails([]string{"lpm.db is damaged", "rebuild-db"}, "list")
	// Installed with --file from outside the package cache: named.
	if out := r.ok("rebuild-db", c); !strings.Contains(out, "registered c 1.0") {
		t.Errorf("rebuild-db: %s", out)
	}
	r.ok("verify")
	if got := r.ok("owns", "/usr/share/c/data"); !strings.Contains(got, "owned by c") {
		t.Errorf("owns after the rebuild: %s", got)
	}
}

func TestAFailedHookAfterCommitWarnsWithItsRealErrorAndExitsZero(t *testing.T) {
	r := newRoot(t)
	// A root without etc/: the host's ldconfig -r warns about the file
	// that is not ELF first, then fails because it cannot write
	// etc/ld.so.cache~. The second is the cause.
	if err := os.RemoveAll(r.path("etc")); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("ldconfig"); err != nil {
		t.Skip("the host has no ldconfig")
	}
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "usr/lib"), 0o755)
	os.WriteFile(filepath.Join(stage, "usr/lib/libx.so.1"), bytes.Repeat([]byte("not ELF\n"), 512), 0o644)
	archive := packDir(t, stage, "x", "1.0")
	_, errOut, code := r.lpm("install", "--file", archive)
	if code != 0 {
		t.Errorf("exit %d after a committed install whose hook failed, want 0 (as pacman)\n%s", code, errOut)
	}
	var warning string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.Contains(l, "hook ldconfig failed") {
			warning = l
		}
	}
	for _, want := range []string{"warning", "committed", "ld.so.cache~", "ldconfig -r " + r.dir} {
		if !strings.Contains(warning, want) {
			t.Errorf("the hook's warning %q lacks %q\nstderr:\n%s", warning, want, errOut)
		}
	}
	if strings.Contains(warning, "not an ELF file") {
		t.Errorf("the warning gives ldconfig's first warning as the cause: %q", warning)
	}
	if out := r.ok("list"); !strings.Contains(out, "x") {
		t.Errorf("x is not installed after the hook failed: %q", out)
	}
	if _, err := os.Stat(r.path("usr/lib/libx.so.1")); err != nil {
		t.Errorf("the committed file: %v", err)
	}
}

// What a typo or a hostile path gives install --file: one line naming
// the path and what it is, at once (a named pipe would block the open
// until a writer came, a device reads forever), and nothing changed.
func TestInstallFileRefusesWhatIsNotAnArchiveFile(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "mkbanner")
	before := r.state()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.lpm")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.lpm")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	nosuch := filepath.Join(dir, "nosuch.lpm")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"install", "--file", nosuch}, []string{"install --file " + nosuch + ": no such file: check the path", "nothing was changed"}},
		{[]string{"install", "--file", fifo}, []string{"package " + fifo + " is a named pipe, not a regular file"}},
		{[]string{"install", "--file", zero}, []string{"package " + zero + " is a symlink to /dev/zero, a character device, not a regular file"}},
		{[]string{"install", "--file", dir}, []string{"package " + dir + " is a directory, not a regular file"}},
		{[]string{"install", "--dry-run", "--file", fifo}, []string{"is a named pipe"}},
		{[]string{"install", nosuch}, []string{"install " + nosuch + ": no port has that name", "lpm install --file " + nosuch}},
		{[]string{"install", "hello-1.0.0-1.lpm"}, []string{"lpm install --file hello-1.0.0-1.lpm"}},
	} {
		_, errOut, code := r.lpmWith(run{yes: true}, c.args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 1 || len(lines) != 1 {
			t.Errorf("lpm %s: exit %d, want 1 and one line\n%s", strings.Join(c.args, " "), code, errOut)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(lines[0], w) {
				t.Errorf("lpm %s: %q lacks %q", strings.Join(c.args, " "), lines[0], w)
			}
		}
		r.unchanged(before)
	}
}

func TestAMistypedRootIsRefusedInOneLine(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent")
	for _, args := range [][]string{{"list"}, {"info", "hello"}, {"install", "hello"}} {
		cmd := exec.Command(lpmBin, append([]string{"--root", missing}, args...)...)
		cmd.Env = append(os.Environ(), "LPM_CONFIG=")
		out, err := cmd.CombinedOutput()
		want := "lpm: the root " + missing + " does not exist: check --root, or make it (mkdir -p " + missing + ") and run lpm --root " + missing + " init\n"
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || string(out) != want {
			t.Errorf("lpm --root %s %s: %v\n%q\nwant %q", missing, strings.Join(args, " "), err, out, want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a command on a mistyped root made %s", missing)
	}
}
