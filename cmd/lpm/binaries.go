package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/lfs-lpm/lpm/builder"
	"github.com/lfs-lpm/lpm/fetch"
	"github.com/lfs-lpm/lpm/ports"
	pkgrepo "github.com/lfs-lpm/lpm/repo"
	"github.com/lfs-lpm/lpm/resolver"
)

// binaries is what the configured repositories offer to one command.
type binaries struct {
	client *pkgrepo.Client
	set    *pkgrepo.Set
	b      *builder.Builder
	hashes map[string]string // port ID -> build hash
}

// openBinaries verifies the indexes of the [[repository]] entries, unless
// build.from = source or --rebuild asks for builds. Under the writer lock
// it records the newest serial seen from each repository; a --dry-run
// plan records nothing.
func (e *env) openBinaries(ctx context.Context, b *builder.Builder) (*binaries, error) {
	bin := &binaries{b: b, hashes: map[string]string{}}
	if len(e.cfg.Repositories) == 0 || e.cfg.Build.From == "source" || b.Rebuild {
		return bin, nil
	}
	dry, _ := e.cmd.Flags().GetBool("dry-run")
	bin.client = &pkgrepo.Client{Root: e.cfg.Root, Fetcher: &fetch.Fetcher{Progress: e.out}, ReadOnly: dry}
	var repos []pkgrepo.Repository
	for _, r := range e.cfg.Repositories {
		repos = append(repos, pkgrepo.Repository{Name: r.Name, URL: r.URL, Key: r.Key, Mirrors: r.Mirrors})
	}
	set, err := bin.client.Open(ctx, repos)
	if err != nil {
		return nil, err
	}
	bin.set = set
	return bin, nil
}

// find names the repository archive that stands in for a build of p.
func (bin *binaries) find(p *ports.Port) (pkgrepo.Repository, pkgrepo.Entry, bool) {
	if bin == nil || bin.set == nil {
		return pkgrepo.Repository{}, pkgrepo.Entry{}, false
	}
	h, ok := bin.hashes[p.ID()]
	if !ok {
		var err error
		if h, err = bin.b.BuildHash(p); err != nil {
			return pkgrepo.Repository{}, pkgrepo.Entry{}, false // then it builds, and the build says why
		}
		bin.hashes[p.ID()] = h
	}
	return bin.set.Find(p.Name, p.Version, p.Release, h)
}

// fetchAll downloads, before anything is installed, the repository archive
// of every install step that no build in the plan makes and the package
// cache lacks: a refused archive stops the command with the root as it was.
func (e *env) fetchAll(ctx context.Context, tree *ports.Tree, b *builder.Builder, steps []resolver.Step) error {
	built := map[string]bool{}
	for _, s := range steps {
		if s.Action == "build" {
			built[s.Name] = true
		}
	}
	for _, s := range steps {
		if done(s.Action) || s.Action == "build" || built[s.Name] {
			continue
		}
		p := tree.Port(s.Name, s.New)
		if p == nil || b.Cached(p) {
			continue
		}
		r, entry, ok := e.bin.find(p)
		if !ok {
			continue
		}
		if err := e.bin.client.Download(ctx, r, entry, b.ArchivePath(p)); err != nil {
			return err
		}
	}
	return nil
}

// sayFromRepository adds to the reason of each install that a repository
// serves where its archive comes from, so the plan shows it.
func (e *env) sayFromRepository(tree *ports.Tree, b *builder.Builder, steps []resolver.Step) {
	built := map[string]bool{}
	for _, s := range steps {
		built[s.Name] = built[s.Name] || s.Action == "build"
	}
	for i, s := range steps {
		if done(s.Action) || s.Action == "build" || built[s.Name] {
			continue
		}
		if p := tree.Port(s.Name, s.New); p != nil && !b.Cached(p) {
			if r, _, ok := e.bin.find(p); ok {
				name := r.Name
				if name == "" {
					name = r.URL
				}
				steps[i].Reason += ", from repository " + name
			}
		}
	}
}

// mustNotBuild refuses a plan with builds when build.from = repository.
func (e *env) mustNotBuild(steps []resolver.Step) error {
	if e.cfg.Build.From != "repository" {
		return nil
	}
	var names []string
	for _, s := range steps {
		if s.Action == "build" {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("build.from = repository, but no repository has an archive of %s at its port's version, release and build hash; build it (--build-from auto) or publish it", strings.Join(names, ", "))
}

func done(action string) bool { return action == "keep" || action == "provided" }
