package installer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lfs-lpm/lpm/pkgdb"
)

// finish unlinks a long run of removes with several workers. Whatever
// order they take the paths in, an edited config file in the middle of
// the run is still kept as .lpmsave, the directories go once emptied,
// deepest first, and a directory that took a removed file's place goes once the
// removed paths below it have gone (one by one, in journal order, its
// rmdir came before them, and it stayed).
func TestFinishRemovesALongRunOfPathsAroundTheOtherOps(t *testing.T) {
	root := t.TempDir()
	write := func(p string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var entries []pkgdb.JournalEntry
	dirs := map[string]bool{}
	for i := range 3000 {
		dir := fmt.Sprintf("usr/share/pkg/d%03d", i/10)
		p := fmt.Sprintf("%s/f%04d", dir, i)
		write(p)
		entries = append(entries, pkgdb.JournalEntry{Op: opRemove, Path: p})
		if i == 1500 {
			write("usr/share/pkg/edited.conf")
			entries = append(entries, pkgdb.JournalEntry{Op: opSave, Path: "usr/share/pkg/edited.conf", Backup: "usr/share/pkg/edited.conf.lpmsave"})
		}
		dirs[dir] = true
	}
	// The package's file usr/share/pkg/was-a-file is a directory now,
	// holding another of its removed files.
	write("usr/share/pkg/was-a-file/zz")
	entries = append(entries,
		pkgdb.JournalEntry{Op: opRemove, Path: "usr/share/pkg/was-a-file"},
		pkgdb.JournalEntry{Op: opRemove, Path: "usr/share/pkg/was-a-file/zz"})
	// Directories deepest first, as obsolete sorts them.
	write("usr/share/pkg/deep/a/b/f")
	entries = append(entries, pkgdb.JournalEntry{Op: opRemove, Path: "usr/share/pkg/deep/a/b/f"})
	for _, d := range []string{"usr/share/pkg/deep/a/b", "usr/share/pkg/deep/a"} {
		entries = append(entries, pkgdb.JournalEntry{Op: opRmdir, Path: d})
	}
	for i := 299; i >= 0; i-- {
		entries = append(entries, pkgdb.JournalEntry{Op: opRmdir, Path: fmt.Sprintf("usr/share/pkg/d%03d", i)})
		if i == 150 {
			entries = append(entries, pkgdb.JournalEntry{Op: opRmdir, Path: "usr/share/pkg/deep"})
		}
	}

	finish(root, entries)

	var left []string
	filepath.Walk(filepath.Join(root, "usr/share/pkg"), func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(root, p)
			left = append(left, rel)
		}
		return nil
	})
	want := []string{"usr/share/pkg", "usr/share/pkg/edited.conf.lpmsave"}
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("after finish the root has %v, want %v", left, want)
	}
}
