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
