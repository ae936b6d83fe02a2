package installer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
)

// Shared libraries are load-bearing walls too. Every ELF file's SONAME and
// DT_NEEDED entries are recorded when it is packaged; a transaction that
// would take away a soname that an installed file still needs is refused,
// or, with PreserveLibs, the old library stays on disk under the
// PreservedName record until what needs it is rebuilt.

// PreservedName is the record that owns libraries kept by --preserve-libs.
const PreservedName = "lpm-preserved"

// checkLibs refuses (or, with PreserveLibs, plans to keep) every soname
// the transaction takes away while an installed file still needs it.
func (t *tx) checkLibs() error {
	leaving := map[string]bool{}
	provided := map[string]bool{}
	for _, pc := range t.changes {
		leaving[pc.name] = true
		if pc.manifest != nil {
			for _, e := range pc.manifest.Entries {
				if e.Soname != "" {
					provided[e.Soname] = true
				}
			}
		}
	}
	lost := map[string][]string{} // soname -> old paths carrying it
	for _, pc := range t.changes {
		for p, f := range pc.oldFiles {
			if f.Soname != "" && !provided[f.Soname] {
				lost[f.Soname] = append(lost[f.Soname], p)
			}
		}
	}
	if len(lost) == 0 {
		return nil
	}
	var sonames []string
	for s := range lost {
		sonames = append(sonames, s)
	}
	sort.Strings(sonames)
	providers, err := t.in.DB.SonameProviders(sonames)
	if err != nil {
		return err
	}
	needers, err := t.in.DB.Needers(sonames)
	if err != nil {
		return err
	}
	// A library kept for another kept library is needed too (libfoo.so.1
	// kept for a program needs libbar.so.1): passes repeat until nothing
	// more is kept.
	var broken []string
	decided := map[string]bool{}
	for more := true; more; {
		more = false
		for _, s := range sonames {
			if decided[s] || stays(providers[s], leaving) {
				continue
			}
			users := t.libUsers(s, needers[s], leaving)
			if len(users) == 0 {
				continue
			}
			decided[s], more = true, true
			if t.in.PreserveLibs {
				t.preserve(s, lost[s])
				t.in.Out.Printf("keeping %s for %s (--preserve-libs); lpm check-libs shows what still needs it", s, strings.Join(users, ", "))
				continue
			}
			broken = append(broken, fmt.Sprintf("%s, which %s need(s)", s, strings.Join(users, ", ")))
		}
	}
	if len(broken) > 0 {
		return fmt.Errorf("%s would take away %s; rebuild those in the same transaction, or use --preserve-libs to keep the old library until they are; nothing was changed",
			t.summary(), strings.Join(broken, "; "))
	}
	return nil
}

// libUsers lists what needs soname s after the transaction: files of
// packages that stay or that it keeps as preserved, and files of the new
// versions it installs.
func (t *tx) libUsers(s string, needers []pkgdb.LibRef, leaving map[string]bool) []string {
	var users []string
	for _, r := range needers {
		if _, kept := t.preserved[r.Path]; !leaving[r.Package] || kept {
			users = append(users, fmt.Sprintf("/%s (%s)", r.Path, r.Package))
		}
	}
	// A new version in this transaction that still needs it breaks too.
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		for i, e := range pc.manifest.Entries {
			for _, n := range e.Needed {
				if n == s {
					users = append(users, fmt.Sprintf("/%s (%s %s)", pc.newPaths[i], pc.name, pc.manifest.Version))
				}
			}
		}
	}
	return users
}

func stays(refs []pkgdb.LibRef, leaving map[string]bool) bool {
	for _, r := range refs {
		if !leaving[r.Package] {
			return true
		}
	}
	return false
}

// preserve keeps the files carrying soname, and the links named after it
// beside them, out of the transaction's removals.
func (t *tx) preserve(soname string, paths []string) {
	if t.preserved == nil {
		t.preserved = map[string]pkgdb.File{}
	}
	for _, pc := range t.changes {
		for p, f := range pc.oldFiles {
			for _, lib := range paths {
				if p == lib || f.Type == "symlink" && path.Dir(p) == path.Dir(lib) && path.Base(p) == soname {
					f.Package = PreservedName
					t.preserved[p] = f
				}
			}
		}
	}
}

