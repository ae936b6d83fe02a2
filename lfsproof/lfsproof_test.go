// Package lfsproof holds the proof that the shipped LFS 12.3 ports build:
// real chapter-8 builds by lpm running inside a chroot, as the book's
// chapter 8 runs.
//
// TestSlowLFSPortsBuildInAChroot (LPM_SLOW=1, as root) makes a Debian
// bookworm root with debootstrap whose toolchain and tools stand in for the
// temporary tools of LFS chapters 5 to 7 (the chapter-8 profile,
// config/lfs/chroot.toml, lists them as provided), copies the static lpm
// into it and runs `chroot ROOT /usr/bin/lpm install PORT` for each port,
// then `lpm verify PORT` and one of the port's programs. Sources come
// through lpm's normal fetch, from a mirror inside the root:
//
//   - ports whose exact tarball Debian carries use the shipped port as it
//     is (../shared/tools/fetch-lfs-sources.sh fetches and md5-checks them;
//     lpm checks the port's own sums);
//   - ports whose tarball Debian carries only at a nearby, byte-identical
//     upstream version (debian-sources.tsv: bytes upstream, downloads yes)
//     build from a port generated into the root's /usr/ports, layered over
//     the shipped tree, that differs from the shipped port only in version
//     and source URL and checksum: the shipped build steps are the ones
//     proven.
//
// By default it builds a small set that fits in CI; LPM_LFS_ALL=1 (make
// lfs-proof) tries every chapter-8 port and writes a table of what was
// built and why the rest was not to lfs-proof.txt in the cache directory.
// Archives are cached by port content (the port's files and the profile) in
// the cache directory ($LPM_TEST_CACHE/lfs, default
// /var/tmp/lpm-test-cache/lfs), so a warm run builds nothing.
package lfsproof

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/internal/testroot"
	"github.com/lfs-lpm/lpm/ports"
)

// The build environment is testroot's Debian root: its packages stand in
// for the temporary tools of chapters 5 to 7 (every name in chroot.toml's
// provided list), with the headers of zlib and bzip2, which cannot be
// built here (no tarball; the book's bzip2 patch) and are assumed
// installed. rootInclude was this package's own, smaller list; the archive
// keys still hash it (envHash), so that the archives cached under them stay
// valid, and hash testroot.Include besides.
const (
	rootSuite   = testroot.Suite
	rootInclude = "build-essential,bison,gawk,gettext,texinfo,m4,libncurses-dev,python3,file,xz-utils,bzip2,libbz2-dev,liblzma-dev,zlib1g-dev"
)

// assumed are the chapter-8 ports Debian's root supplies that cannot be
// built here.
var assumed = []string{"zlib=1.3.1", "bzip2=1.0.8"}

// overwrite lets an install take over the stand-in's own files under /etc
// (Debian's libattr1 ships /etc/xattr.conf, which a chapter-7 root does
// not have); chroot.toml's overwrite already covers /usr. They are added
// to the profile's list: the --overwrite flag would replace that list.
var overwrite = `"etc/*", "etc/*/*", `

// ciSet is the small set of ports CI builds cold: small programs with the
// exact tarball, and attr (a nearby upstream tarball) and acl, which sed
// needs.
var ciSet = []string{"attr", "acl", "m4", "sed", "grep", "gzip", "lz4"}

// noPatch are ports whose book patch is not to be had here.
var noPatch = map[string]bool{"bzip2": true, "coreutils": true, "expect": true, "glibc": true, "kbd": true, "sysvinit": true}

