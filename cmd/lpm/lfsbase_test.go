package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A root that chapters 4-7 of the book made by hand: the /usr links, the
// user's own passwd and group, and a hosts file.
func chapter7Root(t *testing.T) *testRoot {
	t.Helper()
	r := newRoot(t, filepath.Join(repo(t), "ports/lfs"))
	for _, d := range []string{"usr/sbin", "lib64", "etc"} {
		if err := os.MkdirAll(r.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"bin", "sbin"} {
		if err := os.Symlink("usr/"+l, r.path(l)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/bash\ntester:x:101:101::/home/tester:/bin/bash\n",
		"etc/group":  "root:x:0:\ntester:x:101:\n",
		"etc/hosts":  "127.0.0.1  localhost mybox\n",
	}
	for name, text := range files {
		if err := os.WriteFile(r.path(name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestLFSBaseAndConfigBuildAnEmptyRoot(t *testing.T) {
	r := newRoot(t, filepath.Join(repo(t), "ports/lfs"))
	os.Remove(r.path("lib")) // newRoot's link; lfs-base brings its own
	r.ok("install", "lfs-base", "lfs-config")
	for link, target := range map[string]string{"bin": "usr/bin", "lib": "usr/lib", "sbin": "usr/sbin", "var/run": "/run", "etc/mtab": "/proc/self/mounts"} {
		if got, err := os.Readlink(r.path(link)); err != nil || got != target {
			t.Errorf("/%s -> %q (%v), want -> %s", link, got, err, target)
		}
	}
	for dir, mode := range map[string]os.FileMode{"tmp": os.ModeSticky | 0o777, "root": 0o750, "usr/share/man/man8": 0o755} {
		if fi, err := os.Stat(r.path(dir)); err != nil || fi.Mode()&(os.ModePerm|os.ModeSticky) != mode {
			t.Errorf("/%s: %v (%v), want mode %v", dir, fi, err, mode)
		}
	}
	if got, _ := os.ReadFile(r.path("etc/os-release")); !strings.Contains(string(got), `PRETTY_NAME="Linux From Scratch 12.3"`) {
		t.Errorf("/etc/os-release:\n%s", got)
	}
	if got := r.ok("owns", "/lib/firmware", "/etc/sysconfig/clock"); !strings.Contains(got, "/usr/lib/firmware is owned by lfs-base") || !strings.Contains(got, "/etc/sysconfig/clock is owned by lfs-config") {
		t.Errorf("owns:\n%s", got)
	}
	r.ok("verify")
}

func TestLFSBaseTakesOverAChapter7RootKeepingItsFiles(t *testing.T) {
	r := chapter7Root(t)
	before := r.state()
	r.fails([]string{"/bin (exists on disk, owned by no package)"}, "install", "lfs-base", "lfs-config")
	r.unchanged(before)

	// The command the tree's README gives.
	r.ok("install", "lfs-base", "lfs-config", "--overwrite", "/bin", "--overwrite", "/lib", "--overwrite", "/sbin",
		"--overwrite", "/lib64", "--overwrite", "/var/*", "--overwrite", "/etc/*", "--overwrite", "/etc/sysconfig/*",
		"--overwrite", "/etc/modprobe.d/*")
	if got, _ := os.ReadFile(r.path("etc/passwd")); !strings.Contains(string(got), "tester:x:101") {
		t.Errorf("the root's own /etc/passwd was replaced:\n%s", got)
	}
	if got, _ := os.ReadFile(r.path("etc/passwd.lpmnew")); !strings.Contains(string(got), "nobody:x:65534") {
		t.Errorf("/etc/passwd.lpmnew is not the packaged passwd:\n%s", got)
	}
	if got, _ := os.ReadFile(r.path("etc/hosts")); string(got) != "127.0.0.1  localhost mybox\n" {
		t.Errorf("the root's own /etc/hosts was replaced:\n%s", got)
	}
	if got, err := os.Readlink(r.path("bin")); err != nil || got != "usr/bin" {
		t.Errorf("/bin -> %q (%v)", got, err)
	}
	if got := r.ok("owns", "/etc/passwd", "/bin"); !strings.Contains(got, "/etc/passwd is owned by lfs-base") || !strings.Contains(got, "/bin is owned by lfs-base") {
		t.Errorf("owns:\n%s", got)
	}
	// The user's files differ from the packaged ones; verify says so and
	// calls them edited config files.
	out, _, _ := r.lpm("verify", "lfs-base")
	if !strings.Contains(out, "/etc/passwd: content differs (config file, edited)") {
		t.Errorf("verify:\n%s", out)
	}
}

// Every x86_64 program names /lib64/ld-linux-x86-64.so.2 as its
// interpreter, and LFS's glibc installs the loader in /usr/lib: a root that
// lpm built from nothing had an empty /lib64, and nothing in it ran
// ("chroot: failed to run command '/usr/bin/bash': No such file or
// directory"). A real program, with the host's libc and loader where LFS's
// glibc puts them, runs in the root after lfs-base.
func TestLFSBaseRootRunsDynamicallyLinkedPrograms(t *testing.T) {
	if runtime.GOARCH != "amd64" || os.Geteuid() != 0 {
		t.Skip("needs x86_64 and root (chroot)")
	}
	r := newRoot(t, filepath.Join(repo(t), "ports/lfs"))
	os.Remove(r.path("lib"))
	r.ok("install", "lfs-base")
	src := filepath.Join(t.TempDir(), "hi.c")
	if err := os.WriteFile(src, []byte("#include <stdio.h>\nint main(void) { puts(\"hi from the root\"); return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-o", r.path("usr/bin/hi"), src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	for _, lib := range []string{"libc.so.6", "ld-linux-x86-64.so.2"} {
		host, err := filepath.EvalSymlinks("/lib/x86_64-linux-gnu/" + lib)
		if err != nil {
			t.Skipf("the host's %s: %v", lib, err)
		}
		data, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(r.path("usr/lib/"+lib), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("chroot", r.dir, "/usr/bin/hi").CombinedOutput()
	if err != nil || string(out) != "hi from the root\n" {
		t.Errorf("a program in the root: %v, %q", err, out)
	}
}
