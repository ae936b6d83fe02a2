package installer

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

// libPackages builds, with the host's gcc, libbar and libfoo (linking
// libbar) at soname version v, and an app linking libfoo.so.1, each
// packed as an archive: the three returned paths.
func libPackages(t *testing.T, dir, v string) (bar, foo, app string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is needed to build shared libraries")
	}
	src := filepath.Join(dir, "src"+v)
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "bar.c"), []byte("int bar(void) { return "+v+"; }\n"), 0o644)
	os.WriteFile(filepath.Join(src, "foo.c"), []byte("int bar(void);\nint foo(void) { return bar(); }\n"), 0o644)
	os.WriteFile(filepath.Join(src, "app.c"), []byte("int foo(void);\nint main(void) { return foo() - 1; }\n"), 0o644)
	stage := func(name string) string {
		d := filepath.Join(dir, "stage-"+name+v, "usr/lib")
		os.MkdirAll(d, 0o755)
		return d
	}
	barLib, fooLib := filepath.Join(stage("bar"), "libbar.so."+v), filepath.Join(stage("foo"), "libfoo.so."+v)
	gcc := func(args ...string) {
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	gcc("-shared", "-fPIC", "-Wl,-soname,libbar.so."+v, "-o", barLib, filepath.Join(src, "bar.c"))
	gcc("-shared", "-fPIC", "-Wl,-soname,libfoo.so."+v, "-o", fooLib, filepath.Join(src, "foo.c"), barLib)
	pack := func(name string) string {
		out := filepath.Join(dir, name+"-"+v+".lpm")
		if _, err := archive.Create(out, filepath.Join(dir, "stage-"+name+v), archive.Manifest{Name: name, Version: v + ".0", Release: 1}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if v == "1" {
		bin := filepath.Join(dir, "stage-app1", "usr/bin")
		os.MkdirAll(bin, 0o755)
		gcc("-o", filepath.Join(bin, "app"), filepath.Join(src, "app.c"), fooLib, "-Wl,-rpath-link,"+filepath.Dir(barLib))
		app = pack("app")
	}
	return pack("bar"), pack("foo"), app
}

func TestALibraryAPreservedLibraryNeedsIsPreservedAndReleasedWithIt(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	db, err := pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}}
	bar1, foo1, app := libPackages(t, dir, "1")
	bar2, foo2, _ := libPackages(t, dir, "2")
	if _, err := in.Apply([]Change{{Archive: bar1}, {Archive: foo1}, {Archive: app, Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	// Both libraries move to soname 2; app still needs libfoo.so.1, and
	// libfoo.so.1 needs libbar.so.1.
	in.PreserveLibs = true
	if _, err := in.Apply([]Change{{Archive: bar2}, {Archive: foo2}}); err != nil {
		t.Fatal(err)
	}
	owners, err := db.Owners([]string{"usr/lib/libfoo.so.1", "usr/lib/libbar.so.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"usr/lib/libfoo.so.1", "usr/lib/libbar.so.1"} {
		if len(owners[p]) != 1 || owners[p][0] != PreservedName {
			t.Errorf("%s is owned by %v, want %s", p, owners[p], PreservedName)
		}
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("the preserved %s: %v", p, err)
		}
	}
	libs, err := PreservedLibs(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if len(l.NeededBy) == 0 {
			t.Errorf("%s is listed as needed by nothing", l.Path)
		}
	}
	if _, released, err := in.ReleasePreserved(); err != nil || len(released) != 0 {
		t.Errorf("ReleasePreserved while app needs them: released %v, %v", released, err)
	}
	// Once app is gone, both go.
	in.PreserveLibs = false
	if _, err := in.Apply([]Change{{Remove: "app"}}); err != nil {
		t.Fatal(err)
	}
	if _, released, err := in.ReleasePreserved(); err != nil || len(released) != 2 {
		t.Errorf("ReleasePreserved with nothing needing them: released %v, %v", released, err)
	}
	for _, p := range []string{"usr/lib/libfoo.so.1", "usr/lib/libbar.so.1"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s is still there after its release", p)
		}
	}
	if _, err := db.Package(PreservedName); err == nil {
		t.Errorf("the %s record is still there", PreservedName)
	}
}

func TestLibrariesPreservedByTwoTransactionsShareOneRecord(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	db, err := pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}, PreserveLibs: true}
	bar1, foo1, app := libPackages(t, dir, "1")
	bar2, foo2, _ := libPackages(t, dir, "2")
	if _, err := in.Apply([]Change{{Archive: bar1}, {Archive: foo1}, {Archive: app, Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	for _, next := range []string{bar2, foo2} {
		if _, err := in.Apply([]Change{{Archive: next}}); err != nil {
			t.Fatal(err)
		}
	}
	files, err := db.Files(PreservedName)
	if err != nil {
		t.Fatal(err)
	}
	var libs []string
	for _, f := range files {
		if f.Type != "dir" {
			libs = append(libs, f.Path)
		}
	}
	if len(libs) != 2 || libs[0] != "usr/lib/libbar.so.1" || libs[1] != "usr/lib/libfoo.so.1" {
		t.Errorf("%s holds %v, want both old libraries", PreservedName, libs)
	}
	p, err := db.Package(PreservedName)
	if err != nil {
		t.Fatal(err)
	}
	m, err := archive.ReadManifest(p.ArchivePath)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != len(files) {
		t.Errorf("the record's archive has %d entries, the record %d", len(m.Entries), len(files))
	}
}
