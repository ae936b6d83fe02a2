package hooks

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lfs-lpm/lpm/progress"
)

func TestKernelVersionsCompareAsPeopleRead(t *testing.T) {
	cases := []struct {
		older, newer string
	}{
		{"6.1.9", "6.1.10"},
		{"6.1.192-lpm-lfs-12.3", "6.1.192-lpm2-lfs-12.3"},
		{"6.9.12-lfs-12.3", "6.13.4-lfs-12.3"},
		{"6.14-rc1", "6.14"},
		{"6.14-rc1", "6.14-rc2"},
		{"6.14-rc7", "6.14.1"},
		{"6.1", "6.1.1"},
		{"6.1.0-lts", "6.1.1"},
		{"6.1.09", "6.1.10"},
	}
	for _, c := range cases {
		if got := CompareVersions(c.older, c.newer); got != -1 {
			t.Errorf("CompareVersions(%s, %s) = %d, want -1", c.older, c.newer, got)
		}
		if got := CompareVersions(c.newer, c.older); got != 1 {
			t.Errorf("CompareVersions(%s, %s) = %d, want 1", c.newer, c.older, got)
		}
	}
	if got := CompareVersions("6.1.192-lpm", "6.1.192-lpm"); got != 0 {
		t.Errorf("equal versions compare %d", got)
	}
}

// bootRoot is a root with kernels in /boot and the bootloader settings.
func bootRoot(t *testing.T, settings string, kernels ...string) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "boot"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc/lpm"), 0o755)
	for _, k := range kernels {
		os.WriteFile(filepath.Join(root, "boot", k), []byte("kernel"), 0o644)
	}
	os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("NAME=\"lpm Linux\"\nID=lpm\n"), 0o644)
	if settings != "" {
		os.WriteFile(filepath.Join(root, BootloaderFile), []byte("mirrors = []\n[bootloader]\n"+settings), 0o644)
	}
	return root
}

const testSettings = `root = "PARTUUID=4c504d31-01"
cmdline = "rw console=ttyS0,115200"
serial = true
timeout = 1
`

