package resolver

import (
	"fmt"

	"github.com/Masterminds/semver/v3"
)

// Verify checks a solution independently of the solver: every request
// and every dependency of every selected package (build deps too for
// packages marked Build) is satisfied by a selected package, every
// selected version is available, nothing selected conflicts, and holds
// are kept. The benchmark and the tests use it on every answer.
func Verify(u Universe, reqs []Request, opts Options, sol *Solution) error {
	chosen := map[string]*semver.Version{}
	for _, s := range sol.Selected {
		if _, dup := chosen[s.Name]; dup {
			return fmt.Errorf("%s selected twice", s.Name)
		}
		chosen[s.Name] = s.Version
	}
	satisfied := func(t Term) (bool, error) {
		if v, ok := chosen[t.Name]; ok && (t.Constraint == nil || t.Constraint.Check(v)) {
			return true, nil
		}
		provs, err := u.Providers(t.Name)
		if err != nil {
			return false, err
		}
		for _, p := range provs {
			if v, ok := chosen[p.Name]; ok && v.Equal(p.Version) && provideMatches(p.Provide, t.Constraint) {
				return true, nil
			}
		}
		return false, nil
	}
	depOK := func(d Dep) (bool, error) {
		for _, t := range d {
			ok, err := satisfied(t)
			if err != nil || ok {
				return ok, err
			}
		}
		return len(d) == 0, nil
	}
	for _, r := range reqs {
		ok, err := satisfied(Term{Name: r.Name, Constraint: r.Constraint})
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("request %s is not satisfied", Term{Name: r.Name, Constraint: r.Constraint})
		}
	}
	for _, s := range sol.Selected {
		vs, err := u.Versions(s.Name)
		if err != nil {
			return err
		}
		if !containsVersion(vs, s.Version) {
			return fmt.Errorf("%s %s is not an available version", s.Name, s.Version)
		}
		p, err := u.Package(s.Name, s.Version)
		if err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("%s %s has no package data", s.Name, s.Version)
		}
		deps := p.Run
		if s.Build {
			deps = append(append([]Dep(nil), p.Run...), p.buildDeps(opts)...)
		}
		for _, d := range deps {
			ok, err := depOK(d)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%s %s: dependency %v is not satisfied", s.Name, s.Version, d)
			}
		}
		for _, c := range p.Conflicts {
			if v, ok := chosen[c.Name]; ok && c.Name != s.Name && (c.Constraint == nil || c.Constraint.Check(v)) {
				return fmt.Errorf("%s %s conflicts with the selected %s %s", s.Name, s.Version, c.Name, v)
			}
			provs, err := u.Providers(c.Name)
			if err != nil {
				return err
			}
			for _, pr := range provs {
				if v, ok := chosen[pr.Name]; ok && pr.Name != s.Name && v.Equal(pr.Version) && provideMatches(pr.Provide, c.Constraint) {
					return fmt.Errorf("%s %s conflicts with %s, provided by the selected %s %s", s.Name, s.Version, c, pr.Name, v)
				}
			}
		}
		if opts.Held[s.Name] && opts.Installed[s.Name] != nil && !opts.Installed[s.Name].Equal(s.Version) {
			return fmt.Errorf("%s is held at %s but %s was selected", s.Name, opts.Installed[s.Name], s.Version)
		}
	}
	return nil
}

func containsVersion(vs []*semver.Version, v *semver.Version) bool {
	for _, x := range vs {
		if x.Equal(v) {
			return true
		}
	}
	return false
}
