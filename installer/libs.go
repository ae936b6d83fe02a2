package installer

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

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
	var broken []string
	for _, s := range sonames {
		if stays(providers[s], leaving) {
			continue
		}
		var users []string
		for _, r := range needers[s] {
			if !leaving[r.Package] {
				users = append(users, fmt.Sprintf("/%s (%s)", r.Path, r.Package))
			}
		}
		// A new version in this transaction that still needs it breaks too.
		for _, pc := range t.changes {
			if pc.manifest == nil {
				continue
			}
			for _, e := range pc.manifest.Entries {
				for _, n := range e.Needed {
					if n == s {
						users = append(users, fmt.Sprintf("/%s (%s %s)", pc.entryPath[e.Path], pc.name, pc.manifest.Version))
					}
				}
			}
		}
		if len(users) == 0 {
			continue
		}
		if t.in.PreserveLibs {
			t.preserve(s, lost[s])
			t.in.Out.Printf("keeping %s for %s (--preserve-libs); lpm check-libs shows what still needs it", s, strings.Join(users, ", "))
			continue
		}
		broken = append(broken, fmt.Sprintf("%s, which %s need(s)", s, strings.Join(users, ", ")))
	}
	if len(broken) > 0 {
		return fmt.Errorf("%s would take away %s; rebuild those in the same transaction, or use --preserve-libs to keep the old library until they are; nothing was changed",
			t.summary(), strings.Join(broken, "; "))
	}
	return nil
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

// recordPreserved adds the kept libraries to the PreservedName record.
func (t *tx) recordPreserved(dbtx *pkgdb.Tx) error {
	if len(t.preserved) == 0 {
		return nil
	}
	files, _ := t.in.DB.Files(PreservedName) // none yet is fine
	for _, f := range t.preserved {
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return dbtx.PutPackage(pkgdb.Package{
		Name: PreservedName, Version: "1", Release: 1, InstallTime: time.Now().UTC(),
		Description: "shared libraries kept by --preserve-libs until what needs them is rebuilt",
	}, files)
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
