package lfsproof

// TestSlowLFSBootsInQEMU (LPM_SLOW=1 and LPM_LFS_BOOT=1, which
// scripts/test.sh sets when the coordinator adds it; as root) builds an LFS 12.3 system with lpm from the
// shipped ports and boots it.
//
// Where it builds: lpm runs inside the Debian chroot this package already
// makes for the chapter-8 proof (the stand-in for a host with a toolchain),
// managing an empty root at /mnt/target in it, as `lpm --root /mnt/lfs`
// does from an LFS host. The target never gets a compiler, so every build
// runs in the chroot with the chroot's tools (build.chroot = "auto"), and
// the target receives only what its packages hold: the image is the LFS
// system and nothing of Debian. The chroot, not the test machine itself,
// is the host so that the toolchain is the same bookworm one on every
// machine, and nothing is installed on the test machine for the builds.
//
// What it builds: bootPorts, in that order, one `lpm install` each (a
// failure names the port and keeps its log). Ports whose exact tarball
// Debian carries are the shipped ports as they are; the others come from an
// override tree written to the target's /usr/ports, where lpm layers it
// over the shipped tree: the shipped port with only its version and
// sources changed to Debian's tarballs (and the book's patches that are not
// to be had dropped; overridden names them). Three test ports come from
// testdata/lfsboot/ports: lfs-rc (small rc scripts in the bootscripts'
// layout, standing in for lfs-bootscripts, whose tarball is not here), lpm
// (the static binary) and lfs-hello (a program lpm installs on the booted
// system). The build-only tools are the chroot's, declared provided.
//
// Archives are cached by port content in $LPM_TEST_CACHE/lfs/boot-packages
// (a port directory's files, the environment and the builder's code), so a
// warm run builds nothing. Progress lines (port, minutes) go to standard
// error while it runs.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lfs-lpm/lpm/boot"
	"github.com/lfs-lpm/lpm/hooks"
	"github.com/lfs-lpm/lpm/internal/testroot"
	"github.com/lfs-lpm/lpm/ports"
)

// bootInclude is the chroot's package list (testroot's, which has what
// the boot set's builds link against or run: the headers of the libraries
// the target gets from its own ports, readline, libuuid, libblkid, acl,
// attr, and the kernel's build tools).
const bootInclude = testroot.Include

// A bootPort is one port of the image. debian lists Debian's files for the
// port's sources other than patches, in the port's order; none means the
// shipped port as it is (Debian has the book's very tarball).
type bootPort struct {
	name   string
	debian []string
	// patches are the test's own (testdata/lfsboot/patches), in place of
	// the book's, for what Debian's tarball lacks.
	patches []string
	// dist says Debian's tarball is a git snapshot without the generated
	// files (configure) of a release: the test makes the release tarball
	// from it, autoreconf -fi as upstream's make dist does, under the
	// upstream name.
	dist bool
}

// bootPorts is the image: what boots to a login (glibc, bash, coreutils,
// util-linux's agetty and mount, shadow's login, sysvinit, the rc scripts,
// e2fsprogs' fsck), what those need at run time (ncurses, readline, acl,
// attr, libxcrypt, grep and sed for the scripts), the base ports with the
// configuration and release files, GRUB 2.12, the kernel and lpm. gawk is
// not in it: the rc scripts do not call it. kmod is not: the kernel has no
// modules.
var bootPorts = []bootPort{
	{name: "lfs-base"},
	{name: "glibc", debian: []string{"glibc_2.41.orig.tar.xz", "tzdata_2025b.orig.tar.gz"}, patches: []string{"glibc-no-manual.patch"}},
	{name: "libxcrypt", debian: []string{"libxcrypt_4.4.38.orig.tar.xz"}, dist: true},
	{name: "ncurses", debian: []string{"ncurses_6.4.orig.tar.gz"}, patches: []string{"ncurses-widec-default.patch"}},
	{name: "readline", debian: []string{"readline_8.2.orig.tar.gz"}},
	{name: "bash", debian: []string{"bash_5.2.37.orig.tar.xz"}},
	{name: "attr", debian: []string{"attr_2.5.2.orig.tar.xz"}},
	{name: "acl"},
	{name: "coreutils", debian: []string{"coreutils_9.7.orig.tar.xz"}},
	{name: "grep"},
	{name: "sed"},
	{name: "util-linux", debian: []string{"util-linux_2.38.1.orig.tar.xz"}},
	{name: "e2fsprogs"},
	{name: "shadow", debian: []string{"shadow_4.17.4.orig.tar.xz"}},
	{name: "sysvinit", debian: []string{"sysvinit_3.18.orig.tar.gz"}, patches: []string{"sysvinit-no-duplicates.patch"}},
	{name: "lfs-config"},
	{name: "lfs-rc"},
	{name: "lpm"},
	{name: "xz", debian: []string{"xz-utils_5.4.1.orig.tar.xz"}},
	{name: "grub"},
	{name: "linux", debian: []string{"linux_6.12.38.orig.tar.xz"}},
}

// secondKernel is the kernel the booted system installs beside the first
// (its archive built with the others and left in the image's package
// cache).
var secondKernel = []string{"linux_6.12.43.orig.tar.xz"}

// bootProvided are the build-only tools the chroot supplies beyond the
// chapter-8 profile's temporary tools, and the run-time dependencies the
// image leaves out (udev and zlib of util-linux: nothing here loads them;
// gcc, gettext and xz of GRUB's scripts, which the image never runs).
var bootProvided = []string{
	"autoconf=2.72", "automake=1.17", "bc=7.0.3", "flex=2.6.4", "gmp=6.3.0", "kmod=34",
	"libcap=2.73", "libelf=0.192", "mpfr=4.2.1", "openssl=3.4.1", "pkgconf=2.3.0",
	"udev=257.3", "zlib=1.3.1",
}