// probes are a program of each port that must run in the root afterwards;
// a port that installs only a library is probed through the loader cache.
var probes = map[string][]string{
	"m4": {"m4", "--version"}, "grep": {"grep", "--version"}, "sed": {"sed", "--version"},
	"gzip": {"gzip", "--version"}, "patch": {"patch", "--version"}, "less": {"less", "--version"},
	"file": {"file", "--version"}, "psmisc": {"pstree", "--version"}, "findutils": {"find", "--version"},
	"lz4": {"lz4", "--version"}, "attr": {"getfattr", "--version"}, "acl": {"getfacl", "--version"},
	"flex": {"flex", "--version"}, "autoconf": {"autoconf", "--version"}, "automake": {"automake", "--version"},
	"groff": {"groff", "--version"}, "gdbm": {"gdbmtool", "--version"}, "inetutils": {"ping", "--version"},
	"perl": {"perl", "-v"}, "intltool": {"intltoolize", "--version"}, "ninja": {"ninja", "--version"},
	"e2fsprogs": {"mke2fs", "-V"}, "dejagnu": {"runtest", "--version"}, "libtool": {"libtool", "--version"},
	"gperf": {"gperf", "--version"}, "diffutils": {"diff", "--version"}, "texinfo": {"makeinfo", "--version"},
	"ncurses": {"tput", "-V"}, "xz": {"xz", "--version"}, "gettext": {"gettext", "--version"},
	"procps-ng": {"ps", "--version"}, "util-linux": {"lsblk", "--version"}, "man-db": {"man", "--version"},
	"shadow": {"passwd", "--help"}, "iproute2": {"ip", "-V"}, "meson": {"meson", "--version"},
	"grub": {"grub-install", "--version"}, "xml-parser": {"perl", "-MXML::Parser", "-e", "1"},
	"libpipeline": {"ldconfig", "-p"}, "mpc": {"ldconfig", "-p"}, "mpfr": {"ldconfig", "-p"},
	"libelf": {"ldconfig", "-p"}, "readline": {"ldconfig", "-p"}, "libcap": {"capsh", "--print"},
	"libffi": {"ldconfig", "-p"}, "man-pages": {"test", "-f", "/usr/share/man/man1/intro.1"},
}

// A row is one port's line in the result table.
type row struct {
	name, version, result string
	minutes               float64
	files                 int
}

