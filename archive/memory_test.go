package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"
)

// An open archive holds its manifest's entries and nothing more: not the
// manifest's JSON text, not a second copy of the entries (a package of
// 20,000 files has about 5 MiB of each).
func TestAnOpenArchiveHoldsItsEntriesOnce(t *testing.T) {
	dir := t.TempDir()
	stage := filepath.Join(dir, "stage")
	for i := range 2000 {
		p := filepath.Join(stage, fmt.Sprintf("usr/share/doc/d%02d/f%04d", i%40, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "docs-1.0.lpm")
	if _, err := Create(file, stage, Manifest{Name: "docs", Version: "1.0", Release: 1}); err != nil {
		t.Fatal(err)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Open's decoder went back to the pool of idle ones, which the
	// collector empties over two collections: it is not the reader's.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)

	// The entries themselves: their structs and their strings.
	entries := r.Manifest().Entries
	need := int64(len(entries)) * int64(unsafe.Sizeof(Entry{}))
	for _, e := range entries {
		need += int64(len(e.Path) + len(e.Type) + len(e.SHA256) + len(e.Link))
	}
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d entries: held %d KiB, need %d KiB", len(entries), held>>10, need>>10)
	if held > need*3/2 {
		t.Errorf("an open archive of %d entries holds %d KiB; its entries need %d KiB", len(entries), held>>10, need>>10)
	}
	runtime.KeepAlive(r)
}
