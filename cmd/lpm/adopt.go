package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/builder"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
)

func newAdoptCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "adopt PORT[@VERSION]... | --all | --provided NAME=VERSION...",
		Short: "Take over packages built and installed by hand, without reinstalling them",
		Long: `adopt registers packages that are on disk but that lpm did not install (an
LFS system built by the book). For each port it learns the file list from
the package cache's archive of that version, a footprint (one beside the
archive, or PORT/footprint in the ports tree, of the same version and
release), or by building the port into staging, in that order (--from
picks one). Every path of the list that is on disk with the same type is
recorded as it is on disk now: hash, mode, owner, link target, ELF soname
and needed libraries, so lpm verify passes right after. Config files keep
your version; the package's is the base for the next upgrade (.lpmnew)
and for diff-config.

adopt writes nothing but the database and lpm's own state. Before it
records anything it prints, per package, the paths adopted, those missing
on disk (not recorded), those whose content differs from the package's
(recorded as on disk; lpm verify --against-package lists them later) and
those another package owns (a conflict: nothing is adopted). A package
with missing paths stops the adoption unless --allow-partial (the book
often deletes a static library or a .la file after make install).

A port named without a version, of which the trees have several, is
adopted at the version whose archive or footprint matches the disk best;
when none matches, or several match as well, name it as PORT@VERSION.

--all adopts every port of the ports tree that has an archive or a
footprint and whose files are on disk, each at the version that matches
the disk; a port whose versions match it equally is left out and named.
--provided NAME=VERSION records a package with no files that
dependencies see as installed (see README for when to use lpm.toml's
provided instead).`,
		Example: `  lpm adopt --all --dry-run
  lpm adopt zlib@1.3.1 --allow-partial
  lpm adopt --provided gcc=14.2.0`,
		RunE: runAdopt,
	}
	cmd.Flags().Bool("all", false, "every port of the tree that has an archive or footprint and is on disk")
	cmd.Flags().String("from", "auto", "where the file list comes from: auto, archive, footprint or build")
	cmd.Flags().Bool("allow-partial", false, "adopt a package even when some of its paths are not on disk")
	cmd.Flags().Bool("dry-run", false, "print what would be adopted and change nothing")
	cmd.Flags().StringArray("provided", nil, "NAME=VERSION: record a package with no files, repeatable")
	addWriterFlags(cmd)
	return cmd
}

