package installer

import (
	"fmt"
	"io/fs"
	"os"

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
	for _, name := range names {
		if _, err := db.Package(name); err != nil {
			return nil, err
		}
		files, err := db.Files(name)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if problem := verifyFile(root, f); problem != "" {
				diffs = append(diffs, Difference{Package: name, Path: "/" + f.Path, Problem: problem, Config: f.Backup && problem == "content differs"})
			}
		}
	}
	return diffs, nil
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
