package tarball

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/lfs-lpm/lpm/progress"
	"github.com/ulikunitz/xz"
)

var mtime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// ent is one archive entry; typ defaults to a regular file.
type ent struct {
	name string
	typ  byte
	body string
	link string
	mode int64
}

func tarBytes(t *testing.T, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, ModTime: mtime, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			h = &tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: e.name, PAXRecords: map[string]string{"comment": "made by a test"}}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type compressor func(t *testing.T, raw []byte) []byte

func plain(t *testing.T, raw []byte) []byte { return raw }

func gzipped(t *testing.T, raw []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(raw)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xzed(t *testing.T, raw []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t *testing.T, raw []byte) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func bzipped(t *testing.T, raw []byte) []byte {
	bin, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("bzip2 not installed")
	}
	cmd := exec.Command(bin, "-c")
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	return out
}

// writeArchive stores data in its own temp dir, away from where it will
// be extracted.
func writeArchive(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// workDirs returns dest and a sentinel directory beside it; the sentinel
// must stay empty whatever an archive tries.
func workDirs(t *testing.T) (parent, dest, sentinel string) {
	t.Helper()
	parent = t.TempDir()
	dest = filepath.Join(parent, "dest")
	sentinel = filepath.Join(parent, "sentinel")
	if err := os.Mkdir(sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	return parent, dest, sentinel
}

func assertContained(t *testing.T, parent, sentinel string) {
	t.Helper()
	names := listDir(t, parent)
	for _, n := range names {
		if n != "dest" && n != "sentinel" {
			t.Errorf("%q was created beside dest", n)
		}
	}
	if got := listDir(t, sentinel); len(got) != 0 {
		t.Errorf("sentinel dir beside dest is not empty: %v", got)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEveryCompressionExtractsTheSameTree(t *testing.T) {
	ents := []ent{
		{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
		{name: "pkg-1.0/", typ: tar.TypeDir},
		{name: "pkg-1.0/configure", body: "#!/bin/sh\necho configured\n", mode: 0o6755},
		{name: "pkg-1.0/src/main.c", body: "int main(void) { return 0; }\n"}, // parent has no entry
		{name: "pkg-1.0/README", body: "read me\n", mode: 0o444},
		{name: "pkg-1.0/abs", typ: tar.TypeSymlink, link: "/usr/share/misc/absolute"},
		{name: "pkg-1.0/rel", typ: tar.TypeSymlink, link: "src/main.c"},
		{name: "pkg-1.0/configure.sh", typ: tar.TypeLink, link: "pkg-1.0/configure"},
		{name: "pkg-1.0/dot/../tidy", body: "cleaned\n"},
	}
	raw := tarBytes(t, ents)
	tests := []struct {
		name     string
		compress compressor
	}{
		{"a plain tar extracts", plain},
		{"a gzip tar extracts", gzipped},
		{"an xz tar extracts", xzed},
		{"a bzip2 tar extracts", bzipped},
		{"a zstd tar extracts", zstded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The name lies on purpose: detection must use the bytes.
			archive := writeArchive(t, "pkg-1.0.tar.lz", tt.compress(t, raw))
			parent, dest, sentinel := workDirs(t)
			if err := Extract(archive, dest, nil); err != nil {
				t.Fatalf("Extract: %v", err)
			}
			assertContained(t, parent, sentinel)
			top := filepath.Join(dest, "pkg-1.0")

			if got := listDir(t, top); strings.Join(got, " ") != "README abs configure configure.sh rel src tidy" {
				t.Errorf("top-level files: %v", got)
			}
			if got := readFile(t, filepath.Join(top, "src/main.c")); got != "int main(void) { return 0; }\n" {
				t.Errorf("main.c = %q", got)
			}
			if got := readFile(t, filepath.Join(top, "tidy")); got != "cleaned\n" {
				t.Errorf("tidy = %q", got)
			}
			fi, err := os.Lstat(filepath.Join(top, "configure"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != 0o755 {
				t.Errorf("configure mode = %v, want -rwxr-xr-x with setuid/setgid stripped", fi.Mode())
			}
			if !fi.ModTime().Equal(mtime) {
				t.Errorf("configure mtime = %v, want %v", fi.ModTime(), mtime)
			}
			if fi, err := os.Lstat(filepath.Join(top, "README")); err != nil || fi.Mode() != 0o444 {
				t.Errorf("README mode = %v (%v), want -r--r--r--", fi.Mode(), err)
			}
			hard, err := os.Lstat(filepath.Join(top, "configure.sh"))
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(fi, hard) {
				t.Errorf("configure.sh is not a hard link to configure")
			}
			for link, want := range map[string]string{"abs": "/usr/share/misc/absolute", "rel": "src/main.c"} {
				got, err := os.Readlink(filepath.Join(top, link))
				if err != nil || got != want {
					t.Errorf("symlink %s -> %q (%v), want %q", link, got, err, want)
				}
			}
			root, err := Root(dest)
			if err != nil || root != top {
				t.Errorf("Root = %q, %v; want %q", root, err, top)
			}
		})
	}
}

func TestHostileEntriesAreRefused(t *testing.T) {
	tests := []struct {
		name  string
		ents  func(sentinel string) []ent
		entry string // the entry the error must name
	}{
		{
			name:  "a path climbing out with .. is refused",
			ents:  func(string) []ent { return []ent{{name: "../evil", body: "x"}} },
			entry: "../evil",
		},
		{
			name:  "a path climbing out after descending is refused",
			ents:  func(string) []ent { return []ent{{name: "a/../../evil", body: "x"}} },
			entry: "a/../../evil",
		},
		{
			name:  "an absolute path is refused",
			ents:  func(s string) []ent { return []ent{{name: s + "/abs", body: "x"}} },
			entry: "/abs",
		},
		{
			name: "a file below a symlink to an absolute directory is refused",
			ents: func(s string) []ent {
				return []ent{{name: "a", typ: tar.TypeSymlink, link: s}, {name: "a/file", body: "x"}}
			},
			entry: "a/file",
		},
		{
			name: "a file two levels below a symlink to .. is refused",
			ents: func(string) []ent {
				return []ent{{name: "a", typ: tar.TypeSymlink, link: ".."}, {name: "a/a/x", body: "x"}}
			},
			entry: "a/a/x",
		},
		{
			name: "a directory below a symlink is refused",
			ents: func(s string) []ent {
				return []ent{{name: "a", typ: tar.TypeSymlink, link: s}, {name: "a/sub/", typ: tar.TypeDir}}
			},
			entry: "a/sub/",
		},
		{
			name: "a directory entry on top of a symlink is refused",
			ents: func(s string) []ent {
				return []ent{{name: "a", typ: tar.TypeSymlink, link: s}, {name: "a/", typ: tar.TypeDir, mode: 0o777}}
			},
			entry: "a/",
		},
		{
			name: "a symlink below a symlink is refused",
			ents: func(s string) []ent {
				return []ent{{name: "a", typ: tar.TypeSymlink, link: s}, {name: "a/l", typ: tar.TypeSymlink, link: "/etc"}}
			},
			entry: "a/l",
		},
		{
			name:  "a hard link to /etc/passwd is refused",
			ents:  func(string) []ent { return []ent{{name: "passwd", typ: tar.TypeLink, link: "/etc/passwd"}} },
			entry: "passwd",
		},
		{
			name:  "a hard link climbing out with .. is refused",
			ents:  func(string) []ent { return []ent{{name: "h", typ: tar.TypeLink, link: "../x"}} },
			entry: "h",
		},
		{
			name: "a hard link to a file not yet extracted is refused",
			ents: func(string) []ent {
				return []ent{{name: "h", typ: tar.TypeLink, link: "later"}, {name: "later", body: "x"}}
			},
			entry: "h",
		},
		{
			name: "a hard link to a symlink is refused",
			ents: func(s string) []ent {
				return []ent{{name: "s", typ: tar.TypeSymlink, link: s + "/f"}, {name: "h", typ: tar.TypeLink, link: "s"}}
			},
			entry: "h",
		},
		{
			name: "a hard link to a file that was since replaced by a symlink is refused",
			ents: func(s string) []ent {
				return []ent{{name: "f", body: "x"}, {name: "f", typ: tar.TypeSymlink, link: s + "/f"}, {name: "h", typ: tar.TypeLink, link: "f"}}
			},
			entry: "h",
		},
		{
			name: "a hard link placed below a symlink is refused",
			ents: func(s string) []ent {
				return []ent{{name: "f", body: "x"}, {name: "a", typ: tar.TypeSymlink, link: s}, {name: "a/h", typ: tar.TypeLink, link: "f"}}
			},
			entry: "a/h",
		},
		{
			name:  "a character device is refused",
			ents:  func(string) []ent { return []ent{{name: "dev/null", typ: tar.TypeChar}} },
			entry: "dev/null",
		},
		{
			name:  "a fifo is refused",
			ents:  func(string) []ent { return []ent{{name: "pipe", typ: tar.TypeFifo}} },
			entry: "pipe",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, dest, sentinel := workDirs(t)
			archive := writeArchive(t, "evil.tar.gz", gzipped(t, tarBytes(t, tt.ents(sentinel))))
			err := Extract(archive, dest, nil)
			assertContained(t, parent, sentinel)
			if err == nil {
				t.Fatal("Extract succeeded on a hostile archive")
			}
			msg := err.Error()
			t.Log(msg)
			if !errors.Is(err, ErrHostile) || !strings.Contains(msg, "refusing to extract") {
				t.Errorf("error is not a refusal: %v", err)
			}
			if !strings.Contains(msg, archive) || !strings.Contains(msg, tt.entry) {
				t.Errorf("error %q does not name the archive and entry %q", msg, tt.entry)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
		})
	}
}

func TestReplacingEntriesNeverWritesThroughLinks(t *testing.T) {
	tests := []struct {
		name  string
		ents  func(sentinel string) []ent
		check func(t *testing.T, dest string)
	}{
		{
			name: "a file replaces a symlink of the same name instead of writing through it",
			ents: func(s string) []ent {
				return []ent{{name: "x", typ: tar.TypeSymlink, link: s + "/x"}, {name: "x", body: "mine"}}
			},
			check: func(t *testing.T, dest string) {
				fi, err := os.Lstat(filepath.Join(dest, "x"))
				if err != nil || !fi.Mode().IsRegular() || readFile(t, filepath.Join(dest, "x")) != "mine" {
					t.Errorf("x is not the regular file from the archive: %v %v", fi, err)
				}
			},
		},
		{
			name: "a file replacing one name of a hard link leaves the other name alone",
			ents: func(string) []ent {
				return []ent{{name: "f", body: "old"}, {name: "g", typ: tar.TypeLink, link: "f"}, {name: "g", body: "new"}}
			},
			check: func(t *testing.T, dest string) {
				if f, g := readFile(t, filepath.Join(dest, "f")), readFile(t, filepath.Join(dest, "g")); f != "old" || g != "new" {
					t.Errorf("f = %q, g = %q; want old, new", f, g)
				}
			},
		},
		{
			name: "a repeated file name keeps the last content",
			ents: func(string) []ent { return []ent{{name: "f", body: "one"}, {name: "f", body: "two"}} },
			check: func(t *testing.T, dest string) {
				if got := readFile(t, filepath.Join(dest, "f")); got != "two" {
					t.Errorf("f = %q, want two", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, dest, sentinel := workDirs(t)
			archive := writeArchive(t, "a.tar", tarBytes(t, tt.ents(sentinel)))
			if err := Extract(archive, dest, nil); err != nil {
				t.Fatalf("Extract: %v", err)
			}
			assertContained(t, parent, sentinel)
			tt.check(t, dest)
		})
	}
}

func TestBadArchivesFailWithTheirName(t *testing.T) {
	good := gzipped(t, tarBytes(t, []ent{{name: "f", body: strings.Repeat("data ", 2000)}}))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"a text file is an unknown format", []byte("this is not an archive\n"), "unknown archive format"},
		{"an empty file is an unknown format", nil, "unknown archive format"},
		{"a truncated gzip stream is reported", good[:len(good)/2], "damaged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := writeArchive(t, "src.tar.gz", tt.data)
			_, dest, _ := workDirs(t)
			err := Extract(archive, dest, nil)
			if err == nil || !strings.Contains(err.Error(), archive) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want one naming %s and saying %q", err, archive, tt.want)
			}
		})
	}
}

func TestExtractCountsCompressedBytesOnTheBar(t *testing.T) {
	data := gzipped(t, tarBytes(t, []ent{{name: "f", body: "hello"}}))
	if len(data) >= 1024 {
		t.Fatalf("test archive unexpectedly large: %d bytes", len(data))
	}
	archive := writeArchive(t, "small.tar.gz", data)
	_, dest, _ := workDirs(t)
	var out bytes.Buffer
	p := &progress.Printer{Out: &out}
	bar := p.Start("extracting small.tar.gz", int64(len(data)), progress.Bytes)
	if err := Extract(archive, dest, bar); err != nil {
		t.Fatal(err)
	}
	bar.Finish(nil)
	want := fmt.Sprintf("extracted small.tar.gz: %d B in ", len(data))
	if !strings.Contains(out.String(), want) {
		t.Fatalf("progress output %q lacks %q", out.String(), want)
	}
}

func TestRootFindsTheSingleTopDirectory(t *testing.T) {
	tests := []struct {
		name    string
		ents    []ent
		wantSub string // "" means dest itself
		wantErr bool
	}{
		{"one top directory is the root", []ent{{name: "zlib-1.3.1/", typ: tar.TypeDir}, {name: "zlib-1.3.1/zlib.h", body: "x"}}, "zlib-1.3.1", false},
		{"one top directory without its own entry is the root", []ent{{name: "zlib-1.3.1/zlib.h", body: "x"}}, "zlib-1.3.1", false},
		{"several top entries make dest the root", []ent{{name: "a/f", body: "x"}, {name: "Makefile", body: "x"}}, "", false},
		{"a single file makes dest the root", []ent{{name: "script.sh", body: "x"}}, "", false},
		{"a lone symlink to a directory is not the root", []ent{{name: "d", typ: tar.TypeSymlink, link: "/usr"}}, "", false},
		{"an archive with nothing in it is an error", []ent{{name: "./", typ: tar.TypeDir}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := writeArchive(t, "x.tar", tarBytes(t, tt.ents))
			_, dest, _ := workDirs(t)
			if err := Extract(archive, dest, nil); err != nil {
				t.Fatal(err)
			}
			got, err := Root(dest)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), dest) {
					t.Fatalf("Root = %q, %v; want an error naming %s", got, err, dest)
				}
				return
			}
			want := filepath.Join(dest, tt.wantSub)
			if err != nil || got != want {
				t.Fatalf("Root = %q, %v; want %q", got, err, want)
			}
		})
	}
}
