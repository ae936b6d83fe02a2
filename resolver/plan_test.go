package resolver

import (
	"errors"
	"strings"
	"testing"
)

func stepsString(steps []Step) string {
	var lines []string
	for _, s := range steps {
		old := "-"
		if s.Old != nil {
			old = s.Old.String()
		}
		lines = append(lines, s.Action+" "+s.Name+" "+old+" -> "+s.New.String()+" ("+s.Reason+")")
	}
	return strings.Join(lines, "\n")
}

func TestPlan(t *testing.T) {
	cases := []struct {
		name      string
		c         solveCase
		keepSteps bool
		want      string
		wantCycle string
	}{
		{
			name: "dependencies are installed first and ties go by name",
			c: solveCase{
				universe: `
					app 1.0.0: zlib, libfoo ^1
					libfoo 1.2.0: zlib
					zlib 1.3.0`,
				request: "app",
			},
			want: `install zlib - -> 1.3.0 (run dep of app)
install libfoo - -> 1.2.0 (run dep of app)
install app - -> 1.0.0 (explicit)`,
		},
		{
			name: "a built package waits for its build and run deps and is installed after its build",
			c: solveCase{
				universe: `
					app 1.0.0: libfoo; build: cmake
					libfoo 1.0.0
					cmake 3.30.0: libfoo`,
				request: "app",
				build:   "app",
			},
			want: `install libfoo - -> 1.0.0 (run dep of app)
install cmake - -> 3.30.0 (build dep of app)
build app - -> 1.0.0 (explicit)
install app - -> 1.0.0 (explicit)`,
		},
		{
			name: "installed packages at the chosen version produce no step, and upgrades say so",
			c: solveCase{
				universe: `
					app 2.0.0: zlib >=1.3
					zlib 1.2.0
					zlib 1.3.0
					app 1.0.0: zlib`,
				request:   "app ^2",
				installed: "app 1.0.0, zlib 1.3.0",
			},
			want: `upgrade app 1.0.0 -> 2.0.0 (explicit)`,
		},
		{
			name: "keep steps are listed on request",
			c: solveCase{
				universe: `
					app 2.0.0: zlib >=1.3
					zlib 1.3.0`,
				request:   "app",
				installed: "zlib 1.3.0",
			},
			keepSteps: true,
			want: `keep zlib 1.3.0 -> 1.3.0 (run dep of app)
install app - -> 2.0.0 (explicit)`,
		},
		{
			name: "a downgrade is named as one",
			c: solveCase{
				universe: `
					zlib 1.2.0
					zlib 1.3.0`,
				request:   "zlib <1.3",
				installed: "zlib 1.3.0",
			},
			want: `downgrade zlib 1.3.0 -> 1.2.0 (explicit)`,
		},
		{
			name: "a runtime cycle is broken by name",
			c: solveCase{
				universe: `
					perl 5.40.0: perl-xml
					perl-xml 2.0.0: perl
					app 1.0.0: perl-xml`,
				request: "app",
			},
			want: `install perl - -> 5.40.0 (run dep of perl-xml)
install perl-xml - -> 2.0.0 (run dep of app)
install app - -> 1.0.0 (explicit)`,
		},
		{
			name: "a runtime cycle between two built packages is not a build cycle",
			c: solveCase{
				universe: `
					a 1.0.0: b
					b 1.0.0: a`,
				request: "a",
				build:   "*",
			},
			want: `build a - -> 1.0.0 (explicit)
install a - -> 1.0.0 (explicit)
build b - -> 1.0.0 (run dep of a)
install b - -> 1.0.0 (run dep of a)`,
		},
		{
			name: "a build cycle names every member",
			c: solveCase{
				universe: `
					gcc 14.2.0; build: glibc
					glibc 2.40.0; build: gcc, binutils
					binutils 2.43.0; build: gcc`,
				request: "gcc",
				build:   "*",
			},
			wantCycle: "build cycle: binutils, gcc, glibc each need another of them installed before they can be built; give one of them a bootstrap port that builds without the others",
		},
		{
			name: "a bootstrap port breaks the toolchain cycle",
			c: solveCase{
				universe: `
					gcc 14.2.0; build: glibc, binutils
					glibc 2.40.0; build: gcc-pass1, binutils
					gcc-pass1 14.2.0; build: binutils
					binutils 2.43.0`,
				request:   "gcc",
				build:     "gcc, glibc, gcc-pass1",
				installed: "binutils 2.43.0",
			},
			want: `build gcc-pass1 - -> 14.2.0 (build dep of glibc)
install gcc-pass1 - -> 14.2.0 (build dep of glibc)
build glibc - -> 2.40.0 (build dep of gcc)
install glibc - -> 2.40.0 (build dep of gcc)
build gcc - -> 14.2.0 (explicit)
install gcc - -> 14.2.0 (explicit)`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := parseUniverse(t, tc.c.universe)
			reqs := parseRequests(t, tc.c.request)
			opts := tc.c.options(t)
			opts.KeepSteps = tc.keepSteps
			sol, err := Solve(u, reqs, opts)
			if err != nil {
				t.Fatalf("Solve: %v", err)
			}
			steps, err := Plan(u, sol, reqs, opts)
			if tc.wantCycle != "" {
				var ce *BuildCycleError
				if !errors.As(err, &ce) {
					t.Fatalf("want a *BuildCycleError, got steps\n%s\nerror %v", stepsString(steps), err)
				}
				if err.Error() != tc.wantCycle {
					t.Fatalf("error %q, want %q", err, tc.wantCycle)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if got := stepsString(steps); got != tc.want {
				t.Fatalf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestWhyFollowsTheFirstPathFromARequest(t *testing.T) {
	u := parseUniverse(t, `
		app 1.0.0: libfoo, tool; build: cmake
		libfoo 1.2.0: zlib
		tool 1.0.0: zlib
		zlib 1.3.0
		cmake 3.30.0: zlib
		other 1.0.0`)
	reqs := parseRequests(t, "app")
	opts := solveCase{build: "app"}.options(t)
	sol, err := Solve(u, reqs, opts)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want, wantErr string
	}{
		{"zlib", "app 1.0.0 (explicit) -> libfoo 1.2.0 (run dep of app) -> zlib 1.3.0 (run dep of libfoo)", ""},
		{"cmake", "app 1.0.0 (explicit) -> cmake 3.30.0 (build dep of app)", ""},
		{"app", "app 1.0.0 (explicit)", ""},
		{"other", "", "other is not part of the solution"},
	}
	for _, c := range cases {
		chain, err := Why(u, sol, reqs, c.name)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("Why(%s): error %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Why(%s): %v", c.name, err)
		}
		var parts []string
		for _, l := range chain {
			parts = append(parts, l.Name+" "+l.Version.String()+" ("+l.Reason+")")
		}
		if got := strings.Join(parts, " -> "); got != c.want {
			t.Errorf("Why(%s) = %q, want %q", c.name, got, c.want)
		}
	}
}
