package installer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
)

// Type changes. An upgrade may turn a symlink or a file into a directory,
// or a directory into a symlink or a file. rename(2) cannot put a
// directory over a non-directory or the reverse, and removing the old one
// first would leave the path missing. So the new one is staged whole under
// a temp name beside the path (a directory with everything below it, or
// the new file or link), and one renameat2(RENAME_EXCHANGE) swaps the two
// atomically: the path always exists, and the old one ends up under the
// temp name until the commit (then it goes) or a rollback (then it is
// swapped back).
//
// Nothing is ever written or removed through the old thing: paths below a
// non-directory that becomes a directory resolve below the new directory
// (rootPaths.becomesDir), and a directory that becomes a non-directory may
// hold only what the transaction removes anyway, which goes with it.

// findTypeChanges finds the paths whose type the transaction changes
// between directory and non-directory, where the old one belongs to a
// package the transaction replaces or removes.
func (t *tx) findTypeChanges() {
	if !t.mayChangeType() {
		return
	}
	leavingDir, leavingOther := map[string]bool{}, map[string]bool{}
	for _, pc := range t.changes {
		for p, f := range pc.oldFiles {
			if f.Type == "dir" {
				leavingDir[p] = true
			} else {
				leavingOther[p] = true
			}
		}
	}
	// What the new packages declare: a path some new package keeps a
	// non-directory (baselayout's lib -> usr/lib) does not become a
	// directory because another lists it as one.
	newDir, newOther := map[string]bool{}, map[string]bool{}
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		for _, e := range pc.manifest.Entries {
			if p, err := t.paths.resolve(e.Path); err == nil {
				if e.Type == "dir" {
					newDir[p] = true
				} else {
					newOther[p] = true
				}
			}
		}
	}
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		for _, e := range pc.manifest.Entries {
			p, err := t.paths.resolve(e.Path)
			if err != nil || newDir[p] && newOther[p] {
				continue // planFiles or check reports it
			}
			// Only a path the database records with the other type can
			// change type; the disk decides only there.
			if e.Type == "dir" && !leavingOther[p] || e.Type != "dir" && !leavingDir[p] {
				continue
			}
			fi, err := t.lstat(p)
			if err != nil {
				continue
			}
			switch {
			case e.Type == "dir" && leavingOther[p] && !fi.IsDir():
				if t.toDir == nil {
					t.toDir = map[string]bool{}
				}
				t.toDir[p] = true
				t.paths.becomesDir(p)
			case e.Type != "dir" && leavingDir[p] && fi.IsDir():
				if t.fromDir == nil {
					t.fromDir = map[string]bool{}
				}
				t.fromDir[p] = true
			}
		}
	}
}

// mayChangeType reports whether some entry is at a path a leaving
// package records with the other type, which findTypeChanges then looks
// into. Most upgrades change no type, and this look builds none of its
// four maps of every path (20,000 each for L). Until a path becomes a
// directory, paths resolve as they do here, so with no such entry
// findTypeChanges would find nothing.
func (t *tx) mayChangeType() bool {
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		for _, e := range pc.manifest.Entries {
			p, err := t.paths.resolve(e.Path)
			if err != nil {
				continue
			}
			for _, old := range t.changes {
				if f, had := old.oldFiles[p]; had && (f.Type == "dir") != (e.Type == "dir") {
					return true
				}
			}
		}
	}
	return false
}

// toDirAbove returns the path at or above p that becomes a directory, if
// any.
func (t *tx) toDirAbove(p string) (string, bool) {
	if len(t.toDir) == 0 {
		return "", false
	}
	for q := p; q != "." && q != "/" && q != ""; q = path.Dir(q) {
		if t.toDir[q] {
			return q, true
		}
	}
	return "", false
}

// belowToDir reports whether p is, or lies below, a path that becomes a
// directory: what is on disk there now is not what p will be.
func (t *tx) belowToDir(p string) bool {
	_, ok := t.toDirAbove(p)
	return ok
}

