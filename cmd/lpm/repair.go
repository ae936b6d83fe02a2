package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
)

func newRepairCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repair PORT...",
		Short: "Reinstall packages from their cached archives, rewriting every file",
		Long: `repair reinstalls packages from the archives they were installed from,
rewriting every file whatever the database says, as one transaction (an
archive rebuilt since at the same version and release is another build,
and is refused). It runs
no program from the root (lpm is static, and no hook runs), so it works when
the root's dynamic loader or C library is gone: repair glibc on a root where
nothing else runs any more.`,
		Args: argsAtLeast(1),
		RunE: runRepair,
	}
	addWriterFlags(cmd)
	return cmd
}

func runRepair(cmd *cobra.Command, args []string) error {
	e, db, done, err := forChange(cmd)
	if err != nil {
		return err
	}
	defer done()
	var changes []installer.Change
	for _, name := range args {
		p, err := db.Package(name)
		if err != nil {
			return fmt.Errorf("repair %s: %w", name, err)
		}
		if p.ArchivePath == "" {
			return fmt.Errorf("repair %s: no archive is recorded for it", name)
		}
		r, err := openRecordedBuild(p.ArchivePath, p.ManifestSHA256, fmt.Sprintf("%s %s-%d", name, p.Version, p.Release), "installed")
		if err != nil {
			return fmt.Errorf("repair %s: %w", name, err)
		}
		defer r.Close()
		changes = append(changes, installer.Change{Archive: p.ArchivePath, Reader: r, Explicit: p.Explicit})
	}
	if !e.confirm(fmt.Sprintf("Repair %s (rewrite every file from its archive)?", strings.Join(args, ", "))) {
		return fmt.Errorf("repair: cancelled; nothing was changed")
	}
	in := e.installer(db)
	in.Force = true
	if _, err := in.Apply(changes); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	e.out.Printf("repaired %s (hooks were not run; run lpm verify to check)", strings.Join(args, ", "))
	return nil
}
