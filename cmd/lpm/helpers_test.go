package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/builder"
	"github.com/lfs-lpm/lpm/pkgdb"
)

// lpmBin is the lpm built once for the whole suite.
var lpmBin string

func TestMain(m *testing.M) {
	builder.SandboxMain()
	dir, err := os.MkdirTemp("", "lpm-test-bin-")
	if err != nil {
		panic(err)
	}
	lpmBin = filepath.Join(dir, "lpm")
	build := exec.Command("go", "build", "-o", lpmBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building lpm for the tests:", err)
		os.Exit(1)
	}
	tmp, _ := os.Stat(os.TempDir())
	code := m.Run()
	os.RemoveAll(dir)
	// The tests open their own directories to other users; the machine's
	// temporary directory must keep its mode (1777), or apt and every
	// other user's program stop working.
	if now, err := os.Stat(os.TempDir()); tmp != nil && err == nil && now.Mode() != tmp.Mode() {
		fmt.Fprintf(os.Stderr, "FAIL: the tests changed %s from %v to %v\n", os.TempDir(), tmp.Mode(), now.Mode())
		os.Chmod(os.TempDir(), tmp.Mode().Perm()|tmp.Mode()&(os.ModeSticky|os.ModeSetuid|os.ModeSetgid))
		code = 1
	}
	os.Exit(code)
}

// repo is the repository's top directory.
func repo(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "../..")
}

// A testRoot is an LFS-shaped scratch root with its config.
type testRoot struct {
	t     *testing.T
	dir   string
	ports []string
}

// newRoot makes a root (lib -> usr/lib and /var, as on LFS) whose sources come from
// the demo distfiles and whose ports are the demo tree plus extra trees.
func newRoot(t *testing.T, extraTrees ...string) *testRoot {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"etc/lpm", "usr/lib", "usr/bin", "var/lib", "var/cache", "var/log", "var/tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/lib", filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("mirrors = [\"file://%s/demo/distfiles\"]\n[build]\njobs = 2\n", repo(t))
	if err := os.WriteFile(filepath.Join(dir, "etc/lpm/lpm.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &testRoot{t: t, dir: dir, ports: append(extraTrees, filepath.Join(repo(t), "demo/ports"))}
}

// lpm runs the binary against the root; it returns stdout, stderr and the
// exit code.
func (r *testRoot) lpm(args ...string) (string, string, int) {
	r.t.Helper()
	full := []string{"--root", r.dir, "--yes"}
	for _, p := range r.ports {
		full = append(full, "--ports", p)
	}
	cmd := exec.Command(lpmBin, append(full, args...)...)
	cmd.Env = append(os.Environ(), "LPM_CONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// ok runs lpm and fails the test unless it exits 0.
func (r *testRoot) ok(args ...string) string {
	r.t.Helper()
	out, errOut, code := r.lpm(args...)
	if code != 0 {
		r.t.Fatalf("lpm %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fails runs lpm, expects exit 1 with a one-line error containing every
// want, and returns that line.
func (r *testRoot) fails(want []string, args ...string) string {
	r.t.Helper()
	out, errOut, code := r.lpm(args...)
	if code != 1 {
		r.t.Fatalf("lpm %s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "lpm: ") {
		r.t.Errorf("lpm %s: last line of stderr is not an lpm error: %q", strings.Join(args, " "), last)
	}
	for _, w := range want {
		if !strings.Contains(last, w) {
			r.t.Errorf("lpm %s: error %q lacks %q", strings.Join(args, " "), last, w)
		}
	}
	return last
}

func (r *testRoot) path(rel string) string { return filepath.Join(r.dir, rel) }

// state is a digest of the root as a user sees it (every path, type, mode,
// link target and content, but not lpm's own caches and logs) plus the
// database's content. Two equal states mean nothing changed.
func (r *testRoot) state() string {
	r.t.Helper()
	var lines []string
	skip := map[string]bool{"var/log/lpm": true, "var/cache/lpm": true, "var/tmp/lpm": true, "var/lib/lpm": true}
	err := filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.dir, p)
		if skip[rel] {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	if db, err := pkgdb.OpenReadOnly(r.dir); err == nil {
		pkgs, _ := db.Packages()
		for _, p := range pkgs {
			files, _ := db.Files(p.Name)
			p.InstallTime = p.InstallTime.UTC()
			lines = append(lines, fmt.Sprintf("db %+v %d files", p, len(files)))
			for _, f := range files {
				lines = append(lines, fmt.Sprintf("db %+v", f))
			}
		}
		db.Close()
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// unchanged fails the test if the root's state differs from before.
func (r *testRoot) unchanged(before string) {
	r.t.Helper()
	if after := r.state(); after != before {
		r.t.Errorf("the root or database changed:\n%s", diffLines(before, after))
	}
}

func diffLines(a, b string) string {
	in := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		in[l]++
	}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if in[l] > 0 {
			in[l]--
			continue
		}
		out = append(out, "+ "+l)
	}
	for l, n := range in {
		if n > 0 {
			out = append(out, "- "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// writePort writes a port into tree/name/port.toml.
func writePort(t *testing.T, tree, name, text string) {
	t.Helper()
	dir := filepath.Join(tree, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "port.toml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// packFiles writes an .lpm archive of package name at version holding
// files (path relative to the root -> content) and returns its path.
func packFiles(t *testing.T, name, version string, files map[string]string) string {
	t.Helper()
	stage := filepath.Join(t.TempDir(), "stage")
	for rel, content := range files {
		p := filepath.Join(stage, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkg := filepath.Join(t.TempDir(), name+"-"+version+".lpm")
	if _, err := archive.Create(pkg, stage, archive.Manifest{Name: name, Version: version, Release: 1}); err != nil {
		t.Fatal(err)
	}
	return pkg
}

// tarEntry is one entry of a test tarball.
type tarEntry struct {
	name, body, link string
	typ              byte
}

// writeTarGz writes a .tar.gz and returns its sha256.
func writeTarGz(t *testing.T, file string, entries []tarEntry) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if typ == tar.TypeDir {
			h.Mode, h.Size = 0o755, 0
		}
		if typ == tar.TypeSymlink {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	gz.Close()
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// jsonOut runs lpm with --json and decodes stdout into v.
func (r *testRoot) jsonOut(v any, args ...string) {
	r.t.Helper()
	out := r.ok(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		r.t.Fatalf("lpm %v --json: %v\n%s", args, err, out)
	}
}
