package installer

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

// TestAdoptRecordsEachKindOfPathAsItIsOnDisk adopts a package whose files
// a user copied by hand (cp -a keeps the hard link), then changed.
func TestAdoptRecordsEachKindOfPathAsItIsOnDisk(t *testing.T) {
	dir := t.TempDir()
	stage := filepath.Join(dir, "stage")
	for p, body := range map[string]string{"usr/bin/tool": "tool 1\n", "etc/tool.conf": "a = 1\n", "usr/share/tool/data": "data\n", "usr/share/tool/gone": "gone\n"} {
		os.MkdirAll(filepath.Join(stage, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(stage, p), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Link(filepath.Join(stage, "usr/bin/tool"), filepath.Join(stage, "usr/bin/tool-alias"))
	os.Symlink("tool", filepath.Join(stage, "usr/bin/t"))
	file := filepath.Join(dir, "tool-1.0-1.lpm")
	m, err := archive.Create(file, stage, archive.Manifest{Name: "tool", Version: "1.0", Release: 1, Backup: []string{"etc/tool.conf"}})
	if err != nil {
		t.Fatal(err)
	}

	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	if out, err := osexec.Command("cp", "-a", stage+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(root, "etc/tool.conf"), []byte("a = 2\n"), 0o644)              // the user's edit
	os.WriteFile(filepath.Join(root, "usr/share/tool/data"), []byte("patched data\n"), 0o755) // rebuilt by hand
	os.Remove(filepath.Join(root, "usr/share/tool/gone"))                                     // deleted, as the book does
	os.Mkdir(filepath.Join(root, "usr/share/tool/gone"), 0o755)                               // and something else in its place
	os.Chmod(filepath.Join(root, "usr/bin/tool"), 0o700)                                      // a mode the user chose

	db, err := pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := &Installer{Root: root, DB: db, Out: &progress.Printer{Out: os.Stderr}}
	plans, err := in.PlanAdopt([]AdoptSource{{Manifest: m, Archive: file, From: "archive " + file}})
	if err != nil {
		t.Fatal(err)
	}
	a := plans[0]
	if !slices.Equal(a.Missing, []string{"/usr/share/tool/gone (a dir on disk, the package has a file)"}) {
		t.Errorf("missing = %q", a.Missing)
	}
	if !slices.Equal(a.Differs, []string{"/usr/share/tool/data"}) {
		t.Errorf("differs = %q", a.Differs)
	}
	if err := in.Adopt(plans); err != nil {
		t.Fatal(err)
	}
	files, err := db.Files("tool")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]pkgdb.File{}
	for _, f := range files {
		got[f.Path] = f
	}
	if f := got["usr/bin/tool-alias"]; f.Type != "hardlink" || f.Link != "usr/bin/tool" {
		t.Errorf("hard link recorded as %+v", f)
	}
	if f := got["usr/bin/t"]; f.Type != "symlink" || f.Link != "tool" {
		t.Errorf("symlink recorded as %+v", f)
	}
	if f := got["usr/bin/tool"]; f.Mode != 0o700 {
		t.Errorf("mode recorded as %04o, want the disk's 0700", f.Mode)
	}
	if _, ok := got["usr/share/tool/gone"]; ok {
		t.Errorf("a path of another type on disk was recorded")
	}
	conf := got["etc/tool.conf"]
	pristine, err := os.ReadFile(PristinePath(root, "tool", "etc/tool.conf"))
	if !conf.Backup || err != nil || string(pristine) != "a = 1\n" {
		t.Errorf("config recorded %+v, pristine %q (%v); want the package's content as pristine", conf, pristine, err)
	}
	if diffs, err := Verify(root, db, nil); err != nil || len(diffs) != 1 || !diffs[0].Config {
		t.Errorf("verify after adopt = %+v, %v; want only the edited config", diffs, err)
	}
	if diffs, _ := AgainstPackage(db, nil); len(diffs) != 1 || diffs[0].Path != "/usr/share/tool/data" {
		t.Errorf("against the package = %+v", diffs)
	}
	if p, _ := db.Package("tool"); p.AdoptedFrom != "archive "+file || p.ArchivePath != file {
		t.Errorf("package record %+v", p)
	}
}
