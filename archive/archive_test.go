package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

var fixedDate = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func demoManifest() Manifest {
	return Manifest{
		Name:        "demo",
		Version:     "2025a",
		Release:     2,
		Description: "a demo package",
		License:     "MIT",
		Homepage:    "https://example.org/demo",
		Depends:     []string{"zlib >=1.3", "awk | gawk"},
		Provides:    []string{"demo-tools"},
		Backup:      []string{"etc/demo.conf"},
		BuildDate:   fixedDate,
	}
}

func mustWrite(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile is subject to the umask and cannot set special bits.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// buildStaging makes a DESTDIR with every kind of entry the format holds.
func buildStaging(t testing.TB) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "staging")
	mustWrite(t, filepath.Join(root, "etc/demo.conf"), "answer=42\n", 0o644)
	mustWrite(t, filepath.Join(root, "usr/bin/gzip"), "#!/bin/sh\necho gzip\n", 0o755)
	// gunzip sorts before gzip, so it becomes the file and gzip the link.
	mustDo(t, os.Link(filepath.Join(root, "usr/bin/gzip"), filepath.Join(root, "usr/bin/gunzip")))
	mustWrite(t, filepath.Join(root, "usr/bin/su-helper"), "#!/bin/sh\nid\n", 0o755|os.ModeSetuid)
	mustDo(t, os.Symlink("gzip", filepath.Join(root, "usr/bin/zcat")))
	mustDo(t, os.Symlink("/usr/bin/gzip", filepath.Join(root, "usr/bin/gzip-abs")))
	mustDo(t, os.Symlink("../share/doc/demo/README", filepath.Join(root, "usr/bin/readme")))
	mustWrite(t, filepath.Join(root, "usr/share/doc/demo/README"), "read me\n", 0o644)
	mustWrite(t, filepath.Join(root, "usr/share/empty.dat"), "", 0o600)
	mustDo(t, os.MkdirAll(filepath.Join(root, "var/tmp"), 0o755))
	mustDo(t, os.Chmod(filepath.Join(root, "var/tmp"), 0o777|os.ModeSticky))
	mustDo(t, os.MkdirAll(filepath.Join(root, "var/empty"), 0o700))
	mustDo(t, os.Chmod(filepath.Join(root, "var/empty"), 0o700))
	return root
}

func entryMap(m *Manifest) map[string]Entry {
	out := make(map[string]Entry)
	for _, e := range m.Entries {
		out[e.Path] = e
	}
	return out
}