// recordPreserved adds the kept libraries to the PreservedName record and
// packs the record's files into an archive of its own, so that history
// and undo treat it as any package: a transaction that preserves, releases
// or removes libraries can be undone from that archive.
func (t *tx) recordPreserved(dbtx *pkgdb.Tx) error {
	if len(t.preserved) == 0 {
		return nil
	}
	old, err := t.in.DB.Package(PreservedName)
	if err != nil && !errors.Is(err, pkgdb.ErrNotInstalled) {
		return err
	}
	byPath := map[string]pkgdb.File{}
	if old != nil && !t.changing(PreservedName) {
		files, err := t.in.DB.Files(PreservedName)
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.Type != "dir" { // the new archive's directories replace them
				byPath[f.Path] = f
			}
		}
	}
	for p, f := range t.preserved {
		byPath[p] = f
	}
	files := make([]pkgdb.File, 0, len(byPath))
	for _, f := range byPath {
		files = append(files, f)
	}
	archivePath, dirs, size, err := t.packPreserved(files)
	if err != nil {
		return err
	}
	packed, err := archive.Open(archivePath)
	if err != nil {
		return err
	}
	packed.Close()
	// The record owns what its archive holds, directories too, so that
	// reinstalling it (undo) records the same.
	files = append(files, dirs...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	tp := pkgdb.TxPackage{Name: PreservedName, NewVersion: "1", Action: "install", NewArchive: archivePath}
	if old != nil {
		tp.OldVersion, tp.OldArchive, tp.Action = old.Version, old.ArchivePath, "upgrade"
	}
	if err := dbtx.RecordTxPackage(t.id, tp); err != nil {
		return err
	}
	return dbtx.PutPackage(pkgdb.Package{
		Name: PreservedName, Version: "1", Release: 1, InstallTime: time.Now().UTC(), ArchivePath: archivePath, ManifestSHA256: packed.ManifestSHA256(), Size: size,
		Description: "shared libraries kept by --preserve-libs until what needs them is rebuilt",
	}, slices.Values(files))
}

// changing reports whether the transaction installs or removes name.
func (t *tx) changing(name string) bool {
	for _, pc := range t.changes {
		if pc.name == name {
			return true
		}
	}
	return false
}

// PreservedDir holds the archives of the preserved libraries' record, one
// per transaction that changed it; undo installs from them.
func PreservedDir(root string) string {
	return filepath.Join(root, "var/lib/lpm/preserved")
}

// packPreserved copies the preserved files, still in place on the root,
// into a staging directory and packs them as the record's archive. It
// returns the archive, the directories in it and its installed size.
func (t *tx) packPreserved(files []pkgdb.File) (string, []pkgdb.File, int64, error) {
	dir := PreservedDir(t.in.Root)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, 0, fmt.Errorf("keeping preserved libraries: %w", err)
	}
	stage, err := os.MkdirTemp(dir, ".stage-")
	if err != nil {
		return "", nil, 0, fmt.Errorf("keeping preserved libraries: %w", err)
	}
	defer os.RemoveAll(stage)
	for _, f := range files {
		dst := filepath.Join(stage, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", nil, 0, err
		}
		switch f.Type {
		case "symlink":
			err = os.Symlink(f.Link, dst)
		case "file", "hardlink":
			err = copyLib(t.abs(f.Path), dst)
		default:
			continue
		}
		if err == nil && os.Geteuid() == 0 {
			err = os.Lchown(dst, f.UID, f.GID)
		}
		if err == nil && f.Type != "symlink" {
			err = os.Chmod(dst, fileMode(f.Mode)) // chown cleared setuid
		}
		if err != nil {
			return "", nil, 0, fmt.Errorf("keeping preserved library /%s: %w", f.Path, err)
		}
	}
	out := filepath.Join(dir, fmt.Sprintf("%s-%d.lpm", PreservedName, t.id))
	m, err := archive.Create(out, stage, archive.Manifest{Name: PreservedName, Version: "1", Release: 1,
		Description: "shared libraries kept by --preserve-libs until what needs them is rebuilt"})
	if err != nil {
		return "", nil, 0, err
	}
	var dirs []pkgdb.File
	var size int64
	for _, e := range m.Entries {
		size += e.Size
		if e.Type == "dir" {
			dirs = append(dirs, pkgdb.File{Package: PreservedName, Path: e.Path, Type: "dir", Mode: e.Mode, UID: e.UID, GID: e.GID})
		}
	}
	return out, dirs, size, nil
}

