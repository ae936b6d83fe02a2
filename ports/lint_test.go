package ports

import (
	"strings"
	"testing"
)

func TestLintReportsEachCauseOnceAndTheGapsItUsedToMiss(t *testing.T) {
	tree := t.TempDir()
	dep := func(list string) string { return "[depends]\n" + list }
	writePort(t, tree, "libbroken", "name = \"libbroken\"\nversion = \"1\"\ncolour = 1\n")
	writePort(t, tree, "app", simplePort("app", "1.0", dep(`run = ["libbroken"]`)))
	writePort(t, tree, "twice", simplePort("twice", "1.0", dep(`build = ["libnone"]`+"\n"+`run = ["libnone"]`)))
	writePort(t, tree, "gtk3", simplePort("gtk3", "3.24.0", ""))
	writePort(t, tree, "gui", simplePort("gui", "1.0", dep(`run = ["gtk3 >=3.30"]`)))
	writePort(t, tree, "selfish", simplePort("selfish", "1.0", dep(`run = ["selfish"]`)))
	writePort(t, tree, "cyc-a", simplePort("cyc-a", "1.0", dep(`build = ["cyc-b"]`)))
	writePort(t, tree, "cyc-b", simplePort("cyc-b", "1.0", dep(`build = ["cyc-a"]`)))
	writePort(t, tree, "postfix", simplePort("postfix", "3.9", ""))
	writePort(t, tree, "mailer", simplePort("mailer", "1.0", dep(`run = ["exim | postfix"]`)))
	// A cycle closed only by a check dependency is none: the plan runs
	// tests-a's suite with what is there.
	writePort(t, tree, "tests-a", simplePort("tests-a", "1.0", dep(`check = ["tests-b"]`)))
	writePort(t, tree, "tests-b", simplePort("tests-b", "1.0", dep(`build = ["tests-a"]`)))
	writePort(t, tree, "perl-foo/2.089", simplePort("perl-foo", "2.089", ""))
	writePort(t, tree, "perl-foo/2.1", simplePort("perl-foo", "2.1", ""))
	writePort(t, tree, "im/7.1.1-42", simplePort("im", "7.1.1-42", ""))
	writePort(t, tree, "im/7.1.1-43", simplePort("im", "7.1.1-43", ""))
	probs, err := Lint(tree)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range probs {
		lines = append(lines, strings.ReplaceAll(p.String(), tree+"/", ""))
	}
	got := strings.Join(lines, "\n")
	want := strings.Join([]string{
		`cyc-a/port.toml: error: build cycle: cyc-a (cyc-a/port.toml), cyc-b (cyc-b/port.toml) each need another of them installed before they can be built (cyc-a builds with cyc-b; cyc-b builds with cyc-a); give one of them a bootstrap port that builds without the others, or list one as provided`,
		`gui/port.toml:4: error: dependency gtk3 >=3.30: no version of gtk3 matches (the tree has 3.24.0)`,
		`im/7.1.1-43/port.toml: error: im 7.1.1-42 and 7.1.1-43 are the same release to the solver (7.1.1); give one of them semver = "X.Y.Z"`,
		`libbroken/port.toml:3: error: unknown key "colour"`,
		`perl-foo/2.089/port.toml: warning: perl-foo 2.089 and 2.1 sort differently as dotted numbers and as decimals (Perl: 2.089 < 2.1); if they are decimal versions, give them semver = their Perl normal form (2.89.0, 2.100.0)`,
		`selfish/port.toml:4: error: dependency selfish: a port cannot need itself at run time`,
		`twice/port.toml:4: error: dependency libnone: no port is named or provides libnone`,
	}, "\n")
	if got != want {
		t.Errorf("lint:\n%s\n\nwant:\n%s", got, want)
	}
}

func TestLintKnowsWhatTheSystemProvides(t *testing.T) {
	tree := t.TempDir()
	dep := func(list string) string { return "[depends]\n" + list }
	writePort(t, tree, "binutils", simplePort("binutils", "2.44", dep(`build = ["binutils", "gcc"]`)))
	writePort(t, tree, "gcc", simplePort("gcc", "14.2.0", dep(`build = ["binutils"]`)))
	lint := func(opts LintOptions) string {
		probs, err := LintWith(opts, tree)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, p := range probs {
			lines = append(lines, strings.ReplaceAll(p.String(), tree+"/", ""))
		}
		return strings.Join(lines, "\n")
	}
	want := `binutils/port.toml: error: build cycle: binutils (binutils/port.toml), gcc (gcc/port.toml) each need another of them installed before they can be built (binutils builds with gcc; gcc builds with binutils); give one of them a bootstrap port that builds without the others, or list one as provided
binutils/port.toml:4: warning: dependency binutils: binutils builds with itself, so only an installed or provided binutils can build it`
	if got := lint(LintOptions{}); got != want {
		t.Errorf("lint without provided:\n%s\nwant:\n%s", got, want)
	}
	if got := lint(LintOptions{Provided: map[string]bool{"binutils": true}}); got != "" {
		t.Errorf("lint with binutils provided:\n%s\nwant nothing", got)
	}
}

// A version spelled out in configure_flags stays behind when the version
// changes, while the port's phases follow $VERSION.
func TestLintWarnsOfAVersionSpelledOutInConfigureFlags(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "readline", "name = \"readline\"\nversion = \"8.2.13\"\n[build]\nstyle = \"autotools\"\nconfigure_flags = \"--with-curses --docdir=/usr/share/doc/readline-8.2.13\"\n")
	writePort(t, tree, "bash", "name = \"bash\"\nversion = \"5.2.37\"\n[build]\nstyle = \"autotools\"\nconfigure_flags = \"--docdir=/usr/share/doc/bash-$VERSION\"\n")
	probs, err := Lint(tree)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range probs {
		lines = append(lines, strings.ReplaceAll(p.String(), tree+"/", ""))
	}
	want := `readline/port.toml:5: warning: configure_flags spells out the version (readline-8.2.13); write readline-$VERSION, so that the flags follow the version`
	if got := strings.Join(lines, "\n"); got != want {
		t.Errorf("lint:\n%s\n\nwant:\n%s", got, want)
	}
}
