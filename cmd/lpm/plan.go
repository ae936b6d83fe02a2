package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/Masterminds/semver/v3"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/builder"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
	"github.com/lfs-lpm/lpm/resolver"
)

// solve turns requests into a plan against the installed system. The
// solver compares semver versions; a port's release rides beside them: an
// installed package that a newer release of its version replaces, where
// the request upgrades it, is reinstalled from that release, and the
// step is an upgrade ("1.0-1 -> 1.0-2").
func (e *env) solve(tree *ports.Tree, db *pkgdb.DB, b *builder.Builder, reqs []resolver.Request, opts resolver.Options) ([]resolver.Step, error) {
	pkgs, err := db.Packages()
	if err != nil {
		return nil, err
	}
	opts.Installed = map[string]*semver.Version{}
	opts.Held = map[string]bool{}
	opts.Check = b.Cfg.Build.Check
	reinstall := map[string]bool{}
	for n, ok := range opts.Reinstall {
		reinstall[n] = ok
	}
	opts.Reinstall = reinstall
	bumped := map[string]bool{}
	u := &systemUniverse{tree: tree, installed: map[string]pkgdb.Package{}}
	requested := map[string]bool{}
	for _, r := range reqs {
		requested[r.Name] = true
	}
	for _, p := range pkgs {
		u.installed[p.Name] = p
		// Every installed package stays, so its dependencies keep holding:
		// an upgrade of a library cannot break what links it.
		if !requested[p.Name] {
			reqs = append(reqs, resolver.Request{Name: p.Name, Installed: true})
		}
		v, err := installedVersion(tree, p)
		if err == nil {
			opts.Installed[p.Name] = v
		}
		if p.Held {
			opts.Held[p.Name] = true
		}
		if err == nil && !p.Held && (opts.UpgradeAll || opts.Upgrade[p.Name]) {
			if port := tree.Port(p.Name, v); port != nil && port.Release > p.Release {
				opts.Reinstall[p.Name], bumped[p.Name] = true, true
			}
		}
	}
	e.installed = u.installed
	if err := provide(u, &opts, b.Cfg.Provided, requested); err != nil {
		return nil, err
	}
	bin, err := e.openBinaries(context.Background(), b)
	if err != nil {
		return nil, err
	}
	e.bin = bin
	opts.NeedsBuild = func(name string, v *semver.Version) bool {
		p := tree.Port(name, v)
		if p == nil || b.Cached(p) {
			return p == nil
		}
		_, _, inRepo := bin.find(p)
		return !inRepo
	}
	sol, err := resolver.Solve(u, reqs, opts)
	if err != nil {
		return nil, err
	}
	steps, err := resolver.Plan(u, sol, reqs, opts)
	if err != nil {
		return nil, err
	}
	for i, s := range steps {
		if s.Action == "reinstall" && bumped[s.Name] {
			steps[i].Action = "upgrade"
		}
	}
	e.sayFromRepository(tree, b, steps)
	return steps, e.mustNotBuild(steps)
}

// provide adds the provided packages (NAME=VERSION) that no installed
// package replaces: each is installed at its version, as far as the solver
// knows, unless the user asked for it, in which case its port is installed
// (LFS chapter 8 replaces the temporary tools one by one) while builds
// still use the system's copy.
func provide(u *systemUniverse, opts *resolver.Options, provided []string, requested map[string]bool) error {
	u.provided = map[string]*semver.Version{}
	opts.Provided = map[string]bool{}
	for _, p := range provided {
		name, ver, _ := strings.Cut(p, "=")
		v, err := ports.ParseVersion(ver)
		if err != nil {
			return fmt.Errorf("provided package %s: %w", p, err)
		}
		if _, ok := u.installed[name]; ok {
			continue // lpm installed it: the real package counts
		}
		opts.Provided[name] = true
		if !requested[name] {
			u.provided[name] = v
			opts.Installed[name] = v
		}
	}
	return nil
}

type stepResult struct {
	Action     string `json:"action"`
	Port       string `json:"name"`
	Old        string `json:"old_version,omitempty"`
	New        string `json:"new_version,omitempty"`
	OldRelease int    `json:"old_release,omitempty"`
	NewRelease int    `json:"new_release,omitempty"`
	Reason     string `json:"reason"`
}