// lstat is os.Lstat of a path as the transaction sees the root: nothing
// is at or below a non-directory that becomes a directory.
func (t *tx) lstat(p string) (fs.FileInfo, error) {
	if t.belowToDir(p) {
		return nil, fs.ErrNotExist
	}
	if l, ok := t.looked[p]; ok {
		return l.fi, l.err
	}
	if t.missingBelow(p) {
		return nil, &fs.PathError{Op: "lstat", Path: t.abs(p), Err: unix.ENOENT}
	}
	t.in.diskLooks++
	fi, err := os.Lstat(t.abs(p))
	if errors.Is(err, fs.ErrNotExist) {
		// Most paths of an install are new: keeping each one's error,
		// with its absolute path, was 2.5 MB of a 20,000-file install.
		err = fs.ErrNotExist
	}
	if t.looked == nil {
		t.looked = map[string]look{}
	}
	t.looked[p] = look{fi, err}
	return fi, err
}

// missingBelow reports whether p lies below a directory an earlier look
// found missing, so that no look at p can find it. Manifests list a
// directory before what is in it, and a new package's files are mostly in
// directories of its own: an install of 300 small packages looked for
// 20,000 paths below directories already known to be missing.
func (t *tx) missingBelow(p string) bool {
	for q := path.Dir(p); q != "." && q != "/"; q = path.Dir(q) {
		if l, ok := t.looked[q]; ok {
			return errors.Is(l.err, fs.ErrNotExist)
		}
	}
	return false
}

// look is what lstat found at a path. Planning looks before anything is
// written, so a second look at the same path (check, then decideOps)
// finds what the first did.
type look struct {
	fi  fs.FileInfo
	err error
}

// stat is os.Stat of a path of the root, counted as lstat is.
func (t *tx) stat(p string) (fs.FileInfo, error) {
	if t.knownMissing(p) {
		return nil, &fs.PathError{Op: "stat", Path: t.abs(p), Err: unix.ENOENT}
	}
	t.in.diskLooks++
	return os.Stat(t.abs(p))
}

// readlink is os.Readlink of a path of the root, counted as lstat is.
func (t *tx) readlink(p string) (string, error) {
	if t.knownMissing(p) {
		return "", &fs.PathError{Op: "readlink", Path: t.abs(p), Err: unix.ENOENT}
	}
	t.in.diskLooks++
	return os.Readlink(t.abs(p))
}

// knownMissing reports whether an earlier look found p, or a directory
// above it, missing: then stat and readlink cannot find it either.
func (t *tx) knownMissing(p string) bool {
	if l, ok := t.looked[p]; ok {
		return errors.Is(l.err, fs.ErrNotExist)
	}
	return t.missingBelow(p)
}

// stagedBelow is where stage writes p, which lies strictly below a path
// that becomes a directory: below that directory's temp name.
func (t *tx) stagedBelow(p string) (string, bool) {
	top, ok := t.toDirAbove(p)
	if !ok || top == p {
		return "", false
	}
	return t.toDirTemp[top] + strings.TrimPrefix(p, top), true
}

