package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
)

func newUnownedCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unowned [DIR...]",
		Short: "List files on disk that no package owns",
		Long: `unowned walks DIR (the whole root by default) and lists every file and
symlink that no package owns: what an adoption missed, and what make
install left behind over the years. It skips /proc, /sys, /dev, /run, /tmp,
/home, /root, lost+found, lpm's own state and configuration, the ports trees
and caches, and the links the LFS book makes into /usr (/bin, /lib, /sbin,
/lib64). Directories are not listed, only what is in them.`,
		Example: `  lpm unowned /usr
  lpm unowned --json /etc`,
		RunE: runUnowned,
	}
}

type unownedPath struct {
	Path string `json:"path"`
	Type string `json:"type"`
}

func runUnowned(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	owned := map[string]bool{}
	db, err := e.readDB()
	switch {
	case errors.Is(err, pkgdb.ErrNoDatabase):
		// Nothing installed: everything is unowned.
	case err != nil:
		return err
	default:
		owned, err = db.OwnedPaths()
		db.Close()
		if err != nil {
			return err
		}
	}
	if len(args) == 0 {
		args = []string{"/"}
	}
	skip := e.unownedSkips()
	var found []unownedPath
	for _, a := range args {
		// Walk where the directory really is (/lib is usr/lib on LFS): the
		// database records real paths.
		rel, err := installer.ResolvePath(e.cfg.Root, path.Join("/", a, "x"))
		if err != nil {
			return fmt.Errorf("unowned %w", err)
		}
		rel = path.Dir(rel)
		start := filepath.Join(e.cfg.Root, rel)
		if fi, err := os.Stat(start); err != nil || !fi.IsDir() {
			return fmt.Errorf("unowned: %s is not a directory in %s", a, e.cfg.Root)
		}
		err = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				e.out.Printf("warning: %v", err)
				return nil
			}
			r, _ := filepath.Rel(e.cfg.Root, p)
			r = filepath.ToSlash(r)
			if d.IsDir() {
				if skip(r, true) {
					return filepath.SkipDir
				}
				return nil
			}
			if owned[r] || skip(r, false) {
				return nil
			}
			typ := "file"
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				typ = "symlink"
				if layoutLink(e.cfg.Root, r) {
					return nil
				}
			case !d.Type().IsRegular():
				typ = "special"
			}
			found = append(found, unownedPath{Path: "/" + r, Type: typ})
			return nil
		})
		if err != nil {
			return err
		}
	}
	if e.cfg.JSON {
		if found == nil {
			found = []unownedPath{}
		}
		return printJSON(found)
	}
	w := bufio.NewWriter(os.Stdout)
	for _, f := range found {
		fmt.Fprintln(w, f.Path)
	}
	return w.Flush()
}

// unownedSkips returns what unowned does not look into: the kernel's and
// the users' trees, lpm's own state, and the configured trees and caches
// when they are inside the root.
func (e *env) unownedSkips() func(rel string, dir bool) bool {
	dirs := map[string]bool{"proc": true, "sys": true, "dev": true, "run": true, "tmp": true, "home": true, "root": true, "etc/lpm": true}
	for _, d := range archive.StateDirs {
		dirs[d] = true
	}
	for _, p := range append(append([]string{}, e.cfg.Ports...), e.cfg.Distfiles, e.cfg.Packages, e.cfg.BuildDir, e.cfg.LogDir) {
		if rel, err := filepath.Rel(e.cfg.Root, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			dirs[filepath.ToSlash(rel)] = true
		}
	}
	return func(rel string, dir bool) bool {
		if !dir {
			return false
		}
		return dirs[rel] || path.Base(rel) == "lost+found"
	}
}

// layoutLink reports whether rel is one of the links the LFS book makes
// by hand from the top of the root into /usr (bin -> usr/bin).
func layoutLink(root, rel string) bool {
	if strings.Contains(rel, "/") {
		return false
	}
	target, err := os.Readlink(filepath.Join(root, rel))
	return err == nil && (strings.HasPrefix(target, "usr/") || strings.HasPrefix(target, "/usr/"))
}