func TestSlowLFSPortsBuildInAChroot(t *testing.T) {
	if os.Getenv("LPM_SLOW") != "1" {
		t.Skip("slow: set LPM_SLOW=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: debootstrap, mounts and chroot")
	}
	all := os.Getenv("LPM_LFS_ALL") == "1"
	start := time.Now()
	progress := func(format string, args ...any) {
		line := fmt.Sprintf("[%6.1fm] ", time.Since(start).Minutes()) + fmt.Sprintf(format, args...)
		fmt.Fprintln(os.Stderr, line)
	}
	repoDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	shared := sharedDir(t, repoDir)
	cache := cacheDir(t)
	distfiles := filepath.Join(cache, "distfiles")

	book := readTSV(t, filepath.Join(shared, "lfs-12.3", "packages.tsv"))
	var order []string // chapter-8 ports of the SysV book, in the book's order
	bookVersion := map[string]string{}
	sort.SliceStable(book, func(i, j int) bool { return atoi(book[i]["chapter8_order"]) < atoi(book[j]["chapter8_order"]) })
	for _, r := range book {
		bookVersion[r["name"]] = r["version"]
		if r["chapter8_order"] != "" {
			order = append(order, r["name"])
		}
	}
	want := order
	if !all {
		want = nil
		for _, n := range order {
			if contains(ciSet, n) {
				want = append(want, n)
			}
		}
	}

	// Sources: the exact tarballs, and the nearby upstream ones.
	apt := filepath.Join(cache, "apt")
	fetchExact(t, shared, apt, distfiles, want)
	nearby := nearbyVersions(t, filepath.Join(shared, "lfs-12.3", "debian-sources.tsv"))
	// Ports this run can build later: a run dependency on one of them is
	// met, lpm builds it in the same plan (libtool needs autoconf, which the
	// book builds after it).
	later := map[string]bool{}
	for _, n := range want {
		p, errs := ports.ParseFile(filepath.Join(repoDir, "ports/lfs", n, ports.FileName))
		if len(errs) > 0 || noPatch[n] || len(p.Patches) > 0 || len(p.Sources) != 1 {
			continue
		}
		if _, ok := nearby[n]; ok || verified(filepath.Join(distfiles, p.Sources[0].FileName()), p.Sources[0].MD5) {
			later[n] = true
		}
	}

	// The root, lpm in it, its config, the mirror and the override tree.
	base := testroot.Debian(t)
	root := chrootTempDir(t)
	if out, err := exec.Command("cp", "-a", "--reflink=auto", base+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("copying the cached root %s: %v\n%s", base, err, out)
	}
	buildLPM(t, repoDir, filepath.Join(root, "usr/bin/lpm"))
	// The loader looks in /usr/lib first, as on LFS: Debian's multiarch
	// directory would otherwise hide a library a port installs (xz's
	// liblzma.so.5 behind Debian's older one).
	write(t, filepath.Join(root, "etc/ld.so.conf.d/00-lfs.conf"), "/usr/lib\n")
	if out, err := inChroot(root, "ldconfig"); err != nil {
		t.Fatalf("ldconfig in the root: %v\n%s", err, out)
	}
	profile, err := os.ReadFile(filepath.Join(repoDir, "config/lfs/chroot.toml"))
	if err != nil {
		t.Fatal(err)
	}
	provided := map[string]bool{}
	for _, m := range regexp.MustCompile(`"([a-z0-9-]+)=[^"]*"`).FindAllStringSubmatch(string(profile), -1) {
		provided[m[1]] = true
	}
	for _, a := range assumed {
		provided[strings.SplitN(a, "=", 2)[0]] = true
	}
	// Top-level keys go before the profile's first table.
	conf := "mirrors = [\"file:///srv/lfs-mirror\"]\n" + strings.Replace(string(profile), "\noverwrite = [", "\noverwrite = ["+overwrite, 1)
	if !strings.Contains(conf, overwrite) {
		t.Fatal("config/lfs/chroot.toml has no overwrite list to add the stand-in's /etc to")
	}
	write(t, filepath.Join(root, "etc/lpm/lpm.toml"), conf)
	mirror := filepath.Join(root, "srv/lfs-mirror")
	if err := os.MkdirAll(mirror, 0o755); err != nil {
		t.Fatal(err)
	}
	packages := filepath.Join(root, "var/cache/lpm/packages")
	store := filepath.Join(cache, "packages")
	envKey := envHash(t, repoDir, testroot.Include+"\x00"+string(profile))

	var rows []row
	// The table is rewritten after every port, so that a run cut short
	// still says what it built.
	tableFile := filepath.Join(cache, "lfs-proof-ci.txt")
	if all {
		tableFile = filepath.Join(cache, "lfs-proof.txt")
	}
	writeTable := func() string {
		shown := append([]row{}, rows...)
		for _, n := range want[len(rows):] {
			shown = append(shown, row{name: n, version: bookVersion[n], result: "not reached yet"})
		}
		table := formatTable(shown, time.Since(start))
		if err := os.WriteFile(tableFile, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
		return table
	}
	built := map[string]bool{}
	failedCI := []string{}
	lpm := func(args ...string) (string, error) {
		return inChroot(root, append([]string{"/usr/bin/lpm", "--yes"}, args...)...)
	}
	for _, name := range want {
		shippedFile := filepath.Join(repoDir, "ports/lfs", name, ports.FileName)
		if !exists(shippedFile) {
			rows = append(rows, row{name: name, version: bookVersion[name], result: "not built: the shipped tree has no port " + name})
			writeTable()
			progress("%-14s %s", name, rows[len(rows)-1].result)
			continue
		}
		p, errs := ports.ParseFile(shippedFile)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", shippedFile, errs)
		}
		r := row{name: name, version: p.Version}
		skip := func(why string) {
			r.result = "not built: " + why
			rows = append(rows, r)
			writeTable()
			progress("%-14s %s", name, r.result)
		}
		// Which tarball, and is everything else it needs here?
		portFile := shippedFile
		tarball := filepath.Join(distfiles, p.Sources[0].FileName())
		if noPatch[name] {
			skip("needs the book's patch, which Debian does not carry")
			continue
		}
		if len(p.Patches) > 0 {
			skip("needs the book's patch " + strings.Join(p.Patches, ", "))
			continue
		}
		if len(p.Sources) > 1 {
			skip("needs an extra source (" + p.Sources[1].FileName() + ") not to be had here")
			continue
		}
		if !verified(tarball, p.Sources[0].MD5) {
			n, ok := nearby[name]
			if !ok {
				skip("no byte-identical tarball in Debian's archive")
				continue
			}
			file, err := fetchNearby(apt, n, filepath.Join(distfiles, nearbyName(p, n)))
			if err != nil {
				skip("the nearby tarball " + n.file + ": " + err.Error())
				continue
			}
			text, err := overridePort(shippedFile, n, filepath.Base(file))
			if err != nil {
				t.Fatalf("override of %s: %v", name, err)
			}
			portFile = filepath.Join(root, "usr/ports", name, ports.FileName)
			write(t, portFile, text)
			r.version = n.version + " (book: " + p.Version + ")"
			if n.version == p.Version {
				r.version = n.version + " (" + filepath.Base(file) + ")"
			}
			tarball = file
			if p, errs = ports.ParseFile(portFile); len(errs) > 0 {
				t.Fatalf("the generated override %s: %v", portFile, errs)
			}
		}
		if missing := unmet(p, provided, built, later); len(missing) > 0 {
			skip("needs " + strings.Join(missing, ", ") + ", not built here")
			continue
		}
		if err := linkOrCopy(tarball, filepath.Join(mirror, filepath.Base(tarball))); err != nil {
			t.Fatal(err)
		}

		key := portKey(t, filepath.Dir(portFile), envKey)
		stored := filepath.Join(store, name+"-"+key, p.ID()+".lpm")
		archive := filepath.Join(packages, p.ID()+".lpm")
		cached := exists(stored)
		if cached {
			if err := linkOrCopy(stored, archive); err != nil {
				t.Fatal(err)
			}
		}
		progress("%-14s %s: installing (%s)", name, r.version, map[bool]string{true: "cached archive", false: "building"}[cached])
		began := time.Now()
		args := []string{"install"}
		for _, a := range assumed {
			args = append(args, "--assume-installed", a)
		}
		out, err := lpm(append(args, name)...)
		r.minutes = time.Since(began).Minutes()
		if err != nil {
			r.result = "failed: " + lastLine(out)
			keepLog(root, cache, p)
			if !all || contains(ciSet, name) {
				failedCI = append(failedCI, name)
				t.Errorf("lpm install %s in the chroot: %v\n%s", name, err, tailLines(out, 40))
			}
		} else if !cached && exists(archive) {
			if err := linkOrCopy(archive, stored); err != nil {
				t.Error(err)
			}
		}
		if err == nil {
			if vout, verr := lpm("verify", name); verr != nil {
				r.result = "verify failed: " + lastLine(vout)
				t.Errorf("lpm verify %s: %v\n%s", name, verr, tailLines(vout, 20))
			} else if perr := probe(root, name); perr != nil {
				r.result = "installed, but " + perr.Error()
				t.Errorf("%s: %v", name, perr)
			} else {
				r.result = "built"
				if cached {
					r.result = "built (cached archive)"
				}
				built[name] = true
			}
			if fout, ferr := lpm("files", name); ferr == nil {
				r.files = strings.Count(fout, "\n")
			}
		}
		assertNoMountsUnder(t, root)
		rows = append(rows, r)
		writeTable()
		progress("%-14s %s: %s in %.1f min, %d files", name, r.version, r.result, r.minutes, r.files)
	}

	fmt.Fprint(os.Stderr, writeTable())
	t.Logf("the table is in %s", tableFile)
	if len(failedCI) > 0 {
		t.Errorf("failed: %s (build logs in %s)", strings.Join(failedCI, ", "), filepath.Join(cache, "logs"))
	}
}

