package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// shippedRoot is a fresh root whose config names no ports trees.
func shippedRoot(t *testing.T) *testRoot {
	r := newRoot(t)
	r.ports = nil
	return r
}

func TestFreshRootSearchesTheShippedTree(t *testing.T) {
	r := shippedRoot(t)
	out := r.ok("search", "gcc")
	if !strings.Contains(out, "gcc 14.2.0") {
		t.Fatalf("lpm search gcc on a root with no ports configured:\n%s\nwant the shipped gcc 14.2.0", out)
	}
	var got []searchResult
	if err := json.Unmarshal([]byte(r.ok("--json", "search", "glibc")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].Name != "glibc" || got[0].Version != "2.41" {
		t.Errorf("lpm search glibc = %+v, want the shipped glibc 2.41", got)
	}
	matches, _ := filepath.Glob(r.path("var/cache/lpm/ports/lfs-*/gcc/port.toml"))
	if len(matches) != 1 {
		t.Errorf("the shipped tree was not written to var/cache/lpm/ports (found %v)", matches)
	}
}

func TestLocalPortsTreeHidesTheShippedPort(t *testing.T) {
	r := shippedRoot(t)
	local := r.path("usr/ports/m4")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	port := "name = \"m4\"\nversion = \"1.4.20\"\ndescription = \"my own m4\"\n[build]\nstyle = \"autotools\"\n"
	if err := os.WriteFile(filepath.Join(local, "port.toml"), []byte(port), 0o644); err != nil {
		t.Fatal(err)
	}
	out := r.ok("search", "m4")
	if !strings.Contains(out, "m4 1.4.20") || strings.Contains(out, "1.4.19") {
		t.Errorf("with ROOT/usr/ports/m4 1.4.20, lpm search m4 says:\n%s\nwant only the local 1.4.20", out)
	}
	if out := r.ok("search", "bison"); !strings.Contains(out, "bison 3.8.2") {
		t.Errorf("the shipped ports under a local tree are gone:\n%s", out)
	}
}

func TestConfiguredPortsLeaveTheShippedTreeOut(t *testing.T) {
	r := newRoot(t) // --ports demo/ports
	if _, _, code := r.lpm("search", "gcc"); code == 0 {
		t.Error("lpm --ports demo/ports search gcc found gcc: the shipped tree should not be layered under trees the user named")
	}
	if _, err := os.Stat(r.path("var/cache/lpm/ports")); err == nil {
		t.Error("the shipped tree was written although the user named the trees")
	}
}

func TestNamedTreesCanKeepTheShippedTree(t *testing.T) {
	r := newRoot(t) // --ports demo/ports
	r.ports = append(r.ports, "shipped")
	out := r.ok("search", "e")
	if !strings.Contains(out, "hello 1.0.0") || !strings.Contains(out, "gcc 14.2.0") {
		t.Errorf("--ports demo/ports --ports shipped: lpm search e says\n%s\nwant the demo's hello and the shipped gcc", out)
	}
}

func TestUnwritableRootReadsTheShippedTreeFromTheUsersCache(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run lpm as another user")
	}
	// Everything the other user reaches must be readable by it.
	top, err := os.MkdirTemp("", "lpm-shipped-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	root, cache := filepath.Join(top, "root"), filepath.Join(top, "home/.cache")
	// The user's cache directory does not exist yet.
	for _, d := range []string{root + "/etc", root + "/usr", root + "/var", filepath.Join(top, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(top, 0o755)
	os.Chmod(filepath.Join(top, "home"), 0o777)
	bin := filepath.Join(top, "lpm")
	data, err := os.ReadFile(lpmBin)
	if err != nil || os.WriteFile(bin, data, 0o755) != nil {
		t.Fatalf("copying lpm: %v", err)
	}
	cmd := exec.Command(bin, "--root", root, "search", "gcc")
	cmd.Env = []string{"HOME=" + filepath.Join(top, "home"), "XDG_CACHE_HOME=" + cache, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "gcc 14.2.0") {
		t.Fatalf("lpm search gcc as an ordinary user on a root it cannot write: %v\n%s", err, out)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "lpm/ports/lfs-*/gcc/port.toml")); len(m) != 1 {
		t.Errorf("the shipped tree is not in the user's cache (%v)", m)
	}
	if _, err := os.Stat(filepath.Join(root, "var/cache")); err == nil {
		t.Error("lpm wrote into a root it may not write")
	}
}

// A user with no home it may write (nobody's is /nonexistent) on a root
// it may not write still gets its queries answered: the shipped tree is
// copied to a directory of its own in the temporary directory, and
// nothing is written into the root.
func TestQueriesOfAUserWithNoWritableHomeUseTheShippedTree(t *testing.T) {
	r := shippedRoot(t)
	asNobody(t, r)
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	as := run{uid: nobody, env: []string{"HOME=/nonexistent", "XDG_CACHE_HOME=", "TMPDIR=" + tmp}}
	for _, args := range [][]string{{"info", "zlib"}, {"search", "zlib"}, {"info", "zlib"}} {
		out, errOut, code := r.lpmWith(as, args...)
		if code != 0 || !strings.Contains(out, "zlib") {
			t.Errorf("lpm %s as nobody with no writable home, on a root it may not write: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(tmp, "lpm-65534/ports/lfs-*/zlib/port.toml")); len(m) != 1 {
		t.Errorf("the shipped tree is not in nobody's own temporary directory (%v)", m)
	}
	if _, err := os.Stat(r.path("var/cache/lpm")); err == nil {
		t.Error("a query by a user who may not write the root wrote into it")
	}

	// A directory of that name another user made is not used.
	if err := os.RemoveAll(filepath.Join(tmp, "lpm-65534")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "lpm-65534"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(tmp, "lpm-65534"), 0o777)
	out, errOut, code := r.lpmWith(as, "info", "zlib")
	if code != 1 || !strings.Contains(errOut, filepath.Join(tmp, "lpm-65534")+" is not a directory of yours") {
		t.Errorf("lpm info with %s/lpm-65534 made by root: exit %d, want 1 and an error naming it\n%s%s", tmp, code, out, errOut)
	}
}

// The shipped LFS tree is one self-hosting system, so its build deps go
// round in a cycle the book breaks with its temporary tools: lint names
// that as a warning, with where the way out is, and passes.
func TestLintOfTheShippedTreeWarnsOfItsBootstrapCycleAndPasses(t *testing.T) {
	r := shippedRoot(t)
	out, errOut, code := r.lpm("lint")
	if code != 0 {
		t.Fatalf("lpm lint of the shipped tree: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "warning: build cycle:") || !strings.Contains(out, "config/lfs/chroot.toml") {
		t.Errorf("lpm lint did not name the bootstrap cycle as a warning with the way out:\n%s", out)
	}
	if strings.Contains(out, ": error:") {
		t.Errorf("lpm lint of the shipped tree reports errors:\n%s", out)
	}
}
