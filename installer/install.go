package installer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

// An Installer changes one root: it merges package archives onto it and
// removes packages from it, keeping the database in step.
//
// The root is a load-bearing wall. A path that exists before and after a
// change is never missing in between: new content is written under a temp
// name beside its destination, made durable, then renamed over the old one.
// Nothing on the root changes until every check has passed; a failure
// before the renames removes the temp files and leaves the root as it was.
type Installer struct {
	Root      string
	DB        *pkgdb.DB
	Out       *progress.Printer
	Overwrite []string // globs of paths an install may take from their owner
}

// A Change installs (Archive set) or removes (Remove set) one package.
type Change struct {
	Archive  string // package archive to install or upgrade to
	Explicit bool   // the user asked for it (not only a dependency)
	Remove   string // name of a package to remove
}

// A ConflictError lists every path an install would take from someone.
type ConflictError struct {
	Package   string
	Conflicts []string // "/usr/bin/x (owned by foo)", "/etc/y (exists on disk, owned by no package)"
}

func (e *ConflictError) Error() string {
	more := ""
	if len(e.Conflicts) > 1 {
		more = fmt.Sprintf(" and %d more", len(e.Conflicts)-1)
	}
	return fmt.Sprintf("installing %s: %s%s; nothing was changed (use --overwrite GLOB to take files over)", e.Package, e.Conflicts[0], more)
}

// pkgChange is one package's part of a transaction, fully planned.
type pkgChange struct {
	name      string
	archive   string
	explicit  bool
	old       *pkgdb.Package // nil: fresh install
	oldFiles  map[string]pkgdb.File
	manifest  *archive.Manifest
	newFiles  map[string]pkgdb.File // by resolved path
	entryPath map[string]string     // manifest path -> resolved path
	keepNew   map[string]bool       // backup files the user edited: write .lpmnew
	skip      map[string]bool       // unchanged files: not rewritten
}

// tx is the state of one transaction while it runs.
type tx struct {
	in      *Installer
	paths   *rootPaths
	changes []*pkgChange
	temps   map[string]string   // resolved path -> temp path beside it
	made    []string            // directories created, in creation order
	foreign []string            // directories found on disk, owned by no package
	taken   map[string][]string // previous owner -> paths --overwrite takes from it
}

