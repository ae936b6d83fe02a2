package main

// The chroot builds, for real: a Debian root with its own toolchain made by
// debootstrap, lpm building and installing the demo ports inside it, the
// sandbox holding there, and nothing left mounted afterwards. Slow (the
// first run downloads and unpacks ~100 packages), so it runs only with
// LPM_SLOW=1, and only as root (debootstrap, mounts, chroot).

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/internal/testroot"
)

func TestSlowChrootBuildRunsInsideTheRootAndInstallsAWorkingHello(t *testing.T) {
	tree := t.TempDir()
	// whereami records what its build sees. The root's identity, the
	// marker only the test root has, and the mounted /proc, /sys, /dev and
	// fresh /tmp hold only for a build chrooted into it, in the sandbox.
	writePort(t, tree, "whereami", `name = "whereami"
version = "1.0.0"
[build]
install = '''
d="$DESTDIR/usr/share/whereami"
mkdir -p "$d"
echo scratch > /tmp/whereami-scratch
{
	echo "destdir=$DESTDIR"
	echo "pwd=$(pwd)"
	echo "root=$ROOT"
	echo "rootid=$(stat -c %d:%i /)"
	echo "marker=$(cat /etc/lpm-test-marker)"
	echo "debian=$(cat /etc/debian_version)"
	echo "self=$(readlink -f /proc/self/root)"
	echo "proc=$(test -r /proc/self/status && echo yes)"
	echo "sys=$(test -d /sys/kernel && echo yes)"
	echo "devnull=$(echo x > /dev/null && echo yes)"
	echo "tmp=$(cat /tmp/whereami-scratch)"
	echo "uname=$(uname -a)"
} > "$d/info"
'''
`)
	r := newChrootRoot(t, tree)
	marker := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	if err := os.WriteFile(r.path("etc/lpm-test-marker"), []byte(marker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	out := r.okAll("install", "whereami")
	if strings.Contains(out, "building on the host") {
		t.Errorf("lpm built on the host although the root has a toolchain:\n%s", out)
	}
	assertNoMountsUnder(t, r.dir)
	info := readInfo(t, r.path("usr/share/whereami/info"))
	t.Logf("whereami, as the build saw it: %q", info)
	var st unix.Stat_t
	if err := unix.Stat(r.dir, &st); err != nil {
		t.Fatal(err)
	}
	debian, _ := os.ReadFile(r.path("etc/debian_version"))
	for key, want := range map[string]string{
		// The build's "/" is the test root's directory itself.
		"rootid":  fmt.Sprintf("%d:%d", st.Dev, st.Ino),
		"marker":  marker,
		"debian":  strings.TrimSpace(string(debian)),
		"root":    "/",
		"destdir": "/var/tmp/lpm/whereami-1.0.0-1/stage",
		"pwd":     "/var/tmp/lpm/whereami-1.0.0-1/src",
		"self":    "/",
		"proc":    "yes",
		"sys":     "yes",
		"devnull": "yes",
		"tmp":     "scratch",
	} {
		if info[key] != want {
			t.Errorf("the build saw %s=%q, want %q", key, info[key], want)
		}
	}
	// /tmp was a fresh tmpfs: the build's scratch file is not in the root.
	if _, err := os.Stat(r.path("tmp/whereami-scratch")); err == nil {
		t.Error("the build's /tmp file landed in the root's /tmp")
	}

	cacheBefore := fileSum(t, r.path("etc/ld.so.cache"))
	out = r.okAll("install", "hello")
	assertNoMountsUnder(t, r.dir)
	if strings.Contains(out, "building on the host") {
		t.Errorf("lpm built on the host although the root has a toolchain:\n%s", out)
	}
	// The builds saw the root's view of their paths, never the host's.
	for _, name := range []string{"libgreet-1.1.0", "mkbanner-0.3.0", "hello-1.0.0"} {
		logText, err := os.ReadFile(r.path("var/log/lpm/build/" + name + ".log"))
		if err != nil {
			t.Errorf("build log of %s: %v", name, err)
			continue
		}
		if strings.Contains(string(logText), r.dir) {
			t.Errorf("the build log of %s shows the host path %s:\n%s", name, r.dir, logText)
		}
	}
	helloLog, _ := os.ReadFile(r.path("var/log/lpm/build/hello-1.0.0.log"))
	if want := "install -Dm755 hello /var/tmp/lpm/hello-1.0.0-1/stage/usr/bin/hello"; !strings.Contains(string(helloLog), want) {
		t.Errorf("the hello build log lacks %q:\n%s", want, helloLog)
	}

	// The ldconfig hook ran with the root's own ldconfig, inside the root.
	if !strings.Contains(out, "hook ldconfig: updating the shared library cache") || strings.Contains(out, "with the host's") {
		t.Errorf("the ldconfig hook did not run inside the root:\n%s", out)
	}
	cache, err := os.ReadFile(r.path("etc/ld.so.cache"))
	if err != nil {
		t.Fatal(err)
	}
	if fileSum(t, r.path("etc/ld.so.cache")) == cacheBefore || !bytes.Contains(cache, []byte("libgreet.so.1")) {
		t.Errorf("the root's ld.so.cache was not rebuilt with libgreet (changed: %v)", fileSum(t, r.path("etc/ld.so.cache")) != cacheBefore)
	}

	// hello runs in the root, with the root's loader and libgreet found
	// through the root's cache.
	hello := exec.Command("/usr/bin/hello", "tester")
	hello.SysProcAttr = &syscall.SysProcAttr{Chroot: r.dir}
	hello.Dir = "/"
	hello.Env = []string{"PATH=/usr/bin:/bin", "LD_DEBUG=libs"}
	var stdout, stderr bytes.Buffer
	hello.Stdout, hello.Stderr = &stdout, &stderr
	if err := hello.Run(); err != nil || !strings.Contains(stdout.String(), "Hello there, tester! (libgreet 1.1.0)") {
		t.Errorf("hello in the root: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	// The loader's search for libgreet ends in the cache: no search path.
	search := stderr.String()
	if i := strings.Index(search, "find library=libgreet.so.1"); i >= 0 {
		search = search[i:]
		if j := strings.Index(search[1:], "find library="); j >= 0 {
			search = search[:j+1]
		}
	}
	if !strings.Contains(search, "find library=libgreet.so.1") || !strings.Contains(search, "search cache=/etc/ld.so.cache") ||
		!strings.Contains(search, "/libgreet.so.1\n") || strings.Contains(search, "search path=") {
		t.Errorf("the loader did not find libgreet through the root's cache:\n%s", search)
	}
	r.okAll("verify")
	assertNoMountsUnder(t, r.dir)
}

func TestSlowChrootBuildSandboxKeepsTheRootReadOnly(t *testing.T) {
	tree := t.TempDir()
	cases := []struct{ port, target string }{
		{"evil-etc", "/etc/evil"},
		{"evil-usr", "/usr/bin/evil"},
		{"evil-beside-work", "/var/tmp/evil"},
	}
	for _, c := range cases {
		// A careless install: some of it goes to $DESTDIR, some straight
		// into the system.
		writePort(t, tree, c.port, `name = "`+c.port+`"
version = "1.0"
[build]
install = 'mkdir -p "$DESTDIR/usr/share" && echo fine > "$DESTDIR/usr/share/`+c.port+`" && echo pwned > `+c.target+`'
`)
	}
	r := newChrootRoot(t, tree)
	before := r.state()
	for _, c := range cases {
		t.Run(c.port+" writing "+c.target, func(t *testing.T) {
			_, errOut, code := r.lpm("install", c.port)
			if code != 1 {
				t.Fatalf("lpm install %s: exit %d, want 1\n%s", c.port, code, errOut)
			}
			for _, want := range []string{"building " + c.port + "-1.0-1: phase install failed", c.target + ": Read-only file system"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if _, err := os.Lstat(r.path(c.target)); err == nil {
				t.Errorf("%s exists in the root", c.target)
			}
			assertNoMountsUnder(t, r.dir)
		})
	}
	r.unchanged(before)
}

func TestSlowChrootBuildJudgesTheToolchainByTheRootsOwnSymlinks(t *testing.T) {
	r := newChrootRoot(t)
	// Debian's usr/bin/cc -> /etc/alternatives/cc: with the root's
	// alternative and gcc gone, the root has no cc, whatever the host has.
	for _, p := range []string{"usr/bin/gcc", "etc/alternatives/cc"} {
		if err := os.Remove(r.path(p)); err != nil {
			t.Fatal(err)
		}
	}
	out := r.okAll("install", "mkbanner")
	if !strings.Contains(out, "building on the host: "+r.dir+" has no toolchain of its own") {
		t.Errorf("lpm did not fall back to a host build for a root without cc:\n%s", out)
	}
	if _, err := os.Stat(r.path("usr/bin/mkbanner")); err != nil {
		t.Errorf("mkbanner was not installed: %v", err)
	}
	assertNoMountsUnder(t, r.dir)
}

// newChrootRoot copies the cached Debian root into a fresh directory and
// gives it the demo config (sources from demo/distfiles). The ports are the
// demo tree plus extra trees, given from the host.
func newChrootRoot(t *testing.T, extraTrees ...string) *testRoot {
	t.Helper()
	if os.Getenv("LPM_SLOW") != "1" {
		t.Skip("slow: set LPM_SLOW=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: debootstrap, mounts and chroot")
	}
	cache := testroot.Debian(t)
	dir := chrootTempDir(t)
	start := time.Now()
	cp := exec.Command("cp", "-a", "--reflink=auto", cache+"/.", dir)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copying the cached root %s to %s: %v\n%s", cache, dir, err, out)
	}
	t.Logf("copying the cached root took %v", time.Since(start).Round(time.Millisecond))
	conf := fmt.Sprintf("mirrors = [\"file://%s/demo/distfiles\"]\n[build]\njobs = 2\n", repo(t))
	if err := os.MkdirAll(filepath.Join(dir, "etc/lpm"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/lpm/lpm.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &testRoot{t: t, dir: dir, ports: append(extraTrees, filepath.Join(repo(t), "demo/ports"))}
}

// okAll runs lpm, fails the test unless it exits 0, and returns stdout and
// stderr together (progress and hook lines may go to either).
func (r *testRoot) okAll(args ...string) string {
	r.t.Helper()
	out, errOut, code := r.lpm(args...)
	if code != 0 {
		r.t.Fatalf("lpm %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out + errOut
}

// chrootTempDir makes the directory a test root is copied into. It is not
// t.TempDir: a mount left under it (a bug this test hunts) must be detached
// before anything is removed, or the removal would walk into the host's
// /dev. A mount that cannot be detached leaves the directory in place.
func chrootTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lpm-chroot-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		leaked := testroot.MountsUnder(t, dir)
		for i := len(leaked) - 1; i >= 0; i-- {
			t.Errorf("left mounted after the test: %s; detaching it", leaked[i])
			unix.Unmount(leaked[i], unix.MNT_DETACH)
		}
		if still := testroot.MountsUnder(t, dir); len(still) > 0 {
			t.Errorf("still mounted, so %s is left in place: %v", dir, still)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the test root: %v", err)
		}
	})
	return dir
}

func assertNoMountsUnder(t *testing.T, dir string) {
	t.Helper()
	if leaked := testroot.MountsUnder(t, dir); len(leaked) > 0 {
		t.Errorf("mounted under the root after lpm returned: %v", leaked)
	}
}

// readInfo reads key=value lines.
func readInfo(t *testing.T, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("what the build saw: %v", err)
	}
	info := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		info[k] = v
	}
	return info
}

func fileSum(t *testing.T, file string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
