package pkgdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// A rebuild (lpm rebuild-db) fills a new database package by package. Until
// it ends, a marker beside the database names the damaged one it replaces,
// so that a rebuild killed midway leaves no half-filled database that
// passes for the truth: every open refuses until rebuild-db runs again.

func rebuildMarker(root string) string {
	return filepath.Join(filepath.Dir(Path(root)), "rebuild-db.incomplete")
}

// BeginRebuild records, durably, that a rebuild of root's database is
// under way; aside is where the damaged database was moved.
func BeginRebuild(root, aside string) error {
	f, err := os.OpenFile(rebuildMarker(root), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err == nil {
		_, err = f.WriteString(aside + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("marking the rebuild of %s: %w", Path(root), err)
	}
	return nil
}

// EndRebuild clears the marker once the new database is complete.
func EndRebuild(root string) error {
	if err := os.Remove(rebuildMarker(root)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// InterruptedRebuild reports a rebuild that did not end, and where the
// damaged database it replaces was kept.
func InterruptedRebuild(root string) (aside string, ok bool) {
	data, err := os.ReadFile(rebuildMarker(root))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(data)), true
}

// RemoveIncomplete deletes the half-filled database an interrupted
// rebuild left, so the rebuild can start again.
func RemoveIncomplete(root string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(Path(root) + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func checkNoRebuild(root string) error {
	if aside, ok := InterruptedRebuild(root); ok {
		return fmt.Errorf("database %s is incomplete: lpm rebuild-db was interrupted; run lpm rebuild-db again (the damaged database is kept as %s)", Path(root), aside)
	}
	return nil
}
