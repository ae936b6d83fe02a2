package installer

import (
	"fmt"
	"io"
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

// Config files: the pristine packaged version of each is kept beside the
// database (PristinePath), so that diff-config can show the user's edits
// and the package's changes against the same base. The copies are part of
// the transaction like any file: staged under a temp name while the live
// file is written, renamed into place with the rest, rolled back or
// finished from the journal.

// PristinePath is where the packaged version of a package's config file
// is kept.
func PristinePath(root, pkg, file string) string {
	return filepath.Join(root, pristineRel(pkg, file))
}

const pristineDir = "var/lib/lpm/pristine"

func pristineRel(pkg, file string) string { return path.Join(pristineDir, pkg, file) }

// pristineOps journals the pristine copies: a replace for each config
// file the transaction writes (its directories made first), a remove for
// each copy of a config file that goes, and the removed packages'
// directories of copies.
func (t *tx) pristineOps(beside func(kind, p string) string) {
	making := map[string]bool{}
	var mkdirs, copies []op
	mkdirAll := func(dir string) {
		var chain []string
		for d := dir; d != path.Dir(pristineDir) && !making[d]; d = path.Dir(d) {
			if fi, err := t.lstat(d); err == nil && fi.IsDir() {
				break
			}
			making[d] = true
			chain = append(chain, d)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			mkdirs = append(mkdirs, op{JournalEntry: pkgdb.JournalEntry{Op: opMkdir, Path: chain[i]}})
		}
	}
	kept := map[string]bool{} // copies that stay or are rewritten
	for i := range t.ops {
		o := &t.ops[i]
		if o.pc == nil || o.Op != opReplace || o.entry.Type != "file" || strings.HasSuffix(o.Path, ".lpmnew") {
			continue
		}
		if !o.pc.backup[o.entry.Path] {
			continue
		}
		live := o.pc.entryPath(o.entry.Path)
		rel := pristineRel(o.pc.name, live)
		mkdirAll(path.Dir(rel))
		c := op{JournalEntry: pkgdb.JournalEntry{Op: opReplace, Path: rel}, entry: o.entry}
		if _, err := t.lstat(rel); err == nil {
			c.Temp, c.Backup = beside("new", rel), beside("old", rel)
		}
		o.pristine = c.target()
		copies = append(copies, c)
	}
	for _, c := range copies {
		kept[c.Path] = true
	}
	for _, pc := range t.changes {
		for p, f := range pc.newFiles() {
			if f.Backup {
				kept[pristineRel(pc.name, p)] = true
			}
		}
	}
	var gone, dirs []op
	for _, pc := range t.changes {
		for p, f := range pc.oldFiles {
			if !f.Backup {
				continue // only config files have copies; naming one for each of L's 20,000 files was most of pristineOps' time
			}
			rel := pristineRel(pc.name, p)
			if kept[rel] {
				continue
			}
			if _, err := t.lstat(rel); err == nil {
				gone = append(gone, op{JournalEntry: pkgdb.JournalEntry{Op: opRemove, Path: rel}})
			}
		}
		if pc.manifest == nil {
			// The removed package's directories of copies, deepest first.
			top := path.Join(pristineDir, pc.name)
			var found []string
			filepath.WalkDir(t.abs(top), func(full string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					rel, _ := filepath.Rel(t.in.Root, full)
					found = append(found, filepath.ToSlash(rel))
				}
				return nil
			})
			for i := len(found) - 1; i >= 0; i-- {
				dirs = append(dirs, op{JournalEntry: pkgdb.JournalEntry{Op: opRmdir, Path: found[i]}})
			}
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].Path < gone[j].Path })
	t.ops = append(t.ops, mkdirs...)
	t.ops = append(t.ops, copies...)
	t.ops = append(t.ops, gone...)
	t.ops = append(t.ops, dirs...)
}

// writeConfig writes a config file and, from the same stream, its
// pristine copy.
func (t *tx) writeConfig(o *op, e archive.Entry, content io.Reader) error {
	// lpm's own state is never reached through a link (rootpath.go).
	if err := CheckStatePath(t.in.Root, t.abs(o.pristine)); err != nil {
		return err
	}
	f, err := os.OpenFile(t.abs(o.pristine), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("pristine copy %s: %w", t.abs(o.pristine), err)
	}
	defer f.Close()
	if err := writeFile(t.abs(o.target()), &e, io.TeeReader(content, f), true, nil); err != nil {
		return err
	}
	return f.Close()
}
