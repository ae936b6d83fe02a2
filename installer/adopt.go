package installer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
)

// Adoption takes over packages a user built and installed by hand (an LFS
// system before lpm): lpm learns a package's file list from an archive, a
// footprint or a build, and records as that package's every path of the
// list that is on disk with the same type, as it is on disk now (hash,
// mode, owner, link target, ELF soname and needed libraries), so that
// verify passes at once and library safety, upgrade and remove work as
// for a package lpm installed.
//
// It writes nothing on the root but lpm's own state: the database, and
// the pristine copies of config files when the package's content is at
// hand. A config file is recorded with the package's hash, so the disk
// copy counts as the user's edit when it differs: the next upgrade keeps
// it and writes .lpmnew, and diff-config shows the edit when there is a
// pristine copy. With only a footprint there is content for no file; a
// config file whose disk copy has the footprint's hash is the pristine
// one, any other has no pristine copy (pacman's answer for a file it
// cannot compare: keep it, write the new one beside it).

// An AdoptSource is what lpm knows of one package to adopt.
type AdoptSource struct {
	Manifest *archive.Manifest
	// Archive is the package archive, when there is one: the pristine
	// content of config files comes from it. ManifestSHA256 is the sha256
	// of its manifest as Manifest was read from it (archive.Reader's),
	// which the record keeps.
	Archive, ManifestSHA256 string
	// From is recorded as the package's adopted_from ("footprint PATH").
	From     string
	Explicit bool
}

// An Adoption is the plan for one package, shown before it is recorded.
// Paths are absolute inside the root ("/usr/bin/hello").
type Adoption struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Release    int      `json:"release"`
	From       string   `json:"from"`
	Adopted    []string `json:"adopted"`     // registered as the package's
	Missing    []string `json:"missing"`     // in the list, not on disk (or of another type): not registered
	Differs    []string `json:"differs"`     // registered as on disk; the package's content differs
	Conflicts  []string `json:"conflicts"`   // another package owns them: the adoption is refused
	NoPristine []string `json:"no_pristine"` // config files with no pristine copy (edited, and only a footprint)

	src      AdoptSource
	files    []pkgdb.File
	pristine map[string]string // resolved path -> "archive" or "disk"
	foreign  []string          // LFS skeleton directories: never removed
}

// Present is how many of the package's non-directory paths are on disk
// as the package has them: none means the package is not installed.
func (a *Adoption) Present() int {
	n := 0
	for _, f := range a.files {
		if f.Type != archive.TypeDir {
			n++
		}
	}
	return n
}

// CheckUnknown refuses to adopt a package the database already has.
func (in *Installer) CheckUnknown(name string) error {
	old, err := in.DB.Package(name)
	if errors.Is(err, pkgdb.ErrNotInstalled) {
		return nil
	} else if err != nil {
		return err
	}
	how := "installed"
	if old.AdoptedFrom != "" {
		how = "adopted"
	}
	return fmt.Errorf("adopting %s: it is already %s (%s %s-%d); lpm adopt takes over packages lpm does not know yet", name, how, old.Name, old.Version, old.Release)
}

// PlanAdopt decides, for each source, which of its paths are registered,
// without changing anything. A package already in the database is
// refused: adoption is for what lpm does not know.
func (in *Installer) PlanAdopt(srcs []AdoptSource) ([]*Adoption, error) {
	paths := newRootPaths(in.Root)
	claimed := map[string]string{} // non-dir path -> package adopting it now
	var plans []*Adoption
	for _, src := range srcs {
		m := src.Manifest
		name := m.InstalledName()
		if err := in.CheckUnknown(name); err != nil {
			return nil, err
		}
		a := &Adoption{Name: name, Version: m.Version, Release: m.Release, From: src.From, src: src, pristine: map[string]string{}}
		if err := in.planAdoption(a, paths, claimed); err != nil {
			return nil, err
		}
		plans = append(plans, a)
	}
	return plans, nil
}