// Apply runs the changes as one transaction and returns every path it
// wrote or removed (relative to the root), which is what hooks trigger on.
func (in *Installer) Apply(changes []Change) ([]string, error) {
	t := &tx{in: in, paths: newRootPaths(in.Root), temps: map[string]string{}, taken: map[string][]string{}}
	if err := t.plan(changes); err != nil {
		return nil, err
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	if err := t.stage(); err != nil {
		t.abort()
		return nil, err
	}
	// From here on the root changes; every step before was undoable.
	if err := t.commit(); err != nil {
		return nil, err
	}
	return t.touched(), nil
}

// touched lists the paths the transaction wrote or removed, sorted.
func (t *tx) touched() []string {
	seen := map[string]bool{}
	for _, pc := range t.changes {
		for p, f := range pc.newFiles {
			if f.Type != "dir" && !pc.skip[p] {
				seen[p] = true
			}
		}
		for p, f := range pc.oldFiles {
			if _, kept := pc.newFiles[p]; !kept && f.Type != "dir" {
				seen[p] = true
			}
		}
	}
	paths := make([]string, 0, len(seen))
	for p := range seen {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// plan reads manifests and the database and decides what every path
// becomes.
func (t *tx) plan(changes []Change) error {
	for _, c := range changes {
		pc := &pkgChange{archive: c.Archive, explicit: c.Explicit, name: c.Remove}
		if c.Archive != "" {
			m, err := archive.ReadManifest(c.Archive)
			if err != nil {
				return err
			}
			pc.manifest, pc.name = m, m.Name
		}
		old, err := t.in.DB.Package(pc.name)
		switch {
		case errors.Is(err, pkgdb.ErrNotInstalled):
			if c.Remove != "" {
				return fmt.Errorf("removing %s: it is not installed; see lpm list", c.Remove)
			}
		case err != nil:
			return err
		default:
			pc.old = old
			if !c.Explicit && old.Explicit {
				pc.explicit = true // an upgrade keeps the user's choice
			}
			files, err := t.in.DB.Files(pc.name)
			if err != nil {
				return err
			}
			pc.oldFiles = map[string]pkgdb.File{}
			for _, f := range files {
				pc.oldFiles[f.Path] = f
			}
		}
		if pc.manifest != nil {
			if err := t.planFiles(pc); err != nil {
				return err
			}
		}
		t.changes = append(t.changes, pc)
	}
	return nil
}

func (t *tx) planFiles(pc *pkgChange) error {
	m := pc.manifest
	backup := map[string]bool{}
	for _, b := range m.Backup {
		backup[cleanRel(b)] = true
	}
	pc.newFiles, pc.entryPath = map[string]pkgdb.File{}, map[string]string{}
	pc.keepNew, pc.skip = map[string]bool{}, map[string]bool{}
	for _, e := range m.Entries {
		p, err := t.paths.resolve(e.Path)
		if err != nil {
			return fmt.Errorf("installing %s: entry /%s: %w", m.Name, e.Path, err)
		}
		if e.Type == "dir" {
			// A directory the root already has through a symlink (lib ->
			// usr/lib) is owned where it really is.
			if real, err := t.paths.resolve(e.Path + "/x"); err == nil {
				p = path.Dir(real)
			}
		}
		link := e.Link
		if e.Type == "hardlink" {
			link = pc.entryPath[e.Link]
		}
		f := pkgdb.File{Package: m.Name, Path: p, Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID,
			Size: e.Size, SHA256: e.SHA256, Link: link, Soname: e.Soname, Needed: e.Needed, Backup: backup[e.Path]}
		pc.entryPath[e.Path] = p
		pc.newFiles[p] = f
		old, had := pc.oldFiles[p]
		if e.Type == "file" && had && old.Type == "file" && old.SHA256 == e.SHA256 && old.Mode == e.Mode && old.UID == e.UID && old.GID == e.GID {
			if fi, err := os.Lstat(t.abs(p)); err == nil && fi.Mode().IsRegular() && fi.Size() == e.Size {
				pc.skip[p] = true
			}
		}
		if f.Backup && e.Type == "file" {
			onDisk, err := archive.FileSHA256(t.abs(p))
			switch {
			case err != nil:
				// Not on disk: write it.
			case onDisk == e.SHA256:
				pc.skip[p] = true
			case had && onDisk == old.SHA256:
				// Unedited since the last install: replace it.
			default:
				pc.keepNew[p] = true
			}
		}
	}
	return nil
}

func (t *tx) abs(rel string) string { return filepath.Join(t.in.Root, rel) }

// check refuses the transaction when it would take a path from someone.
func (t *tx) check() error {
	leaving := map[string]bool{} // packages this transaction replaces or removes
	for _, pc := range t.changes {
		leaving[pc.name] = true
	}
	claimed := map[string]string{} // non-dir path -> new owner in this transaction
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		var paths []string
		for p := range pc.newFiles {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		owners, err := t.in.DB.Owners(paths)
		if err != nil {
			return err
		}
		var conflicts []string
		for _, p := range paths {
			f := pc.newFiles[p]
			var others []string
			for _, o := range owners[p] {
				if !leaving[o] {
					others = append(others, o)
				}
			}
			fi, statErr := os.Lstat(t.abs(p))
			if f.Type == "dir" {
				if statErr == nil && fi.IsDir() && len(owners[p]) == 0 {
					t.foreign = append(t.foreign, p)
				}
				if statErr == nil && !fi.IsDir() {
					if _, had := pc.oldFiles[p]; !had || !t.in.overwrites(p) {
						conflicts = append(conflicts, fmt.Sprintf("/%s (a directory in %s, but not a directory on disk)", p, pc.name))
					}
				}
				continue
			}
			if other, dup := claimed[p]; dup {
				conflicts = append(conflicts, fmt.Sprintf("/%s (also in %s)", p, other))
				continue
			}
			claimed[p] = pc.name
			if len(others) > 0 {
				// Directories are shared; only non-directory owners conflict.
				owned, err := t.nonDirOwners(p, others)
				if err != nil {
					return err
				}
				if len(owned) > 0 && t.in.overwrites(p) {
					for _, o := range owned {
						t.taken[o] = append(t.taken[o], p)
					}
					continue
				}
				if len(owned) > 0 {
					conflicts = append(conflicts, fmt.Sprintf("/%s (owned by %s)", p, strings.Join(owned, ", ")))
					continue
				}
			}
			_, ownedByOld := pc.oldFiles[p]
			if statErr == nil && !ownedByOld && !t.in.overwrites(p) && len(others) == 0 && !t.ownedByLeaving(p) {
				if fi.IsDir() {
					conflicts = append(conflicts, fmt.Sprintf("/%s (a directory on disk)", p))
				} else {
					conflicts = append(conflicts, fmt.Sprintf("/%s (exists on disk, owned by no package)", p))
				}
			}
		}
		if len(conflicts) > 0 {
			return &ConflictError{Package: pc.manifest.Name + " " + pc.manifest.Version, Conflicts: conflicts}
		}
	}
	return t.checkDeclaredConflicts(leaving)
}

func (t *tx) ownedByLeaving(p string) bool {
	for _, pc := range t.changes {
		if _, ok := pc.oldFiles[p]; ok {
			return true
		}
	}
	return false
}

func (t *tx) nonDirOwners(p string, owners []string) ([]string, error) {
	var out []string
	for _, o := range owners {
		files, err := t.in.DB.Files(o)
		if err != nil {
			return nil, err
		}
		i := sort.Search(len(files), func(i int) bool { return files[i].Path >= p })
		if i < len(files) && files[i].Path == p && files[i].Type != "dir" {
			out = append(out, o)
		}
	}
	return out, nil
}

func (in *Installer) overwrites(p string) bool {
	for _, g := range in.Overwrite {
		if ok, _ := path.Match(strings.TrimPrefix(g, "/"), p); ok {
			return true
		}
	}
	return false
}

// checkDeclaredConflicts refuses packages that declare a conflict with an
// installed one, or that an installed one declares a conflict with.
func (t *tx) checkDeclaredConflicts(leaving map[string]bool) error {
	installed, err := t.in.DB.Packages()
	if err != nil {
		return err
	}
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		for _, ip := range installed {
			if leaving[ip.Name] {
				continue
			}
			if term, ok := conflictsWith(pc.manifest.Conflicts, ip.Name, ip.Version); ok {
				return fmt.Errorf("installing %s: it conflicts with the installed %s %s (%s); remove %s first", pc.name, ip.Name, ip.Version, term, ip.Name)
			}
			if term, ok := conflictsWith(ip.Conflicts, pc.name, pc.manifest.Version); ok {
				return fmt.Errorf("installing %s: the installed %s %s conflicts with it (%s); remove %s first", pc.name, ip.Name, ip.Version, term, ip.Name)
			}
		}
	}
	return nil
}

// stage creates directories and writes every new file and link under a
// temp name beside its destination, then makes them durable with one
// syncfs. The live paths are untouched.
func (t *tx) stage() error {
	written := int64(0)
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		r, err := archive.Open(pc.archive)
		if err != nil {
			return err
		}
		bar := t.in.Out.Start("installing "+pc.name+" "+pc.manifest.Version, int64(len(pc.manifest.Entries)), progress.Items)
		err = r.Walk(func(e archive.Entry, content io.Reader) error {
			defer bar.Add(1)
			p := pc.entryPath[e.Path]
			switch e.Type {
			case "dir":
				return t.makeDir(p, e)
			case "file":
				if pc.skip[p] {
					return nil
				}
				n, err := t.writeTemp(p, e, content, pc.keepNew[p])
				written += n
				return err
			case "symlink":
				return t.linkTemp(p, e)
			}
			return nil // hard links are made after their targets are in place
		})
		r.Close()
		bar.Finish(err)
		if err != nil {
			return fmt.Errorf("installing %s: %w", pc.name, err)
		}
	}
	return t.sync()
}

func (t *tx) makeDir(p string, e archive.Entry) error {
	full := t.abs(p)
	if fi, err := os.Stat(full); err == nil && fi.IsDir() {
		return nil
	}
	if err := os.Mkdir(full, os.FileMode(e.Mode&0o777)); err != nil {
		return fmt.Errorf("creating /%s: %w", p, err)
	}
	t.made = append(t.made, full)
	return setOwnerMode(full, e, false)
}

func (t *tx) tempName(p string) string {
	var b [6]byte
	rand.Read(b[:])
	dir, base := path.Split(p)
	if len(base) > 200 {
		base = base[:200]
	}
	return filepath.Join(t.in.Root, dir, ".lpm-new."+hex.EncodeToString(b[:])+"."+base)
}

func (t *tx) writeTemp(p string, e archive.Entry, content io.Reader, asNew bool) (int64, error) {
	tmp := t.tempName(p)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("writing /%s: %w", p, err)
	}
	key := p
	if asNew {
		key = p + ".lpmnew"
	}
	t.temps[key] = tmp
	n, err := io.Copy(f, content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("writing /%s: %w", p, err)
	}
	return n, setOwnerMode(tmp, e, false)
}