// showPlan prints the plan as a table (or JSON); it is what --dry-run shows.
func (e *env) showPlan(tree *ports.Tree, steps []resolver.Step) error {
	var rows []stepResult
	for _, s := range steps {
		r := stepResult{Action: s.Action, Port: s.Name, Reason: s.Reason}
		if s.Old != nil {
			r.Old = upstream(tree, s.Name, s.Old)
			r.OldRelease = e.installed[s.Name].Release
		}
		if s.New != nil {
			r.New = upstream(tree, s.Name, s.New)
			if p := tree.Port(s.Name, s.New); p != nil {
				r.NewRelease = p.Release
			}
		}
		rows = append(rows, r)
	}
	return e.printPlan(rows)
}

// printPlan prints plan rows as a table, or as JSON.
func (e *env) printPlan(rows []stepResult) error {
	if e.cfg.JSON {
		if rows == nil {
			rows = []stepResult{}
		}
		return printJSON(rows)
	}
	work := false
	for _, r := range rows {
		work = work || r.Action != "keep" && r.Action != "provided"
	}
	if !work {
		fmt.Fprintln(os.Stderr, "lpm: nothing to do")
		return nil
	}
	var table bytes.Buffer
	w := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ACTION\tPORT\tVERSION\tREASON")
	for _, r := range rows {
		ver := r.New
		switch {
		case r.Old != "" && r.Old != r.New:
			ver = r.Old + " -> " + r.New
		case r.Old != "" && r.OldRelease != r.NewRelease:
			ver = fmt.Sprintf("%s-%d -> %s-%d", r.Old, r.OldRelease, r.New, r.NewRelease)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Action, r.Port, ver, r.Reason)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(os.Stdout, paintPlan(colorFor(e.cfg.Color, os.Stdout), table.String()))
	return err
}

// hasWork reports whether a plan builds or installs anything.
func hasWork(steps []resolver.Step) bool {
	for _, s := range steps {
		if s.Action != "keep" && s.Action != "provided" {
			return true
		}
	}
	return false
}

// showSpecialModes adds to the plan the setuid and setgid files of the
// archives it would install that are already built (a build's are said
// when it installs).
func (e *env) showSpecialModes(tree *ports.Tree, b *builder.Builder, steps []resolver.Step) {
	if e.cfg.JSON {
		return
	}
	for _, s := range steps {
		p := tree.Port(s.Name, s.New)
		if p == nil || s.Action == "build" || s.Action == "keep" || !b.Cached(p) {
			continue
		}
		if m, err := archive.ReadManifest(b.ArchivePath(p)); err == nil {
			for _, f := range installer.SpecialModes(m) {
				fmt.Printf("%s installs %s\n", s.Name, f)
			}
		}
	}
}

// upstream shows a version as the port spells it ("2025a", not 2025.1.0).
func upstream(tree *ports.Tree, name string, v *semver.Version) string {
	if p := tree.Port(name, v); p != nil {
		return p.Version
	}
	return v.Original()
}

// execute runs a plan: builds make archives, installs apply them, each
// install its own transaction followed by its hooks, so that a build later
// in the plan finds its build dependencies on the root. The transactions
// are one command in the history (pkgdb.DB.SetCommand), undone together.
// Preserved libraries the plan's rebuilds no longer need are released at
// the end.
//
// Up to build.parallel builds run at once, each as soon as the steps it
// waits for (resolver.Step.Waits) are done; installs stay serial, in plan
// order, here in this goroutine, so the database has one user. A failed
// build stops new builds and installs; the running builds finish (their
// archives stay in the cache for the next run) and every failure is
// reported.
func (e *env) execute(ctx context.Context, tree *ports.Tree, db *pkgdb.DB, b *builder.Builder, steps []resolver.Step, explicit map[string]bool) error {
	if err := e.fetchAll(ctx, tree, b, steps); err != nil {
		return err
	}
	in := e.installer(db)
	pkgs := make([]*ports.Port, len(steps))
	for i, s := range steps {
		// A provided or kept package needs no port: the system's copy, or
		// the installed one, may be a version the tree does not hold.
		if s.Action == "keep" || s.Action == "provided" {
			continue
		}
		if pkgs[i] = tree.Port(s.Name, s.New); pkgs[i] == nil {
			return fmt.Errorf("plan names %s %s, which no ports tree holds", s.Name, s.New)
		}
	}
	type result struct {
		step int
		err  error
	}
	done := make([]bool, len(steps))
	started := make([]bool, len(steps))
	ready := func(i int) bool {
		for _, w := range steps[i].Waits {
			if !done[w] {
				return false
			}
		}
		return true
	}
	builds := 0
	for _, s := range steps {
		if s.Action == "build" {
			builds++
		}
	}
	if builds > 1 && b.Cfg.Build.Parallel > 1 {
		// Builds running side by side each get a line of the board on a
		// terminal: one line redrawn in place would be fought over.
		e.out.Board = true
	}
	results := make(chan result)
	running, next := 0, 0 // next: the first install not yet applied
	var failures []error
	for {
		// A signal that came during the last transaction ends the plan
		// here, before the next build or install.
		stopIfInterrupted()
		for i := range steps {
			if len(failures) > 0 || running >= b.Cfg.Build.Parallel {
				break
			}
			if steps[i].Action != "build" || started[i] || !ready(i) {
				continue
			}
			started[i] = true
			running++
			go func(i int) {
				_, err := b.Build(ctx, pkgs[i])
				results <- result{i, err}
			}(i)
		}
		for ; next < len(steps) && steps[next].Action == "build"; next++ {
		}
		if len(failures) == 0 && next < len(steps) && ready(next) {
			// Every install ready now goes in one transaction: one
			// journal, one pair of syncs and one run of the hooks for
			// them all, as pacman installs a whole set at once. A build
			// waiting on one of them starts once they are in.
			var changes []installer.Change
			var batch []int
			for next < len(steps) {
				if steps[next].Action == "build" {
					next++
					continue
				}
				if !ready(next) {
					break
				}
				s := steps[next]
				if s.Action != "keep" && s.Action != "provided" {
					changes = append(changes, installer.Change{Archive: b.ArchivePath(pkgs[next]), Explicit: explicit[s.Name]})
				}
				done[next] = true // for the readiness of the next ones
				batch = append(batch, next)
				next++
			}
			if len(changes) > 0 {
				changed, err := in.Apply(changes)
				if err != nil {
					for _, i := range batch {
						done[i] = false
					}
					failures = append(failures, err)
					continue
				}
				e.runHooks(changed)
			}
			continue
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		if r.err != nil {
			failures = append(failures, buildFailure(r.err))
			continue
		}
		done[r.step] = true
	}
	switch len(failures) {
	case 0:
	case 1:
		return failures[0]
	default:
		for _, err := range failures[:len(failures)-1] {
			fmt.Fprintf(os.Stderr, "lpm: %v\n", err)
		}
		return fmt.Errorf("%d steps of the plan failed (each said above); the last: %w", len(failures), failures[len(failures)-1])
	}
	if next < len(steps) {
		return fmt.Errorf("plan: step %d (%s %s) never became ready; this is a bug in the plan", next+1, steps[next].Action, steps[next].Name)
	}
	return e.releasePreserved(in)
}

// releasePreserved removes the preserved libraries nothing needs any
// more, as a transaction of the command that made them unneeded, and says
// what still needs the others (Portage's @preserved-rebuild).
func (e *env) releasePreserved(in *installer.Installer) error {
	changed, released, err := in.ReleasePreserved()
	if err != nil {
		return err
	}
	if len(released) > 0 {
		e.out.Printf("released the preserved %s: nothing installed needs it any more", strings.Join(released, ", "))
	}
	if len(changed) > 0 {
		e.runHooks(changed)
	}
	kept, err := installer.PreservedLibs(in.DB)
	if err != nil {
		return err
	}
	for _, l := range kept {
		var users []string
		for _, u := range l.NeededBy {
			if !slices.Contains(users, u.Package) {
				users = append(users, u.Package)
			}
		}
		if len(users) > 0 {
			e.out.Printf("%s is still kept for %s; rebuild or upgrade %s to release it (lpm check-libs)", l.Soname, strings.Join(users, ", "), strings.Join(users, ", "))
		}
	}
	return nil
}
