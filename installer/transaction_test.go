package installer

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

// newTestInstaller opens a fresh root's database.
func newTestInstaller(t *testing.T) (*Installer, string) {
	t.Helper()
	root := t.TempDir()
	db, err := pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}}, root
}

// manifestOnly writes an archive whose manifest says what a hostile
// builder wants and whose body is empty: the installer must judge it by
// the manifest before reading any content.
func manifestOnly(t *testing.T, file string, m archive.Manifest) {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	tw.WriteHeader(&tar.Header{Name: ".MANIFEST", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
	tw.Write(data)
	tw.Close()
	var out bytes.Buffer
	zw, _ := zstd.NewWriter(&out)
	zw.Write(tarBuf.Bytes())
	zw.Close()
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDeclaredSizesPastTheLargestNumberAreRefusedNamingTheArchive(t *testing.T) {
	in, root := newTestInstaller(t)
	huge := int64(1) << 62 // three of them add up past 2^63
	sum := strings.Repeat("a", 64)
	m := archive.Manifest{Format: 1, Name: "evil", Version: "1.0", Release: 1, Entries: []archive.Entry{
		{Path: "usr", Type: "dir", Mode: 0o755},
		{Path: "usr/a", Type: "file", Mode: 0o644, Size: huge, SHA256: sum},
		{Path: "usr/b", Type: "file", Mode: 0o644, Size: huge, SHA256: sum},
		{Path: "usr/c", Type: "file", Mode: 0o644, Size: huge, SHA256: sum},
	}}
	pkg := filepath.Join(t.TempDir(), "evil-1.0.lpm")
	manifestOnly(t, pkg, m)
	before := listing(t, root)
	_, err := in.Apply([]Change{{Archive: pkg, Explicit: true}})
	if err == nil || !strings.Contains(err.Error(), pkg) || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("Apply of an archive declaring 3 x 2^62 bytes: %v; want a refusal naming %s and the size", err, pkg)
	}
	// Refused while planning: no transaction was even journaled.
	if hist, _ := in.DB.History(); len(hist) != 0 {
		t.Errorf("a transaction was started: %+v", hist)
	}
	if after := listing(t, root); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the root changed: %v", after)
	}
}

func TestAddSizeStopsAtTheLargestNumber(t *testing.T) {
	tests := []struct{ a, b, want int64 }{
		{1, 2, 3},
		{1 << 62, 1 << 62, 1<<63 - 1},
		{1<<63 - 1, 1, 1<<63 - 1},
		{0, 0, 0},
	}
	for _, tt := range tests {
		if got := addSize(tt.a, tt.b); got != tt.want {
			t.Errorf("addSize(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// stageTree makes a staging directory from a description: "d/" a
// directory, "l -> target" a symlink, anything else a file holding its
// own name.
func stageTree(t *testing.T, paths ...string) string {
	t.Helper()
	stage := t.TempDir()
	for _, p := range paths {
		full := filepath.Join(stage, strings.TrimSuffix(strings.Split(p, " -> ")[0], "/"))
		os.MkdirAll(filepath.Dir(full), 0o755)
		var err error
		switch {
		case strings.HasSuffix(p, "/"):
			err = os.MkdirAll(full, 0o755)
		case strings.Contains(p, " -> "):
			err = os.Symlink(strings.Split(p, " -> ")[1], full)
		default:
			err = os.WriteFile(full, []byte(p+"\n"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return stage
}

func pack(t *testing.T, stage, name, version string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+"-"+version+".lpm")
	if _, err := archive.Create(out, stage, archive.Manifest{Name: name, Version: version, Release: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

// typeOf says what is at p, without following a final symlink.
func typeOf(t *testing.T, p string) string {
	fi, err := os.Lstat(p)
	switch {
	case err != nil:
		return "missing"
	case fi.Mode()&os.ModeSymlink != 0:
		target, _ := os.Readlink(p)
		return "symlink -> " + target
	case fi.IsDir():
		return "dir"
	}
	data, _ := os.ReadFile(p)
	return "file " + strings.TrimSpace(string(data))
}

func TestUpgradesChangeAPathsTypeInPlace(t *testing.T) {
	const s = "usr/share/p/"
	tests := []struct {
		name     string
		old, new []string
		want     map[string]string // path -> typeOf after the upgrade
	}{
		{"a symlink becomes a directory",
			[]string{s + "real/", s + "real/r", s + "swap -> real"},
			[]string{s + "swap/", s + "swap/x", s + "swap/sub/", s + "swap/sub/y", s + "swap/l -> x"},
			map[string]string{s + "swap": "dir", s + "swap/x": "file " + s + "swap/x", s + "swap/sub/y": "file " + s + "swap/sub/y",
				s + "swap/l": "symlink -> x", s + "real": "missing"}},
		{"a file becomes a directory",
			[]string{s + "thing"},
			[]string{s + "thing/", s + "thing/inner"},
			map[string]string{s + "thing": "dir", s + "thing/inner": "file " + s + "thing/inner"}},
		{"a directory becomes a symlink",
			[]string{s + "d/", s + "d/a", s + "d/deep/", s + "d/deep/b", s + "other/"},
			[]string{s + "d -> other", s + "other/", s + "other/o"},
			map[string]string{s + "d": "symlink -> other", s + "other/o": "file " + s + "other/o"}},
		{"a directory becomes a file",
			[]string{s + "d/", s + "d/a"},
			[]string{s + "d"},
			map[string]string{s + "d": "file " + s + "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, root := newTestInstaller(t)
			if _, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, tt.old...), "p", "1.0"), Explicit: true}}); err != nil {
				t.Fatal(err)
			}
			v2 := pack(t, stageTree(t, tt.new...), "p", "2.0")
			if _, err := in.Apply([]Change{{Archive: v2}}); err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			for p, want := range tt.want {
				if got := typeOf(t, filepath.Join(root, p)); got != want {
					t.Errorf("/%s is %q, want %q", p, got, want)
				}
			}
			if diffs, err := Verify(root, in.DB, nil); err != nil || len(diffs) != 0 {
				t.Errorf("verify after the upgrade: %v %v", diffs, err)
			}
			if left := strays(root); len(left) > 0 {
				t.Errorf("temp or backup files left: %v", left)
			}
			// And back again: the reverse change.
			if _, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, tt.old...), "p", "3.0")}}); err != nil {
				t.Fatalf("changing back: %v", err)
			}
			if diffs, err := Verify(root, in.DB, nil); err != nil || len(diffs) != 0 {
				t.Errorf("verify after changing back: %v %v", diffs, err)
			}
			if left := strays(root); len(left) > 0 {
				t.Errorf("temp or backup files left after changing back: %v", left)
			}
		})
	}
}

// strays lists temp and backup names left under root.
func strays(root string) []string {
	var left []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if d != nil && strings.Contains(d.Name(), ".lpm-") {
			left = append(left, p)
		}
		return nil
	})
	return left
}

