package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The ports index lives in the root's cache and never hides an edit: a
// port rewritten in place with the same size and its modification time
// put back is planned at its new version by the next command.
func TestPlanSeesAPortEditedInPlaceAfterTheIndexWasMade(t *testing.T) {
	tree := t.TempDir()
	port := func(version string) string {
		return "name = \"tool\"\nversion = \"" + version + "\"\n[build]\ninstall = 'true'\n"
	}
	// Enough ports for the tree to be indexed (small trees are parsed).
	for i := 0; i < 1500; i++ {
		dir := filepath.Join(tree, fmt.Sprintf("filler-port-%04d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf("name = \"filler-port-%04d\"\nversion = \"1.0\"\n[build]\ninstall = 'true'\n", i)
		if err := os.WriteFile(filepath.Join(dir, "port.toml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(tree, "tool", "port.toml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(port("1.0")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRoot(t, tree)
	if out := r.ok("install", "--dry-run", "tool"); !strings.Contains(out, "1.0") {
		t.Fatalf("plan before the edit:\n%s", out)
	}
	if idx, _ := filepath.Glob(r.path("var/cache/lpm/ports-index/ports-*.sqlite")); len(idx) != 2 {
		t.Errorf("want one index per tree (this one and the demo's) in var/cache/lpm/ports-index, found %v", idx)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(port("1.1")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(file, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if out := r.ok("install", "--dry-run", "tool"); !strings.Contains(out, "1.1") {
		t.Fatalf("plan after rewriting tool's port.toml as 1.1 (same size and modification time):\n%s", out)
	}
}
