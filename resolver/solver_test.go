package resolver

import (
	"errors"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

type solveCase struct {
	name      string
	universe  string
	request   string
	installed string // "name version, ..."
	held      string // "name, ..."
	upgrade   string // "name, ..." or "*" for all
	build     string // names that NeedsBuild, or "*" for all
	check     bool   // builds run their check phase
	provided  string // "name version, ...": the system supplies these
	want      string // solutionString, when solvable
	wantErr   string // the full explanation, when not
}

func names(s string) map[string]bool {
	out := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out[n] = true
		}
	}
	return out
}

func (c solveCase) options(t *testing.T) Options {
	opts := Options{Installed: parseVersions(t, c.installed), Held: names(c.held)}
	if c.upgrade == "*" {
		opts.UpgradeAll = true
	} else {
		opts.Upgrade = names(c.upgrade)
	}
	opts.Check = c.check
	if c.provided != "" {
		opts.Provided = map[string]bool{}
		requested := map[string]bool{}
		for _, r := range parseRequests(t, c.request) {
			requested[r.Name] = true
		}
		// As the command line does: a provided package the user asks
		// for is installed from its port, so it is not "installed".
		for name, v := range parseVersions(t, c.provided) {
			opts.Provided[name] = true
			if opts.Installed[name] == nil && !requested[name] {
				opts.Installed[name] = v
			}
		}
	}
	if c.build != "" {
		b := names(c.build)
		opts.NeedsBuild = func(name string, _ *semver.Version) bool { return b["*"] || b[name] }
	}
	return opts
}

func runSolveCases(t *testing.T, cases []solveCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := parseUniverse(t, c.universe)
			reqs := parseRequests(t, c.request)
			opts := c.options(t)
			sol, err := Solve(u, reqs, opts)
			if c.wantErr != "" {
				var ue *UnsatError
				if !errors.As(err, &ue) {
					t.Fatalf("want an *UnsatError, got solution %v, error %v", sol, err)
				}
				want := strings.TrimPrefix(c.wantErr, "\n")
				if got := ue.Explanation; got != want {
					t.Fatalf("explanation:\n%s\n\nwant:\n%s", got, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Solve: %v", err)
			}
			if got := solutionString(sol); got != c.want {
				t.Fatalf("solution %q, want %q", got, c.want)
			}
			if err := checkSolution(u, reqs, opts, sol); err != nil {
				t.Fatalf("solution is invalid: %v", err)
			}
		})
	}
}

// The examples of Dart pub's doc/solver.md. Pub's root package is the
// user's request here.
func TestClassicPubGrubExamples(t *testing.T) {
	runSolveCases(t, []solveCase{
		{
			name: "no conflict picks the newest matching versions",
			universe: `
				foo 1.0.0: bar ^1.0.0
				bar 1.0.0
				bar 2.0.0`,
			request: "foo ^1.0.0",
			want:    "bar 1.0.0, foo 1.0.0",
		},
		{
			name: "decision making avoids a version that would conflict",
			universe: `
				foo 1.0.0
				foo 1.1.0: bar ^2.0.0
				bar 1.0.0
				bar 1.1.0
				bar 2.0.0`,
			request: "foo ^1.0.0, bar ^1.0.0",
			want:    "bar 1.1.0, foo 1.0.0",
		},
		{
			name: "conflict resolution backjumps past a bad decision",
			universe: `
				foo 1.0.0
				foo 2.0.0: bar ^1.0.0
				bar 1.0.0: foo ^1.0.0`,
			request: "foo >=1.0.0",
			want:    "foo 1.0.0",
		},
		{
			name: "conflict resolution with a partial satisfier",
			universe: `
				foo 1.0.0
				foo 1.1.0: left ^1.0.0, right ^1.0.0
				left 1.0.0: shared >=1.0.0
				right 1.0.0: shared <2.0.0
				shared 2.0.0
				shared 1.0.0: target ^1.0.0
				target 2.0.0
				target 1.0.0`,
			request: "foo ^1.0.0, target ^2.0.0",
			want:    "foo 1.0.0, target 2.0.0",
		},
		{
			name: "linear error reporting",
			universe: `
				foo 1.0.0: bar ^2.0.0
				bar 2.0.0: baz ^3.0.0
				baz 1.0.0
				baz 3.0.0`,
			request: "foo ^1.0.0, baz ^1.0.0",
			wantErr: `
Because foo 1.0.0 depends on bar ^2.0.0 which depends on baz ^3.0.0, foo 1.0.0 requires baz ^3.0.0.
So, because you asked for both foo ^1.0.0 and baz ^1.0.0, your request cannot be satisfied.`,
		},
		{
			name: "branching error reporting",
			universe: `
				foo 1.0.0: a ^1.0.0, b ^1.0.0
				foo 1.1.0: x ^1.0.0, y ^1.0.0
				a 1.0.0: b ^2.0.0
				b 1.0.0
				b 2.0.0
				x 1.0.0: y ^2.0.0
				y 1.0.0
				y 2.0.0`,
			request: "foo ^1.0.0",
			wantErr: `
    Because foo 1.0.0 depends on a ^1.0.0 which depends on b ^2.0.0, foo 1.0.0 requires b ^2.0.0.
(1) So, because foo 1.0.0 depends on b ^1.0.0, foo 1.0.0 is forbidden.

    Because foo 1.1.0 depends on x ^1.0.0 which depends on y ^2.0.0, foo 1.1.0 requires y ^2.0.0.
    And because foo 1.1.0 depends on y ^1.0.0, foo 1.1.0 is forbidden.
    And because foo 1.0.0 is forbidden (1), every version of foo is forbidden.
    So, because you asked for foo ^1.0.0, your request cannot be satisfied.`,
		},
	})
}
