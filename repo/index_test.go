package repo

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/lfs-lpm/lpm/archive"
)

// pack makes NAME-1.0-1.lpm in dir from a one-file staging tree.
func pack(t *testing.T, dir, name, buildHash string) {
	t.Helper()
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "usr/share", name), 0o755)
	os.WriteFile(filepath.Join(stage, "usr/share", name, "README"), []byte(name+"\n"), 0o644)
	m := archive.Manifest{Name: name, Version: "1.0", Release: 1, BuildHash: buildHash, Depends: []string{"libc"}, BuildDate: time.Unix(0, 0).UTC()}
	if _, err := archive.Create(filepath.Join(dir, name+"-1.0-1.lpm"), stage, m); err != nil {
		t.Fatal(err)
	}
}

func TestCreateSignsAnIndexOfTheArchivesWithBuildHashesAndRaisesTheSerial(t *testing.T) {
	dir := t.TempDir()
	pack(t, dir, "alpha", strings.Repeat("a", 64))
	pack(t, dir, "old", "") // built before build hashes
	keyFile := filepath.Join(t.TempDir(), "k")
	pub, err := GenerateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the secret key's mode: %v %v", fi.Mode(), err)
	}
	if _, err := GenerateKey(keyFile); err == nil {
		t.Errorf("GenerateKey overwrote an existing key")
	}
	key, err := ReadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(2_000_000_000, 0)
	ix, skipped, err := Create(dir, key, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Entries) != 1 || ix.Entries[0].Name != "alpha" || ix.Entries[0].File != "alpha-1.0-1.lpm" || len(skipped) != 1 || skipped[0] != "old-1.0-1.lpm" {
		t.Fatalf("entries %+v, skipped %v", ix.Entries, skipped)
	}
	if ix.Serial != 2_000_000_000 || !ix.Expires.Equal(now.Add(time.Hour)) {
		t.Errorf("serial %d expires %v", ix.Serial, ix.Expires)
	}
	data, _ := os.ReadFile(filepath.Join(dir, IndexName))
	sig, _ := os.ReadFile(filepath.Join(dir, SignatureName))
	r := minisign.NewReader(bytes.NewReader(data))
	io.Copy(io.Discard, r)
	if !r.Verify(pub, sig) {
		t.Errorf("the index does not verify with the public key")
	}
	// Made again within the same second, the serial still rises.
	again, _, err := Create(dir, key, time.Hour, now)
	if err != nil || again.Serial != ix.Serial+1 {
		t.Errorf("second serial %d (%v), want %d", again.Serial, err, ix.Serial+1)
	}
}

func TestAnEntryMatchesOnlyTheManifestItDescribes(t *testing.T) {
	dir := t.TempDir()
	pack(t, dir, "alpha", strings.Repeat("a", 64))
	e, err := entryOf(filepath.Join(dir, "alpha-1.0-1.lpm"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := archive.ReadManifest(filepath.Join(dir, "alpha-1.0-1.lpm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Matches(m); err != nil {
		t.Errorf("an archive does not match its own entry: %v", err)
	}
	e.BuildHash = strings.Repeat("b", 64)
	e.Depends = nil
	err = e.Matches(m)
	if err == nil || !strings.Contains(err.Error(), "build hash") || !strings.Contains(err.Error(), `depends ["libc"] where the index says null`) {
		t.Errorf("a different build hash and depends: %v", err)
	}
}
