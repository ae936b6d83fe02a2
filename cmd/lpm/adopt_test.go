package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
)

// handBuiltRoot makes a root the way an LFS user makes one: the book's
// directories and links, then the demo packages built with plain make
// and installed with make DESTDIR=ROOT install (no lpm), a file left by
// hand in /usr/bin and an edited config file.
func handBuiltRoot(t *testing.T, extraTrees ...string) *testRoot {
	t.Helper()
	r := newRoot(t, extraTrees...)
	for _, d := range []string{"usr/sbin", "usr/include", "usr/share/doc", "usr/share/man/man1", "home", "tmp", "proc"} {
		if err := os.MkdirAll(r.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"bin": "usr/bin", "sbin": "usr/sbin"} {
		if err := os.Symlink(target, r.path(link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, pkg := range []struct{ src, build string }{
		{"libgreet-1.0.0", "make"},
		{"mkbanner-0.3.0", "make"},
		{"hello-1.0.0", fmt.Sprintf("make MKBANNER=%s/usr/bin/mkbanner CPPFLAGS=-I%s/usr/include LDFLAGS=-L%s/usr/lib", r.dir, r.dir, r.dir)},
	} {
		src := filepath.Join(t.TempDir(), pkg.src)
		sh(t, "", "cp", "-a", filepath.Join(repo(t), "demo/src", pkg.src), src)
		sh(t, src, "sh", "-c", pkg.build)
		sh(t, src, "make", "DESTDIR="+r.dir, "install")
	}
	if err := os.WriteFile(r.path("usr/bin/stray"), []byte("#!/bin/sh\necho left by hand\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	appendTo(t, r.path("etc/greet.conf"), "# my edit\n")
	// Not a package's: a user's home and the kernel's trees are skipped.
	if err := os.WriteFile(r.path("home/notes"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

func sh(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func appendTo(t *testing.T, file, text string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// diskPaths lists the non-directory paths of the root outside lpm's state.
func diskPaths(t *testing.T, r *testRoot) []string {
	t.Helper()
	var paths []string
	filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(r.dir, p)
		if strings.HasPrefix(rel, "var/lib/lpm") || strings.HasPrefix(rel, "var/cache/lpm") || strings.HasPrefix(rel, "var/log/lpm") || strings.HasPrefix(rel, "var/tmp/lpm") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			paths = append(paths, rel)
		}
		return nil
	})
	sort.Strings(paths)
	return paths
}

func TestAdoptTakesOverAHandBuiltRoot(t *testing.T) {
	r := handBuiltRoot(t)
	if got := r.ok("unowned", "/usr"); !strings.Contains(got, "/usr/bin/hello\n") {
		t.Fatalf("before adopt, unowned /usr lacks hello:\n%s", got)
	}
	disk := diskPaths(t, r)
	out := r.ok("adopt", "--from", "build", "libgreet@1.0.0", "mkbanner", "hello")
	if !strings.Contains(out, "libgreet 1.0.0-1 (from build ") || !strings.Contains(out, "0 missing") {
		t.Errorf("adopt summary:\n%s", out)
	}
	if got := diskPaths(t, r); !slices.Equal(got, disk) {
		t.Errorf("adopt changed the root outside lpm's state:\nbefore %v\nafter  %v", disk, got)
	}
	r.ok("verify")
	// lpm built hello with other flags than the user: recorded as on
	// disk, and listed against the package.
	against, _, code := r.lpm("verify", "--against-package", "hello")
	if code != 1 || !strings.Contains(against, "hello: /usr/bin/hello: content differs from the package's build") {
		t.Errorf("verify --against-package hello: exit %d\n%s", code, against)
	}
	// The needed libraries of adopted files are recorded: hello's
	// libgreet.so.1 is found; the root has no libc of its own.
	libs, _, _ := r.lpm("check-libs")
	if !strings.Contains(libs, "/usr/bin/hello (hello): libc.so.6 not found") || strings.Contains(libs, "libgreet.so.1 not found") {
		t.Errorf("check-libs after adopt:\n%s", libs)
	}
	for _, pkg := range []string{"hello", "libgreet", "mkbanner"} {
		var files []fileResult
		r.jsonOut(&files, "files", pkg)
		var paths []string
		for _, f := range files {
			if f.Type != "dir" {
				paths = append(paths, f.Path)
			}
		}
		if len(paths) == 0 {
			t.Fatalf("%s adopted no files", pkg)
		}
		var owners []ownsResult
		r.jsonOut(&owners, append([]string{"owns"}, paths...)...)
		for _, o := range owners {
			if len(o.Owners) != 1 || o.Owners[0] != pkg {
				t.Errorf("owns %s = %v, want %s", o.Path, o.Owners, pkg)
			}
		}
	}
	if got := r.ok("owns", "/lib/libgreet.so.1"); !strings.Contains(got, "libgreet") {
		t.Errorf("owns through /lib: %q", got)
	}
	if got := r.ok("unowned"); got != "/usr/bin/stray\n" {
		t.Errorf("unowned = %q, want only /usr/bin/stray", got)
	}
	var unowned []unownedPath
	r.jsonOut(&unowned, "unowned", "/usr")
	if len(unowned) != 1 || unowned[0].Path != "/usr/bin/stray" || unowned[0].Type != "file" {
		t.Errorf("unowned --json /usr = %+v", unowned)
	}
	if got := r.ok("diff-config", "libgreet"); !strings.Contains(got, "+# my edit") {
		t.Errorf("diff-config after adopt does not show the edit:\n%s", got)
	}
	if got := r.ok("history"); !strings.Contains(got, "adopt") {
		t.Errorf("history does not name the adoption:\n%s", got)
	}
	r.fails([]string{"does not undo an adoption"}, "undo")

	// An upgrade needs no --overwrite, keeps the edit, and leaves nothing
	// of the old version.
	r.ok("upgrade", "libgreet")
	conf, _ := os.ReadFile(r.path("etc/greet.conf"))
	if !strings.Contains(string(conf), "# my edit") {
		t.Errorf("the upgrade lost the edited config:\n%s", conf)
	}
	if _, err := os.Stat(r.path("etc/greet.conf.lpmnew")); err != nil {
		t.Errorf("the upgrade wrote no .lpmnew: %v", err)
	}
	for _, old := range []string{"usr/lib/libgreet.so.1.0.0", "usr/share/doc/libgreet/README-1.0"} {
		if _, err := os.Lstat(r.path(old)); err == nil {
			t.Errorf("the upgrade left /%s behind", old)
		}
	}
	r.ok("verify")

	// remove takes exactly hello's files.
	before := diskPaths(t, r)
	r.ok("remove", "hello")
	after := diskPaths(t, r)
	var gone []string
	for _, p := range before {
		if !slices.Contains(after, p) {
			gone = append(gone, p)
		}
	}
	if !slices.Equal(gone, []string{"usr/bin/hello"}) || len(after) != len(before)-1 {
		t.Errorf("remove hello took %v, want exactly usr/bin/hello", gone)
	}
}

// TestAdoptWithAFootprintRecordsWhatABuildDoes adopts one root by
// building and a copy of it from the footprints that build left.
func TestAdoptWithAFootprintRecordsWhatABuildDoes(t *testing.T) {
	built := handBuiltRoot(t)
	copied := newRoot(t)
	sh(t, "", "cp", "-a", built.dir+"/.", copied.dir)
	tree := filepath.Join(t.TempDir(), "ports")
	sh(t, "", "cp", "-a", filepath.Join(repo(t), "demo/ports"), tree)
	built.ports, copied.ports = []string{tree}, []string{tree}
	ports := []string{"libgreet@1.0.0", "mkbanner", "hello"}

	built.ok(append([]string{"adopt", "--from", "build"}, ports...)...)
	if _, err := os.Stat(built.path("var/cache/lpm/packages/hello-1.0.0-1.footprint")); err != nil {
		t.Fatalf("the build left no footprint: %v", err)
	}
	built.ok(append([]string{"build", "--update-footprint"}, ports...)...)
	if _, err := os.Stat(filepath.Join(tree, "libgreet/1.0.0/footprint")); err != nil {
		t.Fatalf("build --update-footprint wrote nothing into the port: %v", err)
	}
	out := copied.ok(append([]string{"adopt", "--from", "footprint"}, ports...)...)
	if !strings.Contains(out, "(from footprint "+tree) {
		t.Errorf("adopt --from footprint did not use the shipped footprint:\n%s", out)
	}
	if a, b := adoptedRecords(t, built), adoptedRecords(t, copied); a != b {
		t.Errorf("footprint and build gave different databases:\n%s", diffLines(a, b))
	}
	copied.ok("verify")
	if got := copied.ok("diff-config", "libgreet"); !strings.Contains(got, "no pristine copy") {
		t.Errorf("diff-config of an edited config adopted from a footprint:\n%s", got)
	}
	copied.ok("upgrade", "libgreet")
	if conf, _ := os.ReadFile(copied.path("etc/greet.conf")); !strings.Contains(string(conf), "# my edit") {
		t.Errorf("the upgrade lost the edited config:\n%s", conf)
	}

	// --all finds every port whose footprint is on disk, at its version.
	all := newRoot(t)
	sh(t, "", "cp", "-a", built.dir+"/.", all.dir)
	os.RemoveAll(all.path("var/lib/lpm"))
	os.RemoveAll(all.path("var/cache/lpm"))
	all.ports = []string{tree}
	all.ok("adopt", "--all")
	if a, b := adoptedRecords(t, built), adoptedRecords(t, all); a != b {
		t.Errorf("adopt --all gave a different database:\n%s", diffLines(a, b))
	}
}

// adoptedRecords is the database as adopt filled it, without what
// differs between adoptions by nature (time, source).
func adoptedRecords(t *testing.T, r *testRoot) string {
	t.Helper()
	db, err := pkgdb.OpenReadOnly(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pkgs, err := db.Packages()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range pkgs {
		p.InstallTime, p.AdoptedFrom, p.ArchivePath, p.ManifestSHA256, p.Explicit = time.Time{}, "", "", "", false
		lines = append(lines, fmt.Sprintf("%+v", p))
		files, err := db.Files(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			lines = append(lines, fmt.Sprintf("%+v", f))
		}
	}
	return strings.Join(lines, "\n")
}

func TestAdoptRefusesBadInputAndChangesNothing(t *testing.T) {
	extra := t.TempDir()
	dist := t.TempDir()
	sum := writeTarGz(t, filepath.Join(dist, "greetdup-1.0.tar.gz"), []tarEntry{
		{name: "greetdup-1.0/greet.h", body: "/* a second greet.h */\n"},
	})
	writePort(t, extra, "greetdup", `name = "greetdup"
version = "1.0"
[[source]]
url = "file://`+dist+`/greetdup-1.0.tar.gz"
sha256 = "`+sum+`"
[build]
style = "custom"
install = 'install -Dm644 greet.h $DESTDIR/usr/include/greet.h'
`)
	r := handBuiltRoot(t, extra)
	// The book removes files after make install now and then.
	if err := os.Remove(r.path("usr/share/doc/libgreet/README-1.0")); err != nil {
		t.Fatal(err)
	}
	before := r.state()
	r.fails([]string{"nothing was adopted", "libgreet 1.0.0", "/usr/share/doc/libgreet/README-1.0", "--allow-partial"}, "adopt", "libgreet@1.0.0")
	r.unchanged(before)
	// Another version's files are not on disk.
	r.fails([]string{"nothing was adopted", "libgreet 1.1.0"}, "adopt", "libgreet@1.1.0")
	r.unchanged(before)

	r.ok("adopt", "--allow-partial", "libgreet@1.0.0")
	r.ok("verify")
	adopted := r.state()
	r.fails([]string{"nothing was adopted", "greetdup", "/usr/include/greet.h (owned by libgreet)"}, "adopt", "greetdup")
	r.unchanged(adopted)
	r.fails([]string{"already adopted"}, "adopt", "libgreet@1.0.0")
	r.unchanged(adopted)
	// Refused before a build is spent on it.
	if _, errOut, _ := r.lpm("adopt", "--from", "build", "libgreet@1.0.0"); strings.Contains(errOut, "libgreet-1.0.0-1: build") {
		t.Errorf("adopt --from build of an adopted package built it first:\n%s", errOut)
	}
	r.unchanged(adopted)

	// A root that is not an LFS system: no database is made.
	for name, setup := range map[string]func(dir string){
		"no usr/lib": func(dir string) { os.RemoveAll(filepath.Join(dir, "usr/lib")) },
		"dpkg's": func(dir string) {
			os.MkdirAll(filepath.Join(dir, "var/lib/dpkg"), 0o755)
			os.WriteFile(filepath.Join(dir, "var/lib/dpkg/status"), nil, 0o644)
		},
	} {
		t.Run(name, func(t *testing.T) {
			o := newRoot(t)
			os.Remove(o.path("lib"))
			setup(o.dir)
			before := o.state()
			o.fails([]string{"adopt: " + o.dir}, "adopt", "mkbanner")
			o.unchanged(before)
			if _, err := os.Stat(o.path("var/lib/lpm/lpm.db")); err == nil {
				t.Errorf("a refused adopt made a database")
			}
		})
	}
}

func TestAdoptProvidedRecordsAPackageWithNoFilesThatDependenciesSee(t *testing.T) {
	extra := t.TempDir()
	writePort(t, extra, "needslibc", `name = "needslibc"
version = "1.0"
[[source]]
url = "https://distfiles.lpm.invalid/x.tar.gz"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
[depends]
run = ["glibc ^2.41"]
[build]
style = "make"
`)
	r := newRoot(t, extra)
	r.fails([]string{"glibc"}, "install", "--dry-run", "needslibc")
	r.ok("adopt", "--provided", "glibc=2.41")
	var list []listResult
	r.jsonOut(&list, "list")
	if len(list) != 1 || list[0].Name != "glibc" || list[0].Version != "2.41" {
		t.Errorf("list = %+v", list)
	}
	var files []fileResult
	r.jsonOut(&files, "files", "glibc")
	if len(files) != 0 {
		t.Errorf("a provided package has files: %+v", files)
	}
	if got := r.ok("install", "--dry-run", "needslibc"); !strings.Contains(got, "needslibc") {
		t.Errorf("plan:\n%s", got)
	}
}

func TestInstallConflictListsEveryPathWithVerboseAndOverwriteTakesTrees(t *testing.T) {
	r := handBuiltRoot(t)
	line := r.fails([]string{"installing libgreet 1.0.0", "exists on disk, owned by no package", "more (every one with -v)"}, "install", "libgreet@1.0.0")
	if strings.Count(line, "(exists on disk") != 3 {
		t.Errorf("want the first three conflicts named: %s", line)
	}
	_, errOut, _ := r.lpm("-v", "install", "libgreet@1.0.0")
	for _, p := range []string{"/usr/lib/libgreet.so.1.0.0", "/usr/include/greet.h", "/etc/greet.conf", "/usr/share/doc/libgreet/README-1.0"} {
		if !strings.Contains(errOut, "conflict: "+p+" ") {
			t.Errorf("-v does not list %s:\n%s", p, errOut)
		}
	}
	r.ok("install", "libgreet@1.0.0", "--overwrite", "/usr/**", "--overwrite", "etc")
	r.ok("verify")
}

func TestABuildSaysHowItsFilesDifferFromTheFootprint(t *testing.T) {
	tree := filepath.Join(t.TempDir(), "ports")
	sh(t, "", "cp", "-a", filepath.Join(repo(t), "demo/ports"), tree)
	fp := filepath.Join(tree, "mkbanner/footprint")
	data, err := os.ReadFile(fp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fp, []byte(strings.Replace(string(data), `"usr/bin/mkbanner"`, `"usr/bin/mkbanner-old"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRoot(t)
	r.ports = []string{tree}
	_, errOut, code := r.lpm("build", "mkbanner")
	if code != 0 || !strings.Contains(errOut, "differ from its footprint "+fp+": new /usr/bin/mkbanner; missing /usr/bin/mkbanner-old") {
		t.Errorf("build against a differing footprint: exit %d\n%s", code, errOut)
	}
	// The build's own footprint is kept beside the archive.
	if _, err := os.Stat(r.path("var/cache/lpm/packages/mkbanner-0.3.0-1.footprint")); err != nil {
		t.Error(err)
	}
}

func TestAdoptRefusesAHostileOrStaleFootprint(t *testing.T) {
	tree := filepath.Join(t.TempDir(), "ports")
	sh(t, "", "cp", "-a", filepath.Join(repo(t), "demo/ports"), tree)
	r := handBuiltRoot(t)
	r.ports = []string{tree}
	before := r.state()
	fp := filepath.Join(tree, "mkbanner/footprint")
	data, _ := os.ReadFile(fp)
	for name, text := range map[string]string{
		"a path out of the root": strings.Replace(string(data), `"usr/bin/mkbanner"`, `"usr/../../etc/shadow"`, 1),
		"lpm's own state":        strings.Replace(string(data), `"usr/bin/mkbanner"`, `"var/lib/lpm/lpm.db"`, 1),
		"not JSON":               "<html>",
	} {
		os.WriteFile(fp, []byte(text), 0o644)
		line := r.fails([]string{"footprint " + fp}, "adopt", "--from", "footprint", "mkbanner")
		if !strings.Contains(line, "corrupt or hostile") {
			t.Errorf("%s: %s", name, line)
		}
		r.unchanged(before)
	}
	// Another release's footprint is stale: not used.
	os.WriteFile(fp, []byte(strings.Replace(string(data), `"release": 1`, `"release": 7`, 1)), 0o644)
	r.fails([]string{"no footprint of it"}, "adopt", "--from", "footprint", "mkbanner")
	r.unchanged(before)
}

func TestAdoptProvidedAsksHonoursDryRunAndRecordsNothingOnABadSpec(t *testing.T) {
	r := newRoot(t)
	before := r.state()
	for _, c := range []struct {
		name  string
		stdin *string
		args  []string
	}{
		{"a piped no", answer("n\n"), []string{"adopt", "--provided", "glibc=2.41"}},
		{"end of input", nil, []string{"adopt", "--provided", "glibc=2.41"}},
	} {
		if _, errOut, code := r.lpmWith(run{stdin: c.stdin}, c.args...); code != 1 || !strings.Contains(errOut, "nothing was changed") {
			t.Errorf("%s: exit %d, want 1 saying nothing was changed\n%s", c.name, code, errOut)
		}
	}
	r.ok("adopt", "--dry-run", "--provided", "glibc=2.41")
	r.fails([]string{"qux=bad!", "nothing was recorded"}, "adopt", "--provided", "glibc=2.41", "--provided", "qux=bad!")
	r.unchanged(before)
}

// TestAdoptWithoutAVersionTakesTheOneOnDisk: the demo tree has libgreet
// 1.0.0 and 1.1.0, each with a footprint, and the hand-built root has
// 1.0.0. Named without a version, the disk decides and lpm says so; when
// it cannot (no file list has a file on disk, or two match it equally),
// nothing is adopted and the version is asked for, never the newest
// taken.
func TestAdoptWithoutAVersionTakesTheOneOnDisk(t *testing.T) {
	r := handBuiltRoot(t)
	before := r.state()
	_, errOut, code := r.lpm("adopt", "--dry-run", "libgreet")
	if code != 0 || !strings.Contains(errOut, "libgreet: taking 1.0.0 as the version on disk") || !strings.Contains(errOut, "(1.1.0: ") {
		t.Errorf("adopt --dry-run libgreet on a root with 1.0.0: exit %d, want 0 and a line saying 1.0.0 was taken and why\n%s", code, errOut)
	}
	r.unchanged(before)

	// The same tree without footprints: nothing on disk tells which.
	bare := filepath.Join(t.TempDir(), "ports")
	sh(t, "", "cp", "-a", filepath.Join(repo(t), "demo/ports"), bare)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if err := os.Remove(filepath.Join(bare, "libgreet", v, "footprint")); err != nil {
			t.Fatal(err)
		}
	}
	r.ports = []string{bare}
	r.fails([]string{"adopt libgreet: ", "1.1.0, 1.0.0", "libgreet@VERSION", "nothing was adopted"}, "adopt", "--allow-partial", "libgreet")
	r.unchanged(before)

	// 1.1.0's footprint lists the paths of 1.0.0's: they match equally.
	same := filepath.Join(t.TempDir(), "ports")
	sh(t, "", "cp", "-a", filepath.Join(repo(t), "demo/ports"), same)
	m, err := archive.ReadFootprint(filepath.Join(same, "libgreet/1.0.0/footprint"))
	if err != nil {
		t.Fatal(err)
	}
	m.Version, m.SemVer = "1.1.0", "1.1.0"
	if err := archive.WriteFootprint(filepath.Join(same, "libgreet/1.1.0/footprint"), m); err != nil {
		t.Fatal(err)
	}
	r.ports = []string{same}
	r.fails([]string{"adopt libgreet: ", "versions 1.1.0 and 1.0.0 of libgreet match the disk equally", "libgreet@VERSION", "nothing was adopted"}, "adopt", "--allow-partial", "libgreet")
	r.unchanged(before)
	// --all leaves it out, names it, and adopts the rest.
	out, errOut, code := r.lpm("adopt", "--all")
	if code != 0 || !strings.Contains(errOut, "libgreet (1.1.0 and 1.0.0)") {
		t.Errorf("adopt --all with libgreet's versions equal on disk: exit %d, want 0 and libgreet named as left out\n%s%s", code, out, errOut)
	}
	list := r.ok("list")
	if strings.Contains(list, "libgreet") || !strings.Contains(list, "mkbanner") {
		t.Errorf("after adopt --all, lpm list says:\n%s\nwant mkbanner and no libgreet", list)
	}
}

// A dry run of adopt changes nothing, so a user who may not write the
// root may run it, as a dry run of install.
func TestAdoptDryRunNeedsNoWriteAccess(t *testing.T) {
	r := handBuiltRoot(t)
	asNobody(t, r)
	before := r.state()
	for _, args := range [][]string{{"adopt", "--dry-run", "mkbanner"}, {"adopt", "--dry-run", "--all"}} {
		out, errOut, code := r.lpmWith(run{uid: nobody}, args...)
		if code != 0 || !strings.Contains(out, "mkbanner 0.3.0-1 (from footprint ") {
			t.Errorf("lpm %s as nobody on a root it may not write: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	r.unchanged(before)
	// Adopting for real still needs it.
	if _, errOut, code := r.lpmWith(run{uid: nobody, yes: true}, "adopt", "mkbanner"); code != 1 || !strings.Contains(errOut, "not writable by you") {
		t.Errorf("lpm adopt mkbanner as nobody: exit %d, want 1 and 'not writable by you'\n%s", code, errOut)
	}
	r.unchanged(before)
}