// inChroot runs a command in the root as chapter 8 does: in a mount
// namespace of its own with /dev, /proc and /sys mounted in the root, so
// that every mount ends with the command, whatever happens to it. The root
// is bound onto itself first: the book's $LFS is a mounted partition, and
// lpm's sandbox needs the chroot's / to be a mount point (Go makes it
// private when it unshares, which fails with EINVAL on a plain directory).
func inChroot(root string, args ...string) (string, error) {
	return chrootRun(root, nil, args...)
}

// probe runs the port's program in the root.
func probe(root, name string) error {
	args, ok := probes[name]
	if !ok {
		return nil
	}
	out, err := inChroot(root, args...)
	if err != nil {
		return fmt.Errorf("%s in the root: %v: %s", strings.Join(args, " "), err, lastLine(out))
	}
	if args[0] == "ldconfig" && !strings.Contains(out, "lib"+strings.TrimPrefix(name, "lib")) {
		return fmt.Errorf("the loader cache lists no lib%s", strings.TrimPrefix(name, "lib"))
	}
	return nil
}

// unmet lists the dependencies of p that neither the system provides nor
// this run built, nor, for a run dependency, can build later.
func unmet(p *ports.Port, provided, built, later map[string]bool) []string {
	var missing []string
	seen := map[string]bool{}
	deps := append(append([]string{}, p.Depends.Build...), p.Depends.Run...)
	for i, d := range deps {
		ok := false
		var names []string
		for _, alt := range strings.Split(d, "|") {
			n := strings.Fields(alt)[0]
			names = append(names, n)
			if n == p.Name || provided[n] || built[n] || i >= len(p.Depends.Build) && later[n] {
				ok = true
			}
		}
		if !ok && !seen[d] {
			seen[d] = true
			missing = append(missing, strings.Join(names, " | "))
		}
	}
	return missing
}

