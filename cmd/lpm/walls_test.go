package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lfs-lpm/lpm/archive"
)

// Tests of the load-bearing walls: shared libraries, the C library and its
// loader, repair, and the disk's limit.

// libgreetTree is the demo's libgreet plus a 2.0.0 whose soname is
// libgreet.so.2, in a tree that hides the demo's libgreet.
func libgreetTree(t *testing.T) string {
	tree := t.TempDir()
	demo := filepath.Join(repo(t), "demo/ports/libgreet")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		data, err := os.ReadFile(filepath.Join(demo, v, "port.toml"))
		if err != nil {
			t.Fatal(err)
		}
		writePort(t, tree, "libgreet/"+v, string(data))
	}
	v11, _ := os.ReadFile(filepath.Join(demo, "1.1.0/port.toml"))
	v2 := strings.Replace(string(v11), `version = "1.1.0"`, `version = "2.0.0"`, 1)
	v2 = strings.Replace(v2, `provides = ["greeter=1.1.0"]`, `provides = ["greeter=2.0.0"]`, 1)
	v2 += "prepare = \"sed -i 's/libgreet.so.1/libgreet.so.2/g' Makefile\"\n"
	writePort(t, tree, "libgreet/2.0.0", v2)
	return tree
}

func TestRemovingANeededLibraryIsRefusedOrPreserved(t *testing.T) {
	r := newRoot(t, libgreetTree(t))
	r.ok("install", "hello")
	v2 := strings.TrimSpace(r.ok("build", "libgreet@2.0.0"))
	before := r.state()
	r.fails([]string{"would take away libgreet.so.1", "/usr/bin/hello (hello)", "--preserve-libs", "nothing was changed"}, "install", "--file", v2)
	r.unchanged(before)

	r.ok("install", "--preserve-libs", "--file", v2)
	if got := r.ok("owns", "/usr/lib/libgreet.so.1", "/usr/lib/libgreet.so.2"); !strings.Contains(got, "libgreet.so.1 is owned by lpm-preserved") || !strings.Contains(got, "libgreet.so.2 is owned by libgreet") {
		t.Errorf("owners after --preserve-libs:\n%s", got)
	}
	run := exec.Command(r.path("usr/bin/hello"))
	run.Env = []string{"LD_LIBRARY_PATH=" + r.path("usr/lib")}
	if out, err := run.CombinedOutput(); err != nil {
		t.Errorf("hello no longer runs: %v %s", err, out)
	}
	// The test root has no libc of its own; only libgreet matters here.
	if out, _, _ := r.lpm("check-libs"); strings.Contains(out, "libgreet.so.1 not found") {
		t.Errorf("check-libs with the library preserved: %s", out)
	}
	r.ok("verify")
	// The preserved library cannot go while hello needs it...
	r.fails([]string{"would take away libgreet.so.1", "hello"}, "remove", "lpm-preserved")
	// ...and check-libs notices when it is gone anyway.
	os.Remove(r.path("usr/lib/libgreet.so.1"))
	os.Remove(r.path("usr/lib/libgreet.so.1.1.0"))
	out, _, code := r.lpm("check-libs")
	if code != 1 || !strings.Contains(out, "/usr/bin/hello (hello): libgreet.so.1 not found") {
		t.Errorf("check-libs after the library vanished: exit %d: %s", code, out)
	}
}

// glibcArchive packs the host's real loader and C library, with a program
// linked against them, as a package: what a glibc upgrade replaces.
func glibcArchive(t *testing.T, dir, version string, breakLoader bool) string {
	stage := filepath.Join(dir, "glibc-stage-"+version)
	copyIn := func(from, to string, mutate bool) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Skipf("host file %s: %v", from, err)
		}
		if mutate {
			data = breakCode(t, data)
		}
		p := filepath.Join(stage, to)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyIn("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2", breakLoader)
	copyIn("/lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/libc.so.6", false)
	copyIn("/usr/bin/true", "usr/bin/true", false)
	os.WriteFile(filepath.Join(stage, "lib/x86_64-linux-gnu/version"), []byte(version+"\n"), 0o644)
	out := filepath.Join(dir, "glibc-"+version+".lpm")
	if _, err := archive.Create(out, stage, archive.Manifest{Name: "glibc", Version: version, Release: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

// breakCode keeps an ELF file valid (headers, soname) but fills its code
// with breakpoints: it parses, and it cannot run.
func breakCode(t *testing.T, data []byte) []byte {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	text := f.Section(".text")
	if text == nil {
		t.Fatal("no .text")
	}
	out := append([]byte{}, data...)
	for i := text.Offset; i < text.Offset+text.Size; i++ {
		out[i] = 0xcc
	}
	return out
}

func TestACLibraryUpgradeThatBreaksProgramsRollsBack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the smoke test chroots, which needs root")
	}
	dir := t.TempDir()
	r := newRoot(t)
	r.ok("install", "--file", glibcArchive(t, dir, "2.41.0", false))
	runs := func() error {
		cmd := exec.Command("chroot", r.dir, "/usr/bin/true")
		return cmd.Run()
	}
	if err := runs(); err != nil {
		t.Fatalf("the root's true does not run before the upgrade: %v", err)
	}
	before := r.state()
	r.fails([]string{"no longer runs with the new C library", "rolled back"}, "install", "--file", glibcArchive(t, dir, "2.42.0", true))
	r.unchanged(before)
	if err := runs(); err != nil {
		t.Errorf("true does not run after the rollback: %v", err)
	}
	r.ok("install", "--file", glibcArchive(t, dir, "2.42.1", false))
	if err := runs(); err != nil {
		t.Errorf("true does not run after a good upgrade: %v", err)
	}
}

func TestRepairRestoresADeletedLoaderWithoutRunningTheRoot(t *testing.T) {
	dir := t.TempDir()
	r := newRoot(t)
	r.ok("install", "--file", glibcArchive(t, dir, "2.41.0", false))
	os.Remove(r.path("lib64/ld-linux-x86-64.so.2"))
	os.WriteFile(r.path("usr/bin/true"), []byte("clobbered"), 0o755)
	if _, _, code := r.lpm("verify"); code != 1 {
		t.Fatal("verify does not see the damage")
	}
	r.ok("repair", "glibc")
	r.ok("verify")
	if os.Geteuid() == 0 {
		if err := exec.Command("chroot", r.dir, "/usr/bin/true").Run(); err != nil {
			t.Errorf("true does not run after repair: %v", err)
		}
	}
}

func TestInstallsNearTheDisksLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	r := newRoot(t)
	small := r.dir
	// The root itself becomes a 24 MiB filesystem.
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", small).Run()
	for _, d := range []string{"usr/lib", "var/lib"} {
		os.MkdirAll(filepath.Join(small, d), 0o755)
	}
	dir := t.TempDir()
	pack := func(name string, mib int) string {
		stage := filepath.Join(dir, "stage-"+name)
		os.MkdirAll(filepath.Join(stage, "usr/share", name), 0o755)
		os.WriteFile(filepath.Join(stage, "usr/share", name, "blob"), make([]byte, mib<<20), 0o644)
		out := filepath.Join(dir, name+".lpm")
		if _, err := archive.Create(out, stage, archive.Manifest{Name: name, Version: "1.0", Release: 1}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	big, fits := pack("big", 30), pack("fits", 12)
	before := r.state()
	r.fails([]string{"not enough free space", "need", "nothing was changed"}, "install", "--file", big)
	r.unchanged(before)
	r.ok("install", "--file", fits)
	r.ok("verify")
}