func TestCreateThenReadGivesBackTheSameManifestAndContent(t *testing.T) {
	staging := buildStaging(t)
	out := filepath.Join(t.TempDir(), "demo-2025a-2.lpm")

	made, err := Create(out, staging, demoManifest())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	read, err := ReadManifest(out)
	if err != nil {
		t.Fatalf("ReadManifest: %v", err)
	}
	if !reflect.DeepEqual(made, read) {
		t.Fatalf("manifest changed in the round trip:\ncreated %+v\nread    %+v", made, read)
	}
	if read.Format != 1 || read.Name != "demo" || read.Version != "2025a" || read.Release != 2 ||
		!read.BuildDate.Equal(fixedDate) || !reflect.DeepEqual(read.Depends, []string{"zlib >=1.3", "awk | gawk"}) {
		t.Errorf("package fields not kept: %+v", read)
	}

	var paths []string
	for _, e := range read.Entries {
		paths = append(paths, e.Path)
	}
	wantPaths := []string{
		"etc", "etc/demo.conf",
		"usr", "usr/bin", "usr/bin/gunzip", "usr/bin/gzip", "usr/bin/gzip-abs", "usr/bin/readme",
		"usr/bin/su-helper", "usr/bin/zcat",
		"usr/share", "usr/share/doc", "usr/share/doc/demo", "usr/share/doc/demo/README", "usr/share/empty.dat",
		"var", "var/empty", "var/tmp",
	}
	if !reflect.DeepEqual(paths, wantPaths) {
		t.Fatalf("entries:\n got %q\nwant %q", paths, wantPaths)
	}

	byPath := entryMap(read)
	checks := []struct {
		path string
		want Entry
	}{
		{"usr/bin/su-helper", Entry{Type: TypeFile, Mode: 0o4755, Size: 13}},
		{"usr/bin/gunzip", Entry{Type: TypeFile, Mode: 0o755, Size: 20}},
		{"usr/bin/gzip", Entry{Type: TypeHardlink, Mode: 0o755, Link: "usr/bin/gunzip"}},
		{"usr/bin/zcat", Entry{Type: TypeSymlink, Mode: 0o777, Link: "gzip"}},
		{"usr/bin/gzip-abs", Entry{Type: TypeSymlink, Mode: 0o777, Link: "/usr/bin/gzip"}},
		{"usr/bin/readme", Entry{Type: TypeSymlink, Mode: 0o777, Link: "../share/doc/demo/README"}},
		{"var/tmp", Entry{Type: TypeDir, Mode: 0o1777}},
		{"var/empty", Entry{Type: TypeDir, Mode: 0o700}},
		{"usr/share/empty.dat", Entry{Type: TypeFile, Mode: 0o600, Size: 0}},
	}
	for _, c := range checks {
		got := byPath[c.path]
		if got.Type != c.want.Type || got.Mode != c.want.Mode || got.Size != c.want.Size || got.Link != c.want.Link {
			t.Errorf("%s: got %+v, want type %s mode %#o size %d link %q", c.path, got, c.want.Type, c.want.Mode, c.want.Size, c.want.Link)
		}
	}
	if sum, _ := FileSHA256(filepath.Join(staging, "etc/demo.conf")); byPath["etc/demo.conf"].SHA256 != sum {
		t.Errorf("etc/demo.conf sha256 %q, file hashes to %q", byPath["etc/demo.conf"].SHA256, sum)
	}

	r, err := Open(out)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	if !reflect.DeepEqual(r.Manifest(), read) {
		t.Errorf("Open's manifest differs from ReadManifest's")
	}
	for pass := 1; pass <= 2; pass++ { // Walk must be repeatable
		var walked []string
		err = r.Walk(func(e Entry, content io.Reader) error {
			walked = append(walked, e.Path)
			data, err := io.ReadAll(content)
			if err != nil {
				return err
			}
			switch e.Type {
			case TypeFile:
				want, err := os.ReadFile(filepath.Join(staging, e.Path))
				if err != nil {
					return err
				}
				if !bytes.Equal(data, want) {
					t.Errorf("pass %d: %s content %q, staged %q", pass, e.Path, data, want)
				}
			default:
				if len(data) != 0 {
					t.Errorf("pass %d: %s is a %s but yielded %d bytes", pass, e.Path, e.Type, len(data))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("pass %d: Walk: %v", pass, err)
		}
		if !reflect.DeepEqual(walked, wantPaths) {
			t.Fatalf("pass %d: Walk order %q, want %q", pass, walked, wantPaths)
		}
	}
	if err := Verify(out); err != nil {
		t.Errorf("Verify of a fresh archive: %v", err)
	}
}

func TestCreateLeavesOnlyTheArchiveBehind(t *testing.T) {
	staging := buildStaging(t)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "demo.lpm")
	if _, err := Create(out, staging, demoManifest()); err != nil {
		t.Fatal(err)
	}
	// Replacing an existing archive must work too.
	if _, err := Create(out, staging, demoManifest()); err != nil {
		t.Fatalf("second Create over an existing archive: %v", err)
	}
	names := dirNames(t, outDir)
	if !reflect.DeepEqual(names, []string{"demo.lpm"}) {
		t.Errorf("output dir holds %q, want only demo.lpm", names)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("archive mode %v, want 0644", info.Mode().Perm())
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

// tarHeaders decompresses an archive and returns every tar header.
func tarHeaders(t *testing.T, path string) []*tar.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	var hdrs []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, h)
	}
}

func TestSameStagingGivesByteIdenticalArchives(t *testing.T) {
	stagingA := buildStaging(t)
	outA := filepath.Join(t.TempDir(), "a.lpm")
	if _, err := Create(outA, stagingA, demoManifest()); err != nil {
		t.Fatal(err)
	}

	// A second, independently built tree (new inodes, new times), with
	// timestamps pushed far from the first one.
	stagingB := buildStaging(t)
	later := time.Date(2031, 7, 4, 1, 2, 3, 0, time.UTC)
	err := filepath.Walk(stagingB, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.Mode()&os.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, later, later)
	})
	if err != nil {
		t.Fatal(err)
	}
	outB := filepath.Join(t.TempDir(), "b.lpm")
	if _, err := Create(outB, stagingB, demoManifest()); err != nil {
		t.Fatal(err)
	}

	a, _ := os.ReadFile(outA)
	b, _ := os.ReadFile(outB)
	if !bytes.Equal(a, b) {
		t.Fatalf("archives of identical trees differ (%d vs %d bytes)", len(a), len(b))
	}
	sumA, err := FileSHA256(outA)
	if err != nil {
		t.Fatal(err)
	}
	if sumB, _ := FileSHA256(outB); sumA != sumB {
		t.Errorf("FileSHA256 differs for identical archives: %s vs %s", sumA, sumB)
	}

	hdrs := tarHeaders(t, outA)
	if len(hdrs) == 0 || hdrs[0].Name != ".MANIFEST" {
		t.Fatalf("first tar entry is not .MANIFEST: %+v", hdrs)
	}
	for _, h := range hdrs {
		if h.ModTime.Unix() != 0 || h.Uname != "" || h.Gname != "" || len(h.PAXRecords) != 0 {
			t.Errorf("tar header %q leaks build data: mtime %v uname %q gname %q pax %v", h.Name, h.ModTime, h.Uname, h.Gname, h.PAXRecords)
		}
	}
}