func (t *tx) linkTemp(p string, e archive.Entry) error {
	if fi, err := os.Lstat(t.abs(p)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if cur, _ := os.Readlink(t.abs(p)); cur == e.Link {
			return nil
		}
	}
	tmp := t.tempName(p)
	if err := os.Symlink(e.Link, tmp); err != nil {
		return fmt.Errorf("linking /%s: %w", p, err)
	}
	t.temps[p] = tmp
	return setOwnerMode(tmp, e, true)
}

// sync makes every staged file durable with one syncfs of the root's
// filesystem, not one fsync per file.
func (t *tx) sync() error {
	f, err := os.Open(t.in.Root)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing %s: %w", t.in.Root, err)
	}
	return nil
}

// abort undoes stage: temps and created directories go.
func (t *tx) abort() {
	for _, tmp := range t.temps {
		os.Remove(tmp)
	}
	for i := len(t.made) - 1; i >= 0; i-- {
		os.Remove(t.made[i])
	}
}

// commit renames the staged files into place, makes hard links, removes
// what the new versions no longer have, and records it all.
func (t *tx) commit() error {
	keys := make([]string, 0, len(t.temps))
	for k := range t.temps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := os.Rename(t.temps[k], t.abs(k)); err != nil {
			return fmt.Errorf("replacing /%s: %w", k, err)
		}
	}
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		for _, e := range pc.manifest.Entries {
			if e.Type != "hardlink" {
				continue
			}
			p := pc.entryPath[e.Path]
			tmp := t.tempName(p)
			if err := os.Link(t.abs(pc.entryPath[e.Link]), tmp); err != nil {
				return fmt.Errorf("linking /%s: %w", p, err)
			}
			if err := os.Rename(tmp, t.abs(p)); err != nil {
				os.Remove(tmp)
				return fmt.Errorf("linking /%s: %w", p, err)
			}
		}
		for p := range pc.keepNew {
			t.in.Out.Printf("%s: kept your /%s; the new version is /%s.lpmnew", pc.name, p, p)
		}
	}
	if err := t.removeObsolete(); err != nil {
		return err
	}
	dbtx, err := t.in.DB.Begin()
	if err != nil {
		return err
	}
	if err := dbtx.AddForeignDirs(t.foreign); err != nil {
		dbtx.Rollback()
		return err
	}
	if err := t.recordTakeovers(dbtx); err != nil {
		dbtx.Rollback()
		return err
	}
	now := time.Now().UTC()
	for _, pc := range t.changes {
		if pc.manifest == nil {
			err = dbtx.DeletePackage(pc.name)
		} else {
			err = dbtx.PutPackage(pc.record(now), pc.fileList())
		}
		if err != nil {
			dbtx.Rollback()
			return err
		}
	}
	return dbtx.Commit()
}