func (in *Installer) planAdoption(a *Adoption, paths *rootPaths, claimed map[string]string) error {
	m := a.src.Manifest
	backup := map[string]bool{}
	for _, b := range m.Backup {
		backup[b] = true
	}
	entryPath := map[string]string{}
	var files []*pkgdb.File
	var built []archive.Entry // the package's entry of each of files
	var resolved []string
	for _, e := range m.Entries {
		p, err := paths.resolve(e.Path)
		if err != nil {
			return fmt.Errorf("adopting %s: /%s: %w", a.Name, e.Path, err)
		}
		if e.Type == archive.TypeDir {
			if real, err := paths.resolve(e.Path + "/x"); err == nil {
				p = path.Dir(real)
			}
		}
		if archive.CheckReserved(p, e.Type) != nil {
			return fmt.Errorf("adopting %s: /%s lands at /%s through a symlink on the root, in lpm's own state; nothing was changed", a.Name, e.Path, p)
		}
		entryPath[e.Path] = p
		fi, err := os.Lstat(filepath.Join(in.Root, p))
		if err != nil {
			a.Missing = append(a.Missing, "/"+p)
			continue
		}
		onDisk := diskType(fi)
		want := e.Type
		if want == archive.TypeHardlink {
			want = archive.TypeFile
		}
		if onDisk != want {
			a.Missing = append(a.Missing, fmt.Sprintf("/%s (a %s on disk, the package has a %s)", p, onDisk, want))
			continue
		}
		f := &pkgdb.File{Package: a.Name, Path: p, Type: e.Type, Mode: diskMode(fi), Backup: backup[e.Path]}
		if st, ok := fi.Sys().(*unix.Stat_t); ok {
			f.UID, f.GID = int(st.Uid), int(st.Gid)
		}
		switch e.Type {
		case archive.TypeSymlink:
			f.Mode = e.Mode
			if f.Link, err = os.Readlink(filepath.Join(in.Root, p)); err != nil {
				return fmt.Errorf("adopting %s: reading the link /%s: %w", a.Name, p, err)
			}
			if f.Link != e.Link {
				a.Differs = append(a.Differs, fmt.Sprintf("/%s (points to %s, the package's to %s)", p, f.Link, e.Link))
			}
		case archive.TypeHardlink:
			// One inode with its target, as the package has it; else it
			// is a file of its own.
			target := entryPath[e.Link]
			tfi, err := os.Lstat(filepath.Join(in.Root, target))
			if err == nil && os.SameFile(fi, tfi) {
				f.Link = target
			} else {
				f.Type = archive.TypeFile
				f.Size = fi.Size()
			}
		case archive.TypeFile:
			f.Size = fi.Size()
		}
		files = append(files, f)
		built = append(built, e)
		resolved = append(resolved, p)
	}
	if err := in.hashAdopted(a.Name, files); err != nil {
		return err
	}

	owners, err := in.DB.Owners(resolved)
	if err != nil {
		return err
	}
	foreign, err := in.DB.ForeignDirs(resolved)
	if err != nil {
		return err
	}
	for i, f := range files {
		e := built[i]
		if f.Type != archive.TypeDir {
			if other, dup := claimed[f.Path]; dup {
				a.Conflicts = append(a.Conflicts, fmt.Sprintf("/%s (also in %s)", f.Path, other))
				continue
			}
			if owned, err := in.nonDirOwnersOf(f.Path, owners[f.Path]); err != nil {
				return err
			} else if len(owned) > 0 {
				a.Conflicts = append(a.Conflicts, fmt.Sprintf("/%s (owned by %s)", f.Path, strings.Join(owned, ", ")))
				continue
			}
			claimed[f.Path] = a.Name
		} else if len(owners[f.Path]) == 0 && !foreign[f.Path] && lfsSkeleton(f.Path) {
			a.foreign = append(a.foreign, f.Path)
		}
		if f.Type == archive.TypeFile && e.Type == archive.TypeFile && f.SHA256 != e.SHA256 {
			if f.Backup {
				// The user's version; the package's is the base of
				// upgrades and diff-config.
				if a.src.Archive == "" {
					a.NoPristine = append(a.NoPristine, "/"+f.Path)
				}
			} else {
				a.Differs = append(a.Differs, "/"+f.Path)
				f.BuiltSHA256 = e.SHA256
			}
		}
		if f.Backup && f.Type == archive.TypeFile {
			switch {
			case a.src.Archive != "":
				a.pristine[f.Path] = "archive"
			case f.SHA256 == e.SHA256:
				a.pristine[f.Path] = "disk"
			}
			f.SHA256 = e.SHA256
		}
		a.Adopted = append(a.Adopted, "/"+f.Path)
		a.files = append(a.files, *f)
	}
	return nil
}

