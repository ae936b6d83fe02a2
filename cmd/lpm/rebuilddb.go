package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
)

func newRebuildDBCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rebuild-db [ARCHIVE|DIR...]",
		Short: "Rebuild a damaged package database from the package cache and the disk",
		Long: `rebuild-db replaces a damaged package database (empty, or not SQLite) by
a new one. The damaged files are kept beside it, renamed lpm.db.damaged-TIME.
A package is registered again when one of its archives in the package cache
(and in the archives or directories given) matches what is on disk: every
file of the type, mode, link and content the archive says; edited config
files are fine. Archives installed with --file from outside the package
cache are found only when given. It writes nothing else to the root.

What the database alone knew is lost, and rebuild-db says so: which packages
you asked for (all are marked explicit), which directories lpm created (all
are kept), the history, and libraries kept by --preserve-libs. Packages on
disk that match no archive are listed; reinstall them.`,
		RunE: runRebuildDB,
	}
	cmd.Flags().Bool("force", false, "rebuild even a database that opens")
	cmd.Flags().Bool("no-wait", false, "fail at once if another lpm holds the root's lock")
	return cmd
}

func runRebuildDB(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	if !mayWrite(filepath.Dir(pkgdb.Path(e.cfg.Root))) {
		return errNotWritable(e.cfg.Root)
	}
	noWait, _ := cmd.Flags().GetBool("no-wait")
	lock, err := installer.AcquireLock(e.cfg.Root, !noWait, func() {
		fmt.Fprintf(os.Stderr, "lpm: waiting for another lpm to finish with %s\n", e.cfg.Root)
	})
	if err != nil {
		return err
	}
	defer lock.Release()
	aside, interrupted := pkgdb.InterruptedRebuild(e.cfg.Root)
	force, _ := cmd.Flags().GetBool("force")
	switch {
	case interrupted:
		// The database there is this command's own half-filled one.
		if err := pkgdb.RemoveIncomplete(e.cfg.Root); err != nil {
			return fmt.Errorf("rebuild-db: %w", err)
		}
	case force:
		// A sound database holds what no archive does: the history, which
		// packages were asked for, which directories lpm made.
		if !e.confirm(fmt.Sprintf("Replace the database %s, sound or not, and lose its history?", pkgdb.Path(e.cfg.Root))) {
			return fmt.Errorf("rebuild-db: cancelled; nothing was changed")
		}
	default:
		db, err := pkgdb.Open(e.cfg.Root)
		if err == nil {
			err = db.Check()
			db.Close()
		}
		if err == nil {
			return fmt.Errorf("rebuild-db: the database %s is sound; rebuild-db replaces a damaged one (--force to rebuild it anyway)", pkgdb.Path(e.cfg.Root))
		}
		if !errors.Is(err, pkgdb.ErrDamaged) {
			return fmt.Errorf("rebuild-db: %w", err)
		}
	}
	if !interrupted {
		var err error
		if aside, err = pkgdb.MoveAside(e.cfg.Root); err != nil {
			return err
		}
		if err := pkgdb.BeginRebuild(e.cfg.Root, aside); err != nil {
			return err
		}
	}
	db, err := pkgdb.OpenNew(e.cfg.Root)
	if err != nil {
		return err
	}
	defer db.Close()
	report, err := installer.RebuildDB(e.cfg.Root, db, append([]string{e.cfg.Packages}, args...))
	if err != nil {
		return fmt.Errorf("rebuild-db: %w (the damaged database is kept as %s)", err, aside)
	}
	if err := pkgdb.EndRebuild(e.cfg.Root); err != nil {
		return fmt.Errorf("rebuild-db: %w", err)
	}
	for _, r := range report.Registered {
		fmt.Println("registered " + r)
	}
	for _, l := range report.Lost {
		fmt.Println("not recovered: " + l)
	}
	e.out.Printf("rebuilt %s: %d package(s) registered, %d not recovered; the damaged database is kept as %s", pkgdb.Path(e.cfg.Root), len(report.Registered), len(report.Lost), aside)
	e.out.Printf("lost with the old database: which packages you asked for (all are marked explicit; lpm hold and remove still work), which directories lpm created (all are kept), the history, and libraries kept by --preserve-libs")
	if left := report.Temps; len(left) > 0 {
		e.out.Printf("temp files of an interrupted transaction are left (%d, e.g. %s); remove them by hand", len(left), strings.Join(left[:min(3, len(left))], ", "))
	}
	if len(report.Lost) > 0 {
		fmt.Fprintf(os.Stderr, "lpm: rebuild-db: %d package(s) on disk were not recovered; reinstall them (lpm install --overwrite for their files)\n", len(report.Lost))
		return exitError{}
	}
	return nil
}