// recordTakeovers drops the paths --overwrite took from their previous
// owners' records, so every path keeps exactly one owner.
func (t *tx) recordTakeovers(dbtx *pkgdb.Tx) error {
	names := make([]string, 0, len(t.taken))
	for n := range t.taken {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		p, err := t.in.DB.Package(name)
		if err != nil {
			return err
		}
		files, err := t.in.DB.Files(name)
		if err != nil {
			return err
		}
		gone := map[string]bool{}
		for _, path := range t.taken[name] {
			gone[path] = true
		}
		kept := files[:0]
		for _, f := range files {
			if !gone[f.Path] {
				kept = append(kept, f)
			}
		}
		if err := dbtx.PutPackage(*p, kept); err != nil {
			return err
		}
		t.in.Out.Printf("took %d file(s) over from %s (--overwrite)", len(gone), name)
	}
	return nil
}

// removeObsolete deletes files of old versions (and removed packages) that
// nothing new claims and no other package owns, then their directories once
// empty. An edited config file of a removed package is kept as .lpmsave.
func (t *tx) removeObsolete() error {
	leaving := map[string]bool{}
	claimed := map[string]bool{}
	for _, pc := range t.changes {
		leaving[pc.name] = true
		for p := range pc.newFiles {
			claimed[p] = true
		}
	}
	var gone, dirs []string
	saved := map[string]bool{}
	for _, pc := range t.changes {
		for p, f := range pc.oldFiles {
			if claimed[p] {
				continue
			}
			if f.Type == "dir" {
				dirs = append(dirs, p)
				continue
			}
			if f.Backup && f.Type == "file" {
				if h, err := archive.FileSHA256(t.abs(p)); err == nil && h != f.SHA256 {
					saved[p] = true
				}
			}
			gone = append(gone, p)
		}
	}
	owners, err := t.in.DB.Owners(append(append([]string{}, gone...), dirs...))
	if err != nil {
		return err
	}
	stillOwned := func(p string) bool {
		for _, o := range owners[p] {
			if !leaving[o] {
				return true
			}
		}
		return false
	}
	sort.Strings(gone)
	for _, p := range gone {
		if stillOwned(p) {
			continue
		}
		if saved[p] {
			if err := os.Rename(t.abs(p), t.abs(p)+".lpmsave"); err == nil {
				t.in.Out.Printf("kept your edited /%s as /%s.lpmsave", p, p)
			}
			continue
		}
		if err := os.Remove(t.abs(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing /%s: %w", p, err)
		}
	}
	foreign, err := t.in.DB.ForeignDirs(dirs)
	if err != nil {
		return err
	}
	// Deepest first, so a parent is tried after its children.
	sort.Slice(dirs, func(i, j int) bool {
		return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") || (strings.Count(dirs[i], "/") == strings.Count(dirs[j], "/") && dirs[i] > dirs[j])
	})
	for _, d := range dirs {
		if !stillOwned(d) && !foreign[d] {
			os.Remove(t.abs(d)) // fails, rightly, when not empty
		}
	}
	return nil
}

func (pc *pkgChange) record(now time.Time) pkgdb.Package {
	m := pc.manifest
	var size int64
	for _, e := range m.Entries {
		size += e.Size
	}
	sum, _ := archive.FileSHA256(pc.archive)
	return pkgdb.Package{
		Name: m.Name, Version: m.Version, Release: m.Release,
		Description: m.Description, License: m.License, Homepage: m.Homepage,
		Explicit: pc.explicit, Held: pc.old != nil && pc.old.Held,
		InstallTime: now, BuildDate: m.BuildDate,
		ArchiveSHA256: sum, ArchivePath: pc.archive, Size: size,
		Depends: m.Depends, Provides: m.Provides, Conflicts: m.Conflicts,
	}
}

func (pc *pkgChange) fileList() []pkgdb.File {
	files := make([]pkgdb.File, 0, len(pc.newFiles))
	for _, f := range pc.newFiles {
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

// setOwnerMode applies an entry's owner and mode. Owners are set only when
// lpm runs as root; chown before chmod, because chown clears setuid.
func setOwnerMode(p string, e archive.Entry, link bool) error {
	if os.Geteuid() == 0 {
		if err := os.Lchown(p, e.UID, e.GID); err != nil {
			return err
		}
	}
	if link {
		return nil
	}
	return os.Chmod(p, fileMode(e.Mode))
}

func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}
