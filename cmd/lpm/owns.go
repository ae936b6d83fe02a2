package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
)

func newOwnsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "owns PATH...",
		Short: "Name the package that owns each path",
		Args:  argsAtLeast(1),
		RunE:  runOwns,
	}
}

type ownsResult struct {
	Path   string   `json:"path"`
	Owners []string `json:"owners"`
}

func runOwns(cmd *cobra.Command, args []string) error {
	e, db, err := forQuery(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	// The database holds resolved paths, so a path it knows as written is
	// exact; only the others go through the root's symlinks (/lib ->
	// usr/lib), which costs a few system calls each.
	rels := make([]string, len(args))
	for i, a := range args {
		rels[i] = strings.TrimPrefix(path.Clean("/"+a), "/")
	}
	owners, err := db.Owners(rels)
	if err != nil {
		return err
	}
	var missed []int
	var unresolved []string
	for i, r := range rels {
		if len(owners[r]) == 0 {
			missed = append(missed, i)
			unresolved = append(unresolved, args[i])
		}
	}
	if len(missed) > 0 {
		resolved, err := installer.ResolvePaths(e.cfg.Root, unresolved)
		if err != nil {
			return fmt.Errorf("owns %w", err)
		}
		more, err := db.Owners(resolved)
		if err != nil {
			return err
		}
		for j, i := range missed {
			rels[i] = resolved[j]
			owners[resolved[j]] = more[resolved[j]]
		}
	}
	results := []ownsResult{}
	var missing []string
	for i, a := range args {
		o := owners[rels[i]]
		if o == nil {
			o = []string{}
		}
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
		w := bufio.NewWriter(os.Stdout)
		for _, r := range results {
			if len(r.Owners) > 0 {
				fmt.Fprintf(w, "%s is owned by %s\n", r.Path, strings.Join(r.Owners, ", "))
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no package owns %s", strings.Join(missing, ", "))
	}
	return nil
}