func copyLib(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// A PreservedLib is a library kept by --preserve-libs, with the installed
// files that still need it. NeededBy empty: it is released by the next
// command that changes the root.
type PreservedLib struct {
	Path     string    `json:"path"`
	Soname   string    `json:"soname"`
	NeededBy []LibUser `json:"needed_by"`
}

// A LibUser is an installed file that needs a library.
type LibUser struct {
	Package string `json:"package"`
	Path    string `json:"path"`
}

// PreservedLibs lists the preserved libraries and, for each, the files of
// other packages that need its soname while no other package provides it.
func PreservedLibs(db *pkgdb.DB) ([]PreservedLib, error) {
	files, err := db.Files(PreservedName)
	if errors.Is(err, pkgdb.ErrNotInstalled) {
		return []PreservedLib{}, nil
	}
	if err != nil {
		return nil, err
	}
	var sonames []string
	for _, f := range files {
		if f.Soname != "" {
			sonames = append(sonames, f.Soname)
		}
	}
	providers, err := db.SonameProviders(sonames)
	if err != nil {
		return nil, err
	}
	needers, err := db.Needers(sonames)
	if err != nil {
		return nil, err
	}
	libs := []PreservedLib{}
	elsewhere := map[string]bool{} // sonames another package provides
	for _, f := range files {
		if f.Soname == "" {
			continue
		}
		lib := PreservedLib{Path: "/" + f.Path, Soname: f.Soname, NeededBy: []LibUser{}}
		elsewhere[f.Soname] = stays(providers[f.Soname], map[string]bool{PreservedName: true})
		if !elsewhere[f.Soname] {
			for _, r := range needers[f.Soname] {
				if r.Package != PreservedName {
					lib.NeededBy = append(lib.NeededBy, LibUser{Package: r.Package, Path: "/" + r.Path})
				}
			}
		}
		libs = append(libs, lib)
	}
	// A preserved library that a needed preserved library needs is needed.
	needed := map[string]bool{}
	for more := true; more; {
		more = false
		for i, l := range libs {
			if needed[l.Path] {
				continue
			}
			if len(l.NeededBy) == 0 && !elsewhere[l.Soname] {
				for _, r := range needers[l.Soname] {
					if r.Package == PreservedName && needed["/"+r.Path] {
						libs[i].NeededBy = append(libs[i].NeededBy, LibUser{Package: PreservedName, Path: "/" + r.Path})
					}
				}
			}
			if len(libs[i].NeededBy) > 0 {
				needed[l.Path], more = true, true
			}
		}
	}
	return libs, nil
}

// ReleasePreserved removes, in one transaction, the preserved libraries
// nothing needs any more (their dependents were rebuilt, upgraded or
// removed), as Portage does after @preserved-rebuild; the ones still
// needed stay, and it says for whom. It returns the paths it changed,
// for the hooks, and the sonames it released.
func (in *Installer) ReleasePreserved() (changed, released []string, err error) {
	if _, err := in.DB.Package(PreservedName); errors.Is(err, pkgdb.ErrNotInstalled) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	libs, err := PreservedLibs(in.DB)
	if err != nil {
		return nil, nil, err
	}
	for _, l := range libs {
		if len(l.NeededBy) == 0 {
			released = append(released, l.Soname)
		}
	}
	// A record without libraries (what undo left of it) goes whole.
	if len(released) == 0 && len(libs) > 0 {
		return nil, nil, nil // everything kept is still needed
	}
	// Removing the record with PreserveLibs keeps, and records again,
	// exactly the libraries still needed.
	keep := *in
	keep.PreserveLibs = true
	changed, err = keep.Apply([]Change{{Remove: PreservedName}})
	if err != nil {
		return nil, nil, fmt.Errorf("releasing preserved libraries %s: %w", strings.Join(released, ", "), err)
	}
	return changed, released, nil
}

// A MissingLib is an installed ELF file that needs a soname nothing
// provides.
type MissingLib struct {
	Package string `json:"package"`
	Path    string `json:"path"`
	Soname  string `json:"soname"`
}

// CheckLibs lists every installed ELF file whose needed soname is provided
// neither by an installed file nor by a file in the root's library
// directories (an LFS system's hand-built base is not in the database).
func CheckLibs(root string, db *pkgdb.DB) ([]MissingLib, error) {
	needed, err := db.AllNeeded()
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, sonames := range needed {
		for _, s := range sonames {
			set[s] = true
		}
	}
	var all []string
	for s := range set {
		all = append(all, s)
	}
	providers, err := db.SonameProviders(all)
	if err != nil {
		return nil, err
	}
	dirs := libDirs(root)
	onDisk := func(soname string) bool {
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(root, d, soname)); err == nil {
				return true
			}
		}
		return false
	}
	// A recorded provider counts only while its file is really there.
	recorded := func(soname string) bool {
		for _, r := range providers[soname] {
			if _, err := os.Stat(filepath.Join(root, r.Path)); err == nil {
				return true
			}
		}
		return false
	}
	var missing []MissingLib
	for ref, sonames := range needed {
		for _, s := range sonames {
			if !recorded(s) && !onDisk(s) {
				missing = append(missing, MissingLib{Package: ref.Package, Path: "/" + ref.Path, Soname: s})
			}
		}
	}
	sort.Slice(missing, func(i, j int) bool {
		if missing[i].Path != missing[j].Path {
			return missing[i].Path < missing[j].Path
		}
		return missing[i].Soname < missing[j].Soname
	})
	return missing, nil
}

