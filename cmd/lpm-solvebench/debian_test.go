package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lfs-lpm/lpm/resolver"
)

func TestDebianVersionsCompareLikeDpkg(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.00", 0},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0+b1", -1},
		{"1.0-1", "1.0-2", -1},
		{"1:0.9", "2.0", 1},
		{"2.36-9+deb12u1", "2.36-9", 1},
		{"2.36-9+deb12u1", "2.36-10", -1},
		{"1.0a", "1.0", 1},
		{"1.0~~", "1.0~", -1},
		{"7.4.0", "7.10.0", -1},
		{"1.0.0", "1.0", 1},
		{"0:1.2", "1.2", 0},
	}
	for _, c := range cases {
		if got := sign(compareDebVersions(c.a, c.b)); got != c.want {
			t.Errorf("compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := sign(compareDebVersions(c.b, c.a)); got != -c.want {
			t.Errorf("compare(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func TestRelationsAreParsedWithAlternativesAndQualifiers(t *testing.T) {
	got, err := parseRelations("libc6 (>= 2.34), python3:any (<< 3.12) | pypy [amd64], foo (> 1) <!nocheck>")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]debRel{
		{{"libc6", ">=", "2.34"}},
		{{"python3", "<<", "3.12"}, {"pypy", "", ""}},
		{{"foo", ">=", "1"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("group %d: got %v, want %v", i, got[i], want[i])
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Errorf("group %d alt %d: got %+v, want %+v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

const samplePackages = `Package: app
Version: 1:2.0-1
Depends: libfoo (>= 3.0~rc1), mail-transport-agent,
 awk
Conflicts: oldapp (<< 2)

Package: libfoo
Version: 3.0~rc1-2

Package: libfoo
Version: 2.9-1

Package: exim4
Version: 4.96-15
Provides: mail-transport-agent
Conflicts: mail-transport-agent

Package: mawk
Version: 1.3.4-1
Provides: awk (= 1.3.4)

Package: oldapp
Version: 1.0
Depends: ghost (>= 1)
`

// The index written from a Packages file must solve like Debian: the
// versioned dependency picks the release candidate over the older
// version, providers satisfy virtual names, and a missing package makes
// the dependent unsatisfiable with an explanation.
func TestIndexSolvesASmallDebianList(t *testing.T) {
	pkgs, err := parsePackages(strings.NewReader(samplePackages))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 6 {
		t.Fatalf("parsed %d stanzas, want 6", len(pkgs))
	}
	path := filepath.Join(t.TempDir(), "debian.idx")
	if err := writeIndex(path, pkgs); err != nil {
		t.Fatal(err)
	}
	u, closeIndex, err := openIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeIndex()

	reqs := []resolver.Request{{Name: "app"}}
	sol, err := resolver.Solve(u, reqs, resolver.Options{})
	if err != nil {
		t.Fatalf("Solve: %v", err)
	}
	if err := resolver.Verify(u, reqs, resolver.Options{}, sol); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var got []string
	for _, s := range sol.Selected {
		got = append(got, s.Name+" "+u.debVersion(s.Name, s.Version))
	}
	want := "app 1:2.0-1, exim4 4.96-15, libfoo 3.0~rc1-2, mawk 1.3.4-1"
	if strings.Join(got, ", ") != want {
		t.Fatalf("solution %q, want %q", strings.Join(got, ", "), want)
	}

	_, err = resolver.Solve(u, []resolver.Request{{Name: "oldapp"}}, resolver.Options{})
	var ue *resolver.UnsatError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("want an explanation naming ghost, got %v", err)
	}

	tags := filepath.Join(t.TempDir(), "debian.testtags")
	if err := writeTesttags(tags, pkgs); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(tags)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"=Pkg: app 1:2.0 1 amd64", "=Req: libfoo >= 3.0~rc1", "=Prv: awk = 1.3.4", "=Con: oldapp < 2", "=Pkg: oldapp 1.0 - amd64"} {
		if !strings.Contains(string(data), line+"\n") {
			t.Errorf("testtags lacks %q", line)
		}
	}
}
