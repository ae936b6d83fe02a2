package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/hooks"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
)

func newUndoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "undo [TX]",
		Short: "Reverse a transaction (the last one by default) as a new transaction",
		Long: `undo puts the packages a transaction changed back as they were: what it
installed is removed, what it upgraded or removed is reinstalled from the
archive the old version came from (which must still be in the package
cache). The reversal is itself a transaction, and can be undone.`,
		Args: cobra.MaximumNArgs(1),
		RunE: runUndo,
	}
	addWriterFlags(cmd)
	return cmd
}

func runUndo(cmd *cobra.Command, args []string) error {
	e, db, done, err := forChange(cmd)
	if err != nil {
		return err
	}
	defer done()
	recs, err := db.History()
	if err != nil {
		return err
	}
	var target *pkgdb.TxRecord
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if len(args) == 0 && r.State == pkgdb.StateDone || len(args) == 1 && strconv.FormatInt(r.ID, 10) == args[0] {
			target = &r
			break
		}
	}
	if target == nil {
		return fmt.Errorf("undo: no finished transaction %s; see lpm history", strings.Join(args, ""))
	}
	if target.State != pkgdb.StateDone {
		return fmt.Errorf("undo: transaction %d was %s, there is nothing to reverse", target.ID, target.State)
	}
	installed, err := db.Packages()
	if err != nil {
		return err
	}
	var changes []installer.Change
	var removing []string
	for _, p := range target.Packages {
		switch {
		case p.OldVersion == "":
			changes = append(changes, installer.Change{Remove: p.Name})
			removing = append(removing, p.Name)
		default:
			if _, err := os.Stat(p.OldArchive); err != nil {
				return fmt.Errorf("undo %d: the archive of %s %s is gone from the package cache (%s); rebuild it with lpm build %s@%s", target.ID, p.Name, p.OldVersion, p.OldArchive, p.Name, p.OldVersion)
			}
			changes = append(changes, installer.Change{Archive: p.OldArchive})
		}
	}
	leaving := map[string]bool{}
	for _, n := range removing {
		leaving[n] = true
	}
	for _, n := range removing {
		if users := installer.Dependents(installed, n, leaving); len(users) > 0 {
			return fmt.Errorf("undo %d: %s is needed by %s since; remove those first", target.ID, n, strings.Join(users, ", "))
		}
	}
	if !e.confirm(fmt.Sprintf("Undo transaction %d (%s)?", target.ID, target.Command)) {
		return fmt.Errorf("undo: cancelled; nothing was changed")
	}
	in := e.installer(db)
	changed, err := in.Apply(changes)
	if err != nil {
		return fmt.Errorf("undo %d: %w", target.ID, err)
	}
	e.out.Printf("undid transaction %d (%s)", target.ID, target.Command)
	return hooks.Run(e.cfg.Root, changed, e.out)
}
