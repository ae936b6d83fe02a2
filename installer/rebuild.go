package installer

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
)

// Rebuilding a damaged database. What lpm knows of a package outside its
// database is the archive it came from, in the package cache. A package
// is registered again when one of its cached archives matches the disk:
// every path there, of the type, mode, link target and content the
// archive says (config files may be edited). What cannot be known is
// lost, and the report says so: which packages the user asked for (every
// registered package is marked explicit, so nothing looks removable),
// which directories lpm created (all are kept as found on disk, never
// removed), the history, and libraries kept by --preserve-libs.

// A RebuildReport says what RebuildDB registered and what it could not.
type RebuildReport struct {
	Registered []string // "NAME VERSION"
	Lost       []string // "NAME: why", one per package found on disk but not registered
	Temps      []string // temp and backup names of a lost journal, in the packages' directories
}

// RebuildDB registers in db, which must be empty, every package whose
// archive in sources (directories of archives, or archives) matches the
// disk of root. It writes nothing to the root.
func RebuildDB(root string, db *pkgdb.DB, sources []string) (*RebuildReport, error) {
	if pkgs, err := db.Packages(); err != nil || len(pkgs) > 0 {
		return nil, fmt.Errorf("rebuilding the database of %s: it is not empty (%d packages, %v)", root, len(pkgs), err)
	}
	byName := map[string][]candidate{}
	for _, src := range sources {
		files := []string{src}
		if fi, err := os.Stat(src); err == nil && fi.IsDir() {
			files, _ = filepath.Glob(filepath.Join(src, "*.lpm"))
		}
		for _, f := range files {
			r, err := archive.Open(f)
			if err != nil {
				continue // not an archive lpm can read: it proves nothing
			}
			r.Close()
			m := r.Manifest()
			byName[m.InstalledName()] = append(byName[m.InstalledName()], candidate{archive: f, m: m, manifestSHA256: r.ManifestSHA256()})
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)

	report := &RebuildReport{}
	paths := newRootPaths(root)
	claimed := map[string]string{} // non-directory path -> package
	var dirs []string
	parents := map[string]bool{} // where a lost journal's temps would be
	dbtx, err := db.Begin()
	if err != nil {
		return nil, err
	}
	defer dbtx.Rollback()
	now := time.Now().UTC()
	for _, name := range names {
		cands := byName[name]
		var best *candidate
		var diffs []string
		for i := range cands {
			c := &cands[i]
			c.match(root, paths)
			if c.present == 0 {
				continue
			}
			if c.diff != "" {
				diffs = append(diffs, fmt.Sprintf("%s: %s", c.m.Version, c.diff))
				continue
			}
			if best == nil || c.m.BuildDate.After(best.m.BuildDate) {
				best = c
			}
		}
		switch {
		case best == nil && len(diffs) == 0:
			continue // cached, not installed
		case best == nil:
			report.Lost = append(report.Lost, fmt.Sprintf("%s: on disk, but unlike every cached archive (%s)", name, strings.Join(diffs, "; ")))
			continue
		}
		if other := firstClaimed(best.files, claimed); other != "" {
			report.Lost = append(report.Lost, fmt.Sprintf("%s: %s", name, other))
			continue
		}
		rec := packageRecord(name, best.m, now)
		rec.Explicit = true
		rec.ArchivePath, rec.ManifestSHA256 = best.archive, best.manifestSHA256
		if err := dbtx.PutPackage(rec, slices.Values(best.files)); err != nil {
			return nil, fmt.Errorf("registering %s: %w", name, err)
		}
		for _, f := range best.files {
			if f.Type == "dir" {
				dirs = append(dirs, f.Path)
			} else {
				claimed[f.Path] = name
			}
			parents[path.Dir(f.Path)] = true
		}
		report.Registered = append(report.Registered, name+" "+best.m.Version)
		crashPoint("registered")
	}
	// Which directories lpm made is lost: keep them all.
	if err := dbtx.AddForeignDirs(dirs); err != nil {
		return nil, err
	}
	if err := dbtx.Commit(); err != nil {
		return nil, err
	}
	report.Temps = tempsLeft(root, parents)
	return report, nil
}

// A candidate is one cached archive of a package and how it compares
// with the disk.
type candidate struct {
	archive        string
	m              *archive.Manifest
	manifestSHA256 string       // of m as the archive holds it
	files          []pkgdb.File // as the database would record them
	present        int          // non-directory entries found on disk
	diff           string       // the first difference, "" when it matches
}

func (c *candidate) match(root string, paths *rootPaths) {
	backup := map[string]bool{}
	for _, b := range c.m.Backup {
		backup[cleanRel(b)] = true
	}
	resolved := map[string]string{}
	for _, e := range c.m.Entries {
		p, err := paths.resolve(e.Path)
		if err != nil {
			c.diff = fmt.Sprintf("/%s: %v", e.Path, err)
			return
		}
		if e.Type == "dir" {
			if real, err := paths.resolve(e.Path + "/x"); err == nil {
				p = path.Dir(real)
			}
		}
		resolved[e.Path] = p
		link := e.Link
		if e.Type == "hardlink" {
			link = resolved[e.Link]
		}
		f := pkgdb.File{Path: p, Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID, Size: e.Size,
			SHA256: e.SHA256, Link: link, Soname: e.Soname, Needed: e.Needed, Backup: backup[e.Path]}
		c.files = append(c.files, f)
		if e.Type == "dir" {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			c.present++
		}
		if c.diff != "" {
			continue // keep counting what is present
		}
		if problem := verifyFile(root, f); problem != "" && !(f.Backup && (problem == "content differs" || problem == "missing" || strings.HasPrefix(problem, "mode "))) {
			c.diff = fmt.Sprintf("/%s %s", p, problem)
		}
	}
	if c.diff == "" {
		for _, f := range c.files {
			if f.Type != "dir" {
				continue
			}
			if fi, err := os.Lstat(filepath.Join(root, f.Path)); err != nil || !fi.IsDir() {
				c.diff = fmt.Sprintf("/%s is not a directory", f.Path)
				break
			}
		}
	}
	sort.Slice(c.files, func(i, j int) bool { return c.files[i].Path < c.files[j].Path })
}

// firstClaimed says which of files another registered package already
// owns, "" if none.
func firstClaimed(files []pkgdb.File, claimed map[string]string) string {
	for _, f := range files {
		if other, ok := claimed[f.Path]; ok && f.Type != "dir" {
			return fmt.Sprintf("/%s is also in %s, registered first", f.Path, other)
		}
	}
	return ""
}

// tempsLeft lists lpm's temp and backup names (".lpm-...") in dirs, which
// a crash whose journal was lost leaves behind.
func tempsLeft(root string, dirs map[string]bool) []string {
	var left []string
	for d := range dirs {
		entries, _ := os.ReadDir(filepath.Join(root, d))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".lpm-") {
				left = append(left, "/"+path.Join(d, e.Name()))
			}
		}
	}
	sort.Strings(left)
	return left
}
