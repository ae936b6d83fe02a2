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
			wantCycle: "build cycle: binutils, gcc, glibc each need another of them installed before they can be built (binutils builds with gcc; gcc builds with glibc; glibc builds with binutils; and 1 more wait among them); give one of them a bootstrap port that builds without the others, or list one as provided",
		},
		{
			name: "every build cycle is reported, with its waits, and the first line says how many",
			c: solveCase{
				universe: `
					app 1.0.0: a, x
					a 1.0.0; build: b
					b 1.0.0; build: a
					x 1.0.0; build: tool
					tool 1.0.0: x`,
				request: "app",
				build:   "*",
			},
			wantCycle: `build cycle 1 of 2: a, b each need another of them installed before they can be built (a builds with b; b builds with a); give one of them a bootstrap port that builds without the others, or list one as provided
build cycle 2 of 2: x needs itself installed before it can be built (x builds with tool, which needs x at run time); give it a bootstrap port, or list it as provided`,
		},
		{
			name: "a build waits for the whole runtime closure of its build dependency, across a runtime cycle",
			c: solveCase{
				universe: `
					a0 1.0.0; build: a
					a 1.0.0: b
					b 1.0.0: a`,
				request: "a0",
				build:   "*",
			},
			want: `build a - -> 1.0.0 (build dep of a0)
install a - -> 1.0.0 (build dep of a0)
build b - -> 1.0.0 (run dep of a)
install b - -> 1.0.0 (run dep of a)
build a0 - -> 1.0.0 (explicit)
install a0 - -> 1.0.0 (explicit)`,
		},
		{
			name: "a port built with gcc waits for gmp, mpfr and mpc, which gcc needs at run time",
			c: solveCase{
				universe: `
					bc 7.0.3; build: gcc, make
					gcc 14.2.0: mpc, glibc
					mpc 1.3.1: gmp, mpfr
					mpfr 4.2.1: gmp
					gmp 6.3.0: gcc
					glibc 2.41.0
					make 4.4.1: glibc`,
				request:   "bc",
				build:     "bc, gcc, gmp, mpfr, mpc",
				installed: "glibc 2.41.0, make 4.4.1",
			},
			want: `build gcc - -> 14.2.0 (build dep of bc)
install gcc - -> 14.2.0 (build dep of bc)
build gmp - -> 6.3.0 (run dep of mpc)
install gmp - -> 6.3.0 (run dep of mpc)
build mpfr - -> 4.2.1 (run dep of mpc)
install mpfr - -> 4.2.1 (run dep of mpc)
build mpc - -> 1.3.1 (run dep of gcc)
install mpc - -> 1.3.1 (run dep of gcc)
build bc - -> 7.0.3 (explicit)
install bc - -> 7.0.3 (explicit)`,
		},
		{
			name: "a port that builds with itself is built by its installed version",
			c: solveCase{
				universe: `
					binutils 2.43.0
					binutils 2.44.0; build: binutils`,
				request:   "binutils >=2.44",
				installed: "binutils 2.43.0",
				build:     "*",
			},
			want: `build binutils 2.43.0 -> 2.44.0 (explicit)
upgrade binutils 2.43.0 -> 2.44.0 (explicit)`,
		},
		{
			name: "a port that builds with itself and is not installed is a cycle",
			c: solveCase{
				universe: `
					binutils 2.44.0; build: binutils`,
				request: "binutils",
				build:   "*",
			},
			wantCycle: "build cycle: binutils needs itself installed before it can be built (binutils builds with binutils); give it a bootstrap port, or list it as provided",
		},
		{
			name: "check dependencies join a build only when checks run",
			c: solveCase{
				universe: `
					app 1.0.0; build: make; check: dejagnu
					make 4.4.1
					dejagnu 1.6.3`,
				request: "app",
				build:   "app",
				check:   true,
			},
			want: `install dejagnu - -> 1.6.3 (check dep of app)
install make - -> 4.4.1 (build dep of app)
build app - -> 1.0.0 (explicit)
install app - -> 1.0.0 (explicit)`,
		},
		{
			// autoconf's tests want automake, and automake builds with
			// autoconf: the book runs autoconf's suite with what is there.
			name: "a cycle closed only by check dependencies is broken at them",
			c: solveCase{
				universe: `
					autoconf 2.72; build: m4; check: automake
					automake 1.17; build: autoconf
					m4 1.4.19`,
				request: "autoconf, automake",
				build:   "*",
				check:   true,
			},
			want: `build m4 - -> 1.4.19 (build dep of autoconf)
install m4 - -> 1.4.19 (build dep of autoconf)
build autoconf - -> 2.72.0 (explicit)
install autoconf - -> 2.72.0 (explicit)
build automake - -> 1.17.0 (explicit)
install automake - -> 1.17.0 (explicit)`,
		},
		{
			name: "check dependencies are ignored when checks do not run",
			c: solveCase{
				universe: `
					app 1.0.0; build: make; check: dejagnu
					make 4.4.1
					dejagnu 1.6.3`,
				request: "app",
				build:   "app",
			},
			want: `install make - -> 4.4.1 (build dep of app)
build app - -> 1.0.0 (explicit)
install app - -> 1.0.0 (explicit)`,
		},
		{
			name: "after orders two ports of one plan: the listed one is installed before the build",
			c: solveCase{
				universe: `
					aa 1.0.0; after: zz
					zz 1.0.0`,
				request: "aa, zz",
				build:   "*",
			},
			want: `build zz - -> 1.0.0 (explicit)
install zz - -> 1.0.0 (explicit)
build aa - -> 1.0.0 (explicit)
install aa - -> 1.0.0 (explicit)`,
		},
		{
			name: "after pulls nothing in",
			c: solveCase{
				universe: `
					aa 1.0.0; after: zz
					zz 1.0.0`,
				request: "aa",
				build:   "*",
			},
			want: `build aa - -> 1.0.0 (explicit)
install aa - -> 1.0.0 (explicit)`,
		},
		{
			name: "after orders an install that needs no build",
			c: solveCase{
				universe: `
					aa 1.0.0; after: zz
					zz 1.0.0`,
				request: "aa, zz",
			},
			want: `install zz - -> 1.0.0 (explicit)
install aa - -> 1.0.0 (explicit)`,
		},
		{
			name: "a provided build dependency serves the build, even while the plan installs that port",
			c: solveCase{
				universe: `
					bc 7.0.3; build: gcc
					gcc 14.2.0: zlib
					zlib 1.3.1`,
				request:  "bc, gcc",
				build:    "*",
				provided: "gcc 14.1.0",
			},
			want: `build bc - -> 7.0.3 (explicit)
install bc - -> 7.0.3 (explicit)
build zlib - -> 1.3.1 (run dep of gcc)
install zlib - -> 1.3.1 (run dep of gcc)
build gcc - -> 14.2.0 (explicit)
install gcc - -> 14.2.0 (explicit)`,
		},
		{
			name: "a provided package satisfies dependencies and is neither built nor installed",
			c: solveCase{
				universe: `
					bc 7.0.3: glibc; build: gcc
					gcc 14.2.0
					glibc 2.41.0`,
				request:  "bc",
				build:    "*",
				provided: "gcc 14.2.0, glibc 2.41.0",
			},
			want: `provided gcc 14.2.0 -> 14.2.0 (build dep of bc, provided by the system)
provided glibc 2.41.0 -> 2.41.0 (run dep of bc, provided by the system)
build bc - -> 7.0.3 (explicit)
install bc - -> 7.0.3 (explicit)`,
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

func TestPlanUpgradesABuildDependencyOfAnInstalledTool(t *testing.T) {
	// make needs bash at run time and is installed; bash builds with make.
	// Upgrading bash is no cycle: the installed make, with the installed
	// bash, serves the build.
	u := parseUniverse(t, `
		bash 5.2.0
		bash 5.3.0; build: make
		make 4.4.1: bash`)
	reqs := parseRequests(t, "bash")
	opts := solveCase{installed: "bash 5.2.0, make 4.4.1", upgrade: "bash", build: "bash"}.options(t)
	reqs = append(reqs, Request{Name: "make", Installed: true})
	sol, err := Solve(u, reqs, opts)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := Plan(u, sol, reqs, opts)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	want := `build bash 5.2.0 -> 5.3.0 (explicit)
upgrade bash 5.2.0 -> 5.3.0 (explicit)`
	if got := stepsString(steps); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
}

// waitsString shows each step with the steps it waits for, by name.
func waitsString(steps []Step) string {
	var lines []string
	for _, s := range steps {
		var names []string
		for _, w := range s.Waits {
			names = append(names, steps[w].Action+" "+steps[w].Name)
		}
		lines = append(lines, s.Action+" "+s.Name+" <- "+strings.Join(names, ", "))
	}
	return strings.Join(lines, "\n")
}

func TestPlanStepsNameTheEarlierStepsTheyWaitFor(t *testing.T) {
	u := parseUniverse(t, `
		hello 1.0.0: libgreet ^1; build: libgreet ^1, mkbanner
		libgreet 1.1.0
		mkbanner 0.3.0
		other 1.0.0`)
	reqs := parseRequests(t, "hello, other")
	opts := solveCase{build: "*"}.options(t)
	sol, err := Solve(u, reqs, opts)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := Plan(u, sol, reqs, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The builds of libgreet, mkbanner and other wait for nothing, so they
	// may run at once; hello's build waits for the installs it builds with.
	want := `build libgreet <- 
install libgreet <- build libgreet
build mkbanner <- 
install mkbanner <- build mkbanner
build hello <- install libgreet, install mkbanner
install hello <- install libgreet, build hello
build other <- 
install other <- build other`
	if got := waitsString(steps); got != want {
		t.Fatalf("waits:\n%s\nwant:\n%s", got, want)
	}
}
