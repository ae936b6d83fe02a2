package installer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

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
// Nothing on the root changes until every check has passed, and every
// change is journaled in the database before the first one is made, so a
// crash at any moment is rolled back or finished by the next lpm (journal.go).
type Installer struct {
	Root      string
	DB        *pkgdb.DB
	Out       *progress.Printer
	Overwrite []string // globs of paths an install may take from their owner
	// PreserveLibs keeps a shared library the transaction would take away
	// while installed files still need it (see libs.go).
	PreserveLibs bool
	// RunningKernel is the release of the kernel the machine runs
	// (uname -r) when Root is the running system; remove refuses to take
	// its package away. Empty when unknown.
	RunningKernel string
	// Force rewrites every file, even those whose recorded hash says they
	// are unchanged (repair).
	Force bool
	// Hold, when set, is called as a transaction's journal is written and
	// its result released when Apply returns: the command defers Ctrl-C,
	// SIGTERM and SIGHUP in between, so that a transaction it started
	// ends committed or rolled back by this lpm, not by the next one's
	// recovery (kill -9 is survived either way).
	Hold func() (release func())
	// Timings, when set, gets one line per transaction step with its wall
	// time (the hidden --timings flag): where an install's time goes,
	// without strace slowing every call.
	Timings io.Writer

	// diskLooks counts how often planning looked at the disk (lstat, stat,
	// readlink): an upgrade must not pay for the paths it leaves alone,
	// and a test holds it to that.
	diskLooks int
	syncs     int // syncfs calls of transactions, counted for tests
	// ownerLookups counts the paths planning asked the database the
	// owners of: an upgrade asks only about what is new to the package.
	ownerLookups int
}

// A Change installs (Archive set) or removes (Remove set) one package.
type Change struct {
	Archive  string // package archive to install or upgrade to
	Explicit bool   // the user asked for it (not only a dependency)
	// ExactExplicit records Explicit as it is, even false over a package
	// the user had asked for: undo puts the old flag back.
	ExactExplicit bool
	// Held holds the package (as lpm hold does); a held package stays
	// held when it is upgraded either way. Undo puts a hold back.
	Held   bool
	Remove string // name of a package to remove
	// Reader is Archive already open, when the caller has read its
	// manifest: Apply reads it from there rather than opening it again.
	// The caller closes it.
	Reader *archive.Reader
}

// A ConflictError lists every path an install would take from someone.
type ConflictError struct {
	Package   string
	Conflicts []string // "/usr/bin/x (owned by foo)", "/etc/y (exists on disk, owned by no package)"
}

// conflictsShown is how many conflicts the one-line error names; -v
// prints every one (lpm's main).
const conflictsShown = 3

func (e *ConflictError) Error() string {
	shown := e.Conflicts[:min(conflictsShown, len(e.Conflicts))]
	more := ""
	if len(e.Conflicts) > len(shown) {
		more = fmt.Sprintf(" and %d more (every one with -v)", len(e.Conflicts)-len(shown))
	}
	return fmt.Sprintf("installing %s: %s%s; nothing was changed (use --overwrite GLOB to take files over; GLOB may use ** or name a directory)", e.Package, strings.Join(shown, ", "), more)
}

// pkgChange is one package's part of a transaction, fully planned.
type pkgChange struct {
	name     string
	archive  string
	explicit bool
	held     bool
	old      *pkgdb.Package // nil: fresh install
	oldFiles map[string]pkgdb.File
	manifest *archive.Manifest
	// newPaths[i] is where the manifest's entry i lands (a symlink on the
	// root, lib -> usr/lib, moves it) and newAt the entry landing at a
	// path. The new version's records are made from them and the
	// manifest when asked for (newFile, newFiles), not kept: a map of
	// them held 3.5 MiB for 20,000 files, and the commit's sorted copy
	// 3.6 MiB more.
	newPaths []string
	newAt    map[string]int32
	// shadowed marks the entries of a directory that a later entry also
	// lands at (lib and usr/lib through lib -> usr/lib): that one is the
	// record.
	shadowed map[int]bool
	backup   map[string]bool // manifest paths of config files
	keepNew  map[string]bool // backup files the user edited: write .lpmnew
	skip     map[string]bool // unchanged files: not rewritten
	reader   *archive.Reader // the open archive
}

