// Package boot holds the boot test: the proof that a root lpm builds boots.
//
// TestSlowBootsInQEMU (LPM_SLOW=1, as root) builds a kernel, busybox, GRUB
// and a base layout from the ports in testdata/boot with lpm into an empty
// root, makes a disk image with lpm image, and boots it with QEMU under TCG
// to a root login on the serial console. Then it installs a second kernel
// (the newest becomes GRUB's default), undoes that (the old one is back),
// and boots a disk whose boot code the bootcode hook wrote.
//
// setup.sh (run by the test) installs what the host needs and stages the
// source tarballs in a local mirror. Built packages are cached per port,
// keyed by the port's files (its sources' sha256 included), in
// LPM_BOOT_CACHE (default $LPM_TEST_CACHE/boot, LPM_TEST_CACHE defaulting
// to /var/tmp/lpm-test-cache, where every test cache lives): a warm run
// builds nothing. Console logs of every boot are kept there in logs/.
package boot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lfs-lpm/lpm/hooks"
	"github.com/lfs-lpm/lpm/ports"
)

const diskID = "4c504d31"

func TestSlowBootsInQEMU(t *testing.T) {
	if os.Getenv("LPM_SLOW") != "1" {
		t.Skip("slow: set LPM_SLOW=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("the boot test needs root: apt, and files owned by root in the image")
	}
	start := time.Now()
	cache := os.Getenv("LPM_BOOT_CACHE")
	if cache == "" {
		cache = filepath.Join(testCache(), "boot")
	}
	tmp := t.TempDir()
	step := stepper(t)

	setup := exec.Command("sh", "setup.sh", cache)
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	step("setup")
	vars, err := readEnv(filepath.Join(cache, "mirror/sources.env"))
	if err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(tmp, "ports")
	if err := render("../testdata/boot/ports", tree, vars); err != nil {
		t.Fatal(err)
	}
	lpmBin := filepath.Join(tmp, "lpm")
	if out, err := exec.Command(goTool(), "build", "-o", lpmBin, "../cmd/lpm").CombinedOutput(); err != nil {
		t.Fatalf("building lpm: %v\n%s", err, out)
	}
	step("lpm built")

	// Packages: restored from the per-port store, saved back after every
	// install, so a failure later still keeps what was built.
	packages := filepath.Join(tmp, "packages")
	store := filepath.Join(cache, "packages")
	portIDs, err := restorePackages(tree, store, packages)
	if err != nil {
		t.Fatal(err)
	}
	save := func() {
		if err := savePackages(tree, store, packages, portIDs); err != nil {
			t.Error(err)
		}
	}
	buildDir := filepath.Join(cache, "build")
	os.RemoveAll(buildDir)

	root := filepath.Join(tmp, "root")
	// lpm's config for the root, its [bootloader] table last so that a
	// device can be added to it below.
	settings := fmt.Sprintf(`mirrors = ["file://%s/mirror"]
[build]
jobs = 2
check = false
[bootloader]
root = "PARTUUID=%s-01"
cmdline = "rw console=ttyS0,115200"
serial = true
timeout = 1
`, cache, diskID)
	write(t, filepath.Join(root, hooks.BootloaderFile), settings)

	logs := filepath.Join(cache, "logs")
	os.MkdirAll(logs, 0o755)
	lpm := func(args ...string) string {
		t.Helper()
		args = append([]string{"--root", root, "--ports", tree, "--yes"}, args...)
		cmd := exec.Command(lpmBin, args...)
		cmd.Env = append(cleanEnv(),
			"LPM_PACKAGES="+packages,
			"LPM_DISTFILES="+filepath.Join(cache, "distfiles"),
			"LPM_BUILDDIR="+buildDir,
			"LPM_LOGDIR="+filepath.Join(logs, "build"),
		)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lpm %s: %v\n%s", strings.Join(args[5:], " "), err, tail(string(out), 60))
		}
		return string(out)
	}

	// 1. Everything into the empty root, an image, a boot.
	out := lpm("install", "baselayout", "busybox", "grub", "linux")
	save()
	step("install baselayout busybox grub linux")
	for _, want := range []string{"hook bootloader: wrote /boot/grub/grub.cfg", "hook bootcode: not writing GRUB's boot code"} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	kernels, _, err := hooks.Kernels(root)
	if err != nil || len(kernels) != 1 {
		t.Fatalf("kernels in /boot: %v, %v", kernels, err)
	}
	oldK := kernels[0]
	oldRel := strings.TrimSuffix(oldK, "-lfs-12.3")
	disk1 := filepath.Join(tmp, "disk1.img")
	out = lpm("image", "--out", disk1)
	if !strings.Contains(out, "PARTUUID="+diskID+"-01") {
		t.Errorf("image output: %s", out)
	}
	step("image 1")
	boot(t, disk1, filepath.Join(logs, "boot1-first-kernel.log"), []string{title(oldK)}, oldRel)
	step("boot 1: " + oldRel)

	// 2. A second kernel: beside the first, and the default.
	lpm("install", "linux-alt")
	save()
	step("install linux-alt")
	kernels, _, _ = hooks.Kernels(root)
	if len(kernels) != 2 || kernels[1] != oldK {
		t.Fatalf("kernels after the second: %v", kernels)
	}
	newK := kernels[0]
	newRel := strings.TrimSuffix(newK, "-lfs-12.3")
	cfg := readFile(t, filepath.Join(root, "boot/grub/grub.cfg"))
	if !strings.Contains(cfg, "set default=0\nset fallback=1\n") || strings.Index(cfg, newK) > strings.Index(cfg, "vmlinuz-"+oldK) {
		t.Errorf("grub.cfg does not put %s first:\n%s", newK, cfg)
	}
	disk2 := filepath.Join(tmp, "disk2.img")
	lpm("image", "--out", disk2)
	boot(t, disk2, filepath.Join(logs, "boot2-second-kernel.log"), []string{title(newK), title(oldK)}, newRel)
	step("boot 2: " + newRel)

	// 3. Undo: the first kernel is the only one again. This disk gets its
	// boot code from the bootcode hook, as a configured bootloader.device
	// does when the grub port changes.
	out = lpm("undo")
	if !strings.Contains(out, "hook bootloader: wrote /boot/grub/grub.cfg: "+oldK+" (default)\n") {
		t.Errorf("undo output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(root, "boot/vmlinuz-"+newK)); err == nil {
		t.Errorf("undo left %s", newK)
	}
	disk3 := filepath.Join(tmp, "disk3.img")
	lpm("image", "--no-bootloader", "--out", disk3)
	write(t, filepath.Join(root, hooks.BootloaderFile), settings+fmt.Sprintf("device = %q\n", disk3))
	lpm("remove", "grub")
	out = lpm("install", "grub")
	if !strings.Contains(out, "hook bootcode: wrote GRUB's boot code to "+disk3) {
		t.Errorf("install grub with a device set:\n%s", out)
	}
	step("undo, image 3, boot code by the hook")
	boot(t, disk3, filepath.Join(logs, "boot3-after-undo.log"), []string{title(oldK)}, oldRel)
	step("boot 3: " + oldRel)
	t.Logf("boot test: %s in all; console logs in %s", time.Since(start).Round(time.Second), logs)
}

// stepper logs each step with its time and the time since the start.
func stepper(t *testing.T) func(string) {
	start, last := time.Now(), time.Now()
	return func(name string) {
		now := time.Now()
		t.Logf("%-45s %6.1fs (at %6.1fs)", name, now.Sub(last).Seconds(), now.Sub(start).Seconds())
		last = now
	}
}

// title is the menu entry the bootloader hook writes for kernel k.
func title(k string) string { return "lpm Linux (" + k + ")" }

// boot starts QEMU on disk and drives its serial console: GRUB's menu with
// titles in that order, the kernel release rel, a root login, a command,
// poweroff. It fails at once on GRUB's prompt, a kernel panic or a BIOS
// without a boot disk, printing the console.
func boot(t *testing.T, disk, logFile string, titles []string, rel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// TCG only: -accel tcg, never KVM. -nographic puts the first serial
	// port on stdio; the test never sends Ctrl-A, QEMU's escape.
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", "256",
		"-nographic", "-no-reboot", "-drive", "file="+disk+",format=raw")
	c := &Console{}
	cmd.Stdout, cmd.Stderr = c, c
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cancel()
		os.WriteFile(logFile, []byte(c.Text()), 0o644)
	}()
	fail := func(format string, args ...any) {
		t.Helper()
		cancel()
		t.Fatalf("%s: %s\n--- console (%s) ---\n%s\n---", filepath.Base(disk), fmt.Sprintf(format, args...), logFile, tail(c.Text(), 150))
	}
	pos := 0
	waitFor := func(want string, limit time.Duration) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			text := c.Text()
			for _, bad := range []string{"grub>", "Kernel panic", "No bootable device"} {
				if strings.Contains(text, bad) {
					fail("%q on the console", bad)
				}
			}
			if i := strings.Index(text[pos:], want); i >= 0 {
				pos += i + len(want)
				return
			}
			select {
			case err := <-exited:
				fail("qemu exited (%v) while waiting for %q", err, want)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				fail("no %q within %s", want, limit)
			}
		}
	}
	send := func(line string) {
		t.Helper()
		if _, err := io.WriteString(stdin, line+"\r"); err != nil {
			fail("typing %q: %v", line, err)
		}
	}
	began := time.Now()
	for i, want := range titles {
		if i == 0 {
			waitFor(want, time.Minute)
			continue
		}
		// Later entries are listed below the first.
		if text := c.Text(); !strings.Contains(text[pos:], want) && !waitUntil(c, want, pos, 10*time.Second) {
			fail("menu entry %q not listed after %q", want, titles[0])
		}
	}
	waitFor("Linux version "+rel+" ", time.Minute)
	waitFor("login:", 2*time.Minute)
	time.Sleep(500 * time.Millisecond) // getty sets up the line after printing
	send("root")
	waitFor("root@lpm:~#", 30*time.Second)
	send("uname -r; cat /etc/os-release; echo ran-$((6*7))")
	from := pos
	waitFor("ran-42", 30*time.Second)
	output := c.Text()[from:pos]
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(rel) + `$`).MatchString(output) {
		fail("uname -r did not print %s: %q", rel, output)
	}
	if !strings.Contains(output, `PRETTY_NAME="lpm Linux 0.1"`) {
		fail("no os-release in %q", output)
	}
	send("poweroff")
	select {
	case <-exited:
	case <-time.After(time.Minute):
		fail("qemu still running a minute after poweroff")
	}
	if !strings.Contains(c.Text(), "reboot: Power down") {
		fail("qemu exited without the kernel powering down")
	}
	t.Logf("%s: GRUB menu, Linux %s, login, uname -r, poweroff in %.1fs", filepath.Base(disk), rel, time.Since(began).Seconds())
}

