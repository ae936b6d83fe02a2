package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// rawEntry is one hand-made tar member after .MANIFEST.
type rawEntry struct {
	hdr  tar.Header
	body string
}

// writeRaw builds an archive by hand, bypassing every check Create makes,
// the way an attacker would. trailer is appended after the tar end marker.
func writeRaw(t *testing.T, path string, manifest []byte, entries []rawEntry, trailer []byte) {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	mustDo(t, tw.WriteHeader(&tar.Header{Name: ".MANIFEST", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(manifest))}))
	_, err := tw.Write(manifest)
	mustDo(t, err)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg && h.Size == 0 {
			h.Size = int64(len(e.body))
		}
		mustDo(t, tw.WriteHeader(&h))
		if e.body != "" {
			_, err := tw.Write([]byte(e.body))
			mustDo(t, err)
		}
	}
	mustDo(t, tw.Close())
	tarBuf.Write(trailer)

	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out)
	mustDo(t, err)
	_, err = zw.Write(tarBuf.Bytes())
	mustDo(t, err)
	mustDo(t, zw.Close())
	mustDo(t, os.WriteFile(path, out.Bytes(), 0o644))
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func baseManifest(entries ...Entry) Manifest {
	return Manifest{Format: 1, Name: "evil", Version: "1.0", Release: 1, Entries: entries}
}

func mustJSON(t *testing.T, m Manifest) []byte {
	t.Helper()
	data, err := json.Marshal(m)
	mustDo(t, err)
	return data
}

func dir(p string) Entry { return Entry{Path: p, Type: TypeDir, Mode: 0o755} }

func file(p, content string) Entry {
	return Entry{Path: p, Type: TypeFile, Mode: 0o644, Size: int64(len(content)), SHA256: sha(content)}
}