// kernelFragment is merged over tinyconfig into the target's kernel config
// (ROOT/etc/lpm/kernel/config, which the linux port builds from): what
// QEMU's pc machine needs to boot an ext4 root from an IDE or virtio disk
// with a serial console, and what the LFS fstab and boot scripts mount.
const kernelFragment = `CONFIG_64BIT=y
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_PRINTK=y
CONFIG_MULTIUSER=y
CONFIG_POSIX_TIMERS=y
CONFIG_FUTEX=y
CONFIG_FILE_LOCKING=y
CONFIG_EPOLL=y
CONFIG_SIGNALFD=y
CONFIG_TIMERFD=y
CONFIG_EVENTFD=y
CONFIG_SYSVIPC=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_TTY=y
CONFIG_UNIX98_PTYS=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_CGROUPS=y
CONFIG_SHMEM=y
CONFIG_TMPFS=y
CONFIG_BLOCK=y
CONFIG_MSDOS_PARTITION=y
CONFIG_EXT4_FS=y
CONFIG_EXT4_USE_FOR_EXT2=y
CONFIG_PCI=y
CONFIG_ATA=y
CONFIG_ATA_PIIX=y
CONFIG_SCSI=y
CONFIG_BLK_DEV_SD=y
CONFIG_VIRTIO_MENU=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_ACPI=y
`