// libDirs is where the dynamic loader looks: the usual directories and
// those ROOT/etc/ld.so.conf names (with its includes).
func libDirs(root string) []string {
	dirs := []string{"lib", "usr/lib", "lib64", "usr/lib64", "usr/local/lib", "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"}
	var read func(conf string, depth int)
	read = func(conf string, depth int) {
		f, err := os.Open(filepath.Join(root, conf))
		if err != nil || depth > 4 {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "include "):
				matches, _ := filepath.Glob(filepath.Join(root, strings.TrimSpace(strings.TrimPrefix(line, "include "))))
				for _, m := range matches {
					rel, _ := filepath.Rel(root, m)
					read(rel, depth+1)
				}
			default:
				dirs = append(dirs, strings.TrimPrefix(line, "/"))
			}
		}
	}
	read("etc/ld.so.conf", 0)
	return dirs
}

// The C library and the dynamic loader are replaced together, by rename,
// and before the transaction commits a program from the root must still
// run with them; if it does not, the transaction rolls back.

// touchesLoader reports whether the transaction replaces the dynamic
// loader or libc.
func (t *tx) touchesLoader() bool {
	for _, o := range t.ops {
		base := path.Base(o.Path)
		if o.Op == opReplace && (strings.HasPrefix(base, "ld-linux") || base == "libc.so.6") {
			return true
		}
	}
	return false
}

// smokeTest runs a dynamically linked program of the root, inside it.
func smokeTest(root string) error {
	for _, prog := range []string{"usr/bin/true", "bin/true", "usr/bin/env", "bin/sh"} {
		fi, err := os.Lstat(filepath.Join(root, prog))
		if err != nil || fi.IsDir() {
			continue
		}
		cmd := exec.Command("/" + prog)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		if root != "/" {
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		}
		cmd.Dir = "/"
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("/%s no longer runs with the new C library: %v %s", prog, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return nil // nothing to run: a root without programs yet
}