// hashAdopted fills in the content hash and ELF data of the regular
// files, a few at a time: on a whole LFS system this is nearly all the
// work of an adoption.
func (in *Installer) hashAdopted(pkg string, files []*pkgdb.File) error {
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	for _, f := range files {
		if f.Type != archive.TypeFile && f.Type != archive.TypeHardlink {
			continue
		}
		g.Go(func() error {
			full := filepath.Join(in.Root, f.Path)
			if f.Type == archive.TypeFile {
				sum, err := archive.FileSHA256(full)
				if err != nil {
					return fmt.Errorf("adopting %s: %w", pkg, err)
				}
				f.SHA256 = sum
			}
			if soname, needed, ok := archive.ELFInfo(full); ok && f.Type == archive.TypeFile {
				f.Soname, f.Needed = soname, needed
			}
			return nil
		})
	}
	return g.Wait()
}

func (in *Installer) nonDirOwnersOf(p string, owners []string) ([]string, error) {
	if len(owners) == 0 {
		return nil, nil
	}
	return (&tx{in: in}).nonDirOwners(p, owners)
}

// diskType names what fi is as a manifest would.
func diskType(fi fs.FileInfo) string {
	switch {
	case fi.IsDir():
		return archive.TypeDir
	case fi.Mode()&fs.ModeSymlink != 0:
		return archive.TypeSymlink
	case fi.Mode().IsRegular():
		return archive.TypeFile
	}
	return "special file"
}

func diskMode(fi fs.FileInfo) uint32 {
	return uint32(fi.Mode().Perm()) | specialBits(fi.Mode())
}

// lfsSkeleton reports whether dir is one of the directories the LFS book
// makes by hand (chapters 4 and 7) rather than a package: lpm never
// removes those, whoever owned them last.
func lfsSkeleton(dir string) bool {
	if !strings.Contains(dir, "/") {
		return true // boot, etc, home, usr, var, ...
	}
	for _, pattern := range []string{
		"etc/opt", "etc/sysconfig", "media/*", "usr/*", "usr/lib/locale", "usr/lib/firmware",
		"usr/local/*", "usr/share/*", "usr/local/share/*", "usr/share/man/man?", "usr/local/share/man/man?",
		"var/*", "var/lib/*",
	} {
		if ok, _ := path.Match(pattern, dir); ok {
			return true
		}
	}
	return false
}

