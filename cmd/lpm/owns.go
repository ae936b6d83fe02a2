package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
)

func newOwnsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "owns PATH...",
		Short: "Name the package that owns each path",
		Args:  cobra.MinimumNArgs(1),
		RunE:  runOwns,
	}
}

type ownsResult struct {
	Path   string   `json:"path"`
	Owners []string `json:"owners"`
}

func runOwns(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	db, err := e.readDB()
	if err != nil {
		return err
	}
	defer db.Close()
	rels, err := installer.ResolvePaths(e.cfg.Root, args)
	if err != nil {
		return fmt.Errorf("owns %w", err)
	}
	owners, err := db.Owners(rels)
	if err != nil {
		return err
	}
	var results []ownsResult
	var missing []string
	for i, a := range args {
		o := owners[rels[i]]
		results = append(results, ownsResult{Path: "/" + rels[i], Owners: o})
		if len(o) == 0 {
			missing = append(missing, a)
		}
	}
	if e.cfg.JSON {
		if err := printJSON(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if len(r.Owners) > 0 {
				fmt.Printf("%s is owned by %s\n", r.Path, strings.Join(r.Owners, ", "))
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no package owns %s", strings.Join(missing, ", "))
	}
	return nil
}
