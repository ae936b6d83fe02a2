package resolver

import (
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// chainCase is a multi-version chain: lib_i at version v depends on
// lib_{i+1} under a constraint built from v, and the last lib depends on
// lib0. With "<2" for the last link and ">=v" for the others it is the
// version chain of cmd/lpm-solvebench, where newest-first choices fail
// at the end of the chain.
func chainCase(libs, versions int, link func(i, v int) string, last func(v int) string, reqs ...string) randomCase {
	rc := randomCase{u: NewMemUniverse(), build: map[string]bool{}}
	app := &Package{Name: "app", Version: semver.MustParse("1.0.0")}
	for i := 0; i < libs; i++ {
		name := "lib" + strconv.Itoa(i)
		app.Run = append(app.Run, Dep{{Name: name}})
		for v := 1; v <= versions; v++ {
			p := &Package{Name: name, Version: semver.MustParse(strconv.Itoa(v) + ".0.0")}
			dep := Term{Name: "lib" + strconv.Itoa(i+1)}
			c := ""
			if i+1 < libs {
				c = link(i, v)
			} else {
				dep.Name = "lib0"
				c = last(v)
			}
			if c != "" {
				dep.Constraint = mustConstraint(c)
			}
			p.Run = []Dep{{dep}}
			rc.u.Add(p)
			rc.desc = append(rc.desc, describePackage(p))
		}
	}
	rc.u.Add(app)
	rc.desc = append(rc.desc, describePackage(app))
	rc.reqs = []Request{{Name: "app"}}
	for _, r := range reqs {
		f := strings.Fields(r)
		rc.reqs = append(rc.reqs, Request{Name: f[0], Constraint: mustConstraint(strings.Join(f[1:], " "))})
		rc.desc = append(rc.desc, "request "+r)
	}
	return rc
}

func mustConstraint(s string) *semver.Constraints {
	c, err := semver.NewConstraint(s)
	if err != nil {
		panic(err)
	}
	return c
}

func atLeast(_, v int) string { return ">=" + strconv.Itoa(v) }
func belowTwo(int) string     { return "<2" }

func TestVersionChainKeepsTheNewestVersionsTheLastLinkAllows(t *testing.T) {
	rc := chainCase(4, 6, atLeast, belowTwo)
	sol, err := Solve(rc.u, rc.reqs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := solutionString(sol), "app 1.0.0, lib0 1.0.0, lib1 6.0.0, lib2 6.0.0, lib3 6.0.0"; got != want {
		t.Fatalf("solution %q, want %q", got, want)
	}
}

// The last lib's dependency is the same at every version, so it is
// learned once for all of them: the proof is a few lines however many
// versions there are, instead of one conflict per version of every lib.
func TestVersionChainConflictIsExplainedForEveryVersionAtOnce(t *testing.T) {
	rc := chainCase(3, 20, atLeast, belowTwo, "lib0 >=2")
	_, err := Solve(rc.u, rc.reqs, Options{})
	var ue *UnsatError
	if !errors.As(err, &ue) {
		t.Fatalf("want an *UnsatError, got %v", err)
	}
	want := `Because app 1.0.0 depends on lib2 which depends on lib0 <2, app 1.0.0 requires lib0 <2.
So, because you asked for both app and lib0 >=2, your request cannot be satisfied.`
	// The proof, whatever advice follows it.
	if got := ue.Error(); !strings.HasPrefix(got, want+"\n") && got != want {
		t.Fatalf("explanation:\n%s\n\nwant it to begin:\n%s", got, want)
	}
}

// Version chains with random links, some broken, checked against the SAT
// oracle like TestSolverAgreesWithSATOracle: there, a package has at most
// three versions; here, up to eight versions a lib, with runs of versions
// sharing a dependency and runs that do not.
func TestSolverAgreesWithSATOracleOnVersionChains(t *testing.T) {
	const universes = 2000
	rng := rand.New(rand.NewSource(20261201))
	shapes := []string{">=%d", ">%d", "<=%d", "=%d", "<%d", "", "!=%d", "^%d"}
	var solvable, unsat int
	for i := 0; i < universes; i++ {
		libs, versions := 2+rng.Intn(4), 1+rng.Intn(8)
		constraint := func(v int) string {
			sh := shapes[rng.Intn(len(shapes))]
			if !strings.Contains(sh, "%") {
				return sh
			}
			// Runs of versions often share one constraint.
			if rng.Intn(2) == 0 {
				v = 1 + rng.Intn(versions)
			}
			return fmt.Sprintf(sh, v)
		}
		shared := constraint(1)
		last := func(v int) string {
			if rng.Intn(3) > 0 {
				return shared
			}
			return constraint(v)
		}
		var reqs []string
		if rng.Intn(3) == 0 {
			reqs = append(reqs, fmt.Sprintf("lib%d >=%d", rng.Intn(libs), 1+rng.Intn(versions)))
		}
		rc := chainCase(libs, versions, func(_, v int) string { return constraint(v) }, last, reqs...)
		sol, err := Solve(rc.u, rc.reqs, rc.opts)
		var ue *UnsatError
		if err != nil && !errors.As(err, &ue) {
			t.Fatalf("universe %d: unexpected error %v\n%s", i, err, strings.Join(rc.desc, "\n"))
		}
		want := satSolvable(t, rc)
		if (err == nil) != want {
			t.Fatalf("universe %d: solver says solvable=%v, SAT oracle says %v (solver: %v)\n%s",
				i, err == nil, want, err, strings.Join(rc.desc, "\n"))
		}
		if err != nil {
			unsat++
			continue
		}
		solvable++
		if cerr := checkSolution(rc.u, rc.reqs, rc.opts, sol); cerr != nil {
			t.Fatalf("universe %d: invalid solution %s: %v\n%s", i, solutionString(sol), cerr, strings.Join(rc.desc, "\n"))
		}
	}
	t.Logf("%d solvable, %d unsatisfiable", solvable, unsat)
	if solvable < universes/10 || unsat < universes/10 {
		t.Fatalf("generator is lopsided: %d solvable, %d unsatisfiable", solvable, unsat)
	}
}
