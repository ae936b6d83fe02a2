package resolver

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	sat "github.com/crillab/gophersat/solver"
)

// randomCase is one small random universe with a request and a system.
type randomCase struct {
	u     *MemUniverse
	reqs  []Request
	opts  Options
	build map[string]bool // name@version -> NeedsBuild
	desc  []string        // a readable listing for failure messages
}

var (
	oracleVersions    = []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0", "3.0.0"}
	oracleConstraints = []string{"", "", "^1", ">=1.1.0", "<2", "=2.0.0", "!=1.0.0", "~1.1", "1.x || 3.x", ">1.0.0 <3"}
)

func genRandomCase(rng *rand.Rand) randomCase {
	npkg := 2 + rng.Intn(5)
	pkgNames := make([]string, npkg)
	for i := range pkgNames {
		pkgNames[i] = string(rune('a' + i))
	}
	// Targets include a virtual name and, rarely, a name nothing offers.
	targetName := func() string {
		switch r := rng.Intn(20); {
		case r == 0:
			return "missing"
		case r < 3:
			return "virt"
		default:
			return pkgNames[rng.Intn(npkg)]
		}
	}
	randTerm := func() Term {
		t := Term{Name: targetName()}
		if c := oracleConstraints[rng.Intn(len(oracleConstraints))]; c != "" {
			t.Constraint, _ = semver.NewConstraint(c)
		}
		return t
	}
	rc := randomCase{u: NewMemUniverse(), build: map[string]bool{}}
	rc.opts.Installed = map[string]*semver.Version{}
	rc.opts.Held = map[string]bool{}
	rc.opts.Upgrade = map[string]bool{}
	for _, name := range pkgNames {
		nver := 1 + rng.Intn(3)
		perm := rng.Perm(len(oracleVersions))[:nver]
		sort.Ints(perm)
		for _, vi := range perm {
			p := &Package{Name: name, Version: semver.MustParse(oracleVersions[vi])}
			for d := rng.Intn(3); d > 0; d-- {
				dep := Dep{randTerm()}
				if rng.Intn(4) == 0 {
					dep = append(dep, randTerm())
				}
				p.Run = append(p.Run, dep)
			}
			if rng.Intn(3) == 0 {
				p.Build = append(p.Build, Dep{randTerm()})
			}
			if rng.Intn(6) == 0 {
				pr := Provide{Name: "virt"}
				if rng.Intn(2) == 0 {
					pr.Version = semver.MustParse(oracleVersions[rng.Intn(len(oracleVersions))])
				}
				p.Provides = append(p.Provides, pr)
			}
			if rng.Intn(6) == 0 {
				p.Conflicts = append(p.Conflicts, randTerm())
			}
			rc.build[name+"@"+p.Version.String()] = rng.Intn(3) == 0
			rc.u.Add(p)
			rc.desc = append(rc.desc, describePackage(p))
		}
		if rng.Intn(4) == 0 {
			// Sometimes the installed version is no longer in the tree.
			rc.opts.Installed[name] = semver.MustParse(oracleVersions[rng.Intn(len(oracleVersions))])
			rc.opts.Held[name] = rng.Intn(3) == 0
			rc.opts.Upgrade[name] = rng.Intn(2) == 0
		}
	}
	for r := 1 + rng.Intn(2); r > 0; r-- {
		t := randTerm()
		rc.reqs = append(rc.reqs, Request{Name: t.Name, Constraint: t.Constraint})
	}
	rc.opts.NeedsBuild = func(name string, v *semver.Version) bool { return rc.build[name+"@"+v.String()] }
	for _, r := range rc.reqs {
		rc.desc = append(rc.desc, "request "+Term{Name: r.Name, Constraint: r.Constraint}.String())
	}
	for _, name := range pkgNames {
		if v := rc.opts.Installed[name]; v != nil {
			rc.desc = append(rc.desc, fmt.Sprintf("installed %s %s held=%v upgrade=%v", name, v, rc.opts.Held[name], rc.opts.Upgrade[name]))
		}
	}
	return rc
}

