package archive

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// Every install holds one zstd window to decode an archive, so lpm writes
// 4 MiB windows (on real /usr trees 8 MiB saved only 0.7% of the size),
// and says what window an archive has, so the installer can size its
// memory by it.
func TestArchivesAreWrittenWithA4MiBWindow(t *testing.T) {
	dir := t.TempDir()
	stage := filepath.Join(dir, "stage")
	os.MkdirAll(filepath.Join(stage, "usr/lib"), 0o755)
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 10<<20) // more than any window, incompressible
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	os.WriteFile(filepath.Join(stage, "usr/lib/big"), data, 0o644)
	pkg := filepath.Join(dir, "big-1.0.lpm")
	if _, err := Create(pkg, stage, Manifest{Name: "big", Version: "1.0", Release: 1}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(raw); err != nil {
		t.Fatal(err)
	}
	if h.WindowSize != 4<<20 {
		t.Errorf("the archive's window is %d bytes, want 4 MiB", h.WindowSize)
	}
	r, err := Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if w := r.Window(); w != 4<<20 {
		t.Errorf("Window() = %d, want 4 MiB", w)
	}
}
