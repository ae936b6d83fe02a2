package installer

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
)

// A Difference is one way a file on disk is not what its package
// installed.
type Difference struct {
	Package string `json:"package"`
	Path    string `json:"path"`
	Problem string `json:"problem"`
	Config  bool   `json:"config"` // an edited config file: expected, reported only
}

// Verify compares every file of the named packages (all when none) with
// the disk: type, mode, link target and content hash.
func Verify(root string, db *pkgdb.DB, names []string) ([]Difference, error) {
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
	// A crash nobody recovered yet: the database and the disk disagree
	// by design until a writer finishes or rolls it back.
	open, err := Unrecovered(root, db)
	if err != nil {
		return nil, err
	}
	for _, rec := range open {
		rel, _ := filepath.Rel(root, pkgdb.Path(root))
		diffs = append(diffs, Difference{Package: "lpm", Path: "/" + filepath.ToSlash(rel),
			Problem: fmt.Sprintf("interrupted transaction %d (%s) is not recovered; run lpm as a user who may write %s to recover it", rec.ID, rec.Command, root)})
	}
	parents := parentCheck{root: root, seen: map[string]string{}}
	for _, name := range names {
		if _, err := db.Package(name); err != nil {
			return nil, err
		}
		files, err := db.Files(name)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			problem := parents.problem(path.Dir(f.Path))
			if problem == "" {
				problem = verifyFile(root, f)
			}
			if problem != "" {
				diffs = append(diffs, Difference{Package: name, Path: "/" + f.Path, Problem: problem, Config: f.Backup && problem == "content differs"})
			}
		}
	}
	return diffs, nil
}

// parentCheck finds recorded paths whose parent directories are not real
// directories: the database records where a file really is, so a symlink
// (or a file) in its place means what verify would read is something else.
type parentCheck struct {
	root string
	seen map[string]string // directory -> its problem, "" when none
}

func (c *parentCheck) problem(dir string) string {
	if dir == "." || dir == "/" || dir == "" {
		return ""
	}
	if p, ok := c.seen[dir]; ok {
		return p
	}
	p := c.problem(path.Dir(dir))
	if p == "" {
		fi, err := os.Lstat(filepath.Join(c.root, dir))
		switch {
		case err != nil:
			p = "missing"
		case fi.Mode()&fs.ModeSymlink != 0:
			p = fmt.Sprintf("reached through the symlink /%s, where a directory should be", dir)
		case !fi.IsDir():
			p = fmt.Sprintf("/%s, where a directory should be, is not one", dir)
		}
	}
	c.seen[dir] = p
	return p
}

func verifyFile(root string, f pkgdb.File) string {
	full := root + "/" + f.Path
	fi, err := os.Lstat(full)
	if err != nil {
		return "missing"
	}
	switch f.Type {
	case "dir":
		if !fi.IsDir() {
			return "not a directory"
		}
		return ""
	case "symlink":
		if fi.Mode()&fs.ModeSymlink == 0 {
			return "not a symlink"
		}
		if target, _ := os.Readlink(full); target != f.Link {
			return fmt.Sprintf("link points to %s, not %s", target, f.Link)
		}
		return ""
	}
	if !fi.Mode().IsRegular() {
		return "not a regular file"
	}
	if got, want := uint32(fi.Mode().Perm())|specialBits(fi.Mode()), f.Mode; got != want {
		return fmt.Sprintf("mode %04o, want %04o", got, want)
	}
	if f.Type == "file" || f.Type == "hardlink" {
		sum, err := archive.FileSHA256(full)
		if err != nil {
			return err.Error()
		}
		if f.SHA256 != "" && sum != f.SHA256 {
			return "content differs"
		}
	}
	return ""
}

func specialBits(m fs.FileMode) uint32 {
	var b uint32
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}