// A nearbyTarball is Debian's copy of a byte-identical upstream release at
// another version than the book's.
type nearbyTarball struct {
	source, version, file, sha256 string
	suites                        []string
}

// nearbyVersions picks, for each port, the upstream tarball of
// debian-sources.tsv (bytes upstream, downloads yes) nearest the book's
// version: one of the book's major (then minor) version before one of
// another, then the oldest newer one before the newest older one.
func nearbyVersions(t *testing.T, tsv string) map[string]nearbyTarball {
	best := map[string]nearbyTarball{}
	for _, r := range readTSV(t, tsv) {
		if r["bytes"] != "upstream" || r["downloads"] != "yes" {
			continue
		}
		n := nearbyTarball{source: r["debian_source"], version: r["version"], file: r["file"], sha256: r["sha256"], suites: strings.Fields(r["suites"])}
		old, ok := best[r["name"]]
		if !ok || closer(r["lfs_version"], n.version, old.version) {
			best[r["name"]] = n
		}
	}
	return best
}

// closer says whether version a is nearer the book's than b.
func closer(book, a, b string) bool {
	bv, err1 := semver.NewVersion(book)
	av, err2 := semver.NewVersion(a)
	cv, err3 := semver.NewVersion(b)
	if err1 != nil || err2 != nil || err3 != nil {
		return a < b
	}
	if (av.Major() == bv.Major()) != (cv.Major() == bv.Major()) {
		return av.Major() == bv.Major()
	}
	if (av.Minor() == bv.Minor()) != (cv.Minor() == bv.Minor()) {
		return av.Minor() == bv.Minor()
	}
	aNewer, bNewer := !av.LessThan(bv), !cv.LessThan(bv)
	switch {
	case aNewer && bNewer:
		return av.LessThan(cv)
	case !aNewer && !bNewer:
		return cv.LessThan(av)
	}
	return aNewer
}