func TestSlowLFSBootsInQEMU(t *testing.T) {
	if os.Getenv("LPM_SLOW") != "1" || os.Getenv("LPM_LFS_BOOT") != "1" {
		t.Skip("slow (about 20 minutes cold, 2 warm, on 2 quiet cores): set LPM_SLOW=1 LPM_LFS_BOOT=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: debootstrap, mounts, chroot and QEMU")
	}
	start := time.Now()
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "lfsboot [%5.1fm] %s\n", time.Since(start).Minutes(), fmt.Sprintf(format, args...))
	}
	repoDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	shared := sharedDir(t, repoDir)
	cache := cacheDir(t)
	distfiles := filepath.Join(cache, "distfiles")
	apt := filepath.Join(cache, "apt")
	logs := filepath.Join(cache, "boot-logs")
	os.MkdirAll(logs, 0o755)

	// 1. Sources: the exact tarballs, then Debian's for the overrides.
	var exact []string
	for _, b := range bootPorts {
		if b.debian == nil && exists(filepath.Join(repoDir, "ports/lfs", b.name)) {
			exact = append(exact, b.name)
		}
	}
	fetchExact(t, shared, apt, distfiles, exact)
	debian := debianFiles(t, filepath.Join(shared, "lfs-12.3", "debian-sources.tsv"))
	for _, b := range bootPorts {
		files := b.debian
		if b.name == "linux" {
			files = append(files, secondKernel...)
		}
		for _, f := range files {
			n, ok := debian[f]
			if !ok {
				t.Fatalf("port %s: %s is not in debian-sources.tsv", b.name, f)
			}
			if err := fetchDebian(apt, n, filepath.Join(distfiles, f)); err != nil {
				t.Fatalf("port %s: fetching Debian's %s: %v", b.name, f, err)
			}
		}
	}
	for _, b := range bootPorts {
		if b.dist {
			debian[b.debian[0]] = distTarball(t, repoDir, b, debian[b.debian[0]], distfiles)
		}
	}
	progress("sources fetched")

	// 2. The chroot with lpm in it, the empty target root, its config and
	// ports.
	base := testroot.Debian(t)
	chroot := chrootTempDir(t)
	if out, err := exec.Command("cp", "-a", "--reflink=auto", base+"/.", chroot).CombinedOutput(); err != nil {
		t.Fatalf("copying the cached root %s: %v\n%s", base, err, out)
	}
	buildLPM(t, repoDir, filepath.Join(chroot, "usr/bin/lpm"))
	target := filepath.Join(chroot, "mnt/target")
	mirror := filepath.Join(chroot, "srv/lfs-mirror")
	for _, d := range []string{target, mirror} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := targetConfig("ro")
	write(t, filepath.Join(target, "etc/lpm/lpm.toml"), conf)
	tree := filepath.Join(target, "usr/ports")
	portDirs := writeBootTree(t, repoDir, tree, debian, filepath.Join(chroot, "usr/bin/lpm"))
	for _, dir := range portDirs {
		for _, f := range sourceFiles(t, dir) {
			if err := linkOrCopy(filepath.Join(distfiles, f), filepath.Join(mirror, f)); err != nil {
				t.Fatal(err)
			}
		}
	}

	provided := append(profileProvided(t, repoDir), bootProvided...)
	env := []string{
		"LPM_PROVIDED=" + strings.Join(provided, ":"),
		"LPM_MIRRORS=file:///srv/lfs-mirror",
		"LPM_DISTFILES=/srv/distfiles",
		"LPM_BUILDDIR=/var/tmp/lpm-build",
		"LPM_LOGDIR=/var/log/lpm-build",
	}
	lpm := func(args ...string) (string, error) {
		return chrootRun(chroot, env, append([]string{"/usr/bin/lpm", "--root", "/mnt/target", "--yes"}, args...)...)
	}
	envKey := envHash(t, repoDir, bootInclude+"\x00"+conf+"\x00"+strings.Join(env, "\x00"))
	store := filepath.Join(cache, "boot-packages")
	packages := filepath.Join(target, "var/cache/lpm/packages")

	// 3. Every port into the target, one install each; then the archives
	// the booted system installs by itself: lfs-hello and the second
	// kernel.
	cachedRun := func(name, dir, what string, args ...string) {
		t.Helper()
		p, errs := ports.ParseFile(filepath.Join(dir, ports.FileName))
		if len(errs) > 0 {
			t.Fatalf("%s: %v", dir, errs)
		}
		key := portKey(t, dir, envKey)
		stored := filepath.Join(store, name+"-"+key, p.ID()+".lpm")
		archive := filepath.Join(packages, p.ID()+".lpm")
		cached := exists(stored)
		if cached {
			if err := linkOrCopy(stored, archive); err != nil {
				t.Fatal(err)
			}
		}
		progress("%-11s %-8s %s (%s)", name, p.Version, what, map[bool]string{true: "cached archive", false: "building"}[cached])
		began := time.Now()
		out, err := lpm(args...)
		if err != nil {
			keepBootLog(chroot, logs, p)
			t.Fatalf("lpm %s (%s) in the chroot: %v\n%s\n(build log kept in %s)", strings.Join(args, " "), dir, err, tailLines(out, 40), logs)
		}
		if !cached && exists(archive) {
			if err := linkOrCopy(archive, stored); err != nil {
				t.Error(err)
			}
		}
		progress("%-11s %-8s %s in %.1f min", name, p.Version, what, time.Since(began).Minutes())
	}
	for _, b := range bootPorts {
		dir := portDirs[b.name]
		request := b.name
		if b.name == "linux" {
			writeKernelConfig(t, chroot, filepath.Join(distfiles, b.debian[0]), filepath.Join(target, "etc/lpm/kernel/config"), cache)
			request = "linux@" + debian[b.debian[0]].version
		}
		cachedRun(b.name, dir, "install", "install", request)
		if link, ok := linkTarget[b.name]; ok {
			linkTargetLibrary(t, chroot, env, dir, link)
		}
	}
	cachedRun("lfs-hello", portDirs["lfs-hello"], "build", "build", "lfs-hello")
	cachedRun("linux", portDirs["linux-second"], "build", "build", "linux@"+debian[secondKernel[0]].version)
	if out, err := lpm("verify"); err != nil {
		t.Fatalf("lpm verify of the target: %v\n%s", err, tailLines(out, 30))
	}
	checkLibs(t, lpm)
	progress("the target is built")

	// 4. What a user does before the first boot: a root password (shadow's
	// login refuses root without one), a getty on the serial line, lpm's
	// settings for the booted system.
	if out, err := chrootRun(target, nil, "/usr/bin/bash", "-c", "echo root:"+rootPassword+" | /usr/sbin/chpasswd"); err != nil {
		t.Fatalf("chpasswd in the target: %v\n%s", err, out)
	}
	inittab := filepath.Join(target, "etc/inittab")
	tab, err := os.ReadFile(inittab)
	if err != nil {
		t.Fatal(err)
	}
	write(t, inittab, string(tab)+"S0:2345:respawn:/sbin/agetty --noclear ttyS0 115200 vt100\n")
	write(t, filepath.Join(target, "etc/lpm/lpm.toml"), targetConfig("ro"))

	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		cmd := exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", "qemu-system-x86")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("installing QEMU: apt-get install qemu-system-x86: %v\n%s", err, tailLines(string(out), 10))
		}
	}
	disk := "/var/tmp/lfs-disk1.img"
	if out, err := lpm("image", "--out", disk); err != nil {
		t.Fatalf("lpm image: %v\n%s", err, out)
	}
	progress("image made")
	kernels, _, err := hooks.Kernels(target)
	if err != nil || len(kernels) != 1 {
		t.Fatalf("kernels in the target's /boot: %v, %v", kernels, err)
	}
	kernel := kernels[0]
	release := strings.TrimSuffix(kernel, "-lfs-12.3")
	hello, _ := ports.ParseFile(filepath.Join(portDirs["lfs-hello"], ports.FileName))

	// 5. The first boot: to a root shell, the system's identity, lpm at
	// work on the system it built, a clean shutdown.
	v := startVM(t, filepath.Join(chroot, disk), filepath.Join(logs, "boot1-lfs.log"), 15*time.Minute)
	v.bootToLogin(kernel, release)
	progress("boot 1: logged in")
	// expect runs a command on the booted system (v, whichever boot it is).
	expect := func(command, want string, wantRC int, limit time.Duration) string {
		t.Helper()
		out, rc := v.run(command, limit)
		if rc != wantRC || !strings.Contains(out, want) {
			v.fail("%s: exit %d (want %d), output lacks %q:\n%s", command, rc, wantRC, want, out)
		}
		return out
	}
	expect("uname -r", release, 0, time.Minute)
	expect("cat /etc/os-release", `NAME="Linux From Scratch"`, 0, time.Minute)
	expect("cat /etc/os-release", `VERSION="12.3"`, 0, time.Minute)
	expect("bash --version", "GNU bash, version 5.2.37", 0, time.Minute)
	list := expect("lpm list", "glibc", 0, 2*time.Minute)
	for _, b := range bootPorts {
		if !strings.Contains(list, b.name) {
			v.fail("lpm list lacks %s:\n%s", b.name, list)
		}
	}
	expect("lpm verify", "", 0, 10*time.Minute)
	expect("lpm owns /usr/bin/bash", "bash", 0, time.Minute)
	archive := "/var/cache/lpm/packages/" + hello.ID() + ".lpm"
	expect("lpm install --yes --file "+archive, "", 0, 5*time.Minute)
	expect("lfs-hello", "hello from lfs-hello on Linux "+release, 0, time.Minute)
	expect("lpm remove --yes lfs-hello", "", 0, 5*time.Minute)
	// bash remembers the path of what it ran: ask the disk.
	expect("test -e /usr/bin/lfs-hello", "", 1, time.Minute)
	expect("lpm history", "lfs-hello", 0, time.Minute)
	progress("boot 1: lpm list, verify, owns, install --file, remove, history")
	v.poweroff()
	progress("boot 1: clean shutdown")

	// 6. The same disk again: the root checks clean. Then, from inside, a
	// second kernel beside the first (its archive is in the image's package
	// cache): the bootloader hook makes it GRUB's default.
	v = startVM(t, filepath.Join(chroot, disk), filepath.Join(logs, "boot2-lfs-fsck.log"), 15*time.Minute)
	v.bootToLogin(kernel, release)
	if !regexp.MustCompile(`: clean, \d+/\d+ files`).MatchString(v.con.Text()) {
		v.fail("no clean fsck of the root on the second boot")
	}
	progress("boot 2: the root checked clean")
	second, _ := ports.ParseFile(filepath.Join(portDirs["linux-second"], ports.FileName))
	secondKernelName := second.Version + "-lfs-12.3" // the linux port's boot file names
	// A menu long enough to pick an entry in (the user's edit of lpm's
	// settings; the hook writes it into grub.cfg with the next kernel).
	expect("sed -i 's/^timeout = 1$/timeout = 5/' /etc/lpm/lpm.toml && grep -x 'timeout = 5' /etc/lpm/lpm.toml", "timeout = 5", 0, time.Minute)
	expect("lpm install --yes --file /var/cache/lpm/packages/"+second.ID()+".lpm", "hook bootloader: wrote /boot/grub/grub.cfg", 0, 10*time.Minute)
	expect("ls /boot", "vmlinuz-"+secondKernelName, 0, time.Minute)
	v.poweroff()
	progress("boot 2: %s installed beside %s", second.Version, release)

	// 7. The second kernel boots by default.
	v = startVM(t, filepath.Join(chroot, disk), filepath.Join(logs, "boot3-second-kernel.log"), 15*time.Minute)
	v.bootToLogin(secondKernelName, second.Version)
	expect("uname -r", second.Version, 0, time.Minute)
	v.poweroff()
	progress("boot 3: %s by default", second.Version)

	// 8. The first kernel, picked in GRUB's menu (lpm refuses to remove
	// the running kernel), undoes the second's install.
	v = startVM(t, filepath.Join(chroot, disk), filepath.Join(logs, "boot4-first-kernel-undo.log"), 15*time.Minute)
	v.waitFor("Linux From Scratch ("+secondKernelName+")", 2*time.Minute)
	v.waitFor("Linux From Scratch ("+kernel+")", 30*time.Second)
	// Keys count once the menu counts down (GRUB draws it twice on the
	// serial terminal); Ctrl-N is GRUB's "next entry", one byte where an
	// arrow key's escape sequence may be split.
	v.waitFor("executed automatically in", 30*time.Second)
	v.keys("\x0e", "\r")
	v.bootFrom(release)
	expect("uname -r", release, 0, time.Minute)
	expect("lpm undo --yes", "hook bootloader: wrote /boot/grub/grub.cfg: "+kernel+" (default)", 0, 10*time.Minute)
	if out, _ := v.run("ls /boot", time.Minute); strings.Contains(out, "vmlinuz-"+secondKernelName) {
		v.fail("lpm undo left the second kernel: %s", out)
	}
	expect("lpm history", "undo", 0, time.Minute)
	v.poweroff()
	progress("boot 4: %s picked in the menu; lpm undo", release)

	// 9. The first kernel is the default again.
	v = startVM(t, filepath.Join(chroot, disk), filepath.Join(logs, "boot5-after-undo.log"), 15*time.Minute)
	v.bootToLogin(kernel, release)
	expect("uname -r", release, 0, time.Minute)
	v.poweroff()
	progress("boot 5: %s again by default", release)
	t.Logf("lfs boot test: %s in all; console logs in %s", time.Since(start).Round(time.Second), logs)
}

