package ports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

const zlibPort = `name = "zlib"
version = "1.3.1"
description = "compression library"
license = "Zlib"
provides = ["libz=1.3.1"]
backup = ["etc/zlib.conf"]

[[source]]
url = "https://zlib.net/fossils/zlib-1.3.1.tar.gz"
sha256 = "9a93b2b7dfdac77ceba5a558a580e74667dd6fede4585b91eefb60f03b72df23"

[depends]
build = ["gcc >=12", "make"]
run = ["glibc ^2.41"]

[build]
style = "autotools"
configure_flags = "--shared"
`

// writePort writes text as TREE/DIR/port.toml.
func writePort(t *testing.T, tree, dir, text string) string {
	t.Helper()
	d := filepath.Join(tree, dir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(d, FileName)
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func simplePort(name, version string, extra string) string {
	return "name = \"" + name + "\"\nversion = \"" + version + "\"\n" + extra + "\n[build]\ninstall = \"true\"\n"
}

func TestParseReadsEveryField(t *testing.T) {
	p, errs := Parse("zlib/port.toml", []byte(zlibPort))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if p.Name != "zlib" || p.Ver.String() != "1.3.1" || p.Release != 1 {
		t.Errorf("got %s %s release %d", p.Name, p.Ver, p.Release)
	}
	if got := p.Script("configure"); got != "./configure --prefix=/usr $CONFIGURE_FLAGS" {
		t.Errorf("autotools configure = %q", got)
	}
	if got := p.Script("install"); !strings.Contains(got, `DESTDIR="$DESTDIR"`) {
		t.Errorf("autotools install = %q", got)
	}
	pkg := p.Package()
	if len(pkg.Build) != 2 || len(pkg.Run) != 1 || pkg.Run[0][0].Name != "glibc" {
		t.Errorf("deps = build %v run %v", pkg.Build, pkg.Run)
	}
	if !pkg.Run[0][0].Constraint.Check(semver.MustParse("2.41.0")) || pkg.Run[0][0].Constraint.Check(semver.MustParse("3.0.0")) {
		t.Errorf("glibc ^2.41 constraint wrong: %v", pkg.Run[0][0].Constraint)
	}
	if len(pkg.Provides) != 1 || pkg.Provides[0].Version.String() != "1.3.1" {
		t.Errorf("provides = %+v", pkg.Provides)
	}
	if p.Sources[0].FileName() != "zlib-1.3.1.tar.gz" {
		t.Errorf("source file name = %q", p.Sources[0].FileName())
	}
}

func TestParseReadsCheckAndAfterDependencies(t *testing.T) {
	p, errs := Parse("gcc/port.toml", []byte(simplePort("gcc", "14.2.0", `[depends]
build = ["make"]
check = ["dejagnu", "expect >=5"]
after = ["binutils"]
`)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	pkg := p.Package()
	if len(pkg.Check) != 2 || pkg.Check[1][0].Name != "expect" || pkg.Check[1][0].Constraint == nil {
		t.Errorf("check deps = %v", pkg.Check)
	}
	if len(pkg.After) != 1 || pkg.After[0] != "binutils" || len(pkg.Build) != 1 {
		t.Errorf("after = %v, build = %v", pkg.After, pkg.Build)
	}
	_, errs = Parse("gcc/port.toml", []byte(simplePort("gcc", "14.2.0", "[depends]\nafter = [\"binutils >=2\"]\n")))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `gcc/port.toml:4: after "binutils >=2": write a port name`) {
		t.Errorf("after with a version: errors %v", errs)
	}
}

func TestLintChecksCheckAndAfterNames(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "gcc", simplePort("gcc", "14.2.0", `[depends]
check = ["dejagnu"]
after = ["binutils", "nosuch"]
`))
	writePort(t, tree, "binutils", simplePort("binutils", "2.44", ""))
	probs, err := Lint(tree)
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, p := range probs {
		text = append(text, p.String())
	}
	got := strings.Join(text, "\n")
	want := filepath.Join(tree, "gcc/port.toml") + ":4: error: dependency dejagnu: no port is named or provides dejagnu\n" +
		filepath.Join(tree, "gcc/port.toml") + ":5: error: after nosuch: no port is named or provides nosuch"
	if got != want {
		t.Errorf("lint:\n%s\nwant:\n%s", got, want)
	}
}

func TestPortPhaseOverridesStyle(t *testing.T) {
	p, errs := Parse("x/port.toml", []byte(simplePort("x", "1.0", "")+"check = \"\"\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if p.Script("install") != "true" || p.Script("check") != "" {
		t.Errorf("install %q check %q", p.Script("install"), p.Script("check"))
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"syntax error", "name = \"x\"\nversion = \n", "x/port.toml:2:"},
		{"unknown key", "name = \"x\"\nversion = \"1\"\nfrobnicate = true\n", "x/port.toml:3: unknown key \"frobnicate\""},
		{"unknown key in table", "name = \"x\"\nversion = \"1\"\n[build]\nsytle = \"make\"\n", "x/port.toml:4: unknown key \"build.sytle\""},
		{"bad constraint", "name = \"x\"\nversion = \"1\"\n[depends]\nrun = [\"zlib >=banana\"]\n", "x/port.toml:4: dependency \"zlib >=banana\": bad version constraint"},
		{"bad version", "name = \"x\"\nversion = \"git-1234abc\"\n", "x/port.toml:2: version \"git-1234abc\" does not map onto semver"},
		{"bad name", "name = \"X Y\"\nversion = \"1\"\n", "x/port.toml:1: name \"X Y\""},
		{"bad sha256", "name = \"x\"\nversion = \"1\"\n[[source]]\nurl = \"https://a/b.tar.gz\"\nsha256 = \"zz\"\n", "x/port.toml:5: source https://a/b.tar.gz: sha256 must be"},
		{"bad style", "name = \"x\"\nversion = \"1\"\n[build]\nstyle = \"scons\"\n", "x/port.toml:4: unknown build style"},
		{"escaping backup", "name = \"x\"\nversion = \"1\"\nbackup = [\"../etc/passwd\"]\n", "x/port.toml:3: backup path"},
		{"patch with a slash", "name = \"x\"\nversion = \"1\"\npatches = [\"../../evil.patch\"]\n", "x/port.toml:3: file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := Parse("x/port.toml", []byte(tt.text))
			if len(errs) == 0 {
				t.Fatal("parsed; want an error")
			}
			if got := errs[0].Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("error = %q, want prefix %q", got, tt.want)
			}
		})
	}
}