func TestHostileManifestsAreRejected(t *testing.T) {
	tests := []struct {
		name     string
		manifest Manifest
		raw      string // used instead of manifest when set
		wantPath string
		wantMsg  string
	}{
		{"a path climbing out with .. is rejected", baseManifest(file("../x", "a")), "", `"../x"`, "escapes the root"},
		{"a path with .. in the middle is rejected", baseManifest(dir("usr"), file("usr/../../etc/passwd", "a")), "", `"usr/../../etc/passwd"`, "escapes the root"},
		{"an absolute path is rejected", baseManifest(file("/abs", "a")), "", `"/abs"`, "is absolute"},
		{"an empty path is rejected", baseManifest(file("", "a")), "", `""`, "empty path"},
		{"a dot path is rejected", baseManifest(dir(".")), "", `"."`, "empty path"},
		{"a non-clean path is rejected", baseManifest(dir("a"), file("a/./b", "x")), "", `"a/./b"`, "not a clean path"},
		{"a trailing slash is rejected", baseManifest(dir("a/")), "", `"a/"`, "not a clean path"},
		{"a duplicate path is rejected", baseManifest(dir("a"), dir("a")), "", `"a"`, "listed twice"},
		{"a file under a symlink dir is rejected", baseManifest(Entry{Path: "etc", Type: TypeSymlink, Mode: 0o777, Link: "/etc"}, file("etc/passwd", "root::0:0")), "", `"etc/passwd"`, `under symlink "etc"`},
		{"a file under a file is rejected", baseManifest(file("a", "x"), file("a/b", "y")), "", `"a/b"`, "not a dir"},
		{"a missing parent dir is rejected", baseManifest(dir("usr"), file("usr/bin/x", "x")), "", `"usr/bin/x"`, `no parent directory entry "usr/bin"`},
		{"a hardlink to an unknown path is rejected", baseManifest(Entry{Path: "b", Type: TypeHardlink, Mode: 0o644, Link: "nope"}), "", `"b"`, `hardlink to "nope"`},
		{"a hardlink to a later file is rejected", baseManifest(Entry{Path: "a", Type: TypeHardlink, Mode: 0o644, Link: "b"}, file("b", "x")), "", `"a"`, "not an earlier file entry"},
		{"a hardlink to a dir is rejected", baseManifest(dir("a"), Entry{Path: "b", Type: TypeHardlink, Mode: 0o755, Link: "a"}), "", `"b"`, "not an earlier file entry"},
		{"a hardlink with a different mode than its target is rejected", baseManifest(file("a", "x"), Entry{Path: "b", Type: TypeHardlink, Mode: 0o4755, Link: "a"}), "", `"b"`, "differs from its target"},
		{"an unknown type is rejected", baseManifest(Entry{Path: "dev", Type: "chardev", Mode: 0o600}), "", `"dev"`, `unknown type "chardev"`},
		{"mode bits above 07777 are rejected", baseManifest(Entry{Path: "a", Type: TypeDir, Mode: 0o40755}), "", `"a"`, "outside 07777"},
		{"a negative size is rejected", baseManifest(Entry{Path: "a", Type: TypeFile, Mode: 0o644, Size: -1, SHA256: sha("")}), "", `"a"`, "negative size"},
		{"a malformed sha256 is rejected", baseManifest(Entry{Path: "a", Type: TypeFile, Mode: 0o644, SHA256: "xyz"}), "", `"a"`, "malformed sha256"},
		{"an uppercase sha256 is rejected", baseManifest(Entry{Path: "a", Type: TypeFile, Mode: 0o644, SHA256: strings.ToUpper(sha(""))}), "", `"a"`, "malformed sha256"},
		{"an empty symlink target is rejected", baseManifest(Entry{Path: "a", Type: TypeSymlink, Mode: 0o777}), "", `"a"`, "empty or NUL-containing target"},
		{"a dir carrying a link is rejected", baseManifest(Entry{Path: "a", Type: TypeDir, Mode: 0o755, Link: "/etc"}), "", `"a"`, "carries a link target"},
		{"a negative owner is rejected", baseManifest(Entry{Path: "a", Type: TypeDir, Mode: 0o755, UID: -1}), "", `"a"`, "negative owner"},
		{"entries out of order are rejected", baseManifest(dir("b"), dir("a")), "", `"a"`, "out of order"},
		{"a symlink at lpm's work directory is rejected", baseManifest(dir("var"), dir("var/tmp"), Entry{Path: "var/tmp/lpm", Type: TypeSymlink, Mode: 0o777, Link: "/"}), "", `"var/tmp/lpm"`, "lpm's own state"},
		{"a directory in lpm's database directory is rejected", baseManifest(dir("var"), dir("var/lib"), dir("var/lib/lpm")), "", `"var/lib/lpm"`, "lpm's own state"},
		{"a symlink on the way to lpm's caches is rejected", baseManifest(dir("var"), Entry{Path: "var/cache", Type: TypeSymlink, Mode: 0o777, Link: "/tmp"}), "", `"var/cache"`, "on the way to /var/cache/lpm"},
		{"a file at var is rejected", baseManifest(file("var", "x")), "", `"var"`, "on the way to /var/lib/lpm"},
		{"an entry named .MANIFEST is rejected", baseManifest(file(".MANIFEST", "x")), "", `".MANIFEST"`, "reserved name"},
		{"a backup path outside the package is rejected", func() Manifest {
			m := baseManifest(dir("etc"))
			m.Backup = []string{"etc/shadow"}
			return m
		}(), "", `"etc/shadow"`, "listed in backup"},
		{"an unknown format is rejected", func() Manifest { m := baseManifest(); m.Format = 2; return m }(), "", "", "format 2"},
		{"a package name that is a path is rejected", func() Manifest { m := baseManifest(); m.Name = "../../evil"; return m }(), "", "", "invalid package name"},
		{"a manifest that is not JSON is rejected", Manifest{}, "not json", "", "not valid JSON"},
		{"a manifest with trailing data is rejected", Manifest{}, `{"format":1,"name":"a","version":"1","release":1} {}`, "", "data after the JSON object"},
	}
	dirPath := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dirPath, "evil"+string(rune('a'+i))+".lpm")
			raw := []byte(tt.raw)
			if tt.raw == "" {
				raw = mustJSON(t, tt.manifest)
			}
			writeRaw(t, path, raw, nil, nil)

			_, err := ReadManifest(path)
			assertCorrupt(t, err, path, tt.wantPath, tt.wantMsg)
			r, err := Open(path)
			if err == nil {
				r.Close()
			}
			assertCorrupt(t, err, path, tt.wantPath, tt.wantMsg)
		})
	}
}