func runAdopt(cmd *cobra.Command, args []string) error {
	all, _ := cmd.Flags().GetBool("all")
	from, _ := cmd.Flags().GetString("from")
	partial, _ := cmd.Flags().GetBool("allow-partial")
	dry, _ := cmd.Flags().GetBool("dry-run")
	provided, _ := cmd.Flags().GetStringArray("provided")
	switch from {
	case "auto", "archive", "footprint", "build":
	default:
		return fmt.Errorf("adopt: --from %s: want auto, archive, footprint or build", from)
	}
	if len(args) == 0 && !all && len(provided) == 0 {
		return fmt.Errorf("adopt: name ports to adopt, or use --all or --provided NAME=VERSION")
	}
	if all && len(args) > 0 {
		return fmt.Errorf("adopt: --all adopts every port; name none with it")
	}
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	if err := installer.CheckLFSLayout(e.cfg.Root); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	if len(provided) > 0 {
		return e.adoptProvided(provided, len(args) > 0 || all, dry)
	}
	tree, err := e.tree()
	if err != nil {
		return err
	}
	// A dry run is a query: it needs no write access to the root.
	db, done, err := e.planDB(dry)
	if err != nil {
		return err
	}
	defer done()
	b := &builder.Builder{Cfg: e.cfg, Out: e.out, Rebuild: from == "build"}
	in := e.installer(db)

	var plans []*installer.Adoption
	if all {
		plans, err = e.adoptAllPlans(tree, db, b, in, from)
	} else {
		plans, err = e.adoptPlans(tree, b, in, args, from)
	}
	if err != nil {
		return err
	}
	e.showAdoptions(plans)
	var refused []string
	for _, a := range plans {
		switch {
		case len(a.Conflicts) > 0:
			refused = append(refused, fmt.Sprintf("%s: %d path(s) owned by another package, such as %s", a.Name, len(a.Conflicts), a.Conflicts[0]))
		case a.Present() == 0:
			refused = append(refused, fmt.Sprintf("%s %s: none of its files is on disk (is another version installed? name it as %s@VERSION)", a.Name, a.Version, a.Name))
		case len(a.Missing) > 0 && !partial:
			refused = append(refused, fmt.Sprintf("%s %s: %d path(s) of its list are not on disk, such as %s (another version on disk? name it as %s@VERSION; else adopt the rest with --allow-partial)", a.Name, a.Version, len(a.Missing), a.Missing[0], a.Name))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("adopt: nothing was adopted: %s", strings.Join(refused, "; "))
	}
	if len(plans) == 0 {
		e.out.Printf("nothing to adopt: no port of the tree has an archive or footprint whose files are on disk")
		return nil
	}
	if dry {
		return nil
	}
	if !e.confirm(fmt.Sprintf("Adopt %d package(s)?", len(plans))) {
		return fmt.Errorf("adopt: cancelled; nothing was changed")
	}
	if err := in.Adopt(plans); err != nil {
		return err
	}
	var names []string
	for _, a := range plans {
		names = append(names, a.Name)
	}
	e.out.Printf("adopted %s", strings.Join(names, ", "))
	return e.warnUnmet(db)
}

// adoptPlans plans the named ports. A name that leaves several versions
// takes the one on disk, told by the tree's versions that have an archive
// or a footprint (versionOnDisk); a port of one version is built when it
// has neither.
func (e *env) adoptPlans(tree *ports.Tree, b *builder.Builder, in *installer.Installer, args []string, from string) ([]*installer.Adoption, error) {
	var srcs []installer.AdoptSource
	for _, a := range args {
		req, err := request(tree, a)
		if err != nil {
			return nil, err
		}
		if len(tree.All(req.Name)) == 0 {
			return nil, fmt.Errorf("adopt %s: no port %s in the ports trees (%s)", a, req.Name, strings.Join(e.cfg.Ports, ", "))
		}
		// Before anything is built for it.
		if err := in.CheckUnknown(req.Name); err != nil {
			return nil, err
		}
		var candidates []*ports.Port
		for _, p := range tree.All(req.Name) {
			if req.Constraint == nil || req.Constraint.Check(p.Ver) {
				candidates = append(candidates, p)
			}
		}
		if len(candidates) == 0 {
			return nil, fmt.Errorf("adopt %s: no version of port %s matches %s", a, req.Name, req.Constraint)
		}
		if len(candidates) > 1 {
			// The newest is not the one to take: a hand-built system has
			// the version its user built. Only the disk can tell.
			src, err := e.versionOnDisk(in, b, a, candidates, from)
			if err != nil {
				return nil, err
			}
			src.Explicit = true
			srcs = append(srcs, src)
			continue
		}
		p, err := tree.Lookup(req.Name, req.Constraint)
		if err != nil {
			return nil, err
		}
		src, ok, err := e.adoptSource(b, p, from, true)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("adopt %s: the package cache has no archive of %s and there is no footprint of it; drop --from %s to build it", a, p.ID(), from)
		}
		src.Explicit = true
		srcs = append(srcs, src)
	}
	return in.PlanAdopt(srcs)
}

// adoptAllPlans plans every port of the tree not in the database that has
// an archive or a footprint and whose files are on disk.
func (e *env) adoptAllPlans(tree *ports.Tree, db *pkgdb.DB, b *builder.Builder, in *installer.Installer, from string) ([]*installer.Adoption, error) {
	if from == "build" {
		return nil, fmt.Errorf("adopt --all builds nothing; name the ports to build with lpm adopt --from build PORT")
	}
	var srcs []installer.AdoptSource
	var without, ambiguous []string
	for _, name := range tree.Names() {
		if _, err := db.Package(name); err == nil {
			continue
		}
		versions := tree.All(name)
		matches, err := e.matchOnDisk(in, b, versions, from)
		if err != nil {
			return nil, err
		}
		best, tied := bestOnDisk(matches)
		switch {
		case len(tied) > 1:
			ambiguous = append(ambiguous, fmt.Sprintf("%s (%s)", name, versionList(tied)))
		case best != nil:
			if len(versions) > 1 {
				e.out.Printf("%s", chosenLine(name, best, matches, versions))
			}
			// Built and installed by the user's own hand: asked for.
			best.src.Explicit = true
			srcs = append(srcs, best.src)
		case len(matches) == 0:
			without = append(without, name)
		}
	}
	if len(without) > 0 {
		e.out.Printf("no archive or footprint of %s: adopt them by name to build them", strings.Join(without, ", "))
	}
	if len(ambiguous) > 0 {
		e.out.Printf("not adopted, as more than one version matches the disk equally: %s; adopt each by name as PORT@VERSION", strings.Join(ambiguous, ", "))
	}
	return in.PlanAdopt(srcs)
}

// A diskMatch is how well one version's file list (its archive or
// footprint) matches the disk.
type diskMatch struct {
	port             *ports.Port
	src              installer.AdoptSource
	present, missing int
}