func TestKernelsAreListedNewestFirst(t *testing.T) {
	root := bootRoot(t, "", "vmlinuz-6.1.9-lfs-12.3", "vmlinuz-6.1.10-lfs-12.3", "vmlinuz-6.1.10-rc3-lfs-12.3",
		"System.map-6.1.10", "config-6.1.10", "vmlinuz-bad name")
	os.Symlink("vmlinuz-6.1.10-lfs-12.3", filepath.Join(root, "boot/vmlinuz-link"))
	kernels, odd, err := Kernels(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(kernels, " "); got != "6.1.10-lfs-12.3 6.1.10-rc3-lfs-12.3 6.1.9-lfs-12.3" {
		t.Errorf("kernels = %s", got)
	}
	if len(odd) != 1 || odd[0] != "vmlinuz-bad name" {
		t.Errorf("left out = %v", odd)
	}
}

func readCfg(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "boot/grub/grub.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestGrubConfigHasOneEntryPerKernelNewestFirst(t *testing.T) {
	root := bootRoot(t, testSettings, "vmlinuz-6.1.192-lpm-lfs-12.3", "vmlinuz-6.1.192-lpm2-lfs-12.3")
	var out bytes.Buffer
	if err := Run(root, []string{"boot/vmlinuz-6.1.192-lpm2-lfs-12.3"}, &progress.Printer{Out: &out}); err != nil {
		t.Fatal(err)
	}
	want := `### BEGIN lpm ###
# Written by lpm's bootloader hook from [bootloader] in /etc/lpm/lpm.toml and the
# kernels in /boot. lpm rewrites this section; edit outside the markers.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
set default=0
set fallback=1

menuentry "lpm Linux (6.1.192-lpm2-lfs-12.3)" --id "lpm-6.1.192-lpm2-lfs-12.3" {
	linux /boot/vmlinuz-6.1.192-lpm2-lfs-12.3 root=PARTUUID=4c504d31-01 rw console=ttyS0,115200
}

menuentry "lpm Linux (6.1.192-lpm-lfs-12.3)" --id "lpm-6.1.192-lpm-lfs-12.3" {
	linux /boot/vmlinuz-6.1.192-lpm-lfs-12.3 root=PARTUUID=4c504d31-01 rw console=ttyS0,115200
}
### END lpm ###
`
	if got := readCfg(t, root); got != want {
		t.Errorf("grub.cfg:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(out.String(), "hook bootloader: wrote /boot/grub/grub.cfg: 6.1.192-lpm2-lfs-12.3 (default), 6.1.192-lpm-lfs-12.3") {
		t.Errorf("log: %q", out.String())
	}
	// Removing the newer kernel makes the older one the only entry.
	os.Remove(filepath.Join(root, "boot/vmlinuz-6.1.192-lpm2-lfs-12.3"))
	if err := Run(root, []string{"boot/vmlinuz-6.1.192-lpm2-lfs-12.3"}, &progress.Printer{Quiet: true}); err != nil {
		t.Fatal(err)
	}
	got := readCfg(t, root)
	if strings.Contains(got, "lpm2") || strings.Contains(got, "fallback") || !strings.Contains(got, "set default=0\n\nmenuentry \"lpm Linux (6.1.192-lpm-lfs-12.3)\"") {
		t.Errorf("after removing the newer kernel:\n%s", got)
	}
}

func TestTheUsersPartOfGrubConfigIsKept(t *testing.T) {
	root := bootRoot(t, testSettings, "vmlinuz-6.1.1", "vmlinuz-6.1.2")
	os.MkdirAll(filepath.Join(root, "boot/grub"), 0o755)
	mine := "# my own\nmenuentry \"Memtest\" {\n\tlinux16 /boot/memtest86+.bin\n}\nsubmenu \"Old\" {\n\tmenuentry \"a\" { true; }\n\tmenuentry \"b\" { true; }\n}\n"
	after := "menuentry \"Firmware\" {\n\tfwsetup\n}\n"
	cases := []struct {
		name        string
		before      string
		wantHead    string
		wantDefault string
	}{
		{"a file without lpm's section gets it first", mine, "", "set default=0\nset fallback=1\n"},
		{"a section after the user's entries keeps its place", mine + beginMarker + "\nold\n" + endMarker + "\n" + after, mine, "set default=2\nset fallback=3\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(root, "boot/grub/grub.cfg"), []byte(c.before), 0o600)
			if err := Run(root, []string{"boot/vmlinuz-6.1.2"}, &progress.Printer{Quiet: true}); err != nil {
				t.Fatal(err)
			}
			got := readCfg(t, root)
			if !strings.HasPrefix(got, c.wantHead+beginMarker) {
				t.Errorf("the user's text before the section changed:\n%s", got)
			}
			if !strings.Contains(got, c.wantDefault) {
				t.Errorf("want %q in:\n%s", c.wantDefault, got)
			}
			if strings.Contains(got, "\nold\n") {
				t.Errorf("the old section is still there:\n%s", got)
			}
			_, rest, _ := strings.Cut(got, endMarker+"\n")
			if wantTail := strings.TrimPrefix(c.before, c.wantHead); c.wantHead == "" && rest != wantTail || c.wantHead != "" && rest != after {
				t.Errorf("the user's text after the section changed: %q", rest)
			}
			if fi, _ := os.Stat(filepath.Join(root, "boot/grub/grub.cfg")); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v, want the user's 0600 kept", fi.Mode().Perm())
			}
		})
	}
}

func TestABrokenSetupFailsTheHookAndKeepsTheOldGrubConfig(t *testing.T) {
	cases := []struct {
		name     string
		settings string
		cfg      string
		want     string
	}{
		{"a settings file without root", "cmdline = \"rw\"\n", "old\n", "root is missing"},
		{"a settings file with an unknown key", testSettings + "rootfs = \"x\"\n", "old\n", "rootfs"},
		{"a relative device", testSettings + "device = \"sda\"\n", "old\n", "absolute path"},
		{"a section without its end", testSettings, "x\n" + beginMarker + "\nold\n", "section is broken"},
		{"two sections", testSettings, beginMarker + "\n" + endMarker + "\n" + beginMarker + "\n" + endMarker + "\n", "appears twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := bootRoot(t, c.settings, "vmlinuz-6.1.1")
			os.MkdirAll(filepath.Join(root, "boot/grub"), 0o755)
			os.WriteFile(filepath.Join(root, "boot/grub/grub.cfg"), []byte(c.cfg), 0o644)
			err := Run(root, []string{"boot/vmlinuz-6.1.1"}, &progress.Printer{Quiet: true})
			if err == nil || !strings.Contains(err.Error(), "hook bootloader failed") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want %q", err, c.want)
			}
			if got := readCfg(t, root); got != c.cfg {
				t.Errorf("grub.cfg changed to:\n%s", got)
			}
			if entries, _ := os.ReadDir(filepath.Join(root, "boot/grub")); len(entries) != 1 {
				t.Errorf("leftovers in boot/grub: %v", entries)
			}
		})
	}
}