func TestParseDepSplitsAlternativesButNotOr(t *testing.T) {
	dep, err := ParseDep("awk | gawk >=5 || <3")
	if err != nil {
		t.Fatal(err)
	}
	if len(dep) != 2 || dep[0].Name != "awk" || dep[1].Name != "gawk" {
		t.Fatalf("dep = %v", dep)
	}
	if !dep[1].Constraint.Check(semver.MustParse("2.0.0")) || dep[1].Constraint.Check(semver.MustParse("4.0.0")) {
		t.Errorf("gawk constraint = %v", dep[1].Constraint)
	}
	term, err := ParseTerm("zlib>=1.3")
	if err != nil || term.Name != "zlib" || term.Constraint == nil {
		t.Errorf("ParseTerm without space = %v, %v", term, err)
	}
}

func TestTreeHoldsSeveralVersionsNewestFirst(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "linux/6.13.4", simplePort("linux", "6.13.4", ""))
	writePort(t, tree, "linux/6.16.1", simplePort("linux", "6.16.1", ""))
	writePort(t, tree, "linux/6.1.0", simplePort("linux", "6.1", ""))
	tr, err := Load(tree)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range tr.All("linux") {
		got = append(got, p.Version)
	}
	if strings.Join(got, " ") != "6.16.1 6.13.4 6.1" {
		t.Errorf("versions = %v", got)
	}
	req, err := ParseRequest("linux@<6.14")
	if err != nil {
		t.Fatal(err)
	}
	p, err := tr.Lookup(req.Name, req.Constraint)
	if err != nil || p.Version != "6.13.4" {
		t.Errorf("Lookup(linux <6.14) = %v, %v", p, err)
	}
	if _, err := tr.Lookup("linux", mustConstraint(t, ">=7")); err == nil || !strings.Contains(err.Error(), "6.16.1, 6.13.4, 6.1") {
		t.Errorf("Lookup(linux >=7) error = %v", err)
	}
}