// matchOnDisk counts, for each version that has an archive or a
// footprint, its non-directory paths on disk and missing, in the order of
// versions. It reads no content: adopt --all hashes each file once, in
// PlanAdopt.
func (e *env) matchOnDisk(in *installer.Installer, b *builder.Builder, versions []*ports.Port, from string) ([]diskMatch, error) {
	var matches []diskMatch
	for _, p := range versions {
		src, ok, err := e.adoptSource(b, p, from, false)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		present, missing := in.CountOnDisk(src.Manifest)
		matches = append(matches, diskMatch{port: p, src: src, present: present, missing: missing})
	}
	return matches, nil
}

// bestOnDisk picks the version whose files are on disk: fewest missing,
// then most present; none when no version has a file there. tied lists
// every version that matches as well as the best when there are several:
// then the disk does not tell which it is.
func bestOnDisk(matches []diskMatch) (best *diskMatch, tied []diskMatch) {
	for i := range matches {
		m := &matches[i]
		if m.present == 0 {
			continue
		}
		if best == nil || m.missing < best.missing || m.missing == best.missing && m.present > best.present {
			best = m
		}
	}
	if best == nil {
		return nil, nil
	}
	for _, m := range matches {
		if m.present == best.present && m.missing == best.missing {
			tied = append(tied, m)
		}
	}
	if len(tied) < 2 {
		tied = nil
	}
	return best, tied
}

// versionOnDisk decides which of several versions of a port, none named,
// is the one on disk, and says which and why in one line. When the disk
// does not tell them apart, it refuses and asks for the version: adopting
// the newest would record files and a version the system does not have.
func (e *env) versionOnDisk(in *installer.Installer, b *builder.Builder, arg string, versions []*ports.Port, from string) (installer.AdoptSource, error) {
	name := versions[0].Name
	var all []string
	for _, p := range versions {
		all = append(all, p.Version)
	}
	ask := fmt.Sprintf("name the one on disk as %s@VERSION, e.g. %s@%s", name, name, versions[0].Version)
	if from == "build" {
		return installer.AdoptSource{}, fmt.Errorf("adopt %s: the ports trees have %d versions of %s (%s) and --from build would build one blind: %s", arg, len(versions), name, strings.Join(all, ", "), ask)
	}
	matches, err := e.matchOnDisk(in, b, versions, from)
	if err != nil {
		return installer.AdoptSource{}, err
	}
	best, tied := bestOnDisk(matches)
	switch {
	case len(tied) > 1:
		return installer.AdoptSource{}, fmt.Errorf("adopt %s: versions %s of %s match the disk equally (%d of %d paths each), so it does not tell which is installed: %s; nothing was adopted", arg, versionList(tied), name, best.present, best.present+best.missing, ask)
	case best == nil:
		return installer.AdoptSource{}, fmt.Errorf("adopt %s: the ports trees have %d versions of %s (%s) and none has an archive or footprint with a file on disk to tell which is installed: %s (lpm then builds it to learn its files); nothing was adopted", arg, len(versions), name, strings.Join(all, ", "), ask)
	}
	e.out.Printf("%s", chosenLine(name, best, matches, versions))
	return best.src, nil
}

// chosenLine says which version was taken for the one on disk and why.
func chosenLine(name string, best *diskMatch, matches []diskMatch, versions []*ports.Port) string {
	var others []string
	for _, p := range versions {
		if p == best.port {
			continue
		}
		other := p.Version + ": no archive or footprint to compare"
		for _, m := range matches {
			if m.port == p {
				other = fmt.Sprintf("%s: %d of %d", p.Version, m.present, m.present+m.missing)
			}
		}
		others = append(others, other)
	}
	return fmt.Sprintf("%s: taking %s as the version on disk: %d of the %d paths of its %s are there (%s)",
		name, best.port.Version, best.present, best.present+best.missing, best.src.From, strings.Join(others, "; "))
}

// versionList is "1.1.0 and 1.0.0", "2, 1.1 and 1".
func versionList(ms []diskMatch) string {
	var vs []string
	for _, m := range ms {
		vs = append(vs, m.port.Version)
	}
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " and " + vs[len(vs)-1]
}

// adoptSource finds p's file list: the cached archive, a footprint, or a
// build, as from allows. ok is false when from allows nothing that exists.
func (e *env) adoptSource(b *builder.Builder, p *ports.Port, from string, mayBuild bool) (installer.AdoptSource, bool, error) {
	if from == "auto" || from == "archive" {
		file := b.ArchivePath(p)
		if _, err := os.Stat(file); err == nil {
			src, err := archiveSource(file, "archive "+file)
			return src, err == nil, err
		}
	}
	if from == "auto" || from == "footprint" {
		m, file, err := b.Footprint(p)
		if err != nil {
			return installer.AdoptSource{}, false, err
		}
		if m != nil {
			return installer.AdoptSource{Manifest: m, From: "footprint " + file}, true, nil
		}
	}
	if mayBuild && (from == "auto" || from == "build") {
		file, err := b.Build(context.Background(), p)
		if err != nil {
			return installer.AdoptSource{}, false, buildFailure(err)
		}
		src, err := archiveSource(file, "build "+file)
		return src, err == nil, err
	}
	return installer.AdoptSource{}, false, nil
}