// fetchNearby downloads Debian's file into distfiles, finding its pool
// path with apt-get source --print-uris under the private apt
// configuration fetch-lfs-sources.sh made, to final (its upstream name).
func fetchNearby(apt string, n nearbyTarball, final string) (string, error) {
	if sum, err := fileSHA256(final); err == nil && sum == n.sha256 {
		return final, nil
	}
	for _, suite := range n.suites {
		// --only-source: libcap2 is also a binary package, which apt would
		// map to the host's installed version.
		cmd := exec.Command("apt-get", "source", "--print-uris", "--only-source", "-qq", n.source+"/"+suite)
		cmd.Env = aptEnv(apt)
		out, _ := cmd.Output()
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[1] != n.file {
				continue
			}
			uri := strings.Trim(f[0], "'")
			part := final + ".part"
			dl := exec.Command("/usr/lib/apt/apt-helper", "download-file", uri, part, "SHA256:"+n.sha256)
			dl.Env = aptEnv(apt)
			if out, err := dl.CombinedOutput(); err != nil {
				os.Remove(part)
				return "", fmt.Errorf("apt-helper download-file %s: %v: %s", uri, err, lastLine(string(out)))
			}
			return final, os.Rename(part, final)
		}
	}
	return "", fmt.Errorf("no pool location for %s in %s", n.file, strings.Join(n.suites, ", "))
}

// overridePort is the shipped port with another version and first source:
// the version and the tarball's URL replaced by the nearby ones, its md5
// dropped and its sha256 Debian's, and NAME-VERSION (the book's
// --docdir=/usr/share/doc/NAME-VERSION, where a port spells the version
// out instead of $VERSION) following the version. Nothing else changes.
func overridePort(shipped string, n nearbyTarball, file string) (string, error) {
	data, err := os.ReadFile(shipped)
	if err != nil {
		return "", err
	}
	p, errs := ports.ParseFile(shipped)
	if len(errs) > 0 {
		return "", errs[0]
	}
	oldURL := p.Sources[0].URL
	newURL := oldURL[:strings.LastIndex(oldURL, "/")+1] + file
	var out []string
	inFirst, sources := false, 0
	text := strings.ReplaceAll(string(data), p.Name+"-"+p.Version, p.Name+"-"+n.version)
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "version ="):
			line = fmt.Sprintf("version = %q", n.version)
		case trimmed == "[[source]]":
			sources++
			inFirst = sources == 1
		case strings.HasPrefix(trimmed, "["):
			inFirst = false
		case inFirst && strings.HasPrefix(trimmed, "url ="):
			line = fmt.Sprintf("url = %q", newURL)
		case inFirst && (strings.HasPrefix(trimmed, "md5 =") || strings.HasPrefix(trimmed, "sha256 =")):
			continue
		}
		out = append(out, line)
		if inFirst && strings.HasPrefix(strings.TrimSpace(line), "url =") {
			out = append(out, fmt.Sprintf("sha256 = %q", n.sha256))
		}
	}
	return strings.Join(out, "\n"), nil
}

