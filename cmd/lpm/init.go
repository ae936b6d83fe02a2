package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
)

func newInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Make a directory a root lpm manages: its state directories and an empty database",
		Long: `init makes lpm's state directories in the root (the database's, the
package and source caches, the build and log directories) and an empty
package database. Every other command refuses a root that has no database
and no usr/ or etc/ directory, which is what a mistyped --root looks like;
init is how an empty directory becomes a root. The root itself must exist:
init does not make it, so that a typo here is refused too. Running init on
a root lpm already manages changes nothing.`,
		Args: argsExactly(0),
		RunE: runInit,
	}
}

func runInit(cmd *cobra.Command, args []string) error {
	e, err := loadEnv(cmd)
	if err != nil {
		return err
	}
	root := e.cfg.Root
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("init: the root %s does not exist: check --root, or make it first (mkdir -p %s)", root, root)
	case err != nil:
		return fmt.Errorf("init: the root %s: %w", root, err)
	case !fi.IsDir():
		return fmt.Errorf("init: the root %s is not a directory", root)
	}
	_, statErr := os.Lstat(pkgdb.Path(root))
	fresh := errors.Is(statErr, fs.ErrNotExist)
	for _, d := range []string{filepath.Dir(pkgdb.Path(root)), e.cfg.Packages, e.cfg.Distfiles, e.cfg.BuildDir, e.cfg.LogDir} {
		if !mayWrite(d) {
			return errNotWritable(root)
		}
		if err := installer.MakeStateDir(root, d); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	_, done, err := e.writer()
	if err != nil {
		return err
	}
	done()
	if fresh {
		e.out.Printf("initialised %s: an empty package database at %s", root, pkgdb.Path(root))
	} else {
		e.out.Printf("%s already has a package database (%s); nothing to do", root, pkgdb.Path(root))
	}
	return nil
}
