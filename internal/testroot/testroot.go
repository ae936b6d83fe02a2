// Package testroot holds what the slow suites share: the one Debian root
// with a toolchain that they build in (made by debootstrap once, cached),
// the directory of every test cache, and a look at the mount table.
//
// One root for all of them, because on a fresh machine each debootstrap
// costs minutes of the slow suites' budget: the chroot tests of cmd/lpm,
// the chapter-8 proof and the LFS boot test of lfsproof all use Debian.
package testroot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Suite is the Debian release the root is made from.
const Suite = "bookworm"

// Include is the root's package list: a toolchain (build-essential), what
// the LFS chapter-8 ports need to build with Debian's tools standing in
// for the book's temporary ones, and what the LFS boot image's builds link
// against or run (the headers of the libraries the target gets from its
// own ports, and the kernel's build tools).
const Include = "build-essential,bison,gawk,gettext,texinfo,m4,libncurses-dev,python3,file,xz-utils,bzip2,libbz2-dev,liblzma-dev,zlib1g-dev" +
	",libreadline-dev,uuid-dev,libblkid-dev,libacl1-dev,libattr1-dev,autoconf,automake,autopoint,flex,bc,libelf-dev,pkg-config,cpio"

// CacheDir is the one directory of the test caches: LPM_TEST_CACHE, or
// /var/tmp/lpm-test-cache. Removing it makes the next run cold.
func CacheDir() string {
	if dir := os.Getenv("LPM_TEST_CACHE"); dir != "" {
		return dir
	}
	return "/var/tmp/lpm-test-cache"
}

// Debian returns the cached Debian root (Suite with Include), made by
// debootstrap the first time in a temporary directory and renamed into
// place, so that it is whole or absent. Callers copy it and never change
// it. Needs root.
func Debian(t testing.TB) string {
	t.Helper()
	parent := filepath.Join(CacheDir(), "debootstrap")
	sum := sha256.Sum256([]byte(Suite + " " + Include))
	dir := filepath.Join(parent, Suite+"-"+hex.EncodeToString(sum[:])[:12])
	if _, err := os.Stat(filepath.Join(dir, "usr/bin/make")); err == nil {
		return dir
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
	args := []string{"--variant=minbase", "--include=" + Include, Suite, tmp, mirror()}
	// On standard error at once: this takes minutes on a fresh machine.
	fmt.Fprintf(os.Stderr, "making the test root (once; cached in %s): debootstrap %s\n", parent, strings.Join(args, " "))
	start := time.Now()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		// An interrupted debootstrap can leave /proc or /sys mounted in
		// its target: only an unmounted target is removed.
		if len(MountsUnder(t, tmp)) == 0 {
			os.RemoveAll(tmp)
		}
		t.Fatalf("debootstrap %s: %v\n%s", strings.Join(args, " "), err, lastLines(string(out), 30))
	}
	if leaked := MountsUnder(t, tmp); len(leaked) > 0 {
		t.Fatalf("debootstrap left mounts in %s: %v", tmp, leaked)
	}
	os.WriteFile(filepath.Join(parent, "log"), out, 0o644)
	fmt.Fprintf(os.Stderr, "debootstrap took %v\n", time.Since(start).Round(time.Second))
	// The downloaded .debs are not part of the root; they would only make
	// every copy slower.
	debs, _ := filepath.Glob(filepath.Join(tmp, "var/cache/apt/archives/*.deb"))
	for _, d := range debs {
		os.Remove(d)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run finished first; its root is as good as ours.
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(filepath.Join(dir, "usr/bin/make")); statErr != nil {
			t.Fatalf("putting the test root in place: %v", err)
		}
	}
	return dir
}

// mirror is the Debian mirror the host's apt uses for Suite (one-line
// .list files and deb822 .sources files), or deb.debian.org.
func mirror() string {
	files := []string{"/etc/apt/sources.list"}
	for _, pat := range []string{"/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		found, _ := filepath.Glob(pat)
		sort.Strings(found)
		files = append(files, found...)
	}
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
				if slices.Contains(fields["types"], "deb") && slices.Contains(fields["suites"], Suite) && len(fields["uris"]) > 0 {
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
			if len(f) >= 3 && f[0] == "deb" && f[2] == Suite {
				return f[1]
			}
		}
	}
	return "http://deb.debian.org/debian"
}

// MountsUnder lists the mount points at or below dir, shortest first, from
// this process's mount table.
func MountsUnder(t testing.TB, dir string) []string {
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

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
