package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/ports"
	"github.com/lfs-lpm/lpm/resolver"
)

func newWhyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "why PORT",
		Short: "Show why an installed package is needed: the path from one you asked for",
		Args:  argsExactly(1),
		RunE:  runWhy,
	}
}

type whyLink struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

func runWhy(cmd *cobra.Command, args []string) error {
	e, db, err := forQuery(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Package(args[0]); err != nil {
		for _, p := range e.cfg.Provided {
			if name, ver, _ := strings.Cut(p, "="); name == args[0] {
				if e.cfg.JSON {
					return printJSON([]whyLink{{Name: name, Version: ver, Reason: "provided by the system"}})
				}
				fmt.Printf("%s %s is provided by the system (provided in lpm.toml, or --assume-installed); lpm does not install or remove it\n", name, ver)
				return nil
			}
		}
		return fmt.Errorf("why %s: %w", args[0], err)
	}
	pkgs, err := db.Packages()
	if err != nil {
		return err
	}
	tree, err := e.tree()
	if err != nil {
		tree, _ = ports.Load() // without the trees, versions follow the rule alone
	}
	// The installed set is its own universe and its own solution.
	u := resolver.NewMemUniverse()
	sol := &resolver.Solution{}
	var reqs []resolver.Request
	versions := map[string]string{}
	for _, p := range pkgs {
		v, err := installedVersion(tree, p)
		if err != nil {
			continue
		}
		rp := &resolver.Package{Name: p.Name, Version: v}
		for _, d := range p.Depends {
			if dep, err := ports.ParseDep(d); err == nil {
				rp.Run = append(rp.Run, dep)
			}
		}
		for _, s := range p.Provides {
			if pr, err := ports.ParseProvide(s); err == nil {
				rp.Provides = append(rp.Provides, pr)
			}
		}
		u.Add(rp)
		sol.Selected = append(sol.Selected, resolver.Selected{Name: p.Name, Version: v})
		versions[p.Name] = p.Version
		if p.Explicit {
			reqs = append(reqs, resolver.Request{Name: p.Name})
		}
	}
	sort.Slice(sol.Selected, func(i, j int) bool { return sol.Selected[i].Name < sol.Selected[j].Name })
	// remove's rule, so that why and remove never disagree: the packages
	// with a run dependency that nothing else installed satisfies.
	users := installer.Dependents(pkgs, args[0], map[string]bool{args[0]: true})
	chain, err := resolver.Why(u, sol, reqs, args[0])
	if err != nil {
		if len(users) > 0 {
			if e.cfg.JSON {
				return printJSON([]whyLink{{Name: args[0], Version: versions[args[0]], Reason: "run dep of " + strings.Join(users, ", ")}})
			}
			fmt.Printf("%s %s is needed at run time by %s, which you did not ask for; lpm remove refuses while they stay\n", args[0], versions[args[0]], strings.Join(users, ", "))
			return nil
		}
		return fmt.Errorf("why %s: no installed package needs it at run time (it may have been a build dependency); lpm remove %s would be safe", args[0], args[0])
	}
	links := []whyLink{}
	for _, l := range chain {
		links = append(links, whyLink{Name: l.Name, Version: versions[l.Name], Reason: l.Reason})
	}
	if e.cfg.JSON {
		return printJSON(links)
	}
	var parts []string
	for _, l := range links {
		parts = append(parts, l.Name+" "+l.Version)
	}
	fmt.Println(strings.Join(parts, " -> "))
	for _, l := range links {
		fmt.Printf("  %s: %s\n", l.Name, l.Reason)
	}
	if len(chain) > 1 && len(users) == 0 {
		fmt.Printf("  (another installed package satisfies the same dependencies: lpm remove %s would be allowed)\n", args[0])
	}
	return nil
}
