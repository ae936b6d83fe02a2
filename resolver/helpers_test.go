package resolver

import (
	"regexp"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// The test universes are written one package version per line:
//
//	name version: run deps; build: deps; check: deps; after: names; provides: name [version], ...; conflicts: terms
//
// Deps are separated by commas and alternatives by " | ". A term is a
// name optionally followed by a constraint (which must not contain
// commas; write ">=1 <2"). Blank lines and lines starting with # are
// ignored.

var altSep = regexp.MustCompile(`\s\|\s`)

func parseTerm(t testing.TB, s string) Term {
	t.Helper()
	fields := strings.Fields(s)
	if len(fields) == 0 {
		t.Fatalf("empty term in %q", s)
	}
	term := Term{Name: fields[0]}
	if len(fields) > 1 {
		c, err := semver.NewConstraint(strings.Join(fields[1:], " "))
		if err != nil {
			t.Fatalf("constraint in %q: %v", s, err)
		}
		term.Constraint = c
	}
	return term
}

func parseDeps(t testing.TB, s string) []Dep {
	t.Helper()
	var deps []Dep
	for _, d := range strings.Split(s, ",") {
		if strings.TrimSpace(d) == "" {
			continue
		}
		var dep Dep
		for _, alt := range altSep.Split(d, -1) {
			dep = append(dep, parseTerm(t, alt))
		}
		deps = append(deps, dep)
	}
	return deps
}

func parseUniverse(t testing.TB, text string) *MemUniverse {
	t.Helper()
	u := NewMemUniverse()
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sections := strings.Split(line, ";")
		head, runs, _ := strings.Cut(sections[0], ":")
		hf := strings.Fields(head)
		if len(hf) != 2 {
			t.Fatalf("package line %q: want name and version before ':'", line)
		}
		p := &Package{Name: hf[0], Version: semver.MustParse(hf[1]), Run: parseDeps(t, runs)}
		for _, sec := range sections[1:] {
			key, val, ok := strings.Cut(sec, ":")
			if !ok {
				t.Fatalf("section %q in %q has no ':'", sec, line)
			}
			switch strings.TrimSpace(key) {
			case "build":
				p.Build = parseDeps(t, val)
			case "check":
				p.Check = parseDeps(t, val)
			case "after":
				for _, a := range strings.Split(val, ",") {
					p.After = append(p.After, strings.TrimSpace(a))
				}
			case "provides":
				for _, pv := range strings.Split(val, ",") {
					f := strings.Fields(pv)
					pr := Provide{Name: f[0]}
					if len(f) > 1 {
						pr.Version = semver.MustParse(f[1])
					}
					p.Provides = append(p.Provides, pr)
				}
			case "conflicts":
				for _, c := range strings.Split(val, ",") {
					p.Conflicts = append(p.Conflicts, parseTerm(t, c))
				}
			default:
				t.Fatalf("unknown section %q in %q", key, line)
			}
		}
		u.Add(p)
	}
	return u
}

func parseRequests(t testing.TB, s string) []Request {
	t.Helper()
	var reqs []Request
	for _, r := range strings.Split(s, ",") {
		if strings.TrimSpace(r) == "" {
			continue
		}
		term := parseTerm(t, r)
		reqs = append(reqs, Request{Name: term.Name, Constraint: term.Constraint})
	}
	return reqs
}

// parseVersions reads "name version, name version" into a map.
func parseVersions(t testing.TB, s string) map[string]*semver.Version {
	t.Helper()
	out := map[string]*semver.Version{}
	for _, nv := range strings.Split(s, ",") {
		f := strings.Fields(nv)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			t.Fatalf("want 'name version' in %q", nv)
		}
		out[f[0]] = semver.MustParse(f[1])
	}
	return out
}

// solutionString renders a solution as "a 1.0.0, b 2.0.0 (build)".
func solutionString(s *Solution) string {
	parts := make([]string, len(s.Selected))
	for i, sel := range s.Selected {
		parts[i] = sel.Name + " " + sel.Version.String()
		if sel.Build {
			parts[i] += " (build)"
		}
	}
	return strings.Join(parts, ", ")
}

// checkSolution is Verify; tests call it by this name.
func checkSolution(u Universe, reqs []Request, opts Options, sol *Solution) error {
	return Verify(u, reqs, opts, sol)
}
