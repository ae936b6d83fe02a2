package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List installed packages",
		Args:  argsExactly(0),
		RunE:  runList,
	}
}

type listResult struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Release  int    `json:"release"`
	Explicit bool   `json:"explicit"`
	Held     bool   `json:"held"`
}

func runList(cmd *cobra.Command, args []string) error {
	e, db, err := forQuery(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	pkgs, err := db.Packages()
	if err != nil {
		return err
	}
	results := []listResult{}
	for _, p := range pkgs {
		results = append(results, listResult{Name: p.Name, Version: p.Version, Release: p.Release, Explicit: p.Explicit, Held: p.Held})
	}
	if e.cfg.JSON {
		return printJSON(results)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	for _, r := range results {
		reason := "explicit"
		if !r.Explicit {
			reason = "dependency"
		}
		fmt.Fprintf(w, "%s\t%s-%d\t%s\n", r.Name, r.Version, r.Release, reason)
	}
	return w.Flush()
}
