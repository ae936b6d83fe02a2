package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesTheFileWholeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "index")
	if err := os.WriteFile(file, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(file, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil || string(data) != "new\n" {
		t.Fatalf("content %q, %v", data, err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left beside the target: %v", entries)
	}
}

func TestWriteIntoAMissingDirectoryNamesTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "no", "such", "index")
	err := Write(file, []byte("x"), 0o644)
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("error %v, want one naming %s", err, file)
	}
}
