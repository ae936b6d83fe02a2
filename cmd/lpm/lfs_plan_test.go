package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// lfsTable reads one of the book's tables (shared/lfs-12.3 beside the
// repository or one of its parents; see ports/lfs_test.go) as one map per
// row, or skips the test when the tables are not here.
func lfsTable(t *testing.T, name string) []map[string]string {
	t.Helper()
	var file string
	for d := repo(t); ; d = filepath.Dir(d) {
		f := filepath.Join(filepath.Dir(d), "shared", "lfs-12.3", name)
		if _, err := os.Stat(f); err == nil {
			file = f
			break
		}
		if d == filepath.Dir(d) {
			t.Skipf("the LFS 12.3 tables are not here: put shared/lfs-12.3 beside the repository (%s)", filepath.Join(filepath.Dir(repo(t)), "shared", "lfs-12.3"))
		}
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, col := range rows[0] {
			if i < len(row) {
				m[col] = row[i]
			}
		}
		out = append(out, m)
	}
	return out
}

// TestLFSChapter8PlanFollowsAppendixC asks, on an empty root with the
// shipped chroot profile, for every chapter-8 port of the SysV book at once,
// and checks the plan's order against the book: whatever a package's build
// needs (Appendix C "Installation depends on") and whatever "Must be
// installed before" it is installed before that package is built, unless
// the temporary tools of chapters 5 to 7 provide it.
//
// It plans twice: with the profile's tests off, and with them on, when
// every "Test suite depends on" package is in the plan too. Those lists
// close cycles (autoconf's tests need automake, which needs autoconf), which
// lpm breaks as the book does: a suite runs with what is installed by then.
func TestLFSChapter8PlanFollowsAppendixC(t *testing.T) {
	pkgs := lfsTable(t, "packages.tsv")
	profile := filepath.Join(repo(t), "config/lfs/chroot.toml")

	// The profile's provided list is the book's temporary tools.
	var conf struct {
		Provided []string `toml:"provided"`
	}
	text, err := os.ReadFile(profile)
	if err == nil {
		err = toml.Unmarshal(text, &conf)
	}
	if err != nil {
		t.Fatalf("%s: %v", profile, err)
	}
	want := []string{"linux-api-headers=6.13.4"}
	var chapter8 []string
	for _, p := range pkgs {
		if p["temp_builds"] != "" {
			want = append(want, p["name"]+"="+p["version"])
		}
		if p["chapter8_order"] != "" {
			chapter8 = append(chapter8, p["name"])
		}
	}
	sort.Strings(want)
	got := slices.Clone(conf.Provided)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: provided = %v\nwant the chapter 5-7 temporary tools and the API headers: %v", profile, got, want)
	}
	provided := map[string]bool{}
	for _, p := range conf.Provided {
		name, _, _ := strings.Cut(p, "=")
		provided[name] = true
	}

	for _, check := range []string{"false", "true"} {
		t.Run("check="+check, func(t *testing.T) {
			t.Setenv("LPM_BUILD_CHECK", check)
			r := shippedRoot(t)
			var plan []stepResult
			r.jsonOut(&plan, append([]string{"--config", profile, "install", "--dry-run"}, chapter8...)...)

			built, installed := map[string]int{}, map[string]int{}
			for i, s := range plan {
				switch s.Action {
				case "build":
					built[s.Port] = i
				case "install":
					installed[s.Port] = i
				}
			}
			for _, name := range chapter8 {
				if _, ok := installed[name]; !ok {
					t.Errorf("the plan does not install %s (asked for by name, provided or not)", name)
				}
				if _, ok := built[name]; !ok {
					t.Errorf("the plan does not build %s", name)
				}
			}
			if len(installed) != len(chapter8) {
				t.Errorf("the plan installs %d packages, want the %d of chapter 8", len(installed), len(chapter8))
			}

			checked := 0
			for _, e := range lfsTable(t, "dependencies.tsv") {
				if e["scope"] != "lfs" || e["variant"] == "systemd" {
					continue
				}
				// first must be installed before then is built.
				var first, then string
				switch e["kind"] {
				case "install":
					first, then = e["depends_on"], e["package"]
				case "before":
					first, then = e["package"], e["depends_on"]
				default:
					continue
				}
				b, inPlan := built[then]
				if !inPlan || provided[first] {
					continue
				}
				checked++
				switch i, ok := installed[first]; {
				case !ok:
					t.Errorf("Appendix C: %s %s %s, but the plan builds %s and never installs %s", e["package"], e["kind"], e["depends_on"], then, first)
				case i > b:
					t.Errorf("Appendix C: %s %s %s, but the plan builds %s (step %d) before it installs %s (step %d)", e["package"], e["kind"], e["depends_on"], then, b+1, first, i+1)
				}
			}
			t.Logf("%d steps; %d Appendix C edges checked (the others are on provided packages)", len(plan), checked)
			if checked < 100 {
				t.Errorf("only %d Appendix C edges were checked; the plan or the tables are not what this test expects", checked)
			}

			if check == "true" {
				for _, e := range lfsTable(t, "dependencies.tsv") {
					if e["scope"] != "lfs" || e["variant"] == "systemd" || e["kind"] != "test" || provided[e["depends_on"]] {
						continue
					}
					_, asked := built[e["package"]]
					if _, ok := installed[e["depends_on"]]; asked && !ok {
						t.Errorf("with checks on, %s's test suite needs %s, which the plan never installs", e["package"], e["depends_on"])
					}
				}
			}
		})
	}
}

// TestLFSCriticalTestSuitesPlanInTheChroot: the test suites the book calls
// critical (glibc, binutils, gmp, mpfr) can run in the chroot, as the
// profile says: with checks on, each plans without a cycle and waits for
// what its tests need.
func TestLFSCriticalTestSuitesPlanInTheChroot(t *testing.T) {
	lfsTable(t, "packages.tsv") // skip where the book's tables are not
	profile := filepath.Join(repo(t), "config/lfs/chroot.toml")
	r := shippedRoot(t)
	t.Setenv("LPM_BUILD_CHECK", "true")
	var plan []stepResult
	r.jsonOut(&plan, "--config", profile, "install", "--dry-run", "glibc", "binutils", "gmp", "mpfr")
	built, installed := map[string]int{}, map[string]int{}
	for i, s := range plan {
		switch s.Action {
		case "build":
			built[s.Port] = i
		case "install":
			installed[s.Port] = i
		}
	}
	// binutils' tests need dejagnu and expect, which need tcl: not
	// temporary tools, so they are built and installed first.
	for _, need := range []string{"dejagnu", "expect", "tcl"} {
		if i, ok := installed[need]; !ok || i > built["binutils"] {
			t.Errorf("with checks on, the plan builds binutils before it installs %s, which its test suite needs", need)
		}
	}
	for _, p := range []string{"glibc", "binutils", "gmp", "mpfr"} {
		if _, ok := installed[p]; !ok {
			t.Errorf("the plan does not install %s", p)
		}
	}
}