func assertCorrupt(t *testing.T, err error, archivePath, wantPath, wantMsg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("hostile archive accepted")
	}
	msg := err.Error()
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("error does not wrap ErrCorrupt: %v", err)
	}
	for _, want := range []string{"archive " + archivePath, wantPath, wantMsg, "rebuild it"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

func TestHostileTarStreamsAreRejectedByWalk(t *testing.T) {
	good := baseManifest(dir("etc"), file("etc/motd", "hello"))
	goodEntries := func() []rawEntry {
		return []rawEntry{
			{hdr: tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}},
			{hdr: tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644}, body: "hello"},
		}
	}
	tests := []struct {
		name     string
		entries  func() []rawEntry
		trailer  []byte
		wantPath string
		wantMsg  string
	}{
		{"a tar name differing from the manifest is rejected", func() []rawEntry {
			e := goodEntries()
			e[1].hdr.Name = "../etc/motd"
			return e
		}, nil, `"etc/motd"`, `the tar stream has "../etc/motd"`},
		{"a symlink where the manifest has a file is rejected", func() []rawEntry {
			e := goodEntries()
			e[1] = rawEntry{hdr: tar.Header{Name: "etc/motd", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow", Mode: 0o644}}
			return e
		}, nil, `"etc/motd"`, "is a file in the manifest"},
		{"a tar mode differing from the manifest is rejected", func() []rawEntry {
			e := goodEntries()
			e[1].hdr.Mode = 0o4755
			return e
		}, nil, `"etc/motd"`, "has mode 0644 in the manifest but 04755"},
		{"a tar size differing from the manifest is rejected", func() []rawEntry {
			e := goodEntries()
			e[1].body = "hello!"
			return e
		}, nil, `"etc/motd"`, "has size 5 in the manifest but 6"},
		{"content differing from the manifest hash is rejected", func() []rawEntry {
			e := goodEntries()
			e[1].body = "jello"
			return e
		}, nil, `"etc/motd"`, "content has sha256 " + sha("jello") + ", the manifest says " + sha("hello")},
		{"an extra tar entry is rejected", func() []rawEntry {
			return append(goodEntries(), rawEntry{hdr: tar.Header{Name: "etc/evil", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"})
		}, nil, `"etc/evil"`, "not in the manifest"},
		{"a missing tar entry is rejected", func() []rawEntry {
			return goodEntries()[:1]
		}, nil, `"etc/motd"`, "missing from the tar stream"},
		{"data after the tar end is rejected", goodEntries, []byte("surprise"), "", "data after the end of the tar stream"},
	}
	dirPath := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dirPath, "evil"+string(rune('a'+i))+".lpm")
			writeRaw(t, path, mustJSON(t, good), tt.entries(), tt.trailer)

			// The manifest alone is fine; only the stream is bad.
			if _, err := ReadManifest(path); err != nil {
				t.Fatalf("ReadManifest: %v", err)
			}
			assertCorrupt(t, Verify(path), path, tt.wantPath, tt.wantMsg)
		})
	}
}

func TestWalkDeliversContentButFailsOnHashMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.lpm")
	m := baseManifest(dir("etc"), file("etc/motd", "hello"), file("etc/z", "after"))
	writeRaw(t, path, mustJSON(t, m), []rawEntry{
		{hdr: tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644}, body: "jello"},
		{hdr: tar.Header{Name: "etc/z", Typeflag: tar.TypeReg, Mode: 0o644}, body: "after"},
	}, nil)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var seen []string
	err = r.Walk(func(e Entry, content io.Reader) error {
		data, err := io.ReadAll(content)
		seen = append(seen, e.Path+"="+string(data))
		return err
	})
	assertCorrupt(t, err, path, `"etc/motd"`, "content has sha256")
	if want := []string{"etc=", "etc/motd=jello"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("fn saw %q, want %q (walk must stop at the bad file)", seen, want)
	}
}

func TestArchivesThatAreNotPackagesAreRejected(t *testing.T) {
	dirPath := t.TempDir()
	notZstd := filepath.Join(dirPath, "plain.lpm")
	mustWrite(t, notZstd, "this is not zstd", 0o644)
	_, err := ReadManifest(notZstd)
	assertCorrupt(t, err, notZstd, "", "zstd-compressed tar")

	wrongFirst := filepath.Join(dirPath, "wrong-first.lpm")
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	mustDo(t, tw.WriteHeader(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}))
	_, err = tw.Write([]byte("x"))
	mustDo(t, err)
	mustDo(t, tw.Close())
	zw, err := zstd.NewWriter(nil)
	mustDo(t, err)
	mustDo(t, os.WriteFile(wrongFirst, zw.EncodeAll(tarBuf.Bytes(), nil), 0o644))
	_, err = ReadManifest(wrongFirst)
	assertCorrupt(t, err, wrongFirst, `"etc/passwd"`, "not the regular file .MANIFEST")

	if _, err := ReadManifest(filepath.Join(dirPath, "missing.lpm")); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("a missing file must be an I/O error, not ErrCorrupt: %v", err)
	}
}

// Open refuses what is not a regular file at once: opening a named pipe
// without O_NONBLOCK would wait for a writer that never comes (rebuild-db
// opens every *.lpm of the package cache).
func TestOpenRefusesAFileThatIsNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.lpm")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "null.lpm")
	if err := os.Symlink("/dev/null", link); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "a named pipe", link: "a symlink to /dev/null, a character device", dir: "a directory"} {
		_, err := Open(path)
		if err == nil || !strings.Contains(err.Error(), path+" is "+kind+", not a regular file") {
			t.Errorf("Open(%s) = %v, want it refused as %s", path, err, kind)
		}
	}
}