// leftOut are the libraries check-libs may find missing, each for what
// the image leaves out on purpose: zlib, which only util-linux's cramfs
// tools load, and the compiler's C++ run time, which only ncurses' C++
// binding needs (nothing in the image is C++).
var leftOut = map[string]string{
	"libz.so.1":      "zlib",
	"libstdc++.so.6": "gcc",
	"libgcc_s.so.1":  "gcc",
}

// checkLibs runs lpm check-libs on the target: every library an
// installed program or library needs is there, but those of leftOut.
func checkLibs(t *testing.T, lpm func(args ...string) (string, error)) {
	t.Helper()
	out, err := lpm("--json", "check-libs")
	var report struct {
		Missing []struct{ Package, Path, Soname string }
	}
	// The output is the JSON, then (standard error) lpm's summary line.
	start := strings.Index(out, "{")
	if start < 0 {
		t.Fatalf("lpm check-libs --json of the target: %v, no JSON:\n%s", err, tailLines(out, 30))
	}
	if jerr := json.NewDecoder(strings.NewReader(out[start:])).Decode(&report); jerr != nil {
		t.Fatalf("lpm check-libs --json of the target: %v, %v\n%s", err, jerr, tailLines(out, 30))
	}
	var missing []string
	for _, m := range report.Missing {
		if _, ok := leftOut[m.Soname]; !ok {
			missing = append(missing, fmt.Sprintf("%s (%s): %s", m.Path, m.Package, m.Soname))
		}
	}
	if len(missing) > 0 {
		t.Errorf("lpm check-libs of the target: libraries missing:\n%s", strings.Join(missing, "\n"))
	}
}