// Adopt records the planned packages in one transaction of the history
// (action "adopt"); nothing on the root changes but lpm's own state. The
// caller has refused plans with conflicts.
func (in *Installer) Adopt(plans []*Adoption) error {
	var summary []string
	var pkgs []pkgdb.TxPackage
	for _, a := range plans {
		if len(a.Conflicts) > 0 {
			return fmt.Errorf("adopting %s: %s is owned by another package; nothing was changed", a.Name, a.Conflicts[0])
		}
		summary = append(summary, "adopt "+a.Name+" "+a.Version)
		pkgs = append(pkgs, pkgdb.TxPackage{Name: a.Name, NewVersion: a.Version, Action: "adopt", NewArchive: a.src.Archive})
	}
	staged, err := in.stagePristine(plans)
	if err != nil {
		dropStaged(staged)
		return err
	}
	id, err := in.DB.BeginJournal(strings.Join(summary, ", "), pkgs, nil)
	if err != nil {
		dropStaged(staged)
		return err
	}
	if err := in.recordAdoptions(id, plans); err != nil {
		dropStaged(staged)
		if serr := in.DB.SetTxState(id, pkgdb.StateRolledBack); serr != nil {
			return fmt.Errorf("%w (and closing its journal failed: %v; the next lpm will finish that)", err, serr)
		}
		return err
	}
	// After the commit point, as an install puts pristine copies in place.
	for _, p := range staged {
		os.Rename(p, strings.TrimSuffix(p, ".lpm-new"))
	}
	return in.DB.SetTxState(id, pkgdb.StateDone)
}

// AdoptProvided records a package the system has without lpm knowing its
// files: a package record with no files, which the solver sees as
// installed at that version.
func (in *Installer) AdoptProvided(name, version, semver string, explicit bool) error {
	if _, err := in.DB.Package(name); err == nil {
		return fmt.Errorf("adopting %s: it is already in the database; see lpm info %s", name, name)
	}
	m := &archive.Manifest{Name: name, Version: version, SemVer: semver}
	return in.Adopt([]*Adoption{{Name: name, Version: version, From: "provided", src: AdoptSource{Manifest: m, From: "provided", Explicit: explicit}}})
}

func (in *Installer) recordAdoptions(id int64, plans []*Adoption) error {
	dbtx, err := in.DB.Begin()
	if err != nil {
		return err
	}
	defer dbtx.Rollback()
	now := time.Now().UTC()
	for _, a := range plans {
		if err := dbtx.AddForeignDirs(a.foreign); err != nil {
			return err
		}
		m := a.src.Manifest
		var size int64
		for _, f := range a.files {
			size += f.Size
		}
		provides := m.Provides
		if m.Slot {
			provides = append(append([]string{}, provides...), m.Name+"="+m.Version)
		}
		rec := pkgdb.Package{
			Name: a.Name, Version: m.Version, SemVer: m.SemVer, Release: m.Release,
			Description: m.Description, License: m.License, Homepage: m.Homepage,
			Explicit: a.src.Explicit, InstallTime: now, BuildDate: m.BuildDate,
			ArchivePath: a.src.Archive, ManifestSHA256: a.src.ManifestSHA256, Size: size, AdoptedFrom: a.From,
			Depends: m.Depends, Provides: provides, Conflicts: m.Conflicts,
		}
		files := append([]pkgdb.File{}, a.files...)
		sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
		if err := dbtx.PutPackage(rec, slices.Values(files)); err != nil {
			return err
		}
	}
	if err := dbtx.MarkCommitted(id); err != nil {
		return err
	}
	return dbtx.Commit()
}

// stagePristine writes the pristine copies of adopted config files under
// a temp name in lpm's state, never through a link: from the archive
// when there is one, else from the disk when it is the package's content.
func (in *Installer) stagePristine(plans []*Adoption) ([]string, error) {
	var staged []string
	write := func(pkg, p string, content io.Reader) error {
		dst := PristinePath(in.Root, pkg, p) + ".lpm-new"
		if err := MakeStateDir(in.Root, filepath.Dir(dst)); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o644)
		if err != nil {
			return fmt.Errorf("pristine copy %s: %w", dst, err)
		}
		staged = append(staged, dst)
		_, err = io.Copy(f, content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("pristine copy %s: %w", dst, err)
		}
		return nil
	}
	for _, a := range plans {
		fromArchive := map[string]string{} // manifest path -> resolved path
		for _, f := range a.files {
			switch a.pristine[f.Path] {
			case "disk":
				src, err := os.Open(filepath.Join(in.Root, f.Path))
				if err != nil {
					return staged, fmt.Errorf("adopting %s: %w", a.Name, err)
				}
				err = write(a.Name, f.Path, src)
				src.Close()
				if err != nil {
					return staged, err
				}
			case "archive":
				fromArchive[f.Path] = f.Path
			}
		}
		if len(fromArchive) == 0 {
			continue
		}
		r, err := archive.Open(a.src.Archive)
		if err != nil {
			return staged, err
		}
		res := newRootPaths(in.Root)
		err = r.Walk(func(e archive.Entry, content io.Reader) error {
			if e.Type != archive.TypeFile {
				return nil
			}
			p, err := res.resolve(e.Path)
			if err != nil || fromArchive[p] == "" {
				return nil
			}
			return write(a.Name, p, content)
		})
		r.Close()
		if err != nil {
			return staged, fmt.Errorf("adopting %s: %w", a.Name, err)
		}
	}
	return staged, nil
}

