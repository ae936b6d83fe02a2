package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// writePortsTree writes pkgs as an lpm ports tree in dir, so that the
// whole lpm command can be timed on the same packages the solver core
// sees: TREE/NAME/port.toml, or TREE/NAME/VERSION/port.toml for a name
// with several versions. A port keeps Debian's version as its version
// and says its place in the per-name order (the index's rank, see
// index.go) as semver = "RANK.0.0"; relations are written in that
// space. Debian's relations are run dependencies, Conflicts and Breaks
// are conflicts. The tree is written into dir.tmp and renamed into
// place, so a half-written tree is never used.
func writePortsTree(dir string, pkgs []debPkg) error {
	ranks := buildRanks(pkgs)
	byName := map[string][]debPkg{}
	var names []string
	for _, p := range pkgs {
		if !validPortName(p.name) {
			continue
		}
		dup := false
		for _, q := range byName[p.name] {
			dup = dup || ranks[p.name][q.version] == ranks[p.name][p.version]
		}
		if dup {
			continue
		}
		if byName[p.name] == nil {
			names = append(names, p.name)
		}
		byName[p.name] = append(byName[p.name], p)
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	rel := func(r debRel) string {
		op := map[string]string{"<<": "<", "<=": "<=", "=": "=", ">=": ">=", ">>": ">"}[r.op]
		if op == "" {
			return r.name
		}
		return r.name + " " + op + strconv.Itoa(ranks[r.name][r.ver]) + ".0.0"
	}
	for _, name := range names {
		list := byName[name]
		for _, p := range list {
			pdir := filepath.Join(tmp, name)
			if len(list) > 1 {
				pdir = filepath.Join(pdir, strings.ReplaceAll(p.version, ":", "_"))
			}
			if err := os.MkdirAll(pdir, 0o755); err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "name = %q\nversion = %q\nsemver = \"%d.0.0\"\ndescription = %q\n", p.name, p.version, ranks[p.name][p.version], p.description)
			var provides, conflicts []string
			for _, r := range p.provides {
				if !validPortName(r.name) {
					continue
				}
				pr := r.name
				if r.ver != "" {
					pr += "=" + strconv.Itoa(ranks[r.name][r.ver]) + ".0.0"
				}
				provides = append(provides, strconv.Quote(pr))
			}
			for _, r := range p.conflicts {
				if validPortName(r.name) {
					conflicts = append(conflicts, strconv.Quote(rel(r)))
				}
			}
			var run []string
			for _, d := range p.depends {
				var alts []string
				for _, r := range d {
					if validPortName(r.name) {
						alts = append(alts, rel(r))
					}
				}
				if len(alts) > 0 {
					run = append(run, strconv.Quote(strings.Join(alts, " | ")))
				}
			}
			if len(provides) > 0 {
				fmt.Fprintf(&b, "provides = [%s]\n", strings.Join(provides, ", "))
			}
			if len(conflicts) > 0 {
				fmt.Fprintf(&b, "conflicts = [%s]\n", strings.Join(conflicts, ", "))
			}
			fmt.Fprintf(&b, "\n[build]\nstyle = \"autotools\"\n")
			if len(run) > 0 {
				fmt.Fprintf(&b, "\n[depends]\nrun = [%s]\n", strings.Join(run, ", "))
			}
			if err := os.WriteFile(filepath.Join(pdir, "port.toml"), []byte(b.String()), 0o644); err != nil {
				return err
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// validPortName is lpm's rule for port names (ports.validName); the few
// Debian names outside it are left out, with the relations naming them.
func validPortName(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("+._-", c)) {
			return false
		}
	}
	return true
}
