package installer

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

func TestResolveFollowsLinksButNeverLeavesTheRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	os.Symlink("/etc", filepath.Join(root, "abs"))
	os.Symlink("../../../..", filepath.Join(root, "usr/up"))
	os.Symlink("loop2", filepath.Join(root, "loop1"))
	os.Symlink("loop1", filepath.Join(root, "loop2"))
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	tests := []struct{ in, want, err string }{
		{"lib/libc.so.6", "usr/lib/libc.so.6", ""},
		{"/lib/libc.so.6", "usr/lib/libc.so.6", ""},
		{"abs/passwd", "etc/passwd", ""},
		{"usr/up/etc/shadow", "etc/shadow", ""},
		{"../../etc/x", "etc/x", ""},
		{"new/dir/file", "new/dir/file", ""},
		{"loop1/x", "", "too many levels"},
		{"file/x", "", "not a directory"},
	}
	for _, tt := range tests {
		got, err := ResolvePath(root, tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ResolvePath(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolvePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// stagePackage makes a package archive of n files under usr/share/NAME.
func stagePackage(t testing.TB, dir, name, version string, n int) string {
	t.Helper()
	stage := filepath.Join(dir, "stage-"+name+version)
	for i := 0; i < n; i++ {
		p := filepath.Join(stage, "usr/share", name, fmt.Sprintf("d%02d/f%04d", i%50, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprintf("%s %s file %d\n", name, version, i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name+"-"+version+".lpm")
	if _, err := archive.Create(out, stage, archive.Manifest{Name: name, Version: version, Release: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

// corrupt rewrites an archive so that the file content of its index-th file
// entry no longer matches the manifest, as a bad disk or a tamperer would.
func corrupt(t *testing.T, file string, index int) {
	t.Helper()
	raw, _ := os.ReadFile(file)
	dec, _ := zstd.NewReader(bytes.NewReader(raw))
	tr := tar.NewReader(dec)
	var out bytes.Buffer
	enc, _ := zstd.NewWriter(&out)
	tw := tar.NewWriter(enc)
	files := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeReg && !strings.HasSuffix(h.Name, ".MANIFEST") {
			if files == index {
				body[0] ^= 0xff
			}
			files++
		}
		tw.WriteHeader(h)
		tw.Write(body)
	}
	tw.Close()
	enc.Close()
	os.WriteFile(file, out.Bytes(), 0o644)
}

// listing is every path under root but lpm's own state, sorted.
func listing(t *testing.T, root string) []string {
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if rel == "var" {
			return filepath.SkipDir
		}
		paths = append(paths, rel)
		return nil
	})
	sort.Strings(paths)
	return paths
}

func TestACorruptArchiveMidStreamLeavesNoTrace(t *testing.T) {
	root := t.TempDir()
	db, err := pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}}
	before := listing(t, root)
	pkg := stagePackage(t, t.TempDir(), "big", "1.0", 300)
	corrupt(t, pkg, 250) // well after many temps and directories were made
	_, err = in.Apply([]Change{{Archive: pkg, Explicit: true}})
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("Apply of a corrupt archive: %v", err)
	}
	if after := listing(t, root); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the root kept traces of the failed install: %v", after)
	}
	if pkgs, _ := db.Packages(); len(pkgs) != 0 {
		t.Errorf("the database records %v", pkgs)
	}
}

func TestUpgradeKeepsEveryPathPresentAndRecordsTheNewFiles(t *testing.T) {
	root := t.TempDir()
	db, err := pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}}
	dir := t.TempDir()
	if _, err := in.Apply([]Change{{Archive: stagePackage(t, dir, "pkg", "1.0", 40), Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	changed, err := in.Apply([]Change{{Archive: stagePackage(t, dir, "pkg", "2.0", 40)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 40 {
		t.Errorf("%d paths reported changed, want 40", len(changed))
	}
	got, _ := os.ReadFile(filepath.Join(root, "usr/share/pkg/d07/f0007"))
	if string(got) != "pkg 2.0 file 7\n" {
		t.Errorf("content after upgrade: %q", got)
	}
	p, err := db.Package("pkg")
	if err != nil || p.Version != "2.0" || !p.Explicit {
		t.Errorf("record after upgrade: %+v, %v (an upgrade keeps the explicit mark)", p, err)
	}
	diffs, err := Verify(root, db, nil)
	if err != nil || len(diffs) != 0 {
		t.Errorf("verify: %v %v", diffs, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "usr/share/pkg/*/.lpm-new.*"))
	if len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

// BenchmarkInstall2000 installs (and removes) a 2,000-file package into a
// fresh root, durably: the figure the issue asks for.
func BenchmarkInstall2000(b *testing.B) {
	pkg := stagePackage(b, b.TempDir(), "big", "1.0", 2000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := b.TempDir()
		db, err := pkgdb.Open(root)
		if err != nil {
			b.Fatal(err)
		}
		in := &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}}
		b.StartTimer()
		if _, err := in.Apply([]Change{{Archive: pkg, Explicit: true}}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}

// big20000 packs a 20,000-file (~250 MiB) package; version 2 changes 10%
// of the files, removes 5% and adds 5%.
func big20000(b *testing.B, dir, version string) string {
	stage := filepath.Join(dir, "stage-"+version)
	block := bytes.Repeat([]byte("lpm benchmark data "), 700) // ~13 KiB
	for i := 0; i < 21000; i++ {
		v2 := version == "2"
		if i >= 20000 && !v2 || v2 && i%20 == 1 {
			continue // added in 2, or removed in 2
		}
		body := append([]byte(fmt.Sprint(i)), block...)
		if v2 && i%10 == 0 {
			body = append(body, "changed"...)
		}
		p := filepath.Join(stage, "usr/share/big", fmt.Sprintf("d%03d/f%05d", i%400, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, body, 0o644)
	}
	pkg := filepath.Join(dir, "big-"+version+".lpm")
	if _, err := archive.Create(pkg, stage, archive.Manifest{Name: "big", Version: version + ".0", Release: 1}); err != nil {
		b.Fatal(err)
	}
	return pkg
}

// BenchmarkUpgrade20000 upgrades the 20,000-file package at 20% change.
func BenchmarkUpgrade20000(b *testing.B) {
	dir := b.TempDir()
	v1, v2 := big20000(b, dir, "1"), big20000(b, dir, "2")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := filepath.Join(dir, fmt.Sprintf("root%d", i))
		os.MkdirAll(root, 0o755)
		db, err := pkgdb.Open(root)
		if err != nil {
			b.Fatal(err)
		}
		in := &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}}
		if _, err := in.Apply([]Change{{Archive: v1, Explicit: true}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := in.Apply([]Change{{Archive: v2}}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		os.RemoveAll(root)
		b.StartTimer()
	}
}

// BenchmarkInstall20000 installs a 20,000-file, ~250 MiB package: the
// issue's large case, for profiling (the side-by-side comparison with
// pacman, dpkg and tar is cmd/lpm-installbench).
func BenchmarkInstall20000(b *testing.B) {
	dir := b.TempDir()
	pkg := big20000(b, dir, "1")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := filepath.Join(dir, fmt.Sprintf("root%d", i))
		os.MkdirAll(root, 0o755)
		db, err := pkgdb.Open(root)
		if err != nil {
			b.Fatal(err)
		}
		in := &Installer{Root: root, DB: db, Out: &progress.Printer{Quiet: true}}
		b.StartTimer()
		if _, err := in.Apply([]Change{{Archive: pkg, Explicit: true}}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		os.RemoveAll(root)
		b.StartTimer()
	}
}

// An upgrade decides what to leave alone from the database: a file or
// link whose recorded content, mode and owner the new version repeats is
// not looked at on disk (no lstat, readlink or hash), as pacman trusts its
// database. Only directories, the paths that change and lpm's own state
// are looked at.
func TestUpgradeLooksAtNoUnchangedPathOnDisk(t *testing.T) {
	in, root := newTestInstaller(t)
	const dirs, files, links = 10, 200, 20
	var paths []string
	for i := range files {
		paths = append(paths, fmt.Sprintf("usr/share/pkg/d%02d/f%04d", i%dirs, i))
	}
	for i := range links {
		paths = append(paths, fmt.Sprintf("usr/share/pkg/d%02d/l%04d -> f%04d", i%dirs, i, i))
	}
	v1 := pack(t, stageTree(t, paths...), "pkg", "1.0")
	stage2 := stageTree(t, paths...)
	changed := []string{"usr/share/pkg/d00/f0000", "usr/share/pkg/d01/f0001"}
	for _, p := range changed {
		if err := os.WriteFile(filepath.Join(stage2, p), []byte("version 2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v2 := pack(t, stage2, "pkg", "2.0")
	if _, err := in.Apply([]Change{{Archive: v1, Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	before, err := os.Lstat(filepath.Join(root, "usr/share/pkg/d05/f0005"))
	if err != nil {
		t.Fatal(err)
	}

	in.diskLooks = 0
	touched, err := in.Apply([]Change{{Archive: v2}})
	if err != nil {
		t.Fatal(err)
	}
	// Each directory (and usr, usr/share, usr/share/pkg) is looked at when
	// its path is resolved, when it is checked and when it is kept; each
	// changed file when it is checked and replaced; a few looks go to
	// lpm's own state.
	limit := 3*(dirs+3) + 4*len(changed) + 8
	if in.diskLooks > limit {
		t.Errorf("the upgrade looked at the disk %d times for %d unchanged files and links, want at most %d", in.diskLooks, files+links-len(changed), limit)
	}
	if len(touched) != len(changed) {
		t.Errorf("the upgrade reports %v touched, want %v", touched, changed)
	}
	after, err := os.Lstat(filepath.Join(root, "usr/share/pkg/d05/f0005"))
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("an unchanged file was rewritten (%v)", err)
	}
	got, _ := os.ReadFile(filepath.Join(root, changed[0]))
	if string(got) != "version 2\n" {
		t.Errorf("a changed file holds %q after the upgrade", got)
	}
	if diffs, err := Verify(root, in.DB, nil); err != nil || len(diffs) != 0 {
		t.Errorf("verify after the upgrade: %v %v", diffs, err)
	}
}

// Installing only new paths writes them in place: one syncfs makes them
// durable before the commit, and there is no rename to make durable
// after it. An upgrade, which renames, needs its second one.
func TestAnInstallOfNewPathsSyncsTheRootOnce(t *testing.T) {
	in, _ := newTestInstaller(t)
	dir := t.TempDir()
	if _, err := in.Apply([]Change{{Archive: stagePackage(t, dir, "pkg", "1.0", 20)}}); err != nil {
		t.Fatal(err)
	}
	if in.syncs != 1 {
		t.Errorf("installing new paths synced the root %d times, want 1", in.syncs)
	}
	in.syncs = 0
	if _, err := in.Apply([]Change{{Archive: stagePackage(t, dir, "pkg", "2.0", 20)}}); err != nil {
		t.Fatal(err)
	}
	if in.syncs != 2 {
		t.Errorf("an upgrade synced the root %d times, want 2 (before and after its renames)", in.syncs)
	}
}

// An upgrade from an archive with a seek table decompresses only the
// frames holding what it writes: here a package of 36 files of 1 MiB,
// whose one changed file lies in its last, small frame.
func TestAnUpgradeDecompressesOnlyTheFramesHoldingWhatItWrites(t *testing.T) {
	in, root := newTestInstaller(t)
	const changed = "usr/share/big/f34"
	stage := func(version string) string {
		dir := t.TempDir()
		for i := range 36 {
			p := filepath.Join(dir, fmt.Sprintf("usr/share/big/f%02d", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			// Zeros, written as a hole: cheap to stage and to compress.
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, 1<<20); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, changed), []byte("version "+version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	v1, v2 := pack(t, stage("1"), "big", "1.0"), pack(t, stage("2"), "big", "2.0")
	if _, err := in.Apply([]Change{{Archive: v1, Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	r, err := archive.Open(v2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	touched, err := in.Apply([]Change{{Archive: v2, Reader: r}})
	if err != nil {
		t.Fatal(err)
	}
	// The first frame ends after 32 MiB; the last holds the other four.
	if r.Decompressed() > 5<<20 {
		t.Errorf("the upgrade decompressed %d bytes of tar to write one file of the last frame", r.Decompressed())
	}
	if len(touched) != 1 || touched[0] != changed {
		t.Errorf("the upgrade reports %v touched, want [%s]", touched, changed)
	}
	if got, _ := os.ReadFile(filepath.Join(root, changed)); string(got) != "version 2\n" {
		t.Errorf("the changed file holds %q after the upgrade", got)
	}
	if diffs, err := Verify(root, in.DB, nil); err != nil || len(diffs) != 0 {
		t.Errorf("verify after the upgrade: %v %v", diffs, err)
	}
}

// Planning an install looks at the disk for each path that might be
// there, but not below a directory it already found missing: a new
// package's files are mostly in directories of its own, and 300 small
// packages looked for 20,000 paths that could not exist.
func TestAnInstallDoesNotLookBelowADirectoryItFoundMissing(t *testing.T) {
	in, root := newTestInstaller(t)
	const files = 400 // in 50 directories below usr/share/pkg (stagePackage)
	pkg := stagePackage(t, t.TempDir(), "pkg", "1.0", files)
	if err := os.MkdirAll(filepath.Join(root, "usr/share"), 0o755); err != nil {
		t.Fatal(err)
	}
	in.diskLooks = 0
	if _, err := in.Apply([]Change{{Archive: pkg}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share/pkg/d49/f0399")); err != nil {
		t.Fatalf("the package was not installed: %v", err)
	}
	// usr and usr/share exist, usr/share/pkg does not: nothing below it
	// needs a look.
	if limit := 20; in.diskLooks > limit {
		t.Errorf("installing %d files in new directories looked at the disk %d times, want at most %d", files, in.diskLooks, limit)
	}
}

// A removal stages nothing and renames nothing before its commit: it has
// nothing to make durable with a syncfs, which on a busy filesystem would
// wait for everything other programs wrote.
func TestARemovalDoesNotSyncTheRoot(t *testing.T) {
	in, root := newTestInstaller(t)
	if _, err := in.Apply([]Change{{Archive: stagePackage(t, t.TempDir(), "pkg", "1.0", 20)}}); err != nil {
		t.Fatal(err)
	}
	in.syncs = 0
	if _, err := in.Remove([]string{"pkg"}); err != nil {
		t.Fatal(err)
	}
	if in.syncs != 0 {
		t.Errorf("removing a package synced the root %d times, want 0", in.syncs)
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/share/pkg")); !os.IsNotExist(err) {
		t.Errorf("the package's files are still there (%v)", err)
	}
}
