package ports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/lfs-lpm/lpm/resolver"
)

// A Problem is one finding of Lint.
type Problem struct {
	File    string
	Line    int
	Message string
	Warning bool // warnings do not fail lint
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s: %s: %s", loc, kind, p.Message)
}

// Lint checks every port of the trees in dirs, layered as Load layers them:
// parse errors, unknown keys, checksums, dependency names no port provides,
// constraints, and files the port names but does not have. Problems are
// sorted by file and line.
func Lint(dirs ...string) ([]Problem, error) {
	return LintWith(LintOptions{}, dirs...)
}

// LintOptions are what the system tells lint about itself.
type LintOptions struct {
	// Provided names packages the system has without lpm (lpm.toml's
	// provided): a port may build with a provided copy of itself, and a
	// build never waits for a provided package, so no cycle runs through
	// one.
	Provided map[string]bool
}

// LintWith is Lint for a system with the given options.
func LintWith(opts LintOptions, dirs ...string) ([]Problem, error) {
	t, err := Load(dirs...)
	if err != nil {
		return nil, err
	}
	var probs []Problem
	add := func(file string, line int, warn bool, format string, args ...any) {
		probs = append(probs, Problem{File: file, Line: line, Warning: warn, Message: fmt.Sprintf(format, args...)})
	}
	for _, errs := range t.broken {
		for _, e := range errs {
			var pe *ParseError
			if errors.As(e, &pe) {
				add(pe.File, pe.Line, false, "%s", pe.Msg)
			} else {
				add("", 0, false, "%v", e)
			}
		}
	}
	for _, name := range t.Names() {
		seen := map[string]string{}
		for _, p := range t.ports[name] {
			file := filepath.Join(p.Dir, FileName)
			data, _ := os.ReadFile(file)
			if other, dup := seen[p.Ver.String()]; dup {
				add(file, lineOf(data, "version"), false, "%s %s is also defined in %s", p.Name, p.Version, other)
			}
			seen[p.Ver.String()] = file
			if dirName := filepath.Base(p.Dir); dirName != p.Name && filepath.Base(filepath.Dir(p.Dir)) != p.Name {
				add(file, lineOf(data, "name"), false, "port %s lives in directory %s; name the directory after the port", p.Name, dirName)
			}
			for _, s := range p.Sources {
				switch {
				case s.SHA256 == "" && s.MD5 == "":
					add(file, lineOf(data, s.URL), false, "source %s has no checksum; add sha256", s.URL)
				case s.SHA256 == "":
					add(file, lineOf(data, s.URL), true, "source %s is verified by md5 only (weak); add sha256", s.URL)
				}
			}
			for _, f := range append(append([]string{}, p.Patches...), p.Files...) {
				if _, err := os.Stat(filepath.Join(p.Dir, f)); err != nil && !p.Fetches(f) {
					add(file, lineOf(data, f), false, "%s is neither in the port directory nor a source", f)
				}
			}
			if spelled := p.Name + "-" + p.Version; strings.Contains(p.Build.ConfigureFlags, spelled) {
				add(file, lineOf(data, "configure_flags"), true, "configure_flags spells out the version (%s); write %s-$VERSION, so that the flags follow the version", spelled, p.Name)
			}
			if p.Script("install") == "" {
				add(file, 0, false, "port %s has no install phase; set build.style or build.install", p.Name)
			}
			for _, a := range p.Depends.After {
				if a == p.Name {
					add(file, lineOf(data, a), false, "after %s: a port cannot come after itself", a)
				} else if !t.known(a) {
					add(file, lineOf(data, a), false, "after %s: no port is named or provides %s", a, a)
				}
			}
			// A dependency listed under build and run is checked once.
			checked := map[string]bool{}
			for kind, list := range [][]string{p.Depends.Run, p.Depends.Build, p.Depends.Check} {
				for _, d := range list {
					if checked[d] {
						continue
					}
					checked[d] = true
					msg := t.depProblem(p, d)
					switch {
					case msg == errSelf && kind > 0 && opts.Provided[p.Name]:
						// The provided copy builds it (LFS chapter 8).
					case msg == errSelf && kind > 0:
						add(file, depLine(data, d), true, "dependency %s: %s builds with itself, so only an installed or provided %s can build it", d, p.Name, p.Name)
					case msg != "":
						add(file, depLine(data, d), false, "dependency %s: %s", d, msg)
					}
				}
			}
		}
		probs = append(probs, t.versionProblems(name)...)
	}
	probs = append(probs, t.cycleProblems(opts.Provided)...)
	sort.SliceStable(probs, func(i, j int) bool {
		if probs[i].File != probs[j].File {
			return probs[i].File < probs[j].File
		}
		return probs[i].Line < probs[j].Line
	})
	return probs, nil
}

// Fetches reports whether name is one of the port's downloaded sources, so
// a patch may come from a URL instead of the port directory.
func (p *Port) Fetches(name string) bool {
	for _, s := range p.Sources {
		if s.FileName() == name {
			return true
		}
	}
	return false
}