// checkFromDir refuses to turn directory p into a non-directory while
// anything in it stays: a file of a package that stays, an unowned file,
// an edited config file, or a new path of this transaction.
func (t *tx) checkFromDir(pc *pkgChange, p string, owners []string, leaving map[string]bool) []string {
	for _, o := range owners {
		if !leaving[o] {
			return []string{fmt.Sprintf("/%s (a directory of %s, which stays; it cannot become a %s of %s)", p, o, pc.newFile(p).Type, pc.name)}
		}
	}
	old := map[string]pkgdb.File{}
	for _, c := range t.changes {
		for q, f := range c.oldFiles {
			old[q] = f
		}
	}
	var inside []string
	filepath.WalkDir(t.abs(p), func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(t.in.Root, full)
		rel = filepath.ToSlash(rel)
		if rel != p {
			inside = append(inside, rel)
		}
		return nil
	})
	sort.Strings(inside)
	owned, err := t.in.DB.Owners(inside)
	if err != nil {
		return []string{fmt.Sprintf("/%s (reading its owners: %v)", p, err)}
	}
	for _, q := range inside {
		f, had := old[q]
		why := ""
		switch {
		case t.installs(q):
			why = "a path this transaction installs"
		case !had:
			why = "owned by no package leaving"
			for _, o := range owned[q] {
				if !leaving[o] {
					why = "owned by " + o
				}
			}
		case f.Backup && f.Type == "file":
			if h, err := archive.FileSHA256(t.abs(q)); err != nil || h != f.SHA256 {
				why = "an edited config file"
			}
		}
		if why != "" {
			return []string{fmt.Sprintf("/%s (a directory that becomes a %s in %s, but /%s in it stays: %s; move it away first)", p, pc.newFile(p).Type, pc.name, q, why)}
		}
	}
	return nil
}

// checkToDir refuses to turn an edited config file into a directory: the
// user's edits would have nowhere to go.
func (t *tx) checkToDir(pc *pkgChange, p string) []string {
	for _, c := range t.changes {
		f, had := c.oldFiles[p]
		if !had || !f.Backup || f.Type != "file" {
			continue
		}
		if h, err := archive.FileSHA256(t.abs(p)); err == nil && h != f.SHA256 {
			return []string{fmt.Sprintf("/%s (your edited config file, which becomes a directory in %s; move it away first)", p, pc.name)}
		}
	}
	return nil
}

// exchange swaps two paths of the root atomically, whatever their types.
func exchange(root, a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, a), unix.AT_FDCWD, filepath.Join(root, b), unix.RENAME_EXCHANGE)
	if err != nil {
		return fmt.Errorf("swapping /%s for its new version: %w (the filesystem of %s must support renameat2 RENAME_EXCHANGE to change a path's type)", b, err, root)
	}
	return nil
}

// swapped lists the paths of a journal whose type it changes; paths below
// them are staged and undone with them, never one by one.
func swapped(entries []pkgdb.JournalEntry) func(p string) bool {
	var tops []string
	for _, e := range entries {
		if e.Op == opToDir || e.Op == opFromDir {
			tops = append(tops, e.Path+"/")
		}
	}
	return func(p string) bool {
		for _, top := range tops {
			if strings.HasPrefix(p, top) {
				return true
			}
		}
		return false
	}
}

func isDir(p string) (exists, dir bool) {
	fi, err := os.Lstat(p)
	if err != nil {
		return false, false
	}
	return true, fi.IsDir()
}

// rollbackSwap undoes a type change: swapped back if the exchange
// happened, then the staged new one (now under the temp name) removed.
func rollbackSwap(root string, e pkgdb.JournalEntry) {
	abs := func(p string) string { return filepath.Join(root, p) }
	_, liveDir := isDir(abs(e.Path))
	tempThere, tempDir := isDir(abs(e.Temp))
	newIsDir := e.Op == opToDir
	if tempThere && liveDir == newIsDir && tempDir != newIsDir {
		exchange(root, e.Temp, e.Path)
	}
	switch there, dir := isDir(abs(e.Temp)); {
	case there && dir && newIsDir:
		os.RemoveAll(abs(e.Temp))
	case there && !dir && !newIsDir:
		os.Remove(abs(e.Temp))
	}
}

// finishSwap removes the old one of a committed type change, now under
// the temp name.
func finishSwap(root string, e pkgdb.JournalEntry) {
	abs := func(p string) string { return filepath.Join(root, p) }
	switch there, dir := isDir(abs(e.Temp)); {
	case there && dir && e.Op == opFromDir:
		os.RemoveAll(abs(e.Temp)) // only what the transaction removed (checkFromDir)
	case there && !dir && e.Op == opToDir:
		os.Remove(abs(e.Temp))
	}
}