// fetchExact runs fetch-lfs-sources.sh for the ports whose exact tarball
// Debian has and distfiles lacks (for all of them the first time: that run
// also makes the apt configuration fetchNearby uses); a port it cannot
// fetch is reported by the build loop (its tarball is not there).
func fetchExact(t *testing.T, shared, apt, distfiles string, want []string) {
	names := want
	if exists(filepath.Join(apt, "apt.conf")) {
		exact := map[string]bool{}
		for _, r := range readTSV(t, filepath.Join(shared, "lfs-12.3", "debian-sources.tsv")) {
			if r["bytes"] == "exact" && r["downloads"] == "yes" {
				exact[r["name"]] = true
			}
		}
		names = nil
		for _, r := range readTSV(t, filepath.Join(shared, "lfs-12.3", "packages.tsv")) {
			file := filepath.Join(distfiles, r["url"][strings.LastIndex(r["url"], "/")+1:])
			if exact[r["name"]] && contains(want, r["name"]) && !verified(file, r["md5"]) {
				names = append(names, r["name"])
			}
		}
		if len(names) == 0 {
			return
		}
	}
	tmp := filepath.Join(apt, "..", "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	// apt's unprivileged helper writes its temporary files to TMPDIR.
	os.Chmod(tmp, 0o1777)
	args := append([]string{filepath.Join(shared, "tools/fetch-lfs-sources.sh"), "-s", apt, distfiles}, names...)
	cmd := exec.Command("bash", args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, _ := cmd.CombinedOutput() // exit 1 only says some are not there
	if !strings.Contains(string(out), "fetched ") {
		t.Fatalf("fetch-lfs-sources.sh: %s", tailLines(string(out), 20))
	}
}

func aptEnv(apt string) []string {
	return append(os.Environ(), "APT_CONFIG="+filepath.Join(apt, "apt.conf"), "TMPDIR="+filepath.Join(apt, "..", "tmp"))
}

// buildLPM builds the static lpm (make lpm's flags) to dst.
func buildLPM(t *testing.T, repoDir, dst string) {
	go_ := "go"
	if _, err := exec.LookPath(go_); err != nil {
		go_ = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(go_, "build", "-trimpath", "-tags", "osusergo netgo sqlite_omit_load_extension",
		"-ldflags", `-s -w -extldflags "-static"`, "-o", dst, "./cmd/lpm")
	cmd.Dir = repoDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the static lpm: %v\n%s", err, out)
	}
}

// envHash is a hash of the settings a build's result depends on besides
// its port: the root's packages and the chapter-8 profile (not the mirror
// or the overwrite globs, which change no build). repoDir is unused: the
// builder's code is left out, so that a change elsewhere in lpm keeps the
// cache (CI runs cold anyway).
func envHash(t *testing.T, repoDir, conf string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", rootSuite, rootInclude, conf)
	return hex.EncodeToString(h.Sum(nil))
}

// portKey is a hash of a port directory's files and the environment.
func portKey(t *testing.T, dir, env string) string {
	h := sha256.New()
	io.WriteString(h, env)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries { // ReadDir sorts by name
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// keepLog copies a failed build's log to the cache, where it outlives the
// root.
func keepLog(root, cache string, p *ports.Port) {
	src := filepath.Join(root, "var/log/lpm/build", p.Name+"-"+p.Version+".log")
	dst := filepath.Join(cache, "logs", filepath.Base(src))
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if data, err := os.ReadFile(src); err == nil {
		os.WriteFile(dst, data, 0o644)
	}
}

func formatTable(rows []row, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %-27s %7s %6s  %s\n", "port", "version", "minutes", "files", "result")
	n := 0
	for _, r := range rows {
		fmt.Fprintf(&b, "%-14s %-27s %7.1f %6d  %s\n", r.name, r.version, r.minutes, r.files, r.result)
		if strings.HasPrefix(r.result, "built") {
			n++
		}
	}
	fmt.Fprintf(&b, "%d of %d ports built and verified, in %.1f minutes\n", n, len(rows), total.Minutes())
	return b.String()
}

// sharedDir finds shared/ beside the repository or one of its parents.
func sharedDir(t *testing.T, repoDir string) string {
	for d := repoDir; d != "/"; d = filepath.Dir(d) {
		s := filepath.Join(filepath.Dir(d), "shared")
		if exists(filepath.Join(s, "lfs-12.3", "packages.tsv")) && exists(filepath.Join(s, "tools", "fetch-lfs-sources.sh")) {
			return s
		}
	}
	t.Skipf("shared/lfs-12.3 and shared/tools are not beside the repository (%s)", filepath.Dir(repoDir))
	return ""
}

func cacheDir(t *testing.T) string {
	dir := filepath.Join(testroot.CacheDir(), "lfs")
	if err := os.MkdirAll(filepath.Join(dir, "distfiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chrootTempDir makes the directory the root is copied into. It is removed
// only when nothing is mounted below it: a removal that walked into a
// leaked bind mount of /dev would reach the host's.
func chrootTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/var/tmp", "lpm-lfsproof-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if leaked := testroot.MountsUnder(t, dir); len(leaked) > 0 {
			for i := len(leaked) - 1; i >= 0; i-- {
				unix.Unmount(leaked[i], unix.MNT_DETACH)
			}
			t.Errorf("left mounted after the test, detached: %v", leaked)
		}
		if still := testroot.MountsUnder(t, dir); len(still) > 0 {
			t.Errorf("still mounted, so %s is left in place: %v", dir, still)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

func assertNoMountsUnder(t *testing.T, dir string) {
	if leaked := testroot.MountsUnder(t, dir); len(leaked) > 0 {
		t.Errorf("mounted under the root after lpm returned: %v", leaked)
	}
}

func readTSV(t *testing.T, file string) []map[string]string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var header []string
	var rows []map[string]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if header == nil {
			header = cols
			continue
		}
		r := map[string]string{}
		for i, h := range header {
			if i < len(cols) {
				r[h] = cols[i]
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return rows
}

// nearbyName is the upstream name of the nearby tarball: the book's file
// name with the other version and Debian's compression.
func nearbyName(p *ports.Port, n nearbyTarball) string {
	tarExt := regexp.MustCompile(`\.tar\.[a-z0-9]+$`)
	base := tarExt.ReplaceAllString(p.Sources[0].FileName(), "")
	return strings.Replace(base, p.Version, n.version, 1) + tarExt.FindString(n.file)
}

// verified says whether file is there with the given md5 (lpm checks the
// port's sha256 itself when it fetches).
func verified(file, md5 string) bool {
	out, err := exec.Command("md5sum", file).Output()
	return err == nil && strings.HasPrefix(string(out), md5)
}

func fileSHA256(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// linkOrCopy puts from at to, a hard link where one can be made.
func linkOrCopy(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	os.Remove(to)
	if os.Link(from, to) == nil {
		return nil
	}
	out, err := exec.Command("cp", from, to).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copying %s to %s: %v: %s", from, to, err, out)
	}
	return nil
}

func write(t *testing.T, file, text string) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 1 << 30
	}
	return n
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The book mounts $LFS, so the chroot's / is a mount point; a root that is
// a plain directory cannot have the build sandbox (Go makes / private in
// the build's mount namespace, which needs a mount point there). lpm says
// so and how to fix it, instead of "fork/exec: invalid argument".
func TestSlowSandboxInAChrootWithoutAMountPointSaysWhy(t *testing.T) {
	if os.Getenv("LPM_SLOW") != "1" {
		t.Skip("slow: set LPM_SLOW=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: debootstrap, mounts and chroot")
	}
	repoDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	base := testroot.Debian(t)
	root := chrootTempDir(t)
	if out, err := exec.Command("cp", "-a", "--reflink=auto", base+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("copying the cached root %s: %v\n%s", base, err, out)
	}
	buildLPM(t, repoDir, filepath.Join(root, "usr/bin/lpm"))
	write(t, filepath.Join(root, "usr/ports/note/port.toml"), `name = "note"
version = "1.0"
[build]
install = 'mkdir -p "$DESTDIR/usr/share/note" && echo hi > "$DESTDIR/usr/share/note/hi"'
`)
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/lpm --yes --ports /usr/ports install note`, "sh", root)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("lpm installed with the sandbox in a chroot whose / is no mount point:\n%s", out)
	}
	want := "the build sandbox needs / to be a mount point"
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "mount --bind") {
		t.Errorf("lpm's error does not say %q and how to fix it:\n%s", want, out)
	}
	if exists(filepath.Join(root, "usr/share/note/hi")) {
		t.Error("the failed build's file is in the root")
	}
	assertNoMountsUnder(t, root)
}