// targetConfig is the target's lpm.toml: no test suites (the chapter-8
// profile's reason), and the bootloader of the QEMU machine: the root
// mounted read-only, so that checkfs checks it, on the serial console.
func targetConfig(mode string) string {
	return fmt.Sprintf(`[build]
jobs = 2
check = false
[bootloader]
root = "PARTUUID=4c504d31-01"
cmdline = "%s console=ttyS0,115200"
serial = true
timeout = 1
`, mode)
}

// profileProvided is the chapter-8 profile's provided list (the temporary
// tools, which the chroot's Debian packages stand in for).
func profileProvided(t *testing.T, repoDir string) []string {
	data, err := os.ReadFile(filepath.Join(repoDir, "config/lfs/chroot.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`"([a-z0-9-]+=[^"]*)"`).FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out
}

// debianFiles indexes debian-sources.tsv by Debian's file name.
func debianFiles(t *testing.T, tsv string) map[string]nearbyTarball {
	out := map[string]nearbyTarball{}
	for _, r := range readTSV(t, tsv) {
		out[r["file"]] = nearbyTarball{source: r["debian_source"], version: r["version"], file: r["file"], sha256: r["sha256"], suites: strings.Fields(r["suites"])}
	}
	return out
}

// writeBootTree writes the ports the target is built from into tree and
// returns each port's directory: overrides of the shipped ports there,
// the test ports, and the shipped directory for a port used as it is.
func writeBootTree(t *testing.T, repoDir, tree string, debian map[string]nearbyTarball, lpmBin string) map[string]string {
	dirs := map[string]string{}
	for _, b := range bootPorts {
		shipped := filepath.Join(repoDir, "ports/lfs", b.name)
		if b.name == "linux" {
			shipped = filepath.Join(shipped, "6.13.4")
		}
		test := filepath.Join(repoDir, "testdata/lfsboot/ports", b.name)
		switch {
		case exists(test):
			dirs[b.name] = filepath.Join(tree, b.name)
			copyDir(t, test, dirs[b.name])
		case b.debian == nil:
			dirs[b.name] = shipped
		default:
			dirs[b.name] = writeOverride(t, shipped, tree, b, debian)
		}
		if _, errs := ports.ParseFile(filepath.Join(dirs[b.name], ports.FileName)); len(errs) > 0 {
			t.Fatalf("%s: %v", dirs[b.name], errs)
		}
	}
	dirs["linux-second"] = writeOverride(t, filepath.Join(repoDir, "ports/lfs/linux/6.13.4"), tree, bootPort{name: "linux", debian: secondKernel}, debian)
	hello := filepath.Join(tree, "lfs-hello")
	copyDir(t, filepath.Join(repoDir, "testdata/lfsboot/ports/lfs-hello"), hello)
	dirs["lfs-hello"] = hello
	if err := linkOrCopy(lpmBin, filepath.Join(dirs["lpm"], "lpm")); err != nil {
		t.Fatal(err)
	}
	return dirs
}

// writeOverride writes the override of a shipped port into tree and
// returns its directory; kernels go to linux/VERSION, side by side.
func writeOverride(t *testing.T, shipped, tree string, b bootPort, debian map[string]nearbyTarball) string {
	dir := filepath.Join(tree, b.name)
	if b.name == "linux" {
		dir = filepath.Join(dir, debian[b.debian[0]].version)
	}
	copyDir(t, shipped, dir)
	for _, patch := range b.patches {
		if err := linkOrCopy(filepath.Join("../testdata/lfsboot/patches", patch), filepath.Join(dir, patch)); err != nil {
			t.Fatal(err)
		}
	}
	text, err := overrideSources(filepath.Join(shipped, ports.FileName), b.debian, b.patches, debian)
	if err != nil {
		t.Fatalf("override of %s: %v", b.name, err)
	}
	write(t, filepath.Join(dir, ports.FileName), text)
	return dir
}

// overrideSources is the shipped port with its version and sources
// changed to Debian's files (the version of the first), the book's patches
// (none of them is to be had here) replaced by the test's own, and nothing
// else changed.
func overrideSources(shipped string, files, patches []string, debian map[string]nearbyTarball) (string, error) {
	data, err := os.ReadFile(shipped)
	if err != nil {
		return "", err
	}
	first := debian[files[0]]
	var out []string
	var block []string // the [[source]] being read
	sources := 0
	flush := func() error {
		if block == nil {
			return nil
		}
		isPatch := false
		for _, l := range block {
			if strings.HasPrefix(strings.TrimSpace(l), "url =") && strings.Contains(l, ".patch") {
				isPatch = true
			}
		}
		if !isPatch {
			if sources >= len(files) {
				return fmt.Errorf("%s has more sources than the %d Debian files given", shipped, len(files))
			}
			n := debian[files[sources]]
			out = append(out, "[[source]]", fmt.Sprintf("url = %q", debianURL(n)), fmt.Sprintf("sha256 = %q", n.sha256), "")
			sources++
		}
		block = nil
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			if err := flush(); err != nil {
				return "", err
			}
			if trimmed == "[[source]]" {
				block = []string{}
				continue
			}
		}
		if block != nil {
			block = append(block, line)
			continue
		}
		switch {
		case strings.HasPrefix(trimmed, "version ="):
			line = fmt.Sprintf("version = %q", first.version)
		case strings.HasPrefix(trimmed, "patches ="):
			continue
		}
		if strings.HasPrefix(trimmed, "version =") && len(patches) > 0 {
			var quoted []string
			for _, p := range patches {
				quoted = append(quoted, fmt.Sprintf("%q", p))
			}
			out = append(out, line, "patches = ["+strings.Join(quoted, ", ")+"]")
			continue
		}
		out = append(out, line)
	}
	if err := flush(); err != nil {
		return "", err
	}
	if sources != len(files) {
		return "", fmt.Errorf("%s has %d sources, %d Debian files given", shipped, sources, len(files))
	}
	return strings.Join(out, "\n"), nil
}

// fetchDebian downloads Debian's file to final, finding its pool directory
// in the index fetch-lfs-sources.sh keeps (apt/locations.tsv), which also
// knows files of versions that apt-get source no longer offers.
func fetchDebian(apt string, n nearbyTarball, final string) error {
	if sum, err := fileSHA256(final); err == nil && sum == n.sha256 {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(apt, "locations.tsv"))
	if err != nil {
		return err
	}
	var tried []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 3 || f[0] != n.file {
			continue
		}
		uri := strings.TrimRight(f[1], "/") + "/" + f[2] + "/" + n.file
		part := final + ".part"
		dl := exec.Command("/usr/lib/apt/apt-helper", "download-file", uri, part, "SHA256:"+n.sha256)
		dl.Env = aptEnv(apt)
		out, err := dl.CombinedOutput()
		if err == nil {
			return os.Rename(part, final)
		}
		os.Remove(part)
		tried = append(tried, uri+": "+lastLine(string(out)))
	}
	if len(tried) == 0 {
		if _, err := fetchNearby(apt, n, final); err != nil {
			return fmt.Errorf("%s is in no pool directory of %s: %w", n.file, filepath.Join(apt, "locations.tsv"), err)
		}
		return nil
	}
	return fmt.Errorf("apt-helper download-file %s", strings.Join(tried, "; "))
}

// distTarball makes the release tarball of a port whose Debian tarball is
// a git snapshot, on the test machine (autoreconf needs autoconf, automake,
// libtool and libltdl's m4 there, which apt installs when missing), once: it is kept in distfiles under the upstream
// name, and its sha256 is the override's.
func distTarball(t *testing.T, repoDir string, b bootPort, n nearbyTarball, distfiles string) nearbyTarball {
	p, errs := ports.ParseFile(filepath.Join(repoDir, "ports/lfs", b.name, ports.FileName))
	if len(errs) > 0 {
		t.Fatalf("%s: %v", b.name, errs)
	}
	name := p.Sources[0].FileName()
	out := filepath.Join(distfiles, name)
	if !exists(out) {
		// libxcrypt's configure.ac uses LT_SYS_SYMBOL_USCORE, from libltdl's m4.
		missing := !exists("/usr/share/aclocal/ltdl.m4")
		for _, tool := range []string{"autoreconf", "automake", "libtoolize"} {
			if _, err := exec.LookPath(tool); err != nil {
				missing = true
			}
		}
		if missing {
			cmd := exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", "autoconf", "automake", "libtool", "libltdl-dev")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("installing autotools for %s's release tarball: %v\n%s", b.name, err, tailLines(string(out), 10))
			}
		}
		work := t.TempDir()
		top := strings.TrimSuffix(strings.TrimSuffix(name, ".tar.xz"), ".tar.gz")
		script := `set -e
tar xf "$1"
cd "$2"
autoreconf -fi >/dev/null
rm -rf autom4te.cache
cd ..
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cJf "$3.part" "$2"
mv "$3.part" "$3"`
		cmd := exec.Command("bash", "-c", script, "bash", filepath.Join(distfiles, n.file), top, out)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("making %s from Debian's %s: %v\n%s", name, n.file, err, tailLines(string(o), 20))
		}
	}
	sum, err := fileSHA256(out)
	if err != nil {
		t.Fatal(err)
	}
	return nearbyTarball{version: n.version, file: name, sha256: sum}
}

// debianURL is where Debian's archive keeps a file (lpm fetches it from
// the test's mirror first). A tarball the test made (no Debian source) is
// only in the mirror.
func debianURL(n nearbyTarball) string {
	if n.source == "" {
		return "https://lpm.invalid/made-by-the-test/" + n.file
	}
	dir := n.source[:1]
	if strings.HasPrefix(n.source, "lib") {
		dir = n.source[:4]
	}
	return "https://deb.debian.org/debian/pool/main/" + dir + "/" + n.source + "/" + n.file
}

// sourceFiles are the distfile names of a port's sources.
func sourceFiles(t *testing.T, dir string) []string {
	p, errs := ports.ParseFile(filepath.Join(dir, ports.FileName))
	if len(errs) > 0 {
		t.Fatalf("%s: %v", dir, errs)
	}
	var out []string
	for _, s := range p.Sources {
		out = append(out, s.FileName())
	}
	return out
}

// writeKernelConfig writes the target's kernel config, as a user makes
// one: tinyconfig of the kernel's source plus kernelFragment, olddefconfig
// run in the chroot. It is cached by the tarball's name and the fragment.
func writeKernelConfig(t *testing.T, chroot, tarball, dst, cache string) {
	key := portKeyOf(filepath.Base(tarball) + "\x00" + kernelFragment)
	cached := filepath.Join(cache, "kernel-config-"+key)
	if !exists(cached) {
		work := filepath.Join(chroot, "var/tmp/kconfig")
		os.RemoveAll(work)
		write(t, filepath.Join(work, "qemu.fragment"), kernelFragment)
		if err := linkOrCopy(tarball, filepath.Join(work, "linux.tar.xz")); err != nil {
			t.Fatal(err)
		}
		script := `set -e
cd /var/tmp/kconfig
tar xf linux.tar.xz
cd linux-*/
make -s ARCH=x86_64 tinyconfig
ARCH=x86_64 ./scripts/kconfig/merge_config.sh -m .config ../qemu.fragment >/dev/null
make -s ARCH=x86_64 olddefconfig
lost=$(grep -E '^(CONFIG_|# CONFIG_)' ../qemu.fragment | grep -vxF -f .config || true)
if [ -n "$lost" ]; then echo "lines of the fragment lost after olddefconfig: $lost"; exit 1; fi
cp .config ../config`
		if out, err := chrootRun(chroot, nil, "bash", "-c", script); err != nil {
			t.Fatalf("making the kernel config: %v\n%s", err, tailLines(out, 30))
		}
		if err := linkOrCopy(filepath.Join(work, "config"), cached); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(work)
	}
	data, err := os.ReadFile(cached)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dst, string(data))
}

func portKeyOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:16]
}

// chrootRun runs a command in root as inChroot does, with env added, and
// with the root a mount point of its own, as the book's $LFS is: lpm's
// build sandbox makes / private in a new mount namespace, which the kernel
// refuses (EINVAL) for a chroot whose / is a plain directory.
func chrootRun(root string, env []string, args ...string) (string, error) {
	script := `set -e
mount --bind "$1" "$1"
mount --rbind /dev "$1/dev"
mount --make-rslave "$1/dev"
mount -t proc proc "$1/proc"
mount -t sysfs sysfs "$1/sys"
r=$1; shift
exec chroot "$r" "$@"`
	for _, d := range []string{"dev", "proc", "sys"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", root}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/bin:/usr/sbin:/bin:/sbin", "HOME=/root", "LC_ALL=C", "TERM=dumb"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A targetLink says which of Debian's link-time files go from the build
// chroot when the target's own build of a library is installed there,
// and which file of the target's must then be there.
type targetLink struct {
	debian []string // under /usr/lib/x86_64-linux-gnu
	want   string
	// replaced are Debian's directories where the target has a symlink,
	// which lpm refuses to replace: they go first.
	replaced []string
}

// linkTarget are the libraries the build host links against as the
// target's, not Debian's. libxcrypt: LFS builds it without the obsolete
// API, as libcrypt.so.2, where Debian's is libcrypt.so.1, so util-linux
// and shadow built against Debian's would need a library the target
// lacks. ncurses: Debian's libncursesw.so is a linker script adding
// -ltinfo, and configure scripts find libtinfo.so, so readline and
// util-linux needed libtinfo.so.6, which LFS's ncurses (one library,
// libncursesw) never makes; Debian's terminfo directory in /usr/lib
// (LFS's is a link to ../share/terminfo, where both have the entries)
// goes.
var linkTarget = map[string]targetLink{
	"libxcrypt": {debian: []string{"libcrypt.so", "libcrypt.a"}, want: "usr/lib/libcrypt.so.2"},
	"ncurses": {debian: []string{
		"libncursesw.so", "libncursesw.a", "libncurses.so", "libncurses.a", "libtinfo.so", "libtinfo.a",
		"libncurses++w.a", "libncurses++.a", "libformw.so", "libformw.a", "libform.so", "libform.a",
		"libmenuw.so", "libmenuw.a", "libmenu.so", "libmenu.a", "libpanelw.so", "libpanelw.a", "libpanel.so", "libpanel.a",
		"libtic.so", "libtic.a", "libcurses.so",
		"pkgconfig/ncursesw.pc", "pkgconfig/ncurses.pc", "pkgconfig/tinfo.pc", "pkgconfig/ncurses++w.pc", "pkgconfig/ncurses++.pc",
		"pkgconfig/formw.pc", "pkgconfig/form.pc", "pkgconfig/menuw.pc", "pkgconfig/menu.pc", "pkgconfig/panelw.pc", "pkgconfig/panel.pc",
	}, want: "usr/lib/libncursesw.so.6", replaced: []string{"usr/lib/terminfo"}},
}

// linkTargetLibrary installs the target's archive of the port in dir into
// the chroot with lpm (its headers and programs over Debian's) and takes
// Debian's link-time files away; the chroot's own programs keep Debian's
// run-time libraries.
func linkTargetLibrary(t *testing.T, chroot string, env []string, dir string, link targetLink) {
	p, _ := ports.ParseFile(filepath.Join(dir, ports.FileName))
	archive := "/mnt/target/var/cache/lpm/packages/" + p.ID() + ".lpm"
	for _, d := range link.replaced {
		if err := os.RemoveAll(filepath.Join(chroot, d)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := chrootRun(chroot, env, "/usr/bin/lpm", "--root", "/", "--yes", "install", "--file", archive, "--overwrite", "/usr")
	if err != nil {
		t.Fatalf("installing the target's %s into the build chroot: %v\n%s", p.Name, err, tailLines(out, 20))
	}
	for _, f := range link.debian {
		os.Remove(filepath.Join(chroot, "usr/lib/x86_64-linux-gnu", f))
	}
	if !exists(filepath.Join(chroot, link.want)) {
		t.Fatalf("the target's %s put no %s into the chroot", p.Name, link.want)
	}
}

// keepBootLog copies a failed build's log out of the chroot.
func keepBootLog(chroot, logs string, p *ports.Port) {
	src := filepath.Join(chroot, "var/log/lpm-build", p.Name+"-"+p.Version+".log")
	if data, err := os.ReadFile(src); err == nil {
		os.WriteFile(filepath.Join(logs, filepath.Base(src)), data, 0o644)
	}
}

func copyDir(t *testing.T, from, to string) {
	os.RemoveAll(to)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-rL", from, to).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", from, err, out)
	}
}

// rootPassword is root's password on the test image.
const rootPassword = "lfs"

// badConsole are what ends a boot at once: GRUB's prompt, the kernel
// giving up, no init, a boot script's failure, a BIOS without a disk.
var badConsole = []string{"grub>", "Kernel panic", "No init found", "[ FAIL ]", "No bootable device"}

// A vm is one QEMU run on the serial console.
type vm struct {
	t       *testing.T
	disk    string
	logFile string
	con     *boot.Console
	stdin   io.WriteCloser
	exited  chan error
	cancel  context.CancelFunc
	pos     int // how far the console has been read
}

// startVM boots disk under TCG (never KVM) with the first serial port on
// stdio. The console is written to logFile when the test ends.
func startVM(t *testing.T, disk, logFile string, limit time.Duration) *vm {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", "512",
		"-nographic", "-no-reboot", "-drive", "file="+disk+",format=raw")
	v := &vm{t: t, disk: disk, logFile: logFile, con: &boot.Console{}, exited: make(chan error, 1), cancel: cancel}
	cmd.Stdout, cmd.Stderr = v.con, v.con
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	v.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	go func() { v.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		os.WriteFile(logFile, []byte(v.con.Text()), 0o644)
	})
	return v
}

func (v *vm) fail(format string, args ...any) {
	v.t.Helper()
	v.cancel()
	os.WriteFile(v.logFile, []byte(v.con.Text()), 0o644)
	v.t.Fatalf("%s: %s\n--- console (%s) ---\n%s\n---", filepath.Base(v.disk), fmt.Sprintf(format, args...), v.logFile, tailLines(v.con.Text(), 120))
}

// waitFor reads the console on to want, failing at once on badConsole.
func (v *vm) waitFor(want string, limit time.Duration) {
	v.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		text := v.con.Text()
		for _, bad := range badConsole {
			if strings.Contains(text, bad) {
				v.fail("%q on the console", bad)
			}
		}
		if i := strings.Index(text[v.pos:], want); i >= 0 {
			v.pos += i + len(want)
			return
		}
		select {
		case err := <-v.exited:
			v.exited <- err
			// Its last words may have come after the text was read.
			if i := strings.Index(v.con.Text()[v.pos:], want); i >= 0 {
				v.pos += i + len(want)
				return
			}
			v.fail("qemu exited (%v) while waiting for %q", err, want)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			v.fail("no %q within %s", want, limit)
		}
	}
}

func (v *vm) send(line string) {
	v.t.Helper()
	if _, err := io.WriteString(v.stdin, line+"\r"); err != nil {
		v.fail("typing %q: %v", line, err)
	}
}

// marker numbers the commands run: the shell prints END-n only when it
// expands $((n-1+1)), so an echo of the typed line never matches.
var marker = 100

// run types a command at the shell prompt and returns what it printed and
// its exit status.
func (v *vm) run(command string, limit time.Duration) (string, int) {
	v.t.Helper()
	marker++
	v.send(fmt.Sprintf("%s; echo \"rc=$? END-$((%d+1))\"", command, marker-1))
	from := v.pos
	v.waitFor(fmt.Sprintf("END-%d", marker), limit)
	out := v.con.Text()[from:v.pos]
	m := regexp.MustCompile(`rc=(\d+) END-\d+$`).FindStringSubmatch(out)
	if m == nil {
		v.fail("no exit status after %q: %q", command, out)
	}
	rc := 0
	fmt.Sscan(m[1], &rc)
	out = strings.TrimSuffix(out, m[0])
	v.t.Logf("%s: # %s (exit %d)\n%s", filepath.Base(v.logFile), command, rc, out)
	return out, rc
}

// login waits for the getty on the serial line and logs in as root.
func (v *vm) login() {
	v.t.Helper()
	v.waitFor("login:", 3*time.Minute)
	time.Sleep(time.Second) // agetty sets the line up after its prompt
	v.send("root")
	v.waitFor("Password:", time.Minute)
	v.send(rootPassword)
	// What is typed before the shell's prompt is lost (login flushes the
	// line as it hands over): bash's root prompt ends in "# ".
	v.waitFor("# ", time.Minute)
	// No echo of what is typed from here on: a command's output is then
	// only what it printed (run logs the commands).
	v.run("stty -echo; PS1='# '", time.Minute)
}

// bootToLogin boots through GRUB's menu entry for kernel, the kernel's
// banner, sysvinit and the rc scripts to a root shell.
func (v *vm) bootToLogin(kernel, release string) {
	v.t.Helper()
	// The bootloader hook titles entries with os-release's NAME.
	v.waitFor("Linux From Scratch ("+kernel+")", 2*time.Minute)
	v.bootFrom(release)
}

// keys types into GRUB's menu, a moment between keys.
func (v *vm) keys(keys ...string) {
	v.t.Helper()
	for _, k := range keys {
		if _, err := io.WriteString(v.stdin, k); err != nil {
			v.fail("typing %q: %v", k, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// bootFrom follows the boot from the kernel's banner to a root shell.
func (v *vm) bootFrom(release string) {
	v.t.Helper()
	v.waitFor("Linux version "+release+" ", 2*time.Minute)
	v.waitFor("INIT: version", 2*time.Minute)
	v.waitFor("Mounting virtual file systems", time.Minute)
	v.waitFor("Checking file systems", time.Minute)
	v.waitFor("File systems clean", 2*time.Minute)
	v.waitFor("Remounting root file system in read-write mode", time.Minute)
	v.waitFor("run level 3 reached", time.Minute)
	v.login()
}

// poweroff shuts down through sysvinit and the rc scripts and waits for
// QEMU to end.
func (v *vm) poweroff() {
	v.t.Helper()
	v.send("shutdown -h now")
	v.waitFor("Sending all processes the TERM signal", time.Minute)
	v.waitFor("Remounting root file system in read-only mode", time.Minute)
	v.waitFor("reboot: Power down", time.Minute)
	select {
	case <-v.exited:
	case <-time.After(time.Minute):
		v.fail("qemu still running a minute after the power down")
	}
}