// waitUntil waits for want after pos on the console, without failing.
func waitUntil(c *Console, want string, pos int, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(c.Text()[pos:], want) {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readEnv reads KEY=VALUE lines.
func readEnv(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w; run boot/setup.sh", err)
	}
	vars := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

var placeholder = regexp.MustCompile(`@([A-Z0-9_]+)@`)

// render copies the template tree to dst, writing each port.toml.in as
// port.toml with its @NAME@ placeholders filled in; symlinks are copied
// as the files they point to.
func render(src, dst string, vars map[string]string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(to, ".in") {
			to = strings.TrimSuffix(to, ".in")
			var missing []string
			data = placeholder.ReplaceAllFunc(data, func(m []byte) []byte {
				v, ok := vars[string(m[1:len(m)-1])]
				if !ok {
					missing = append(missing, string(m))
				}
				return []byte(v)
			})
			if len(missing) > 0 {
				return fmt.Errorf("%s: no value for %s in sources.env", p, strings.Join(missing, ", "))
			}
		}
		return os.WriteFile(to, data, 0o644)
	})
}

// portKey is a hash of everything in a rendered port's directory.
func portKey(dir string) (string, error) {
	h := sha256.New()
	var names []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// A cachedPort is where one port's archive lives in the run and the store.
type cachedPort struct{ run, stored string }

// restorePackages copies each port's archive from the store into the run's
// package cache when the store has one for the port's exact files.
func restorePackages(tree, store, packages string) ([]cachedPort, error) {
	if err := os.MkdirAll(packages, 0o755); err != nil {
		return nil, err
	}
	dirs, err := filepath.Glob(filepath.Join(tree, "*", ports.FileName))
	if err != nil {
		return nil, err
	}
	var out []cachedPort
	for _, f := range dirs {
		p, errs := ports.ParseFile(f)
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s: %v", f, errs)
		}
		key, err := portKey(filepath.Dir(f))
		if err != nil {
			return nil, err
		}
		c := cachedPort{
			run:    filepath.Join(packages, p.ID()+".lpm"),
			stored: filepath.Join(store, p.Name+"-"+key, p.ID()+".lpm"),
		}
		if _, err := os.Stat(c.stored); err == nil {
			if err := copyFile(c.stored, c.run); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// savePackages stores archives built in this run.
func savePackages(tree, store, packages string, cached []cachedPort) error {
	for _, c := range cached {
		if _, err := os.Stat(c.stored); err == nil {
			continue
		}
		if _, err := os.Stat(c.run); err != nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(c.stored), 0o755); err != nil {
			return err
		}
		if err := copyFile(c.run, c.stored); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies through a temporary name, so a store never holds half
// an archive.
func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, to)
}

// cleanEnv is this process's environment without LPM_ settings, which
// would change what the lpm under test does.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LPM_") {
			env = append(env, kv)
		}
	}
	return env
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func write(t *testing.T, file, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// testCache is the one directory the slow suites keep their caches in
// (LPM_TEST_CACHE, default /var/tmp/lpm-test-cache); removing it frees
// them all.
func testCache() string {
	if d := os.Getenv("LPM_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/tmp/lpm-test-cache"
}