func TestManifestJSONIsReadable(t *testing.T) {
	staging := buildStaging(t)
	out := filepath.Join(t.TempDir(), "demo.lpm")
	if _, err := Create(out, staging, demoManifest()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{"{\n  \"format\": 1,\n  \"name\": \"demo\",", `"zlib >=1.3"`, `"build_date": "2025-03-01T12:00:00Z"`} {
		if !strings.Contains(text, want) {
			t.Errorf("manifest JSON lacks %q:\n%s", want, text)
		}
	}
	if !strings.HasSuffix(text, "}\n") {
		t.Errorf("manifest JSON does not end with a newline")
	}
}

// The manifest's hash stands for the build: the bytes of .MANIFEST as
// any tar reader sees them, the same for the same tree, another for a
// tree with one file changed.
func TestManifestSHA256IsTheHashOfTheManifestEntry(t *testing.T) {
	sumOf := func(out string) string {
		t.Helper()
		r, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return r.ManifestSHA256()
	}
	staging := buildStaging(t)
	out := filepath.Join(t.TempDir(), "demo.lpm")
	if _, err := Create(out, staging, demoManifest()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(raw)
	if got := sumOf(out); got != hex.EncodeToString(want[:]) {
		t.Errorf("ManifestSHA256 = %s, the .MANIFEST entry's sha256 is %x", got, want)
	}

	again := filepath.Join(t.TempDir(), "again.lpm")
	if _, err := Create(again, buildStaging(t), demoManifest()); err != nil {
		t.Fatal(err)
	}
	other := buildStaging(t)
	mustWrite(t, filepath.Join(other, "usr/share/doc/demo/README"), "read me, another build\n", 0o644)
	changed := filepath.Join(t.TempDir(), "changed.lpm")
	if _, err := Create(changed, other, demoManifest()); err != nil {
		t.Fatal(err)
	}
	if sumOf(again) != sumOf(out) {
		t.Error("the same tree packed twice has two manifest hashes")
	}
	if sumOf(changed) == sumOf(out) {
		t.Error("a tree with a file changed has the same manifest hash")
	}
}

func TestReadManifestNeedsOnlyTheFirstEntry(t *testing.T) {
	staging := filepath.Join(t.TempDir(), "staging")
	// Incompressible data spanning many zstd blocks, so that cutting the
	// file in half leaves the manifest intact but destroys the content.
	big := make([]byte, 1<<20)
	seed := uint32(1)
	for i := range big {
		seed = seed*1664525 + 1013904223
		big[i] = byte(seed >> 24)
	}
	mustWrite(t, filepath.Join(staging, "usr/share/big.bin"), string(big), 0o644)
	out := filepath.Join(t.TempDir(), "big.lpm")
	m := demoManifest()
	m.Backup = nil
	if _, err := Create(out, staging, m); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(out, info.Size()/2); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(out)
	if err != nil {
		t.Fatalf("ReadManifest of an archive cut after its manifest: %v", err)
	}
	if len(got.Entries) != 3 || got.Entries[2].Size != 1<<20 {
		t.Errorf("unexpected manifest %+v", got.Entries)
	}
	err = Verify(out)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "usr/share/big.bin") {
		t.Errorf("Verify of a truncated archive: %v, want ErrCorrupt naming usr/share/big.bin", err)
	}
}

func TestCreateRefusesSpecialFiles(t *testing.T) {
	staging := buildStaging(t)
	fifo := filepath.Join(staging, "run/demo/ctl")
	mustDo(t, os.MkdirAll(filepath.Dir(fifo), 0o755))
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	outDir := t.TempDir()
	_, err := Create(filepath.Join(outDir, "demo.lpm"), staging, demoManifest())
	if err == nil {
		t.Fatal("Create packed a fifo")
	}
	if !strings.Contains(err.Error(), "run/demo/ctl") || !strings.Contains(err.Error(), "named pipe") {
		t.Errorf("error does not name the fifo: %v", err)
	}
	if names := dirNames(t, outDir); len(names) != 0 {
		t.Errorf("failed Create left files behind: %q", names)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(m *Manifest)
		outside bool
		want    string
	}{
		{"a package name with a slash is refused", func(m *Manifest) { m.Name = "../demo" }, true, "invalid package name"},
		{"a backup file the package does not ship is refused", func(m *Manifest) { m.Backup = []string{"etc/missing.conf"} }, true, `"etc/missing.conf" is listed in backup`},
		{"an empty version is refused", func(m *Manifest) { m.Version = "" }, true, "invalid version"},
		{"writing the archive into the staging dir is refused", func(m *Manifest) {}, false, "inside the staging dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			staging := buildStaging(t)
			out := filepath.Join(staging, "demo.lpm")
			if tt.outside {
				out = filepath.Join(t.TempDir(), "demo.lpm")
			}
			m := demoManifest()
			tt.edit(&m)
			_, err := Create(out, staging, m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Create error %v, want it to mention %q", err, tt.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a refused Create left %s behind", out)
			}
		})
	}
}

