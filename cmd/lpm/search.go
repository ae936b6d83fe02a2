package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func newSearchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "search TEXT",
		Short: "Search the ports trees by name and description",
		Args:  argsExactly(1),
		RunE:  runSearch,
	}
}

type searchResult struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description"`
	Installed   string `json:"installed_version,omitempty"`
}

func runSearch(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	tree, err := e.tree()
	if err != nil {
		return err
	}
	var broken []string
	for name := range tree.Broken() {
		broken = append(broken, name)
	}
	sort.Strings(broken)
	for _, name := range broken {
		e.warn("port %s does not parse, so search skipped it: %v (lpm lint shows every problem)", name, tree.Broken()[name][0])
	}
	installed := map[string]string{}
	if db, err := e.readDB(); err == nil {
		pkgs, _ := db.Packages()
		for _, p := range pkgs {
			installed[p.Name] = p.Version
		}
		db.Close()
	}
	text := strings.ToLower(args[0])
	results := []searchResult{}
	for _, name := range tree.Names() {
		version, description, _ := tree.Summary(name)
		if strings.Contains(name, text) || strings.Contains(strings.ToLower(description), text) {
			results = append(results, searchResult{Name: name, Version: version, Description: description, Installed: installed[name]})
		}
	}
	if e.cfg.JSON {
		return printJSON(results)
	}
	for _, r := range results {
		mark := ""
		if r.Installed != "" {
			mark = fmt.Sprintf(" [installed %s]", r.Installed)
		}
		fmt.Printf("%s %s%s\n    %s\n", r.Name, r.Version, mark, r.Description)
	}
	if len(results) == 0 {
		return fmt.Errorf("no port matches %q", args[0])
	}
	return nil
}