// genChainCase is a multi-version chain, the family that blew the solver
// up (issue 9): lib_i at k needs lib_{i+1} at k or more, the last lib
// needs lib0 below some version, and app needs every lib.
func genChainCase(rng *rand.Rand) randomCase {
	nlib, nver := 2+rng.Intn(4), 1+rng.Intn(4)
	rc := randomCase{u: NewMemUniverse(), build: map[string]bool{}}
	rc.opts.Installed = map[string]*semver.Version{}
	rc.opts.Held = map[string]bool{}
	rc.opts.Upgrade = map[string]bool{}
	lib := func(i int) string { return fmt.Sprintf("lib%d", i) }
	cons := func(s string) *semver.Constraints { c, _ := semver.NewConstraint(s); return c }
	app := &Package{Name: "app", Version: semver.MustParse("1.0.0")}
	for i := 0; i < nlib; i++ {
		app.Run = append(app.Run, Dep{{Name: lib(i)}})
		for k := 1; k <= nver; k++ {
			p := &Package{Name: lib(i), Version: semver.MustParse(fmt.Sprintf("%d.0.0", k))}
			if i+1 < nlib {
				p.Run = append(p.Run, Dep{{Name: lib(i + 1), Constraint: cons(fmt.Sprintf(">=%d.0.0", k))}})
			} else {
				p.Run = append(p.Run, Dep{{Name: lib(0), Constraint: cons(fmt.Sprintf("<%d.0.0", 1+rng.Intn(nver+1)))}})
			}
			rc.build[p.Name+"@"+p.Version.String()] = rng.Intn(3) == 0
			rc.u.Add(p)
			rc.desc = append(rc.desc, describePackage(p))
		}
		if rng.Intn(4) == 0 {
			rc.opts.Installed[lib(i)] = semver.MustParse(fmt.Sprintf("%d.0.0", 1+rng.Intn(nver)))
			rc.opts.Held[lib(i)] = rng.Intn(3) == 0
		}
	}
	rc.u.Add(app)
	rc.desc = append(rc.desc, describePackage(app))
	rc.reqs = []Request{{Name: "app"}}
	if rng.Intn(2) == 0 {
		c := fmt.Sprintf(">=%d.0.0", 1+rng.Intn(nver))
		rc.reqs = append(rc.reqs, Request{Name: lib(rng.Intn(nlib)), Constraint: cons(c)})
	}
	rc.opts.NeedsBuild = func(name string, v *semver.Version) bool { return rc.build[name+"@"+v.String()] }
	for _, r := range rc.reqs {
		rc.desc = append(rc.desc, "request "+Term{Name: r.Name, Constraint: r.Constraint}.String())
	}
	return rc
}

func describePackage(p *Package) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:", p.Name, p.Version)
	for _, d := range p.Run {
		b.WriteString(" " + depString(d) + ",")
	}
	for _, d := range p.Build {
		b.WriteString(" build " + depString(d) + ",")
	}
	for _, pr := range p.Provides {
		fmt.Fprintf(&b, " provides %s %v,", pr.Name, pr.Version)
	}
	for _, c := range p.Conflicts {
		b.WriteString(" conflicts " + c.String() + ",")
	}
	return b.String()
}

