package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/builder"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
	"github.com/lfs-lpm/lpm/resolver"
)

func newInstallCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "install PORT[@CONSTRAINT]... | --file ARCHIVE...",
		Short: "Build what is missing and install ports with their dependencies",
		Long: `install resolves the ports and their dependencies against what is
installed, builds what the package cache lacks (in dependency order, each
build after its build dependencies are installed), and installs. Before any
file changes, every path is checked against the database and the disk: a
file owned by another package, or one on disk that no package owns, stops
the install and changes nothing (--overwrite GLOB takes such files over).`,
		Example: `  lpm install zlib
  lpm install 'linux@~6.13' --dry-run
  lpm install --file /var/cache/lpm/packages/zlib-1.3.1-1.lpm`,
		Args: argsAtLeast(1),
		RunE: runInstall,
	}
	cmd.Flags().Bool("dry-run", false, "print the plan and change nothing")
	cmd.Flags().Bool("file", false, "the arguments are package archives to install as they are")
	cmd.Flags().Bool("rebuild", false, "build even when the package cache has an archive")
	cmd.Flags().StringSlice("overwrite", nil, "take over files matching GLOB from their owner or from nobody (** crosses directories; a directory takes all below it)")
	addWriterFlags(cmd)
	addBuildFlags(cmd)
	return cmd
}

func runInstall(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	dry, _ := cmd.Flags().GetBool("dry-run")
	if file, _ := cmd.Flags().GetBool("file"); file {
		return e.installFiles(args, dry)
	}
	tree, err := e.tree()
	if err != nil {
		return err
	}
	var reqs []resolver.Request
	explicit := map[string]bool{}
	for _, a := range args {
		// An archive's path without --file reads as a port name that
		// does not parse or matches nothing: say what was meant.
		if strings.HasSuffix(a, ".lpm") && len(tree.All(a)) == 0 {
			return fmt.Errorf("install %s: no port has that name; to install an archive file, run lpm install --file %s", a, a)
		}
		r, err := request(tree, a)
		if err != nil {
			return err
		}
		reqs = append(reqs, r)
		explicit[r.Name] = true
	}
	db, done, err := e.planDB(dry)
	if err != nil {
		return err
	}
	defer done()
	rebuild, _ := cmd.Flags().GetBool("rebuild")
	b := &builder.Builder{Cfg: e.cfg, Out: e.out, Rebuild: rebuild}
	opts := resolver.Options{}
	if rebuild {
		// Asked for by name, built again and reinstalled even when the
		// same version and release is installed.
		opts.Reinstall = explicit
	}
	steps, err := e.solve(tree, db, b, reqs, opts)
	if err != nil {
		return err
	}
	if dry {
		defer e.showSpecialModes(tree, b, steps)
		return e.showPlan(tree, steps)
	}
	if !hasWork(steps) {
		e.out.Printf("nothing to do: %s already installed", strings.Join(args, ", "))
		return markExplicit(db, explicit)
	}
	if !e.cfg.Quiet && !e.cfg.JSON {
		if err := e.showPlan(tree, steps); err != nil {
			return err
		}
		e.showSpecialModes(tree, b, steps)
	}
	if !e.confirm("Proceed?") {
		return fmt.Errorf("install: cancelled; nothing was changed")
	}
	if err := e.execute(context.Background(), tree, db, b, steps, explicit); err != nil {
		return err
	}
	return markExplicit(db, explicit)
}

// markExplicit records that the user asked for these packages, so that
// they are never treated as removable leftovers.
func markExplicit(db *pkgdb.DB, names map[string]bool) error {
	for n := range names {
		// A slotted port is installed as NAME+VERSION, recorded explicit
		// by its install already.
		if err := db.SetExplicit(n, true); err != nil && !errors.Is(err, pkgdb.ErrNotInstalled) {
			return err
		}
	}
	return nil
}

