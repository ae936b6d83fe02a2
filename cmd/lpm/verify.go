package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
)

func newVerifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify [PORT...]",
		Short: "Check installed files against their recorded hash, mode and type",
		Long: `verify compares every file of the named installed packages (all when
none is named) with the disk and lists each difference. It exits 1 when any
file differs. Edited config files are listed but do not fail the check.
With --against-package, files that lpm adopt recorded as they were on disk
although their content differed from the package's are listed too, and
fail the check.`,
		RunE: runVerify,
	}
	cmd.Flags().Bool("against-package", false, "also list adopted files whose content differs from the package's build")
	return cmd
}

func runVerify(cmd *cobra.Command, args []string) error {
	e, db, err := forQuery(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	diffs, err := installer.Verify(e.cfg.Root, db, args)
	if err != nil {
		return err
	}
	if against, _ := cmd.Flags().GetBool("against-package"); against {
		more, err := installer.AgainstPackage(db, args)
		if err != nil {
			return err
		}
		diffs = append(diffs, more...)
	}
	failed := 0
	for _, d := range diffs {
		if !d.Config {
			failed++
		}
	}
	if e.cfg.JSON {
		if diffs == nil {
			diffs = []installer.Difference{}
		}
		if err := printJSON(diffs); err != nil {
			return err
		}
	} else {
		for _, d := range diffs {
			note := ""
			if d.Config {
				note = " (config file, edited)"
			}
			fmt.Printf("%s: %s: %s%s\n", d.Package, d.Path, d.Problem, note)
		}
	}
	if failed > 0 {
		return fmt.Errorf("verify: %d file(s) differ from their packages", failed)
	}
	return nil
}
