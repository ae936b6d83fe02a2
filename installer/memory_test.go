package installer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/lfs-lpm/lpm/archive"
)

// An install streams file content from the archive to the disk: what it
// allocates stays far below what the package holds, whatever its size
// (a buffer per file made an install of 250 MiB allocate 250 MiB more).
func TestInstallingAllocatesFarLessThanThePackageHolds(t *testing.T) {
	dir := t.TempDir()
	stage := filepath.Join(dir, "stage")
	const files, size = 1000, 64 << 10
	content := bytes.Repeat([]byte("lpm streams what it installs\n"), size/29+1)[:size]
	for i := range files {
		p := filepath.Join(stage, fmt.Sprintf("usr/share/big/d%02d/f%04d", i%20, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		// One byte differs per file, so that no two are alike.
		content[0] = byte(i)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, before, after := installMeasured(t, stage, "big")

	if fi, err := os.Stat(filepath.Join(root, "usr/share/big/d19/f0999")); err != nil || fi.Size() != size {
		t.Fatalf("the last file was not installed whole: %v, %v", fi, err)
	}
	held := int64(files * size)
	got := int64(after.TotalAlloc - before.TotalAlloc)
	t.Logf("installed %d MiB, allocated %d MiB", held>>20, got>>20)
	if got > held/2 {
		t.Errorf("installing %d MiB of files allocated %d MiB; want less than half of that", held>>20, got>>20)
	}
}

// A small install keeps the collector's default: the heap limit, and the
// collections limit forces to learn what is live, are for big packages.
// Under it, the 85 one-package installs of an LFS system took twice the
// CPU.
func TestInstallingASmallPackageForcesNoCollection(t *testing.T) {
	dir := t.TempDir()
	stage := filepath.Join(dir, "stage")
	for i := range 50 {
		p := filepath.Join(stage, fmt.Sprintf("usr/share/small/f%02d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, before, after := installMeasured(t, stage, "small")

	if _, err := os.Stat(filepath.Join(root, "usr/share/small/f49")); err != nil {
		t.Fatalf("the package was not installed: %v", err)
	}
	if forced := after.NumForcedGC - before.NumForcedGC; forced != 0 {
		t.Errorf("installing a package of 50 files forced %d collections; want none", forced)
	}
}

// installMeasured packs stage as package name 1.0, installs it onto a new
// root and returns the root with the memory statistics from just before
// and just after the install.
func installMeasured(t *testing.T, stage, name string) (root string, before, after runtime.MemStats) {
	t.Helper()
	pkg := filepath.Join(t.TempDir(), name+"-1.0.lpm")
	if _, err := archive.Create(pkg, stage, archive.Manifest{Name: name, Version: "1.0", Release: 1}); err != nil {
		t.Fatal(err)
	}
	in, root := newTestInstaller(t)
	runtime.ReadMemStats(&before)
	if _, err := in.Apply([]Change{{Archive: pkg, Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return root, before, after
}
