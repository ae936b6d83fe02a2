package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/builder"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
	"github.com/lfs-lpm/lpm/resolver"
)

func newUpgradeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade [PORT...]",
		Short: "Install newer versions from the ports trees",
		Long: `upgrade moves the named installed packages (all when none is named) to
the newest versions the trees hold, within holds and the constraints of what
depends on them. Files the new version no longer has are removed; files
whose content did not change are not rewritten.`,
		RunE: runUpgrade,
	}
	cmd.Flags().Bool("dry-run", false, "print the plan and change nothing")
	cmd.Flags().Bool("rebuild", false, "build even when the package cache has an archive")
	cmd.Flags().StringSlice("overwrite", nil, "take over files matching GLOB (** crosses directories; a directory takes all below it)")
	addWriterFlags(cmd)
	addBuildFlags(cmd)
	return cmd
}

func runUpgrade(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	tree, err := e.tree()
	if err != nil {
		return err
	}
	dry, _ := cmd.Flags().GetBool("dry-run")
	db, done, err := e.planDB(dry)
	if err != nil {
		return err
	}
	defer done()
	installed, err := db.Packages()
	if err != nil {
		return err
	}
	opts := resolver.Options{Upgrade: map[string]bool{}}
	var reqs []resolver.Request
	if len(args) == 0 {
		opts.UpgradeAll = true
		for _, p := range installed {
			if p.Explicit {
				reqs = append(reqs, resolver.Request{Name: p.Name})
			}
		}
	}
	for _, a := range args {
		name, err := installedNameIn(installed, a)
		if err != nil && !errors.Is(err, errSeveralVersions) {
			return fmt.Errorf("upgrade %w", err)
		}
		if err == nil && !strings.Contains(name, "+") {
			opts.Upgrade[name] = true
			reqs = append(reqs, resolver.Request{Name: name})
		}
	}
	reqs = append(reqs, newerSlots(tree, installed, args)...)
	rebuild, _ := cmd.Flags().GetBool("rebuild")
	b := &builder.Builder{Cfg: e.cfg, Out: e.out, Rebuild: rebuild}
	steps, err := e.solve(tree, db, b, reqs, opts)
	if err != nil {
		return err
	}
	heldNotes(installed, opts.Upgrade, steps, e)
	if dry || !hasWork(steps) {
		defer e.showSpecialModes(tree, b, steps)
		return e.showPlan(tree, steps)
	}
	if !e.cfg.Quiet && !e.cfg.JSON {
		if err := e.showPlan(tree, steps); err != nil {
			return err
		}
		e.showSpecialModes(tree, b, steps)
	}
	if !e.confirm("Proceed?") {
		return fmt.Errorf("upgrade: cancelled; nothing was changed")
	}
	return e.execute(context.Background(), tree, db, b, steps, nil)
}

// newerSlots asks, for each slotted port with versions installed (all, or
// those named), for a version newer than the newest installed one: an
// upgrade installs a new kernel beside the old, never over it.
func newerSlots(tree *ports.Tree, installed []pkgdb.Package, only []string) []resolver.Request {
	newest := map[string]*semver.Version{}
	for _, p := range installed {
		base, _, slotted := strings.Cut(p.Name, "+")
		if !slotted {
			continue
		}
		v, err := installer.Version(p)
		if err != nil {
			continue
		}
		if cur, ok := newest[base]; !ok || v.GreaterThan(cur) {
			newest[base] = v
		}
	}
	wanted := map[string]bool{}
	for _, a := range only {
		name, _, _ := strings.Cut(a, "@")
		wanted[name] = true
	}
	var reqs []resolver.Request
	for _, base := range tree.Names() {
		v, ok := newest[base]
		if !ok || len(only) > 0 && !wanted[base] {
			continue
		}
		if tree.All(base)[0].Ver.GreaterThan(v) {
			c, _ := semver.NewConstraint(">" + v.String())
			reqs = append(reqs, resolver.Request{Name: base, Constraint: c})
		}
	}
	return reqs
}

// heldNotes names the holds that keep a named package where it is, so
// that "nothing to do" is not the whole answer.
func heldNotes(installed []pkgdb.Package, named map[string]bool, steps []resolver.Step, e *env) {
	moved := map[string]bool{}
	for _, s := range steps {
		moved[s.Name] = true
	}
	for _, p := range installed {
		if p.Held && named[p.Name] && !moved[p.Name] {
			fmt.Fprintf(os.Stderr, "lpm: %s is held at %s; lpm hold --release %s lets it upgrade\n", p.Name, p.Version, p.Name)
		}
	}
}