// depLine is the line of a dependency's string in the [depends] table.
func depLine(data []byte, d string) int {
	start := lineOf(data, "[depends]")
	if start == 0 {
		return lineOf(data, d)
	}
	lines := strings.Split(string(data), "\n")
	for i := start - 1; i < len(lines); i++ {
		if strings.Contains(lines[i], `"`+d+`"`) {
			return i + 1
		}
	}
	return lineOf(data, d)
}

// known reports whether a name is a port, a provided name, or a port that
// does not parse (whose errors are reported once, in its own file).
func (t *Tree) known(name string) bool {
	_, broken := t.broken[name]
	return len(t.ports[name]) > 0 || len(t.provides[name]) > 0 || broken
}

const errSelf = "a port cannot need itself at run time"

// depProblem says what is wrong with one dependency of p, "" if nothing:
// it is satisfied when any one of its alternatives names a port, or a
// provide, with a version its constraint accepts.
func (t *Tree) depProblem(p *Port, d string) string {
	dep, _ := ParseDep(d)
	var problems []string
	for _, term := range dep {
		if term.Name == p.Name {
			return errSelf
		}
		if _, broken := t.broken[term.Name]; broken && len(t.ports[term.Name]) == 0 {
			return "" // its parse errors are the cause, reported in its file
		}
		if !t.known(term.Name) {
			problems = append(problems, "no port is named or provides "+term.Name)
			continue
		}
		if term.Constraint == nil {
			return ""
		}
		var have []string
		for _, q := range t.ports[term.Name] {
			if term.Constraint.Check(q.Ver) {
				return ""
			}
			have = append(have, q.Version)
		}
		for _, pr := range t.provides[term.Name] {
			if pr.Provide.Version != nil && term.Constraint.Check(pr.Provide.Version) {
				return ""
			}
		}
		if len(have) > 0 {
			problems = append(problems, fmt.Sprintf("no version of %s matches (the tree has %s)", term.Name, strings.Join(have, ", ")))
		} else {
			problems = append(problems, fmt.Sprintf("no provide of %s has a version that matches", term.Name))
		}
	}
	return strings.Join(problems, "; ")
}

// versionProblems finds versions of one port the solver cannot tell
// apart or may order wrongly.
func (t *Tree) versionProblems(name string) []Problem {
	var probs []Problem
	versions := t.ports[name]
	for i, a := range versions {
		for _, b := range versions[i+1:] {
			if a.Version != b.Version && SameRelease(a.Ver, b.Ver) {
				probs = append(probs, Problem{File: filepath.Join(b.Dir, FileName), Message: fmt.Sprintf(
					"%s %s and %s are the same release to the solver (%s); give one of them semver = \"X.Y.Z\"",
					name, a.Version, b.Version, strings.SplitN(a.Ver.String(), "+", 2)[0])})
			}
			if a.SemVer == "" && b.SemVer == "" && decimalOrderDiffers(a.Version, b.Version) {
				lo, hi := a, b
				if lowerDecimal(a.Version, b.Version) == b.Version {
					lo, hi = b, a
				}
				probs = append(probs, Problem{File: filepath.Join(lo.Dir, FileName), Warning: true, Message: fmt.Sprintf(
					"%s %s and %s sort differently as dotted numbers and as decimals (Perl: %s < %s); if they are decimal versions, give them semver = their Perl normal form (%s, %s)",
					name, lo.Version, hi.Version, lo.Version, hi.Version, perlNormal(lo.Version), perlNormal(hi.Version))})
			}
		}
	}
	return probs
}

var decimalVersion = regexp.MustCompile(`^([0-9]+)\.([0-9]+)$`)