func TestWithoutSettingsTheBootloaderHooksOnlySaySo(t *testing.T) {
	root := bootRoot(t, "", "vmlinuz-6.1.1")
	os.MkdirAll(filepath.Join(root, "usr/lib/grub/i386-pc"), 0o755)
	var out bytes.Buffer
	if err := Run(root, []string{"boot/vmlinuz-6.1.1", "usr/lib/grub/i386-pc/normal.mod"}, &progress.Printer{Out: &out}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "boot/grub/grub.cfg")); err == nil {
		t.Error("grub.cfg written without settings")
	}
	for _, want := range []string{
		"hook bootcode: not writing GRUB's boot code: no device in [bootloader] of /etc/lpm/lpm.toml",
		"hook bootloader: skipped: no [bootloader] in /etc/lpm/lpm.toml",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBootCodeIsLeftAloneWhenGrubIsGone(t *testing.T) {
	device := filepath.Join(t.TempDir(), "disk.img")
	disk := bytes.Repeat([]byte{0x42}, 4096)
	os.WriteFile(device, disk, 0o644)
	root := bootRoot(t, testSettings+"device = \""+device+"\"\n")
	var out bytes.Buffer
	// Removing the grub package changes these paths too.
	if err := Run(root, []string{"usr/lib/grub/i386-pc/normal.mod"}, &progress.Printer{Out: &out}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(device); !bytes.Equal(got, disk) {
		t.Error("the device changed")
	}
	if !strings.Contains(out.String(), "hook bootcode: GRUB is not installed; the boot code on "+device+" is left as it is") {
		t.Errorf("log: %q", out.String())
	}
}

func TestALocalHookFileReplacesABuiltinOne(t *testing.T) {
	root := bootRoot(t, testSettings, "vmlinuz-6.1.1")
	os.MkdirAll(filepath.Join(root, "etc/lpm/hooks"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/lpm/hooks/bootloader.toml"), []byte(`description = "my own grub.cfg"
paths = ["boot/*"]
exec = ["/bin/true"]
host_exec = ["/bin/sh", "-c", "echo mine > {root}/mine"]
`), 0o644)
	if err := Run(root, []string{"boot/vmlinuz-6.1.1"}, &progress.Printer{Quiet: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "boot/grub/grub.cfg")); err == nil {
		t.Error("the built-in bootloader hook ran although a local file replaces it")
	}
	if _, err := os.Stat(filepath.Join(root, "mine")); err != nil {
		t.Error("the local hook did not run")
	}
}

func TestDepmodTriggersOnModulesAndSkipsLeftoverDirectories(t *testing.T) {
	var depmod Hook
	for _, h := range builtins() {
		if h.Name == "depmod" {
			depmod = h
		}
	}
	if !depmod.Triggered([]string{"usr/lib/modules/6.1.192/kernel/drivers/net/e1000/e1000.ko"}) ||
		!depmod.Triggered([]string{"usr/lib/modules/6.1.192/modules.order"}) {
		t.Error("depmod does not trigger on modules")
	}
	if depmod.Triggered([]string{"usr/lib/libz.so.1", "boot/vmlinuz-6.1.192"}) {
		t.Error("depmod triggers on what is not a module")
	}
	// What a removed kernel leaves (no modules.order) needs no depmod,
	// so this passes even where the host has none.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib/modules/6.1.1"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/modules/6.1.1/modules.dep"), nil, 0o644)
	var out bytes.Buffer
	if err := Run(root, []string{"usr/lib/modules/6.1.1/kernel/x.ko"}, &progress.Printer{Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "hook depmod: updating kernel module dependencies (with the host's /bin/sh") {
		t.Errorf("log: %q", out.String())
	}
}
