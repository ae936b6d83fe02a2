package main

// The chroot builds, for real: a Debian root with its own toolchain made by
// debootstrap, lpm building and installing the demo ports inside it, the
// sandbox holding there, and nothing left mounted afterwards. Slow (the
// first run downloads and unpacks ~100 packages), so it runs only with
// LPM_SLOW=1, and only as root (debootstrap, mounts, chroot).

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The suite the cached root is made from, and the packages in it.
const (
	chrootSuite   = "bookworm"
	chrootInclude = "build-essential"
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
	cache := debootstrapCache(t)
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
		leaked := mountsUnder(t, dir)
		for i := len(leaked) - 1; i >= 0; i-- {
			t.Errorf("left mounted after the test: %s; detaching it", leaked[i])
			unix.Unmount(leaked[i], unix.MNT_DETACH)
		}
		if still := mountsUnder(t, dir); len(still) > 0 {
			t.Errorf("still mounted, so %s is left in place: %v", dir, still)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the test root: %v", err)
		}
	})
	return dir
}

// debootstrapCache returns a Debian root with a toolchain, made once by
// debootstrap into a cache directory and reused by later runs. It is made in
// a temporary directory and renamed into place, so the cache is either whole
// or absent. Tests copy it and never change it.
func debootstrapCache(t *testing.T) string {
	t.Helper()
	// The one directory of the test caches (as in boot_test.go).
	base := os.Getenv("LPM_TEST_CACHE")
	if base == "" {
		base = "/var/tmp/lpm-test-cache"
	}
	parent := filepath.Join(base, "debootstrap")
	cache := filepath.Join(parent, chrootSuite+"-"+chrootInclude)
	if _, err := os.Stat(filepath.Join(cache, "usr/bin/make")); err == nil {
		t.Logf("using the cached root %s", cache)
		return cache
	}
	bin, err := exec.LookPath("debootstrap")
	if err != nil {
		bin = "/usr/sbin/debootstrap" // not on every PATH
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("debootstrap is needed to make the test root: apt-get install debootstrap")
		}
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(parent, ".building-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	mirror := debianMirror(t)
	args := []string{"--variant=minbase", "--include=" + chrootInclude, chrootSuite, tmp, mirror}
	t.Logf("making the test root: debootstrap %s", strings.Join(args, " "))
	start := time.Now()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// An interrupted debootstrap can leave /proc or /sys mounted in
		// its target: only an unmounted target is removed.
		if len(mountsUnder(t, tmp)) == 0 {
			os.RemoveAll(tmp)
		}
		t.Fatalf("debootstrap %s: %v\n%s", strings.Join(args, " "), err, lastLines(string(out), 30))
	}
	if leaked := mountsUnder(t, tmp); len(leaked) > 0 {
		t.Fatalf("debootstrap left mounts in %s: %v", tmp, leaked)
	}
	t.Logf("debootstrap took %v", time.Since(start).Round(time.Second))
	// The downloaded .debs are not part of the root; they would only make
	// every copy slower.
	debs, _ := filepath.Glob(filepath.Join(tmp, "var/cache/apt/archives/*.deb"))
	for _, d := range debs {
		os.Remove(d)
	}
	if err := os.Rename(tmp, cache); err != nil {
		// Another run finished first; its root is as good as ours.
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(filepath.Join(cache, "usr/bin/make")); statErr != nil {
			t.Fatalf("putting the test root in place: %v", err)
		}
	}
	return cache
}

// debianMirror is the Debian mirror apt uses for the suite (one-line .list
// files and deb822 .sources files), or deb.debian.org.
func debianMirror(t *testing.T) string {
	t.Helper()
	files := []string{"/etc/apt/sources.list"}
	for _, pat := range []string{"/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		found, _ := filepath.Glob(pat)
		files = append(files, found...)
	}
	sort.Strings(files[1:])
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if strings.HasSuffix(f, ".sources") {
			for _, para := range strings.Split(string(data), "\n\n") {
				fields := map[string][]string{}
				for _, line := range strings.Split(para, "\n") {
					key, value, ok := strings.Cut(line, ":")
					if ok && !strings.HasPrefix(line, "#") {
						fields[strings.ToLower(strings.TrimSpace(key))] = strings.Fields(value)
					}
				}
				if has(fields["types"], "deb") && has(fields["suites"], chrootSuite) && len(fields["uris"]) > 0 {
					return fields["uris"][0]
				}
			}
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 1 && strings.HasPrefix(f[1], "[") { // deb [options] uri suite
				for len(f) > 1 && !strings.HasSuffix(f[1], "]") {
					f = append(f[:1], f[2:]...)
				}
				f = append(f[:1], f[2:]...)
			}
			if len(f) >= 3 && f[0] == "deb" && f[2] == chrootSuite {
				return f[1]
			}
		}
	}
	return "http://deb.debian.org/debian"
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mountsUnder lists the mount points at or below dir, shortest first, from
// this process's mount table (the host's namespace).
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mnt := unescapeMountinfo(f[4])
		if mnt == dir || strings.HasPrefix(mnt, dir+"/") {
			found = append(found, mnt)
		}
	}
	sort.Slice(found, func(i, j int) bool { return len(found[i]) < len(found[j]) })
	return found
}

func assertNoMountsUnder(t *testing.T, dir string) {
	t.Helper()
	if leaked := mountsUnder(t, dir); len(leaked) > 0 {
		t.Errorf("mounted under the root after lpm returned: %v", leaked)
	}
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
