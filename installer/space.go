package installer

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// checkSpace refuses a transaction whose new files do not fit on the
// root's filesystem, before anything is written. Backups are hard links
// and cost no data blocks, so a transaction that writes no file content (a
// removal) needs nothing but its journal, and SQLite says when even that
// does not fit: a full disk can always be freed by removing packages. A
// transaction that writes content keeps a margin for directories and the
// database.
func (t *tx) checkSpace() error {
	var content int64
	for _, o := range t.ops {
		if o.Op == opReplace && o.entry.Type == "file" {
			content = addSize(content, o.entry.Size)
		}
	}
	if content == 0 {
		return nil
	}
	have, err := freeBytes(t.in.Root)
	if err != nil {
		return err
	}
	need := addSize(content, addSize(4<<20, content/50))
	if need > have {
		return fmt.Errorf("%s: not enough free space on %s: need %s, %s available; nothing was changed",
			t.summary(), t.in.Root, size(need), size(have))
	}
	return nil
}

// A full disk must still take a removal, and a removal's journal needs a
// few database pages. So lpm keeps reserveSize bytes of its own
// (ROOT/var/lib/lpm/reserve): they are let go just before a journal is
// written on a disk with less than that free, and taken again when a
// transaction ends on a disk with room.
const reserveSize = 2 << 20

func reservePath(root string) string { return filepath.Join(root, "var/lib/lpm/reserve") }

// freeBytes is what an unprivileged writer may still use on root's
// filesystem.
func freeBytes(root string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return 0, fmt.Errorf("checking free space on %s: %w", root, err)
	}
	return int64(min(st.Bavail, math.MaxInt64/uint64(max(st.Bsize, 1)))) * st.Bsize, nil
}

// releaseReserve gives the reserve back when the disk is nearly full.
func releaseReserve(root string) {
	if free, err := freeBytes(root); err == nil && free < reserveSize {
		os.Remove(reservePath(root))
	}
}

// keepReserve takes the reserve again when it is missing and the disk has
// room for it twice over. It is best effort: a disk without room simply
// has no reserve.
func keepReserve(root string) {
	p := reservePath(root)
	if _, err := os.Lstat(p); err == nil {
		return
	}
	if free, err := freeBytes(root); err != nil || free < 2*reserveSize {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return
	}
	// Real blocks, not a sparse file: fallocate, or zeros where the
	// filesystem has no fallocate.
	err = unix.Fallocate(int(f.Fd()), 0, 0, reserveSize)
	if err != nil {
		_, err = f.Write(make([]byte, reserveSize))
	}
	if cerr := f.Close(); err != nil || cerr != nil {
		os.Remove(p)
	}
}

// maxEntrySize is more than any file of a real package: a manifest that
// declares more is damaged or hostile.
const maxEntrySize = 1 << 40

// addSize adds declared sizes without overflowing: a sum past the largest
// int64 stays there, which no filesystem has free.
func addSize(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

func size(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
