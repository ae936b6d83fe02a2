package installer

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
)

// Remove takes packages off the root as one transaction. It refuses when an
// installed package that stays needs one of them, naming who needs what.
func (in *Installer) Remove(names []string) ([]string, error) {
	installed, err := in.DB.Packages()
	if err != nil {
		return nil, err
	}
	leaving := map[string]bool{}
	for _, n := range names {
		leaving[n] = true
	}
	var needs []string
	for _, n := range names {
		if users := Dependents(installed, n, leaving); len(users) > 0 {
			needs = append(needs, fmt.Sprintf("%s is needed by %s", n, strings.Join(users, ", ")))
		}
	}
	if len(needs) > 0 {
		return nil, fmt.Errorf("removing %s: %s; remove those too or keep it", strings.Join(names, ", "), strings.Join(needs, "; "))
	}
	if err := in.protectKernels(leaving); err != nil {
		return nil, err
	}
	var changes []Change
	for _, n := range names {
		changes = append(changes, Change{Remove: n})
	}
	return in.Apply(changes)
}

// protectKernels refuses to remove the kernel that is running or the last
// installed one: either would leave a machine that does not boot again.
// A kernel is a package that owns a boot/vmlinuz-* file.
func (in *Installer) protectKernels(leaving map[string]bool) error {
	images, err := filepath.Glob(filepath.Join(in.Root, "boot/vmlinuz-*"))
	if err != nil || len(images) == 0 {
		return err
	}
	var rels []string
	for _, img := range images {
		rel, _ := filepath.Rel(in.Root, img)
		rels = append(rels, rel)
	}
	owners, err := in.DB.Owners(rels)
	if err != nil {
		return err
	}
	var going, staying []string
	for _, rel := range rels {
		for _, o := range owners[rel] {
			if leaving[o] {
				going = append(going, o)
				if in.RunningKernel != "" && strings.HasPrefix(strings.TrimPrefix(rel, "boot/vmlinuz-"), in.RunningKernel) {
					return fmt.Errorf("removing %s: it is the running kernel (%s); boot another kernel first", o, in.RunningKernel)
				}
			} else {
				staying = append(staying, o)
			}
		}
	}
	if len(going) > 0 && len(staying) == 0 {
		return fmt.Errorf("removing %s would leave %s without a kernel; install another kernel first", strings.Join(going, ", "), in.Root)
	}
	return nil
}

// Dependents lists the installed packages, other than those leaving, with
// a run dependency that only name (or another leaving package) satisfies.
func Dependents(installed []pkgdb.Package, name string, leaving map[string]bool) []string {
	var users []string
	for _, p := range installed {
		if leaving[p.Name] {
			continue
		}
		for _, d := range p.Depends {
			dep, err := ports.ParseDep(d)
			if err != nil {
				continue
			}
			satisfiedByName, satisfiedByStayer := false, false
			for _, term := range dep {
				for _, q := range installed {
					if !Satisfies(q, term.Name, term.Constraint) {
						continue
					}
					if q.Name == name {
						satisfiedByName = true
					} else if !leaving[q.Name] {
						satisfiedByStayer = true
					}
				}
			}
			if satisfiedByName && !satisfiedByStayer {
				users = append(users, p.Name)
				break
			}
		}
	}
	sort.Strings(users)
	return users
}

// Version is the version the solver compares for an installed package:
// the one recorded at install, else the version rule's reading.
func Version(p pkgdb.Package) (*semver.Version, error) {
	if p.SemVer != "" {
		return semver.StrictNewVersion(p.SemVer)
	}
	return ports.ParseVersion(p.Version)
}

// Satisfies reports whether installed package p is, or provides, name at a
// version the constraint accepts. An unversioned provide satisfies only a
// dependency with no constraint.
func Satisfies(p pkgdb.Package, name string, c *semver.Constraints) bool {
	if p.Name == name {
		if c == nil {
			return true
		}
		v, err := Version(p)
		return err == nil && c.Check(v)
	}
	for _, s := range p.Provides {
		pr, err := ports.ParseProvide(s)
		if err != nil || pr.Name != name {
			continue
		}
		if c == nil {
			return true
		}
		if pr.Version != nil && c.Check(pr.Version) {
			return true
		}
	}
	return false
}

// conflictsWith reports which of a package's conflict terms matches the
// package name at version.
func conflictsWith(conflicts []string, name, version string) (string, bool) {
	for _, c := range conflicts {
		term, err := ports.ParseTerm(c)
		if err != nil || term.Name != name {
			continue
		}
		if term.Constraint == nil {
			return c, true
		}
		if v, err := ports.ParseVersion(version); err == nil && term.Constraint.Check(v) {
			return c, true
		}
	}
	return "", false
}

// stagesAnything reports whether stage writes anything to the root. A
// transaction that only removes does not: the syncfs after staging would
// only wait for what other programs wrote to the filesystem.
func (t *tx) stagesAnything() bool {
	for _, o := range t.ops {
		switch {
		case o.pc != nil, o.Op == opMkdir, o.Op == opReplace, o.Op == opToDir, o.Op == opFromDir:
			return true
		}
	}
	return false
}
