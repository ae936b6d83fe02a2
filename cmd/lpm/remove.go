package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newRemoveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove PORT...",
		Short: "Remove installed packages",
		Long: `remove deletes exactly the files the packages own, then the directories
they created once empty and owned by no other package. It refuses when an
installed package still needs one of them. A config file you edited is kept
as NAME.lpmsave.`,
		Args: argsAtLeast(1),
		RunE: runRemove,
	}
	addWriterFlags(cmd)
	return cmd
}

func runRemove(cmd *cobra.Command, args []string) error {
	e, db, done, err := forChange(cmd)
	if err != nil {
		return err
	}
	defer done()
	installed, err := db.Packages()
	if err != nil {
		return err
	}
	var names []string
	for _, a := range args {
		name, err := installedNameIn(installed, a)
		if err != nil {
			return fmt.Errorf("removing %w", err)
		}
		names = append(names, name)
	}
	args = names
	if !e.confirm(fmt.Sprintf("Remove %s?", strings.Join(args, ", "))) {
		return fmt.Errorf("remove: cancelled; nothing was changed")
	}
	in := e.installer(db)
	changed, err := in.Remove(args)
	if err != nil {
		return err
	}
	e.out.Printf("removed %s", strings.Join(args, ", "))
	e.runHooks(changed)
	return e.releasePreserved(in)
}