func TestCreateRecordsELFSonameAndNeeded(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	build := t.TempDir()
	mustWrite(t, filepath.Join(build, "x.c"), "int demo(void) { return 42; }\n", 0o644)
	mustWrite(t, filepath.Join(build, "main.c"), "int demo(void);\nint main(void) { return demo(); }\n", 0o644)
	gcc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("gcc", args...)
		cmd.Dir = build
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	gcc("-shared", "-fPIC", "-Wl,-soname,libdemo.so.1", "-o", "libdemo.so.1.0", "x.c")
	mustDo(t, os.Symlink("libdemo.so.1.0", filepath.Join(build, "libdemo.so")))
	gcc("-o", "demo", "main.c", "-L.", "-ldemo")

	staging := filepath.Join(t.TempDir(), "staging")
	copyFile := func(src, dst string, mode os.FileMode) {
		data, err := os.ReadFile(src)
		mustDo(t, err)
		mustWrite(t, dst, string(data), mode)
	}
	copyFile(filepath.Join(build, "libdemo.so.1.0"), filepath.Join(staging, "usr/lib/libdemo.so.1.0"), 0o755)
	mustDo(t, os.Symlink("libdemo.so.1.0", filepath.Join(staging, "usr/lib/libdemo.so.1")))
	copyFile(filepath.Join(build, "demo"), filepath.Join(staging, "usr/bin/demo"), 0o755)
	mustWrite(t, filepath.Join(staging, "usr/lib/broken.so"), "\x7fELF\x02\x01\x01this is not really an ELF file at all", 0o644)
	mustWrite(t, filepath.Join(staging, "usr/lib/notes.txt"), "plain text\n", 0o644)

	out := filepath.Join(t.TempDir(), "demo.lpm")
	m := demoManifest()
	m.Backup = nil
	if _, err := Create(out, staging, m); err != nil {
		t.Fatalf("Create: %v", err)
	}
	read, err := ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	byPath := entryMap(read)

	lib := byPath["usr/lib/libdemo.so.1.0"]
	if lib.Soname != "libdemo.so.1" {
		t.Errorf("libdemo.so.1.0 soname %q, want libdemo.so.1", lib.Soname)
	}
	prog := byPath["usr/bin/demo"]
	if prog.Soname != "" || !contains(prog.Needed, "libdemo.so.1") {
		t.Errorf("usr/bin/demo soname %q needed %q, want no soname and libdemo.so.1 needed", prog.Soname, prog.Needed)
	}
	for _, p := range []string{"usr/lib/broken.so", "usr/lib/notes.txt", "usr/lib/libdemo.so.1"} {
		if e := byPath[p]; e.Soname != "" || len(e.Needed) != 0 {
			t.Errorf("%s got ELF data %q %q", p, e.Soname, e.Needed)
		}
	}
	if byPath["usr/lib/broken.so"].Type != TypeFile {
		t.Errorf("a corrupt ELF must still be packed as a file")
	}

	if soname, _, ok := ELFInfo(filepath.Join(staging, "usr/lib/libdemo.so.1.0")); !ok || soname != "libdemo.so.1" {
		t.Errorf("ELFInfo(lib) = %q, %v", soname, ok)
	}
	if _, _, ok := ELFInfo(filepath.Join(staging, "usr/lib/libdemo.so.1")); ok {
		t.Errorf("ELFInfo followed a symlink")
	}
}

