package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/lfs-lpm/lpm/archive"
)

// writeRawArchive writes a package archive by hand, as an attacker (or an
// lpm without today's checks) would: a manifest of dirs and symlinks and
// the matching tar stream, bypassing archive.Create.
func writeRawArchive(t *testing.T, file, name string, entries []archive.Entry) {
	t.Helper()
	m := archive.Manifest{Format: 1, Name: name, Version: "1.0", Release: 1, Entries: entries}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	epoch := time.Unix(0, 0)
	tw.WriteHeader(&tar.Header{Name: ".MANIFEST", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(raw)), ModTime: epoch})
	tw.Write(raw)
	for _, e := range entries {
		h := &tar.Header{Name: e.Path, Mode: int64(e.Mode), Linkname: e.Link, ModTime: epoch}
		switch e.Type {
		case archive.TypeDir:
			h.Name, h.Typeflag = e.Path+"/", tar.TypeDir
		case archive.TypeSymlink:
			h.Typeflag = tar.TypeSymlink
		default:
			t.Fatalf("writeRawArchive: %s entries are not supported", e.Type)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	var out bytes.Buffer
	zw, _ := zstd.NewWriter(&out)
	zw.Write(tarBuf.Bytes())
	zw.Close()
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dirsTo lists dir entries for every proper prefix of p, in entry order.
func dirsTo(p string) []archive.Entry {
	var out []archive.Entry
	parts := strings.Split(p, "/")
	for i := 1; i < len(parts); i++ {
		out = append(out, archive.Entry{Path: strings.Join(parts[:i], "/"), Type: archive.TypeDir, Mode: 0o755})
	}
	return out
}

func TestInstallRefusesAnArchiveWithASymlinkAtAStatePath(t *testing.T) {
	for _, tc := range []struct{ at, refused string }{
		// The first entry in lpm's state is what the error names.
		{"var/lib/lpm/pristine/evil", `"var/lib/lpm"`},
		{"var/log/lpm/build/evil-1.0.log", `"var/log/lpm"`},
		{"var/tmp/lpm", `"var/tmp/lpm"`},
		{"var/cache/lpm/packages", `"var/cache/lpm"`},
		{"var/lib/lpm", `"var/lib/lpm"`},
		{"var/tmp", `"var/tmp"`},
	} {
		at := tc.at
		t.Run(at, func(t *testing.T) {
			r := newRoot(t)
			host := t.TempDir()
			file := filepath.Join(t.TempDir(), "evil-1.0-1.lpm")
			entries := append(dirsTo(at), archive.Entry{Path: at, Type: archive.TypeSymlink, Mode: 0o777, Link: host})
			if at == "var/tmp" {
				// A root without var/tmp yet, and a link out of the root.
				os.RemoveAll(r.path("var/tmp"))
				entries = append(dirsTo(at), archive.Entry{Path: at, Type: archive.TypeSymlink, Mode: 0o777, Link: "/"})
			}
			writeRawArchive(t, file, "evil", entries)
			before := r.state()
			r.fails([]string{file, "entry " + tc.refused, "lpm's own state"}, "install", "--file", file)
			r.unchanged(before)
			if fi, err := os.Lstat(r.path(at)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				t.Errorf("/%s became a symlink", at)
			}
		})
	}
}

// TestASymlinkPlantedAtAStatePathIsRefused plants links as a package an
// older lpm let through would have, pointing at a host directory holding a
// file, and runs the commands that write there.
func TestASymlinkPlantedAtAStatePathIsRefused(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "plain", `name = "plain"
version = "1.0"
[build]
install = 'mkdir -p "$DESTDIR/usr/share/plain"; echo hi > "$DESTDIR/usr/share/plain/f"'
`)
	// A package with a config file: installing it writes a pristine copy.
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "etc"), 0o755)
	os.WriteFile(filepath.Join(stage, "etc/plain.conf"), []byte("a = 1\n"), 0o644)
	withConfig := filepath.Join(t.TempDir(), "conf-1.0-1.lpm")
	if _, err := archive.Create(withConfig, stage, archive.Manifest{Name: "conf", Version: "1.0", Release: 1, Backup: []string{"etc/plain.conf"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		link string   // planted at this state path
		args []string // the command that would write through it
	}{
		{"var/lib/lpm/pristine", []string{"install", "--file", withConfig}},
		{"var/lib/lpm", []string{"install", "--file", withConfig}},
		{"var/log/lpm/build/plain-1.0.log", []string{"build", "plain"}},
		{"var/log/lpm", []string{"build", "plain"}},
		{"var/tmp/lpm", []string{"build", "plain"}},
		{"var/tmp/lpm/plain-1.0-1", []string{"build", "plain"}},
		{"var/cache/lpm/packages", []string{"build", "plain"}},
		{"var/cache/lpm", []string{"install", "plain"}},
		{"var/cache/lpm/distfiles", []string{"build", "plain"}},
		{"var/lib/lpm/lock", []string{"install", "--file", withConfig}},
		{"var/lib/lpm/lpm.db", []string{"install", "--file", withConfig}},
		{"var/lib/lpm", []string{"list"}},
	} {
		t.Run(tc.link, func(t *testing.T) {
			r := newRoot(t, tree)
			host := t.TempDir()
			victim := filepath.Join(host, "victim")
			os.WriteFile(victim, []byte("host file\n"), 0o644)
			target := host
			if strings.HasSuffix(tc.link, ".log") || strings.HasSuffix(tc.link, "/lock") || strings.HasSuffix(tc.link, ".db") {
				target = victim
			}
			if err := os.MkdirAll(filepath.Dir(r.path(tc.link)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, r.path(tc.link)); err != nil {
				t.Fatal(err)
			}
			before := r.state()
			r.fails([]string{r.path(tc.link), "is a symlink", "lpm never reaches its own state through a link"}, tc.args...)
			r.unchanged(before)
			entries, _ := os.ReadDir(host)
			if data, _ := os.ReadFile(victim); len(entries) != 1 || string(data) != "host file\n" {
				t.Errorf("the link's target changed: %d entries, victim %q", len(entries), data)
			}
		})
	}
}

func TestDiffConfigRefusesAPristineCopyThatIsASymlink(t *testing.T) {
	r := newRoot(t)
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "etc"), 0o755)
	os.WriteFile(filepath.Join(stage, "etc/plain.conf"), []byte("a = 1\n"), 0o644)
	pkg := filepath.Join(t.TempDir(), "conf-1.0-1.lpm")
	if _, err := archive.Create(pkg, stage, archive.Manifest{Name: "conf", Version: "1.0", Release: 1, Backup: []string{"etc/plain.conf"}}); err != nil {
		t.Fatal(err)
	}
	r.ok("install", "--file", pkg)
	pristine := r.path("var/lib/lpm/pristine/conf/etc/plain.conf")
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("root:s3cret\n"), 0o600)
	if err := os.Remove(pristine); err != nil {
		t.Fatal(err)
	}
	os.Symlink(secret, pristine)
	out, errOut, code := r.lpm("diff-config", "conf")
	if code != 1 || !strings.Contains(errOut, pristine+" is a symlink") || strings.Contains(out+errOut, "s3cret") {
		t.Errorf("diff-config through a planted pristine link: exit %d\n%s%s", code, out, errOut)
	}
}