// archiveSource is the file list of the archive at file, with the hash
// of its manifest for the record.
func archiveSource(file, from string) (installer.AdoptSource, error) {
	r, err := archive.Open(file)
	if err != nil {
		return installer.AdoptSource{}, err
	}
	r.Close()
	return installer.AdoptSource{Manifest: r.Manifest(), Archive: file, ManifestSHA256: r.ManifestSHA256(), From: from}, nil
}

// showAdoptions prints the summary per package (JSON with --json): long
// lists are cut short unless -v.
func (e *env) showAdoptions(plans []*installer.Adoption) {
	if e.cfg.JSON {
		if plans == nil {
			plans = []*installer.Adoption{}
		}
		printJSON(plans)
		return
	}
	verbose, _ := e.cmd.Flags().GetBool("verbose")
	list := func(what string, paths []string) {
		if len(paths) == 0 {
			return
		}
		fmt.Printf("  %s (%d):\n", what, len(paths))
		shown := paths
		if !verbose && len(paths) > 10 {
			shown = paths[:10]
		}
		for _, p := range shown {
			fmt.Printf("    %s\n", p)
		}
		if len(shown) < len(paths) {
			fmt.Printf("    and %d more (every one with -v)\n", len(paths)-len(shown))
		}
	}
	for _, a := range plans {
		fmt.Printf("%s %s-%d (from %s): %d path(s) adopted, %d missing, %d differ, %d owned by another package\n",
			a.Name, a.Version, a.Release, a.From, len(a.Adopted), len(a.Missing), len(a.Differs), len(a.Conflicts))
		list("missing on disk, not recorded", a.Missing)
		list("content differs from the package's, recorded as on disk", a.Differs)
		list("owned by another package", a.Conflicts)
		list("config files with no pristine copy (only a footprint, and edited): the next upgrade keeps yours and writes .lpmnew", a.NoPristine)
	}
}

// warnUnmet says which run dependencies of installed packages nothing
// installed or provided satisfies, so that an adoption's gaps show now
// rather than at the next install.
func (e *env) warnUnmet(db *pkgdb.DB) error {
	pkgs, err := db.Packages()
	if err != nil {
		return err
	}
	for _, prov := range e.cfg.Provided {
		name, ver, _ := strings.Cut(prov, "=")
		pkgs = append(pkgs, pkgdb.Package{Name: name, Version: ver})
	}
	for _, p := range pkgs {
		for _, d := range p.Depends {
			if !depMet(d, pkgs, nil) {
				e.out.Printf("warning: %s needs %s, which is neither installed, adopted nor provided: adopt it, or declare it with lpm adopt --provided or provided in lpm.toml", p.Name, d)
			}
		}
	}
	return nil
}

// adoptProvided records packages with no files. Every spec is read before
// anything is recorded, and it asks (or, with --dry-run, only says) as an
// adoption of ports does: a typo in the third spec records none of them.
func (e *env) adoptProvided(specs []string, withPorts, dry bool) error {
	if withPorts {
		return fmt.Errorf("adopt: --provided records packages with no files; adopt ports in a command of their own")
	}
	type spec struct{ name, ver, semver string }
	var todo []spec
	for _, s := range specs {
		name, ver, ok := strings.Cut(s, "=")
		if !ok || name == "" || ver == "" {
			return fmt.Errorf("adopt --provided %s: want NAME=VERSION, e.g. gcc=14.2.0; nothing was recorded", s)
		}
		v, err := ports.ParseVersion(ver)
		if err != nil {
			return fmt.Errorf("adopt --provided %s: %w; nothing was recorded", s, err)
		}
		todo = append(todo, spec{name, ver, v.String()})
	}
	for _, s := range todo {
		e.out.Printf("%s %s: to be recorded as provided by the system, with no files", s.name, s.ver)
	}
	if dry {
		return nil
	}
	db, done, err := e.writer()
	if err != nil {
		return err
	}
	defer done()
	for _, s := range todo {
		if _, err := db.Package(s.name); err == nil {
			return fmt.Errorf("adopt --provided %s: %s is already in the database (see lpm info %s); nothing was recorded", s.name, s.name, s.name)
		}
	}
	if !e.confirm(fmt.Sprintf("Record %d package(s) as provided?", len(todo))) {
		return fmt.Errorf("adopt: cancelled; nothing was changed")
	}
	in := e.installer(db)
	for _, s := range todo {
		if err := in.AdoptProvided(s.name, s.ver, s.semver, true); err != nil {
			return err
		}
		e.out.Printf("recorded %s %s as provided by the system, with no files", s.name, s.ver)
	}
	return nil
}