func TestELFInfoRejectsNonELF(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, content string }{
		{"a text file is not ELF", "hello\n"},
		{"an empty file is not ELF", ""},
		{"a truncated ELF header is not ELF", "\x7fELF\x02\x01"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, string(rune('a'+i)))
			mustWrite(t, p, tt.content, 0o644)
			if soname, needed, ok := ELFInfo(p); ok || soname != "" || needed != nil {
				t.Errorf("ELFInfo = %q, %q, %v; want nothing", soname, needed, ok)
			}
		})
	}
	if _, _, ok := ELFInfo(filepath.Join(dir, "missing")); ok {
		t.Errorf("ELFInfo of a missing file said ok")
	}
}

func TestFileSHA256(t *testing.T) {
	p := filepath.Join(t.TempDir(), "abc")
	mustWrite(t, p, "abc", 0o644)
	got, err := FileSHA256(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("FileSHA256 = %s, want %s", got, want)
	}
	if _, err := FileSHA256(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("FileSHA256 of a missing file: %v", err)
	}
}

func TestWalkReturnsTheCallbackErrorUnchanged(t *testing.T) {
	staging := buildStaging(t)
	out := filepath.Join(t.TempDir(), "demo.lpm")
	if _, err := Create(out, staging, demoManifest()); err != nil {
		t.Fatal(err)
	}
	r, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stop := errors.New("disk full")
	calls := 0
	err = r.Walk(func(e Entry, _ io.Reader) error {
		calls++
		if e.Path == "usr/bin/gunzip" {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("Walk returned %v, want the callback's error", err)
	}
	if calls != 5 {
		t.Errorf("Walk called fn %d times before stopping, want 5", calls)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Find looks an entry up in the format's order, in which "/" sorts before
// every other byte: a/b comes before a-b and a.c.
func TestFindLooksUpEntriesInTheFormatsOrder(t *testing.T) {
	m := baseManifest(dir("a"), dir("a/b"), file("a/b/c", "c"), dir("a-b"), file("a.c", "x"), dir("b"))
	if err := validateManifest(&m); err != nil {
		t.Fatalf("the manifest is not in the format's order: %v", err)
	}
	for i, e := range m.Entries {
		if got, ok := m.Find(e.Path); !ok || got != i {
			t.Errorf("Find(%q) = %d, %v; want %d, true", e.Path, got, ok, i)
		}
	}
	for _, p := range []string{"", "a/", "a/b/d", "a-", "c", "0"} {
		if got, ok := m.Find(p); ok {
			t.Errorf("Find(%q) = %d, true; want not found", p, got)
		}
	}
}