func dropStaged(staged []string) {
	for _, p := range staged {
		os.Remove(p)
	}
}

// CheckLFSLayout refuses a root that is not laid out as the LFS book
// builds one (usr/bin, usr/lib and etc as directories, bin, lib and sbin
// as links into usr or directories), or that another package manager
// keeps: adopting its files would fight it.
func CheckLFSLayout(root string) error {
	for _, d := range []string{"etc", "usr", "usr/bin", "usr/lib"} {
		fi, err := os.Lstat(filepath.Join(root, d))
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("%s is not an LFS system: /%s is not a directory; lpm adopt takes over a root built by the LFS book (see README: Adopting a system you built by hand)", root, d)
		}
	}
	for _, d := range []string{"bin", "lib", "sbin"} {
		fi, err := os.Lstat(filepath.Join(root, d))
		if err != nil {
			continue
		}
		if !fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
			return fmt.Errorf("%s is not an LFS system: /%s is neither a directory nor a link into /usr", root, d)
		}
	}
	for _, db := range []struct{ path, manager string }{
		{"var/lib/dpkg/status", "dpkg"}, {"var/lib/pacman/local", "pacman"}, {"lib/apk/db/installed", "apk"},
	} {
		if _, err := os.Lstat(filepath.Join(root, db.path)); err == nil {
			return fmt.Errorf("%s is managed by %s (/%s exists); lpm adopt takes over systems built by hand, not another package manager's", root, db.manager, db.path)
		}
	}
	return nil
}

// AgainstPackage lists the adopted files of the named packages (all when
// none) whose content on disk differed from the package's when they were
// adopted (verify --against-package): verify itself compares with what
// adoption recorded, the disk as it was.
func AgainstPackage(db *pkgdb.DB, names []string) ([]Difference, error) {
	if len(names) == 0 {
		pkgs, err := db.Packages()
		if err != nil {
			return nil, err
		}
		for _, p := range pkgs {
			names = append(names, p.Name)
		}
	}
	var diffs []Difference
	for _, name := range names {
		files, err := db.Files(name)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f.BuiltSHA256 != "" && f.BuiltSHA256 != f.SHA256 {
				diffs = append(diffs, Difference{Package: name, Path: "/" + f.Path, Problem: "content differs from the package's build (adopted as it was on disk)"})
			}
		}
	}
	return diffs, nil
}

// CountOnDisk says how many of m's non-directory paths are on disk with
// the package's type and how many are not, reading no content: enough to
// tell which version of a port a root has.
func (in *Installer) CountOnDisk(m *archive.Manifest) (present, missing int) {
	paths := newRootPaths(in.Root)
	for _, e := range m.Entries {
		if e.Type == archive.TypeDir {
			continue
		}
		p, err := paths.resolve(e.Path)
		if err != nil {
			missing++
			continue
		}
		want := e.Type
		if want == archive.TypeHardlink {
			want = archive.TypeFile
		}
		if fi, err := os.Lstat(filepath.Join(in.Root, p)); err == nil && diskType(fi) == want {
			present++
		} else {
			missing++
		}
	}
	return present, missing
}
