package installer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
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

// Planning an install holds, beside the manifest, a few dozen bytes an
// entry: where each lands and how to find it. A record of every file
// (a map of them held 3.5 MiB for 20,000 files, and the commit made a
// sorted copy of it besides) would be hundreds.
func TestPlanningAnInstallHoldsNoRecordOfEveryFile(t *testing.T) {
	dir := t.TempDir()
	stage := filepath.Join(dir, "stage")
	const files = 4000
	for i := range files {
		p := filepath.Join(stage, fmt.Sprintf("usr/share/many/d%02d/f%04d", i%40, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkg := filepath.Join(dir, "many-1.0.lpm")
	if _, err := archive.Create(pkg, stage, archive.Manifest{Name: "many", Version: "1.0", Release: 1}); err != nil {
		t.Fatal(err)
	}
	r, err := archive.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	entries := len(r.Manifest().Entries)
	in, _ := newTestInstaller(t)

	tx := &tx{in: in, paths: newRootPaths(in.Root), taken: map[string][]string{}}
	defer tx.memory.restore()
	before := liveHeap()
	if err := tx.plan([]Change{{Archive: pkg, Reader: r, Explicit: true}}); err != nil {
		t.Fatal(err)
	}
	after := liveHeap()
	runtime.KeepAlive(tx)

	perEntry := (after - before) / int64(entries)
	t.Logf("planning %d entries: %d bytes live an entry", entries, perEntry)
	if perEntry > 120 {
		t.Errorf("planning an install of %d entries held %d bytes an entry beside the manifest; want at most 120 (no record of every file)", entries, perEntry)
	}
}

// liveHeap is what the heap holds live: after two collections, as the
// first only moves idle zstd decoders (archive's sync.Pool) aside.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	return int64(live[0].Value.Uint64())
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
