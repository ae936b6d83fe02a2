package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
)

// Synthetic families are universes built to be hard for a solver rather
// than realistic. They are written as Debian packages so that lpm and
// testsolv read exactly the same relations through the same index and
// testtags writers; each has one target, "app".

// chainFamily is the version chain: lib_i at version v needs lib_{i+1} >= v,
// the last lib needs lib0 < 2, and app needs every lib. Newest-first
// choices all fail at the last lib, so a solver that learns badly walks
// every version of every lib.
func chainFamily(libs, versions int) []debPkg {
	var pkgs []debPkg
	app := debPkg{name: "app", version: "1"}
	for i := 0; i < libs; i++ {
		name := "lib" + strconv.Itoa(i)
		app.depends = append(app.depends, []debRel{{name: name}})
		for v := 1; v <= versions; v++ {
			p := debPkg{name: name, version: strconv.Itoa(v)}
			if i+1 < libs {
				p.depends = [][]debRel{{{name: "lib" + strconv.Itoa(i+1), op: ">=", ver: strconv.Itoa(v)}}}
			} else {
				p.depends = [][]debRel{{{name: "lib0", op: "<<", ver: "2"}}}
			}
			pkgs = append(pkgs, p)
		}
	}
	return append(pkgs, app)
}

// randomFamily is a random hard instance: n packages of k versions, each
// version depending on a few others within a random window of versions
// (a lower and an upper bound, as two relations), with a few conflicts.
// app needs a handful of them. Most instances are satisfiable only after
// real search; some are not satisfiable at all, and both tools must say so.
func randomFamily(n, k int, seed int64) []debPkg {
	rng := rand.New(rand.NewSource(seed))
	name := func(i int) string { return "p" + strconv.Itoa(i) }
	var pkgs []debPkg
	for i := 0; i < n; i++ {
		for v := 1; v <= k; v++ {
			p := debPkg{name: name(i), version: strconv.Itoa(v)}
			for d := 1 + rng.Intn(3); d > 0; d-- {
				j := rng.Intn(n)
				if j == i {
					continue
				}
				lo := 1 + rng.Intn(k)
				hi := lo + 1 + rng.Intn(k/2+1)
				p.depends = append(p.depends,
					[]debRel{{name: name(j), op: ">=", ver: strconv.Itoa(lo)}},
					[]debRel{{name: name(j), op: "<<", ver: strconv.Itoa(hi)}})
			}
			if rng.Intn(8) == 0 {
				j := rng.Intn(n)
				if j != i {
					p.conflicts = append(p.conflicts, debRel{name: name(j), op: ">=", ver: strconv.Itoa(1 + rng.Intn(k))})
				}
			}
			pkgs = append(pkgs, p)
		}
	}
	app := debPkg{name: "app", version: "1"}
	for _, i := range rng.Perm(n)[:min(n, 5)] {
		app.depends = append(app.depends, []debRel{{name: name(i)}})
	}
	return append(pkgs, app)
}

// family returns the packages of a named family.
func family(name string, libs, versions int, seed int64) ([]debPkg, error) {
	switch name {
	case "chain":
		return chainFamily(libs, versions), nil
	case "random":
		return randomFamily(libs, versions, seed), nil
	}
	return nil, fmt.Errorf("unknown family %q (want debian, chain or random)", name)
}

// runFamily writes one synthetic universe (or, for random, -instances of
// them) into its own directory under dir and compares lpm with testsolv
// on "app". apt-get has no way to read a synthetic universe.
func runFamily(name string, libs, versions int, seed int64, instances int, dir, lpmBin string, useTestsolv bool) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if name != "random" {
		instances = 1
	}
	failures := 0
	for i := 0; i < instances; i++ {
		pkgs, err := family(name, libs, versions, seed+int64(i))
		if err != nil {
			return err
		}
		sub := filepath.Join(dir, fmt.Sprintf("%s-%dx%d", name, libs, versions))
		if name == "random" {
			sub += fmt.Sprintf("-seed%d", seed+int64(i))
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		if err := writeIndex(filepath.Join(sub, indexName), pkgs); err != nil {
			return err
		}
		if err := writeTesttags(filepath.Join(sub, tagsName), pkgs); err != nil {
			return err
		}
		if lpmBin != "" {
			if err := writePortsTree(filepath.Join(sub, portsName), pkgs); err != nil {
				return err
			}
		}
		fmt.Printf("%s: %d package versions in %s\n", filepath.Base(sub), len(pkgs), sub)
		n, err := compareTargets(self, sub, []string{"app"}, lpmBin, useTestsolv, false)
		if err != nil {
			return err
		}
		failures += n
	}
	if failures > 0 {
		return fmt.Errorf("%d answers failed verification", failures)
	}
	return nil
}