func TestADirectoryHoldingSomeoneElsesFileDoesNotBecomeASymlink(t *testing.T) {
	in, root := newTestInstaller(t)
	const s = "usr/share/p/"
	if _, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, s+"d/", s+"d/a", s+"other/"), "p", "1.0"), Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, s+"d/mine"), []byte("the user's\n"), 0o644)
	before := listing(t, root)
	_, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, s+"d -> other", s+"other/"), "p", "2.0")}})
	if err == nil || !strings.Contains(err.Error(), "/"+s+"d/mine") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("upgrade over a directory holding an unowned file: %v", err)
	}
	if after := listing(t, root); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the root changed:\n%v\n%v", before, after)
	}
}

func TestVerifyReportsAFileReachedThroughASymlink(t *testing.T) {
	in, root := newTestInstaller(t)
	const s = "usr/share/p/"
	if _, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, s+"d/", s+"d/a"), "p", "1.0"), Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	// Someone moves the directory away and leaves a link: the content is
	// still readable at the recorded path, but not where it was put.
	os.Rename(filepath.Join(root, s+"d"), filepath.Join(root, s+"moved"))
	os.Symlink("moved", filepath.Join(root, s+"d"))
	diffs, err := Verify(root, in.DB, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range diffs {
		got = append(got, d.Path+": "+d.Problem)
	}
	want := "/" + s + "d/a: reached through the symlink /" + s + "d, where a directory should be"
	if !strings.Contains(strings.Join(got, "\n"), want) {
		t.Errorf("verify: %v; want %q", got, want)
	}
}

func TestALinkAnotherPackageKeepsIsFollowedNotTurnedIntoADirectory(t *testing.T) {
	in, root := newTestInstaller(t)
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	base := func(v string) string {
		return pack(t, stageTree(t, "lib -> usr/lib", "etc/", "etc/os-"+v), "baselayout", v)
	}
	libc := func(v string) string { return pack(t, stageTree(t, "lib/", "lib/libc.so."+v), "glibc", v) }
	for _, a := range []string{base("1"), libc("1")} {
		if _, err := in.Apply([]Change{{Archive: a, Explicit: true}}); err != nil {
			t.Fatal(err)
		}
	}
	// Both upgraded at once: the new baselayout still has lib as a link,
	// so glibc's lib/ is still usr/lib.
	if _, err := in.Apply([]Change{{Archive: base("2")}, {Archive: libc("2")}}); err != nil {
		t.Fatal(err)
	}
	if got := typeOf(t, filepath.Join(root, "lib")); got != "symlink -> usr/lib" {
		t.Errorf("/lib is %s", got)
	}
	if got := typeOf(t, filepath.Join(root, "usr/lib/libc.so.2")); got != "file lib/libc.so.2" {
		t.Errorf("/usr/lib/libc.so.2 is %s", got)
	}
	if diffs, err := Verify(root, in.DB, nil); err != nil || len(diffs) != 0 {
		t.Errorf("verify: %v %v", diffs, err)
	}
}

