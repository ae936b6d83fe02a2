package installer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

func TestStateDirsAreNeverReachedThroughASymlink(t *testing.T) {
	root, host := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/cache"), 0o755)
	os.Symlink(host, filepath.Join(root, "var/tmp"))
	os.WriteFile(filepath.Join(root, "var/cache/file"), nil, 0o644)

	if err := MakeStateDir(root, filepath.Join(root, "var/lib/lpm/pristine")); err != nil {
		t.Fatalf("a fresh state dir: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "var/lib/lpm/pristine")); err != nil || !fi.IsDir() {
		t.Fatalf("MakeStateDir made no directory: %v", err)
	}
	var link *StateSymlinkError
	err := MakeStateDir(root, filepath.Join(root, "var/tmp/lpm"))
	if !errors.As(err, &link) || link.Path != filepath.Join(root, "var/tmp") || link.Target != host {
		t.Errorf("MakeStateDir through var/tmp -> %s: %v", host, err)
	}
	if entries, _ := os.ReadDir(host); len(entries) != 0 {
		t.Errorf("MakeStateDir wrote through the link: %v", entries)
	}
	if err := CheckStatePath(root, filepath.Join(root, "var/tmp/lpm/x.log")); !errors.As(err, &link) {
		t.Errorf("CheckStatePath through a link: %v", err)
	}
	if err := CheckStatePath(root, filepath.Join(root, "var/cache/file")); err != nil {
		t.Errorf("CheckStatePath of a plain file: %v", err)
	}
	if err := CheckStatePath(root, filepath.Join(root, "var/cache/file/x")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("CheckStatePath below a file: %v", err)
	}
	if err := CheckStatePath(root, filepath.Join(root, "var/log/lpm/missing.log")); err != nil {
		t.Errorf("CheckStatePath of a path not made yet: %v", err)
	}
	// A path outside the root is the user's choice, links and all.
	elsewhere := filepath.Join(t.TempDir(), "distfiles")
	os.Symlink(host, elsewhere)
	if err := MakeStateDir(root, elsewhere); err != nil {
		t.Errorf("a host path outside the root: %v", err)
	}
}

func TestAnEntryLedIntoLpmsStateByARootSymlinkIsRefused(t *testing.T) {
	root := t.TempDir()
	db, err := pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// An earlier package left srv -> var/lib/lpm on the root.
	os.Symlink("var/lib/lpm", filepath.Join(root, "srv"))
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "srv/pristine"), 0o755)
	os.WriteFile(filepath.Join(stage, "srv/pristine/x"), []byte("x"), 0o644)
	pkg := filepath.Join(t.TempDir(), "sneaky-1.0-1.lpm")
	if _, err := archive.Create(pkg, stage, archive.Manifest{Name: "sneaky", Version: "1.0", Release: 1}); err != nil {
		t.Fatal(err)
	}
	in := &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}}
	_, err = in.Apply([]Change{{Archive: pkg, Explicit: true}})
	if err == nil || !strings.Contains(err.Error(), "entry /srv lands at /var/lib/lpm through a symlink on the root, in lpm's own state") {
		t.Fatalf("Apply: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "var/lib/lpm/pristine")); err == nil {
		t.Error("the package wrote into lpm's state")
	}
}

func TestCheckStateDirsRefusesEachStateFileThatIsASymlink(t *testing.T) {
	for _, name := range []string{"pristine", "lock", "lpm.db", "lpm.db-wal", "lpm.db-shm"} {
		root, host := t.TempDir(), t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "var/lib/lpm"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := CheckStateDirs(root); err != nil {
			t.Fatalf("no state files yet: %v", err)
		}
		p := filepath.Join(root, "var/lib/lpm", name)
		if err := os.Symlink(filepath.Join(host, name), p); err != nil {
			t.Fatal(err)
		}
		var link *StateSymlinkError
		if err := CheckStateDirs(root); !errors.As(err, &link) || link.Path != p {
			t.Errorf("%s a symlink: CheckStateDirs = %v", name, err)
		}
	}
	root, host := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "var"), 0o755)
	os.Symlink(host, filepath.Join(root, "var/lib"))
	var link *StateSymlinkError
	if err := CheckStateDirs(root); !errors.As(err, &link) || link.Path != filepath.Join(root, "var/lib") {
		t.Errorf("var/lib a symlink: CheckStateDirs = %v", err)
	}
}