// installFiles installs archives as they are, like pacman -U: their run
// dependencies must already be installed or among the archives.
func (e *env) installFiles(files []string, dry bool) error {
	// The archives first: a mistyped path is the error to give, not
	// that the user may not write the root, and reading them needs no
	// lock on it.
	var changes []installer.Change
	var manifests []*archive.Manifest
	for _, f := range files {
		// Open once: the manifest checked here is the one installed, and
		// it is read and decoded once.
		r, err := archive.Open(f)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("install --file %s: no such file: check the path (lpm build prints the path of each archive it makes); nothing was changed", f)
		}
		if err != nil {
			return err
		}
		defer r.Close()
		manifests = append(manifests, r.Manifest())
		changes = append(changes, installer.Change{Archive: f, Explicit: true, Reader: r})
	}
	db, done, err := e.planDB(dry)
	if err != nil {
		return err
	}
	defer done()
	installed, err := db.Packages()
	if err != nil {
		return err
	}
	// What the system provides (lpm.toml's provided, --assume-installed)
	// meets a dependency as an installed package does.
	have := append([]pkgdb.Package{}, installed...)
	for _, p := range e.cfg.Provided {
		name, version, _ := strings.Cut(p, "=")
		have = append(have, pkgdb.Package{Name: name, Version: version})
	}
	for _, m := range manifests {
		for _, d := range m.Depends {
			if !depMet(d, have, manifests) {
				return fmt.Errorf("installing %s: it needs %s, which is not installed; install it first or add its archive", m.Name, d)
			}
		}
	}
	if dry {
		if err := e.printPlan(archivePlan(installed, manifests, files)); err != nil || e.cfg.JSON {
			return err
		}
		for _, m := range manifests {
			for _, f := range installer.SpecialModes(m) {
				fmt.Printf("%s installs %s\n", m.InstalledName(), f)
			}
		}
		return nil
	}
	var names []string
	for _, m := range manifests {
		names = append(names, m.Name+" "+m.Version)
	}
	if !e.confirm(fmt.Sprintf("Install %s?", strings.Join(names, ", "))) {
		return fmt.Errorf("install: cancelled; nothing was changed")
	}
	in := e.installer(db)
	changed, err := in.Apply(changes)
	if err != nil {
		return err
	}
	e.runHooks(changed)
	return e.releasePreserved(in)
}

// depMet reports whether a run dependency is satisfied by an installed
// package or one of the archives being installed with it.
func depMet(d string, installed []pkgdb.Package, incoming []*archive.Manifest) bool {
	dep, err := ports.ParseDep(d)
	if err != nil {
		return false
	}
	candidates := append([]pkgdb.Package{}, installed...)
	for _, m := range incoming {
		candidates = append(candidates, pkgdb.Package{Name: m.Name, Version: m.Version, Provides: m.Provides})
	}
	for _, term := range dep {
		for _, p := range candidates {
			if installer.Satisfies(p, term.Name, term.Constraint) {
				return true
			}
		}
	}
	return false
}

// archivePlan is what installing archives as they are would do, as plan
// rows: each archive installs, upgrades, downgrades or reinstalls its
// package.
func archivePlan(installed []pkgdb.Package, manifests []*archive.Manifest, files []string) []stepResult {
	have := map[string]string{}
	for _, p := range installed {
		have[p.Name] = p.Version
	}
	var rows []stepResult
	for i, m := range manifests {
		r := stepResult{Action: "install", Port: m.Name, Old: have[m.Name], New: m.Version, Reason: "archive " + files[i]}
		if r.Old != "" {
			r.Action = "reinstall"
			oldV, err1 := ports.ParseVersion(r.Old)
			newV, err2 := ports.ParseVersion(r.New)
			switch {
			case err1 != nil || err2 != nil:
			case newV.GreaterThan(oldV):
				r.Action = "upgrade"
			case newV.LessThan(oldV):
				r.Action = "downgrade"
			}
		}
		rows = append(rows, r)
	}
	return rows
}
