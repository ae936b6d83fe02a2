package main

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
	"github.com/lfs-lpm/lpm/resolver"
)

// systemUniverse is what the solver sees: the ports trees, plus installed
// versions the trees no longer hold (read from the database), so that a
// package whose port was dropped or bumped still constrains the solution.
//
// Provided packages (lpm.toml's provided, --assume-installed) appear at
// their version with no dependencies: the system's copy comes with what it
// needs. A provided name the user asks for is not in provided, so that its
// port is installed.
type systemUniverse struct {
	tree      *ports.Tree
	installed map[string]pkgdb.Package
	provided  map[string]*semver.Version
}

var _ resolver.Universe = (*systemUniverse)(nil)

// onlyInstalled returns the installed record of name when the trees do not
// hold its installed version.
func (u *systemUniverse) onlyInstalled(name string) (*resolver.Package, bool) {
	p, ok := u.installed[name]
	if !ok {
		return nil, false
	}
	v, err := installedVersion(u.tree, p)
	if err != nil || u.tree.Port(name, v) != nil {
		return nil, false
	}
	rp := &resolver.Package{Name: name, Version: v}
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
	for _, c := range p.Conflicts {
		if t, err := ports.ParseTerm(c); err == nil {
			rp.Conflicts = append(rp.Conflicts, t)
		}
	}
	return rp, true
}

func (u *systemUniverse) Versions(name string) ([]*semver.Version, error) {
	vs, err := u.tree.Versions(name)
	if v, ok := u.provided[name]; ok && u.tree.Port(name, v) == nil {
		return append(vs, v), nil
	}
	if rp, ok := u.onlyInstalled(name); ok {
		return append(vs, rp.Version), nil
	}
	return vs, err
}

func (u *systemUniverse) Package(name string, v *semver.Version) (*resolver.Package, error) {
	if pv, ok := u.provided[name]; ok && pv.Equal(v) {
		return &resolver.Package{Name: name, Version: v}, nil
	}
	if rp, ok := u.onlyInstalled(name); ok && rp.Version.Equal(v) {
		return rp, nil
	}
	return u.tree.Package(name, v)
}

func (u *systemUniverse) Providers(virtual string) ([]resolver.Provider, error) {
	provs, err := u.tree.Providers(virtual)
	if err != nil {
		return nil, err
	}
	for _, p := range u.installed {
		rp, ok := u.onlyInstalled(p.Name)
		if !ok {
			continue
		}
		for _, pr := range rp.Provides {
			if pr.Name == virtual {
				provs = append(provs, resolver.Provider{Name: rp.Name, Version: rp.Version, Provide: pr})
			}
		}
	}
	return provs, nil
}

// installedVersion is the version the solver knows an installed package
// by: the one recorded at install; for packages installed before lpm
// recorded it, that of the port with the same upstream version string,
// which may say semver = (openssh 9.9p2), else the version rule's.
func installedVersion(tree *ports.Tree, p pkgdb.Package) (*semver.Version, error) {
	if p.SemVer != "" {
		return installer.Version(p)
	}
	for _, port := range tree.All(p.Name) {
		if port.Version == p.Version {
			return port.Ver, nil
		}
	}
	return ports.ParseVersion(p.Version)
}

// VersionName implements resolver.VersionNamer: versions as the ports, or
// the installed records, spell them.
func (u *systemUniverse) VersionName(name string, v *semver.Version) string {
	if p := u.tree.Port(name, v); p != nil {
		return p.Version
	}
	if p, ok := u.installed[name]; ok {
		if iv, err := installedVersion(u.tree, p); err == nil && iv.Equal(v) {
			return p.Version
		}
	}
	return v.String()
}

// request reads NAME[@CONSTRAINT]. A constraint that is exactly one of the
// port's upstream versions ("ntp@4.2.8p18") asks for that port, whatever
// semver it declares.
func request(tree *ports.Tree, arg string) (resolver.Request, error) {
	name, cons, _ := strings.Cut(arg, "@")
	exact := strings.TrimPrefix(strings.TrimSpace(cons), "=")
	for _, p := range tree.All(name) {
		if exact != "" && p.Version == exact {
			c, err := semver.NewConstraint("=" + p.Ver.String())
			if err != nil {
				return resolver.Request{}, fmt.Errorf("request %s: %w", arg, err)
			}
			return resolver.Request{Name: name, Constraint: c}, nil
		}
	}
	return ports.ParseRequest(arg)
}