// newFile is the new version's record of path p; the zero File when the
// new version has no p.
func (pc *pkgChange) newFile(p string) pkgdb.File {
	i, ok := pc.newAt[p]
	if !ok {
		return pkgdb.File{}
	}
	return pc.fileRecord(int(i))
}

// installs reports whether the new version has path p.
func (pc *pkgChange) installs(p string) bool {
	_, ok := pc.newAt[p]
	return ok
}

// newFiles yields the new version's records, one a path, in the
// manifest's order (none for a removal).
func (pc *pkgChange) newFiles() iter.Seq2[string, pkgdb.File] {
	return func(yield func(string, pkgdb.File) bool) {
		for i, p := range pc.newPaths {
			if !pc.shadowed[i] && !yield(p, pc.fileRecord(i)) {
				return
			}
		}
	}
}

// fileRecord is what the database records of the manifest's entry i.
func (pc *pkgChange) fileRecord(i int) pkgdb.File {
	e := &pc.manifest.Entries[i]
	link := e.Link
	if e.Type == "hardlink" {
		link = pc.entryPath(e.Link)
	}
	return pkgdb.File{Package: pc.name, Path: pc.newPaths[i], Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID,
		Size: e.Size, SHA256: e.SHA256, Link: link, Soname: e.Soname, Needed: e.Needed, Backup: pc.backup[e.Path]}
}

// entryPath is where the manifest's entry for path mp lands.
func (pc *pkgChange) entryPath(mp string) string {
	i, ok := pc.manifest.Find(mp)
	if !ok {
		return "" // no such entry: the manifest was checked, so never
	}
	return pc.newPaths[i]
}

// tx is the state of one transaction while it runs.
type tx struct {
	in        *Installer
	paths     *rootPaths
	changes   []*pkgChange
	foreign   []string              // directories found on disk, owned by no package
	taken     map[string][]string   // previous owner -> paths --overwrite takes from it
	ops       []op                  // the journal, in the order it is applied
	id        int64                 // the transaction's id in the database
	preserved map[string]pkgdb.File // libraries kept by --preserve-libs
	readers   []*archive.Reader     // closed when Apply returns
	// Type changes (typechange.go): a non-directory of a leaving package
	// that becomes a directory (toDir), a directory that becomes a
	// non-directory (fromDir). Each is swapped in one atomic exchange.
	toDir, fromDir map[string]bool
	toDirTemp      map[string]string // where a new directory is staged
	looked         map[string]look   // lstat's answers while planning
	memory         memoryLimit       // the heap's soft limit while it runs (memory.go)
	records        *records          // the commit's records, written while stage syncs (journal.go)
}

// plan reads manifests and the database and decides what every path
// becomes.
func (t *tx) plan(changes []Change) error {
	if err := t.planPackages(changes); err != nil {
		return err
	}
	t.limitMemory(planPerEntry)
	t.findTypeChanges()
	for _, pc := range t.changes {
		if pc.manifest != nil {
			if err := t.planFiles(pc); err != nil {
				return err
			}
		}
	}
	return nil
}

