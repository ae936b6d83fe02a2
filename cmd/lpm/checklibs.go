package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
)

func newCheckLibsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-libs",
		Short: "List needed shared libraries nothing provides, and the preserved ones",
		Long: `check-libs reads the SONAME and DT_NEEDED entries recorded for every
installed ELF file and lists each needed library that neither an installed
package nor a file in the root's library directories provides. It exits 1
when something is missing.

It also lists the libraries --preserve-libs kept (owned by lpm-preserved)
and the installed files that still need each: rebuild or upgrade those,
and the next lpm command that changes the root releases the library.`,
		Args: argsExactly(0),
		RunE: runCheckLibs,
	}
}

type checkLibsResult struct {
	Missing   []installer.MissingLib   `json:"missing"`
	Preserved []installer.PreservedLib `json:"preserved"`
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
	preserved, err := installer.PreservedLibs(db)
	if err != nil {
		return err
	}
	if e.cfg.JSON {
		if missing == nil {
			missing = []installer.MissingLib{}
		}
		if err := printJSON(checkLibsResult{Missing: missing, Preserved: preserved}); err != nil {
			return err
		}
	} else {
		for _, m := range missing {
			fmt.Printf("%s (%s): %s not found\n", m.Path, m.Package, m.Soname)
		}
		for _, p := range preserved {
			var users, rebuild []string
			seen := map[string]bool{}
			for _, u := range p.NeededBy {
				users = append(users, fmt.Sprintf("%s (%s)", u.Path, u.Package))
				if !seen[u.Package] {
					seen[u.Package] = true
					rebuild = append(rebuild, u.Package)
				}
			}
			if len(users) == 0 {
				fmt.Printf("%s (%s): %s, needed by nothing; the next change to the root releases it\n", p.Path, installer.PreservedName, p.Soname)
				continue
			}
			fmt.Printf("%s (%s): %s kept for %s; rebuild or upgrade %s to release it\n", p.Path, installer.PreservedName, p.Soname, strings.Join(users, ", "), strings.Join(rebuild, ", "))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("check-libs: %d needed librar(ies) missing; rebuild the packages named, or reinstall what provided them", len(missing))
	}
	return nil
}
