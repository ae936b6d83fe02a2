// Package atomicfile replaces small files whole: a temporary file beside
// the target, synced, then renamed over it, so that a reader, or the
// system after a crash, sees the old content or the new, never a part.
// The big writers (the installer's transactions, archives, downloads) have
// their own journals and temp names; this is for index files, keys and
// generated configuration such as grub.cfg.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces file with data at mode. The directory must exist; it is
// synced after the rename, so the new name survives a crash too.
func Write(file string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
