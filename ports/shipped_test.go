package ports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedTreeIsWrittenOnceReadOnlyIntoTheRoot(t *testing.T) {
	root := t.TempDir()
	dir, err := Shipped(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, ShippedDir, ShippedName()); dir != want {
		t.Fatalf("shipped tree at %s, want %s", dir, want)
	}
	want, err := shippedFS.ReadFile("lfs/gcc/port.toml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "gcc", FileName)
	got, err := os.ReadFile(file)
	if err != nil || string(got) != string(want) {
		t.Fatalf("gcc's port.toml in the copy differs from the embedded one (%v)", err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o444 {
		t.Errorf("%s has mode %v, want read-only 0444", file, fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Join(root, ShippedDir))
	if len(entries) != 1 {
		t.Errorf("%s holds %d entries, want only the tree (no temp directory left)", ShippedDir, len(entries))
	}

	// A second call finds the copy and leaves it alone.
	stamp := filepath.Join(dir, "stamp")
	if err := os.WriteFile(stamp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if again, err := Shipped(root); err != nil || again != dir {
		t.Fatalf("second Shipped = %s, %v; want %s", again, err, dir)
	}
	if _, err := os.Stat(stamp); err != nil {
		t.Error("the second call rewrote the tree")
	}
}

func TestShippedTreeRefusesASymlinkOnTheWay(t *testing.T) {
	root := t.TempDir()
	elsewhere := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(root, "var/cache/lpm")); err != nil {
		t.Fatal(err)
	}
	_, err := Shipped(root)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "var/cache/lpm")) || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("Shipped through a symlinked var/cache/lpm: %v; want an error naming it", err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("Shipped wrote %d entries through the symlink", len(entries))
	}
}

func TestShippedTreeLoads(t *testing.T) {
	dir, err := Shipped(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, errs := range tree.Broken() {
		t.Errorf("shipped port %s does not parse: %v", name, errs)
	}
	if p, err := tree.Lookup("gcc", nil); err != nil || p.Version != "14.2.0" {
		t.Errorf("gcc in the shipped tree: %v, %v", p, err)
	}
}