// perlNormal is Perl's version->normal of a decimal version: 2.089 is
// 2.89.0, 2.1 is 2.100.0 (the fraction in groups of three digits).
func perlNormal(v string) string {
	m := decimalVersion.FindStringSubmatch(v)
	if m == nil {
		return v
	}
	frac := m[2]
	for len(frac)%3 != 0 {
		frac += "0"
	}
	parts := []string{strings.TrimLeft(m[1], "0")}
	if parts[0] == "" {
		parts[0] = "0"
	}
	for i := 0; i < len(frac); i += 3 {
		n, _ := strconv.Atoi(frac[i : i+3])
		parts = append(parts, strconv.Itoa(n))
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	return strings.Join(parts, ".")
}

// decimalOrderDiffers reports whether two X.Y versions order one way as
// dotted numbers and the other way as decimals.
func decimalOrderDiffers(a, b string) bool {
	if !decimalVersion.MatchString(a) || !decimalVersion.MatchString(b) {
		return false
	}
	da, err1 := strconv.ParseFloat(a, 64)
	db, err2 := strconv.ParseFloat(b, 64)
	va, err3 := ParseVersion(a)
	vb, err4 := ParseVersion(b)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || da == db {
		return false
	}
	return (da < db) != va.LessThan(vb)
}

func lowerDecimal(a, b string) string {
	da, _ := strconv.ParseFloat(a, 64)
	db, _ := strconv.ParseFloat(b, 64)
	if da < db {
		return a
	}
	return b
}

// cycleProblems finds build cycles the way a plan would meet them: every
// port (its newest version) built from source, after the installs of its
// build deps and their run closures. Constraints are left out, and of
// several alternatives the first that exists is taken. Check deps close no
// cycle: a plan breaks them, running a suite with what is there.
//
// Every build cycle lies inside one strongly connected component of the
// graph of build, check, after and run edges between ports, one with a
// non-run edge inside; only those components are planned, so that a tree
// of 60,000 ports is not.
func (t *Tree) cycleProblems(provided map[string]bool) []Problem {
	names := t.Names()
	files := map[string]string{}
	run, build, check, after := map[string][]string{}, map[string][]string{}, map[string][]string{}, map[string][]string{}
	for _, name := range names {
		p := t.ports[name][0]
		files[name] = filepath.Join(p.Dir, FileName)
		run[name] = t.lintDeps(p, p.Depends.Run)
		build[name] = t.lintDeps(p, p.Depends.Build)
		check[name] = t.lintDeps(p, p.Depends.Check)
		for _, a := range p.Depends.After {
			if a != name && len(t.ports[a]) > 0 {
				after[name] = append(after[name], a)
			}
		}
	}
	candidates := candidateComponents(names, func(n string) [][]string {
		return [][]string{run[n], build[n], check[n], after[n]}
	})
	cycles := func() map[string]resolver.BuildCycle {
		u := resolver.NewMemUniverse()
		sol := &resolver.Solution{}
		for _, name := range names {
			if !candidates[name] {
				continue
			}
			p := t.ports[name][0]
			keep := func(list []string) []resolver.Dep {
				var deps []resolver.Dep
				for _, d := range list {
					if candidates[d] {
						deps = append(deps, resolver.Dep{{Name: d}})
					}
				}
				return deps
			}
			rp := &resolver.Package{Name: name, Version: p.Ver, Run: keep(run[name]), Build: keep(build[name])}
			rp.Check = keep(check[name])
			for _, a := range after[name] {
				if candidates[a] {
					rp.After = append(rp.After, a)
				}
			}
			u.Add(rp)
			sol.Selected = append(sol.Selected, resolver.Selected{Name: name, Version: p.Ver, Build: true})
		}
		out := map[string]resolver.BuildCycle{}
		_, err := resolver.Plan(u, sol, nil, resolver.Options{Provided: provided, Check: true})
		var ce *resolver.BuildCycleError
		if errors.As(err, &ce) {
			for _, c := range ce.Cycles {
				out[strings.Join(c.Members, " ")] = c
			}
		}
		return out
	}
	var probs []Problem
	report := func(c resolver.BuildCycle) {
		var named []string
		for _, m := range c.Members {
			named = append(named, m+" ("+files[m]+")")
		}
		msg := fmt.Sprintf("build cycle: %s each need another of them installed before they can be built (%s); give one of them a bootstrap port that builds without the others, or list one as provided",
			strings.Join(named, ", "), strings.Join(c.Edges, "; "))
		probs = append(probs, Problem{File: files[c.Members[0]], Message: msg})
	}
	if len(candidates) == 0 {
		return nil
	}
	found := cycles()
	for _, key := range sortedKeys(found) {
		report(found[key])
	}
	return probs
}

// candidateComponents marks the ports in a strongly connected component
// (Tarjan's algorithm over edge lists: run first, then the others) that
// has a non-run edge between two of its members.
func candidateComponents(names []string, edges func(string) [][]string) map[string]bool {
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	out := map[string]bool{}
	next := 0
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, list := range edges(v) {
			for _, w := range list {
				if _, seen := index[w]; !seen {
					strong(w)
					low[v] = min(low[v], low[w])
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
			}
		}
		if low[v] != index[v] {
			return
		}
		comp := map[string]bool{}
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp[w] = true
			if w == v {
				break
			}
		}
		for w := range comp {
			for _, list := range edges(w)[1:] {
				for _, x := range list {
					if comp[x] {
						for m := range comp {
							out[m] = true
						}
						return
					}
				}
			}
		}
	}
	for _, n := range names {
		if _, seen := index[n]; !seen {
			strong(n)
		}
	}
	return out
}

func sortedKeys(m map[string]resolver.BuildCycle) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lintDeps resolves each dependency to the port that would serve it: of
// its alternatives the first that exists, the real port before the
// provider with the smallest name; never p itself.
func (t *Tree) lintDeps(p *Port, list []string) []string {
	var out []string
	for _, d := range list {
		dep, _ := ParseDep(d)
		for _, term := range dep {
			if term.Name == p.Name {
				continue
			}
			if len(t.ports[term.Name]) > 0 {
				out = append(out, term.Name)
				break
			}
			if provs := t.provides[term.Name]; len(provs) > 0 {
				best := provs[0].Name
				for _, pr := range provs {
					best = min(best, pr.Name)
				}
				if best != p.Name {
					out = append(out, best)
				}
				break
			}
		}
	}
	return out
}
