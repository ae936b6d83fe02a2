package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
)

func newCheckLibsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-libs",
		Short: "List installed programs and libraries that need a shared library nothing provides",
		Long: `check-libs reads the SONAME and DT_NEEDED entries recorded for every
installed ELF file and lists each needed library that neither an installed
package nor a file in the root's library directories provides. It exits 1
when something is missing.`,
		Args: cobra.NoArgs,
		RunE: runCheckLibs,
	}
}

func runCheckLibs(cmd *cobra.Command, args []string) error {
	e, db, err := forQuery(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	missing, err := installer.CheckLibs(e.cfg.Root, db)
	if err != nil {
		return err
	}
	if e.cfg.JSON {
		if missing == nil {
			missing = []installer.MissingLib{}
		}
		if err := printJSON(missing); err != nil {
			return err
		}
	} else {
		for _, m := range missing {
			fmt.Printf("%s (%s): %s not found\n", m.Path, m.Package, m.Soname)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "lpm: check-libs: %d needed librar(ies) missing; rebuild the packages named, or reinstall what provided them\n", len(missing))
		return exitError{}
	}
	return nil
}