func TestEarlierTreeHidesLaterOnesByName(t *testing.T) {
	local, shipped := t.TempDir(), t.TempDir()
	writePort(t, local, "zlib", simplePort("zlib", "1.2.13", "description = \"local\""))
	writePort(t, shipped, "zlib", simplePort("zlib", "1.3.1", "description = \"shipped\""))
	writePort(t, shipped, "make", simplePort("make", "4.4.1", ""))
	tr, err := Load(local, shipped)
	if err != nil {
		t.Fatal(err)
	}
	if all := tr.All("zlib"); len(all) != 1 || all[0].Description != "local" {
		t.Errorf("zlib versions = %v, want only the local one", all)
	}
	if tr.All("make") == nil {
		t.Error("make from the shipped tree is missing")
	}
}

func TestBrokenPortIsReportedWhenAskedFor(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "bad", "name = \"bad\"\nversion = [\n")
	writePort(t, tree, "good", simplePort("good", "1", ""))
	tr, err := Load(tree)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Lookup("good", nil); err != nil {
		t.Errorf("good port: %v", err)
	}
	_, err = tr.Lookup("bad", nil)
	if err == nil || !strings.Contains(err.Error(), "bad/port.toml:2") {
		t.Errorf("bad port error = %v, want file:line", err)
	}
}

func TestProvidersComeFromEveryVersion(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "gawk", simplePort("gawk", "5.3.1", `provides = ["awk"]`))
	writePort(t, tree, "mawk", simplePort("mawk", "1.3.4", `provides = ["awk=1.3.4"]`))
	tr, _ := Load(tree)
	prov, _ := tr.Providers("awk")
	if len(prov) != 2 || prov[0].Name != "gawk" || prov[1].Provide.Version.String() != "1.3.4" {
		t.Errorf("providers of awk = %+v", prov)
	}
}

func TestLintFindsEveryKindOfProblem(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "app", `name = "app"
version = "1.0"
patches = ["fix.patch"]
[[source]]
url = "https://example.org/app-1.0.tar.gz"
[[source]]
url = "https://example.org/extra.tar.gz"
md5 = "0123456789abcdef0123456789abcdef"
[depends]
run = ["libmissing >=1"]
[build]
install = "true"
`)
	writePort(t, tree, "wrongdir", simplePort("other", "1", ""))
	writePort(t, tree, "broken", "name = \"broken\"\nversion = \"1\"\ncolour = 1\n")
	probs, err := Lint(tree)
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	errorsSeen := 0
	for _, p := range probs {
		text = append(text, p.String())
		if !p.Warning {
			errorsSeen++
		}
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{
		"app/port.toml:5: error: source https://example.org/app-1.0.tar.gz has no checksum",
		"app/port.toml:7: warning: source https://example.org/extra.tar.gz is verified by md5 only",
		"app/port.toml:3: error: fix.patch is neither in the port directory nor a source",
		"app/port.toml:10: error: dependency libmissing >=1: no port is named or provides libmissing",
		"wrongdir/port.toml:1: error: port other lives in directory wrongdir",
		"broken/port.toml:3: error: unknown key \"colour\"",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("lint output lacks %q; got:\n%s", want, all)
		}
	}
	if errorsSeen != 5 {
		t.Errorf("%d errors, want 5:\n%s", errorsSeen, all)
	}
}

func TestLintPassesACleanTree(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "zlib", strings.Replace(zlibPort, "run = [\"glibc ^2.41\"]", "run = []", 1))
	writePort(t, tree, "gcc", simplePort("gcc", "14.2.0", ""))
	writePort(t, tree, "make", simplePort("make", "4.4.1", ""))
	probs, err := Lint(tree)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 0 {
		t.Errorf("problems in a clean tree: %v", probs)
	}
}

func mustConstraint(t *testing.T, s string) *semver.Constraints {
	c, err := semver.NewConstraint(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPortDirectoryThatIsALinkIsNamedNotSilentlySkipped(t *testing.T) {
	tree, elsewhere := t.TempDir(), t.TempDir()
	writePort(t, elsewhere, "hello", simplePort("hello", "1.0", ""))
	if err := os.Symlink(filepath.Join(elsewhere, "hello"), filepath.Join(tree, "hello")); err != nil {
		t.Fatal(err)
	}
	tr, err := Load(tree)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Lookup("hello", nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(tree, "hello")) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Lookup of a port whose directory is a link: %v; want an error naming the link", err)
	}
	probs, err := Lint(tree)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) == 0 || !strings.Contains(probs[0].Message, "symbolic link") {
		t.Errorf("lint: %+v; want the link reported", probs)
	}
}