func TestAnEditedConfigFileDoesNotBecomeADirectory(t *testing.T) {
	in, root := newTestInstaller(t)
	stage := stageTree(t, "etc/", "etc/p.conf")
	v1 := filepath.Join(t.TempDir(), "p-1.0.lpm")
	if _, err := archive.Create(v1, stage, archive.Manifest{Name: "p", Version: "1.0", Release: 1, Backup: []string{"etc/p.conf"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Apply([]Change{{Archive: v1, Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc/p.conf"), []byte("the user's edit\n"), 0o644)
	_, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, "etc/", "etc/p.conf/", "etc/p.conf/main"), "p", "2.0")}})
	if err == nil || !strings.Contains(err.Error(), "your edited config file") {
		t.Fatalf("upgrade turning an edited config file into a directory: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "etc/p.conf")); string(got) != "the user's edit\n" {
		t.Errorf("the edit is gone: %q", got)
	}
}

// --overwrite takes files, never the root's directories: a package whose
// /lib is a file, or /usr/lib a link, would otherwise put it over the
// book's lib -> usr/lib or a real directory, and nothing would run.
func TestOverwriteNeverReplacesADirectoryOrALinkToOne(t *testing.T) {
	for _, c := range []struct{ name, entry string }{
		{"a file over the link lib -> usr/lib", "lib"},
		{"a link over the link lib -> usr/lib", "lib -> /tmp"},
		{"a file over the directory usr/share", "usr/share"},
		{"a link over the directory usr/share", "usr/share -> /tmp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, root := newTestInstaller(t)
			os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
			os.MkdirAll(filepath.Join(root, "usr/share/doc"), 0o755)
			os.WriteFile(filepath.Join(root, "usr/share/doc/x"), []byte("x\n"), 0o644)
			os.Symlink("usr/lib", filepath.Join(root, "lib"))
			in.Overwrite = []string{"**"}
			before := listing(t, root)
			_, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, c.entry), "evil", "1.0"), Explicit: true}})
			p := strings.Split(c.entry, " -> ")[0]
			if err == nil || !strings.Contains(err.Error(), "/"+p) || !strings.Contains(err.Error(), "--overwrite") {
				t.Errorf("Apply with --overwrite '**': %v; want a conflict naming /%s that --overwrite cannot take", err, p)
			}
			if after := listing(t, root); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("the root changed:\n%v\nwas\n%v", after, before)
			}
		})
	}
	// The same link as on disk is taken over: a baselayout adopting the
	// book's lib -> usr/lib.
	in, root := newTestInstaller(t)
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	in.Overwrite = []string{"**"}
	if _, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, "lib -> usr/lib"), "baselayout", "1.0"), Explicit: true}}); err != nil {
		t.Errorf("taking over lib -> usr/lib as it is: %v", err)
	}
}

// A package with both lib/x and usr/lib/x, on a root whose lib is a link
// to usr/lib, would write one file twice: it is refused before anything
// is written, naming both entries. Two directories landing at one path
// (lib and usr/lib themselves) are fine.
func TestAnInstallRefusesTwoFilesLandingAtOnePathThroughALink(t *testing.T) {
	in, root := newTestInstaller(t)
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	before := listing(t, root)
	_, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, "lib/libz.so.1", "usr/lib/libz.so.1"), "twice", "1.0"), Explicit: true}})
	if err == nil || !strings.Contains(err.Error(), "/lib/libz.so.1 and /usr/lib/libz.so.1") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("Apply: %v; want a refusal naming /lib/libz.so.1 and /usr/lib/libz.so.1", err)
	}
	if after := listing(t, root); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the root changed:\n%v\nwas\n%v", after, before)
	}
	if _, err := in.Apply([]Change{{Archive: pack(t, stageTree(t, "lib/libz.so.1", "usr/lib/libzstd.so.1"), "both", "1.0"), Explicit: true}}); err != nil {
		t.Fatalf("installing lib/ and usr/lib/ with different files: %v", err)
	}
	files, err := in.DB.Files("both")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if got, want := strings.Join(paths, " "), "usr usr/lib usr/lib/libz.so.1 usr/lib/libzstd.so.1"; got != want {
		t.Errorf("recorded %s; want %s", got, want)
	}
}
