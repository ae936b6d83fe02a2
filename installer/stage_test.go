package installer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

// A file, directory or link that creation already gives its entry's owner
// and mode takes no chown or chmod: most of a package's files cost open,
// write and close. Only what creation gets wrong is set: a setuid file, a
// mode the umask takes bits from, another owner. The count comes from
// strace watching a child process install the package.
func TestInstallChownsAndChmodsOnlyWhatCreationGetsWrong(t *testing.T) {
	if root := os.Getenv("LPM_TEST_STRACED_ROOT"); root != "" {
		installStraced(t, root, os.Getenv("LPM_TEST_STRACED_PKG"))
		return
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed")
	}
	dir := t.TempDir()
	stage := filepath.Join(dir, "stage")
	const dirs, files = 10, 200
	for i := range files {
		p := filepath.Join(stage, fmt.Sprintf("usr/share/pkg/d%02d/f%04d", i%dirs, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprint("file ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			os.Symlink(filepath.Base(p), p+".link")
		}
	}
	special := map[string]os.FileMode{
		"usr/bin/su":             0o755 | os.ModeSetuid,
		"usr/share/pkg/writable": 0o666, // the umask takes 022 away
	}
	os.MkdirAll(filepath.Join(stage, "usr/bin"), 0o755)
	for p, mode := range special {
		full := filepath.Join(stage, p)
		os.WriteFile(full, []byte(p), 0o644)
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
	wantChown := 0
	if os.Geteuid() == 0 {
		full := filepath.Join(stage, "usr/share/pkg/games")
		os.WriteFile(full, []byte("games"), 0o644)
		if err := os.Chown(full, 0, 60); err != nil {
			t.Fatal(err)
		}
		wantChown = 1
	}
	pkg := filepath.Join(dir, "pkg-1.0.lpm")
	if _, err := archive.Create(pkg, stage, archive.Manifest{Name: "pkg", Version: "1.0", Release: 1}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	db, err := pkgdb.Open(root) // made here, so the child's calls are the install's
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	trace := filepath.Join(dir, "strace.out")
	cmd := exec.Command(strace, "-f", "-qq", "-y", "-o", trace,
		"-e", "trace=chown,fchown,lchown,fchownat,chmod,fchmod,fchmodat",
		os.Args[0], "-test.run=^TestInstallChownsAndChmodsOnlyWhatCreationGetsWrong$")
	cmd.Env = append(os.Environ(), "LPM_TEST_STRACED_ROOT="+root, "LPM_TEST_STRACED_PKG="+pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the install under strace: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	// Calls on the package's paths, by name or by a descriptor strace -y
	// names; the database's own (SQLite chowns its WAL as root) are not.
	call := regexp.MustCompile(`^\d+ +(\w+)\(`)
	counts := map[string]int{}
	var seen []string
	for _, line := range strings.Split(string(raw), "\n") {
		m := call.FindStringSubmatch(line)
		if m == nil || !strings.Contains(line, filepath.Join(root, "usr")) {
			continue
		}
		kind := "chmod"
		if strings.Contains(m[1], "own") {
			kind = "chown"
		}
		counts[kind]++
		seen = append(seen, line)
	}
	entries := dirs + files + files/10 + len(special)
	if counts["chmod"] != len(special) || counts["chown"] != wantChown {
		t.Errorf("installing %d entries took %d chmod and %d chown calls; want %d and %d:\n%s",
			entries, counts["chmod"], counts["chown"], len(special), wantChown, strings.Join(seen, "\n"))
	}

	// And every entry has its owner and mode all the same.
	for p, mode := range special {
		if fi, err := os.Stat(filepath.Join(root, p)); err != nil || fi.Mode() != mode {
			t.Errorf("/%s: %v, %v; want mode %v", p, fi.Mode(), err, mode)
		}
	}
	for _, p := range []string{"usr/share/pkg/d03/f0013", "usr/share/pkg/d03"} {
		want := os.FileMode(0o644)
		if strings.HasSuffix(p, "d03") {
			want = 0o755 | os.ModeDir
		}
		if fi, err := os.Lstat(filepath.Join(root, p)); err != nil || fi.Mode() != want {
			t.Errorf("/%s: %v, %v; want mode %v", p, fi.Mode(), err, want)
		}
	}
	if wantChown == 1 {
		fi, err := os.Stat(filepath.Join(root, "usr/share/pkg/games"))
		if err != nil || fi.Sys().(*syscall.Stat_t).Gid != 60 {
			t.Errorf("/usr/share/pkg/games: %v; want group 60", err)
		}
	}
	in := &Installer{Root: root, DB: reopen(t, root), Out: &progress.Printer{Quiet: true}}
	if diffs, err := Verify(root, in.DB, nil); err != nil || len(diffs) != 0 {
		t.Errorf("verify after the install: %v, %v", diffs, err)
	}
}

// installStraced is the child's half: the install strace watches.
func installStraced(t *testing.T, root, pkg string) {
	db := reopen(t, root)
	in := &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}}
	if _, err := in.Apply([]Change{{Archive: pkg, Explicit: true}}); err != nil {
		t.Fatal(err)
	}
}

func reopen(t *testing.T, root string) *pkgdb.DB {
	t.Helper()
	db, err := pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A directory that is setgid hands its group, and its setgid bit, to what
// is made in it: what lands there still gets the group and mode its
// entry says, whether the directory was on disk or came in the package.
func TestInstallIntoSetgidDirectoriesKeepsEachEntrysGroupAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own files by another group")
	}
	dir := t.TempDir()
	stage := filepath.Join(dir, "stage")
	for _, d := range []string{"srv/shared", "srv/new/sub"} {
		os.MkdirAll(filepath.Join(stage, d), 0o755)
	}
	os.WriteFile(filepath.Join(stage, "srv/shared/f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(stage, "srv/new/f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(stage, "srv/new/sub/f"), []byte("f"), 0o644)
	os.Chown(filepath.Join(stage, "srv/new"), 0, 50)
	os.Chmod(filepath.Join(stage, "srv/new"), 0o775|os.ModeSetgid)
	pkg := filepath.Join(dir, "pkg-1.0.lpm")
	if _, err := archive.Create(pkg, stage, archive.Manifest{Name: "pkg", Version: "1.0", Release: 1}); err != nil {
		t.Fatal(err)
	}
	in, root := newTestInstaller(t)
	shared := filepath.Join(root, "srv/shared")
	os.MkdirAll(shared, 0o755)
	os.Chown(shared, 0, 50)
	os.Chmod(shared, 0o775|os.ModeSetgid) // on disk before: the package shares it
	if _, err := in.Apply([]Change{{Archive: pkg, Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]struct {
		gid  uint32
		mode os.FileMode
	}{
		"srv/shared/f":  {0, 0o644},
		"srv/new":       {50, 0o775 | os.ModeDir | os.ModeSetgid},
		"srv/new/f":     {0, 0o644},
		"srv/new/sub":   {0, 0o755 | os.ModeDir},
		"srv/new/sub/f": {0, 0o644},
	} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("/%s: %v", p, err)
			continue
		}
		if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != want.gid || fi.Mode() != want.mode {
			t.Errorf("/%s: group %d, mode %v; want group %d, mode %v", p, gid, fi.Mode(), want.gid, want.mode)
		}
	}
}

// The commit's records are written while stage syncs, in a SQLite
// transaction of their own: a failure after that (here the smoke test of
// a new C library) rolls them back before it closes the journal, so the
// journal is closed at once, not after a wait for the lock, and nothing of
// the package is recorded.
func TestAFailureAfterStageClosesTheJournalAndRecordsNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the smoke test chroots, which needs root")
	}
	dir := t.TempDir()
	glibc := func(version string) string {
		stage := filepath.Join(dir, "stage-"+version)
		os.MkdirAll(filepath.Join(stage, "usr/lib"), 0o755)
		os.WriteFile(filepath.Join(stage, "usr/lib/libc.so.6"), []byte("libc "+version), 0o755)
		pkg := filepath.Join(dir, "glibc-"+version+".lpm")
		if _, err := archive.Create(pkg, stage, archive.Manifest{Name: "glibc", Version: version, Release: 1}); err != nil {
			t.Fatal(err)
		}
		return pkg
	}
	in, root := newTestInstaller(t)
	if _, err := in.Apply([]Change{{Archive: glibc("1.0"), Explicit: true}}); err != nil {
		t.Fatal(err) // nothing to run yet: no smoke test
	}
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/bin/true"), []byte("not a program"), 0o755)

	_, err := in.Apply([]Change{{Archive: glibc("2.0")}})
	if err == nil || !strings.Contains(err.Error(), "rolled back") || strings.Contains(err.Error(), "closing its journal failed") {
		t.Fatalf("Apply: %v; want a rollback that closed its journal", err)
	}
	if open, err := in.DB.OpenTransactions(); err != nil || len(open) != 0 {
		t.Errorf("open transactions after the rollback: %v, %v", open, err)
	}
	if p, err := in.DB.Package("glibc"); err != nil || p.Version != "1.0" {
		t.Errorf("glibc's record after the rollback: %+v, %v; want 1.0", p, err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "usr/lib/libc.so.6")); string(got) != "libc 1.0" {
		t.Errorf("libc.so.6 after the rollback: %q", got)
	}
}