// satSolvable decides the case with an independent SAT encoding: one
// boolean per package version.
func satSolvable(t *testing.T, rc randomCase) bool {
	t.Helper()
	names := []string{}
	for name := range rc.u.byName {
		names = append(names, name)
	}
	sort.Strings(names)
	vars := map[string]int{} // name@version -> variable
	varName := []string{""}  // variable -> package name
	key := func(name string, v *semver.Version) string { return name + "@" + v.String() }
	var cnf [][]int
	for _, name := range names {
		var ids []int
		for _, p := range rc.u.byName[name] {
			vars[key(name, p.Version)] = len(vars) + 1
			varName = append(varName, name)
			ids = append(ids, len(vars))
		}
		for i := range ids {
			for j := i + 1; j < len(ids); j++ {
				cnf = append(cnf, []int{-ids[i], -ids[j]})
			}
		}
	}
	satisfiers := func(tm Term) []int {
		var out []int
		for _, p := range rc.u.byName[tm.Name] {
			if tm.Constraint == nil || tm.Constraint.Check(p.Version) {
				out = append(out, vars[key(p.Name, p.Version)])
			}
		}
		provs, _ := rc.u.Providers(tm.Name)
		for _, pr := range provs {
			// Debian's rule, restated independently of the solver.
			versioned := pr.Provide.Version != nil
			if tm.Constraint == nil || (versioned && tm.Constraint.Check(pr.Provide.Version)) {
				out = append(out, vars[key(pr.Name, pr.Version)])
			}
		}
		return out
	}
	clause := func(lits []int) []int { // drop duplicates
		seen := map[int]bool{}
		var out []int
		for _, l := range lits {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
		return out
	}
	for _, r := range rc.reqs {
		c := satisfiers(Term{Name: r.Name, Constraint: r.Constraint})
		if len(c) == 0 {
			return false
		}
		cnf = append(cnf, clause(c))
	}
	for _, name := range names {
		inst := rc.opts.Installed[name]
		for _, p := range rc.u.byName[name] {
			x := vars[key(name, p.Version)]
			deps := p.Run
			kept := inst != nil && inst.Equal(p.Version)
			if !kept && rc.build[key(name, p.Version)] {
				deps = append(append([]Dep(nil), p.Run...), p.Build...)
			}
			for _, d := range deps {
				lits := []int{-x}
				for _, tm := range d {
					lits = append(lits, satisfiers(tm)...)
				}
				cnf = append(cnf, clause(lits))
			}
			for _, c := range p.Conflicts {
				for _, y := range satisfiers(c) {
					if varName[y] != name {
						cnf = append(cnf, []int{-x, -y})
					}
				}
			}
			if rc.opts.Held[name] && inst != nil && !inst.Equal(p.Version) {
				cnf = append(cnf, []int{-x})
			}
		}
	}
	if len(cnf) == 0 {
		return true
	}
	return sat.New(sat.ParseSliceNb(cnf, len(vars))).Solve() == sat.Sat
}

// TestSolverAgreesWithSATOracle solves 10,000 random small universes (one
// in five a multi-version chain) and checks every answer: a solution must
// satisfy every constraint, and "unsatisfiable" must agree with gophersat.
func TestSolverAgreesWithSATOracle(t *testing.T) {
	const universes = 10000
	rng := rand.New(rand.NewSource(20240601))
	var solvable, unsat, chainSolvable, chainUnsat int
	for i := 0; i < universes; i++ {
		var rc randomCase
		chain := i%5 == 4
		if chain {
			rc = genChainCase(rng)
		} else {
			rc = genRandomCase(rng)
		}
		sol, err := Solve(rc.u, rc.reqs, rc.opts)
		var ue *UnsatError
		if err != nil && !errors.As(err, &ue) {
			t.Fatalf("universe %d: unexpected error %v\n%s", i, err, strings.Join(rc.desc, "\n"))
		}
		if i%20 == 0 {
			// The same input must give the same answer, word for word.
			sol2, err2 := Solve(rc.u, rc.reqs, rc.opts)
			if fmt.Sprint(err) != fmt.Sprint(err2) || (err == nil && solutionString(sol) != solutionString(sol2)) {
				t.Fatalf("universe %d: two runs differ:\n%v %v\n%v %v", i, sol, err, sol2, err2)
			}
		}
		want := satSolvable(t, rc)
		if (err == nil) != want {
			t.Fatalf("universe %d: solver says solvable=%v, SAT oracle says %v (solver: %v)\n%s",
				i, err == nil, want, err, strings.Join(rc.desc, "\n"))
		}
		if err != nil {
			unsat++
			if chain {
				chainUnsat++
			}
			if strings.TrimSpace(ue.Error()) == "" {
				t.Fatalf("universe %d: empty explanation", i)
			}
			continue
		}
		solvable++
		if chain {
			chainSolvable++
		}
		for _, sel := range sol.Selected {
			inst := rc.opts.Installed[sel.Name]
			wantBuild := rc.build[sel.Name+"@"+sel.Version.String()] && !(inst != nil && inst.Equal(sel.Version))
			if sel.Build != wantBuild {
				t.Fatalf("universe %d: %s %s Build=%v, want %v", i, sel.Name, sel.Version, sel.Build, wantBuild)
			}
		}
		if cerr := checkSolution(rc.u, rc.reqs, rc.opts, sol); cerr != nil {
			t.Fatalf("universe %d: invalid solution %s: %v\n%s", i, solutionString(sol), cerr, strings.Join(rc.desc, "\n"))
		}
		if perr := checkPlanOrder(rc.u, rc.reqs, rc.opts, sol); perr != nil {
			t.Fatalf("universe %d: %v\n%s", i, perr, strings.Join(rc.desc, "\n"))
		}
	}
	t.Logf("%d solvable, %d unsatisfiable (chains: %d and %d)", solvable, unsat, chainSolvable, chainUnsat)
	if solvable < universes/10 || unsat < universes/10 || chainSolvable < universes/50 || chainUnsat < universes/50 {
		t.Fatalf("generator is lopsided: %d solvable, %d unsatisfiable", solvable, unsat)
	}
}

// checkPlanOrder plans a solution and checks that every build comes after
// the installs of its build deps and of everything they need at run time,
// and every install after its own build. A build cycle is a valid answer.
func checkPlanOrder(u Universe, reqs []Request, opts Options, sol *Solution) error {
	steps, err := Plan(u, sol, reqs, opts)
	var ce *BuildCycleError
	if errors.As(err, &ce) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("plan: %v", err)
	}
	g, err := newSolutionGraph(u, sol, opts)
	if err != nil {
		return err
	}
	installed, built := map[string]int{}, map[string]int{}
	for i, st := range steps {
		if st.Action == "build" {
			built[st.Name] = i
		} else {
			installed[st.Name] = i
		}
	}
	for i, sel := range sol.Selected {
		b, ok := built[sel.Name]
		if !ok {
			continue
		}
		if in, ok := installed[sel.Name]; ok && in < b {
			return fmt.Errorf("plan installs %s before building it:\n%s", sel.Name, stepsString(steps))
		}
		// A package with no install step is in place: what the installed
		// system satisfies of its run deps needs no wait.
		// A package builds with its own installed version (binutils).
		need := map[string]bool{}
		var queue []string
		for _, d := range g.buildDeps[i] {
			if d != sel.Name || opts.Installed[d] == nil {
				queue = append(queue, d)
			}
		}
		for len(queue) > 0 {
			d := queue[0]
			queue = queue[1:]
			if need[d] {
				continue
			}
			need[d] = true
			_, changing := installed[d]
			for j, r := range g.runDeps[g.chosen[d]] {
				if changing || !g.runHeld[g.chosen[d]][j] {
					queue = append(queue, r)
				}
			}
		}
		for d := range need {
			if in, ok := installed[d]; ok && in > b {
				return fmt.Errorf("plan builds %s before %s, which it needs, is installed:\n%s", sel.Name, d, stepsString(steps))
			}
		}
	}
	return nil
}