// planPackages opens the archives and reads what each package has now.
func (t *tx) planPackages(changes []Change) error {
	for _, c := range changes {
		pc := &pkgChange{archive: c.Archive, explicit: c.Explicit, held: c.Held, name: c.Remove}
		if c.Archive != "" {
			// Opened once: its manifest (20,000 entries is a lot of JSON)
			// serves the plan and the staging walk.
			r := c.Reader
			if r == nil {
				var err error
				if r, err = archive.Open(c.Archive); err != nil {
					return err
				}
				t.readers = append(t.readers, r)
			}
			pc.reader, pc.manifest = r, r.Manifest()
			pc.name = pc.manifest.InstalledName()
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
			if !c.Explicit && old.Explicit && !c.ExactExplicit {
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
		t.changes = append(t.changes, pc)
	}
	return nil
}

func (t *tx) planFiles(pc *pkgChange) error {
	m := pc.manifest
	pc.backup = map[string]bool{}
	for _, b := range m.Backup {
		pc.backup[cleanRel(b)] = true
	}
	pc.newPaths, pc.newAt = make([]string, len(m.Entries)), make(map[string]int32, len(m.Entries))
	pc.keepNew, pc.skip = map[string]bool{}, map[string]bool{}
	newVersion := pc.old != nil && (pc.old.Version != m.Version || pc.old.Release != m.Release)
	var total int64
	for i, e := range m.Entries {
		if e.Size < 0 || e.Size > maxEntrySize || addSize(total, e.Size) == math.MaxInt64 {
			return fmt.Errorf("installing %s: archive %s declares /%s of %d bytes, more than any real package holds; the archive is damaged or hostile, rebuild it; nothing was changed",
				m.Name, pc.archive, e.Path, e.Size)
		}
		total = addSize(total, e.Size)
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
		// The archive's own paths were checked when it was opened; a
		// symlink on the root may still lead one into lpm's state.
		if archive.CheckReserved(p, e.Type) != nil {
			return fmt.Errorf("installing %s: entry /%s lands at /%s through a symlink on the root, in lpm's own state; nothing was changed", m.Name, e.Path, p)
		}
		if j, twice := pc.newAt[p]; twice {
			// Two entries land at one path through a symlink on the root:
			// fine for two directories (the later one is the record), but
			// two files there would overwrite each other.
			if e.Type != "dir" || m.Entries[j].Type != "dir" {
				return fmt.Errorf("installing %s: archive %s has both /%s and /%s, which land at the same /%s through a symlink on the root; nothing was changed; rebuild the package with only one of them",
					m.Name, pc.archive, m.Entries[j].Path, e.Path, p)
			}
			if pc.shadowed == nil {
				pc.shadowed = map[int]bool{}
			}
			pc.shadowed[int(j)] = true
		}
		pc.newPaths[i], pc.newAt[p] = p, int32(i)
		f := pc.fileRecord(i)
		old, had := pc.oldFiles[p]
		// A file or link a new version repeats exactly is left alone on
		// the database's word, without a look at the disk, so that an
		// upgrade costs what changed. A file someone changed behind
		// lpm's back stays as it is; verify finds it and repair, or a
		// reinstall, rewrites it. A reinstall of the same version, and a
		// config file always, still look at the disk.
		if !t.in.Force && had && unchanged(old, e) && !t.belowToDir(p) {
			switch {
			case newVersion && (e.Type == "symlink" || !f.Backup):
				pc.skip[p] = true
			case e.Type == "file":
				if fi, err := t.lstat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == e.Size {
					pc.skip[p] = true
				}
			}
		}
		if f.Backup && e.Type == "file" && !t.belowToDir(p) {
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

// unchanged reports whether entry e of the new version is the file or
// symlink the database records, content, mode and owner alike.
func unchanged(old pkgdb.File, e archive.Entry) bool {
	if old.Type != e.Type || old.Mode != e.Mode || old.UID != e.UID || old.GID != e.GID {
		return false
	}
	switch e.Type {
	case "file":
		return old.SHA256 == e.SHA256 && old.Size == e.Size
	case "symlink":
		return old.Link == e.Link
	}
	return false
}

func (t *tx) abs(rel string) string { return filepath.Join(t.in.Root, rel) }

// check refuses the transaction when it would take a path from someone.
func (t *tx) check() error {
	leaving := map[string]bool{} // packages this transaction replaces or removes
	for _, pc := range t.changes {
		leaving[pc.name] = true
	}
	claimed := map[string]string{} // non-dir path -> new owner in this transaction
	newDirs := map[string]string{} // dir path -> a new owner in this transaction
	for _, pc := range t.changes {
		for p, f := range pc.newFiles() {
			if f.Type == "dir" {
				newDirs[p] = pc.name
			}
		}
	}
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		owners, err := t.owners(pc)
		if err != nil {
			return err
		}
		paths := make([]string, 0, len(pc.newAt))
		for p := range pc.newFiles() {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		var conflicts []string
		for _, p := range paths {
			f := pc.newFile(p)
			var others []string
			for _, o := range owners[p] {
				if !leaving[o] {
					others = append(others, o)
				}
			}
			// A path the upgrade leaves alone is its own already: nothing
			// on disk decides about it.
			var fi fs.FileInfo
			statErr := fs.ErrNotExist
			if !pc.skip[p] || t.fromDir[p] {
				fi, statErr = t.lstat(p)
			}
			if f.Type == "dir" && t.toDir[p] {
				conflicts = append(conflicts, t.checkToDir(pc, p)...)
			}
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
			if other, dir := newDirs[p]; dir {
				conflicts = append(conflicts, fmt.Sprintf("/%s (a directory in %s)", p, other))
				continue
			}
			if t.fromDir[p] {
				conflicts = append(conflicts, t.checkFromDir(pc, p, owners[p], leaving)...)
			}
			if why := t.dirOnDisk(p, fi, statErr, f); why != "" && !t.fromDir[p] && !t.ownedByLeaving(p) {
				conflicts = append(conflicts, fmt.Sprintf("/%s (%s, which a %s of %s may not replace, not even with --overwrite)", p, why, f.Type, pc.name))
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

// owners returns the owners of the paths pc installs. The database is
// asked only about those its old version does not record: a path that
// version records as a non-directory has no other owner, since the
// commit refuses a non-directory with two (pkgdb's checkSharedPaths),
// and one it records as a directory is owned, which is all a directory
// needs to know. So an upgrade asks about what is new to it, and about a
// directory that becomes a non-directory, whose other owners matter.
func (t *tx) owners(pc *pkgChange) (map[string][]string, error) {
	var ask, known []string
	for p, f := range pc.newFiles() {
		if old, had := pc.oldFiles[p]; had && (old.Type != "dir" || f.Type == "dir") && !t.fromDir[p] {
			known = append(known, p)
		} else {
			ask = append(ask, p)
		}
	}
	sort.Strings(ask)
	t.in.ownerLookups += len(ask)
	owners, err := t.in.DB.Owners(ask)
	if err != nil {
		return nil, err
	}
	self := []string{pc.name}
	for _, p := range known {
		owners[p] = self
	}
	return owners, nil
}

// dirOnDisk says what p is when it is a directory on disk or a link to
// one (the book's lib -> usr/lib): a file or link put there by another
// package would cut off everything below it, so only a type change of the
// package's own path may do that. The same link as on disk is no change.
func (t *tx) dirOnDisk(p string, fi fs.FileInfo, statErr error, f pkgdb.File) string {
	if statErr != nil {
		return ""
	}
	if fi.IsDir() {
		return "a directory on disk"
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return ""
	}
	target, err := t.readlink(p)
	if err != nil || f.Type == "symlink" && f.Link == target {
		return ""
	}
	// The link's target inside the root, not on the host.
	inRoot := filepath.Join(filepath.Dir(t.abs(p)), target)
	if filepath.IsAbs(target) {
		inRoot = filepath.Join(t.in.Root, target)
	}
	t.in.diskLooks++
	if st, err := os.Stat(inRoot); err == nil && st.IsDir() {
		return "a link to a directory on disk (-> " + target + ")"
	}
	return ""
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
		if matchOverwrite(g, p) {
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
		if err := dbtx.PutPackage(*p, slices.Values(kept)); err != nil {
			return err
		}
		t.in.Out.Printf("took %d file(s) over from %s (--overwrite)", len(gone), name)
	}
	return nil
}

func (pc *pkgChange) record(now time.Time) pkgdb.Package {
	p := packageRecord(pc.name, pc.manifest, now)
	p.Explicit, p.Held = pc.explicit, pc.held || pc.old != nil && pc.old.Held
	p.ArchivePath, p.ManifestSHA256 = pc.archive, pc.reader.ManifestSHA256()
	return p
}

// packageRecord is what the database records of a package from its
// manifest.
func packageRecord(name string, m *archive.Manifest, now time.Time) pkgdb.Package {
	var size int64
	for _, e := range m.Entries {
		size = addSize(size, e.Size)
	}
	provides := m.Provides
	if m.Slot {
		// A slot still counts as its port for whatever depends on it.
		provides = append(append([]string{}, provides...), m.Name+"="+m.Version)
	}
	return pkgdb.Package{
		Name: name, Version: m.Version, SemVer: m.SemVer, Release: m.Release,
		Description: m.Description, License: m.License, Homepage: m.Homepage,
		InstallTime: now, BuildDate: m.BuildDate, Size: size,
		Depends: m.Depends, Provides: provides, Conflicts: m.Conflicts,
	}
}

// fileRecords yields the new version's records for the database.
func (pc *pkgChange) fileRecords() iter.Seq[pkgdb.File] {
	return func(yield func(pkgdb.File) bool) {
		for _, f := range pc.newFiles() {
			if !yield(f) {
				return
			}
		}
	}
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
