package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// needTools skips when the e2fsprogs and fdisk tools the checks use are
// not installed.
func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"mke2fs", "sfdisk", "debugfs", "dumpe2fs", "e2fsck"} {
		if _, err := lookTool(tool); err != nil {
			t.Skipf("%s is not installed (e2fsprogs, fdisk)", tool)
		}
	}
}

// run runs a host tool and returns its standard output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	p, err := lookTool(name)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(p, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// tinyRoot is a small root with a file, an executable, a symlink and the
// modes of /root and /tmp.
func tinyRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/bin", "bin", "root", "tmp", "boot/grub"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "root"), 0o700)
	os.Chmod(filepath.Join(root, "tmp"), os.ModeSticky|0o777)
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("lpm\n"), 0o644)
	os.WriteFile(filepath.Join(root, "usr/bin/tool"), []byte("#!/bin/sh\necho tool\n"), 0o755)
	os.WriteFile(filepath.Join(root, "boot/grub/grub.cfg"), []byte("set timeout=1\n"), 0o644)
	if err := os.Symlink("../usr/bin/tool", filepath.Join(root, "bin/tool")); err != nil {
		t.Fatal(err)
	}
	return root
}

const fsOffset = "?offset=1048576"

func TestBuildWritesAPartitionTableAndAFilesystemHoldingTheRoot(t *testing.T) {
	needTools(t)
	root := tinyRoot(t)
	out := filepath.Join(t.TempDir(), "disk.img")
	if err := Build(root, out, Options{DiskID: 0x4c504d31, Label: "lpmroot"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	if fi.Size()%mib != 0 || fi.Size() < 24*mib {
		t.Errorf("size %d: want whole MiB and room for the journal", fi.Size())
	}
	table := run(t, "sfdisk", "-d", out)
	sectors := fi.Size()/512 - 2048
	for _, want := range []string{
		"label: dos",
		"label-id: 0x4c504d31",
		fmt.Sprintf("start=        2048, size=%12d, type=83, bootable", sectors),
	} {
		if !strings.Contains(table, want) {
			t.Errorf("sfdisk -d lacks %q:\n%s", want, table)
		}
	}
	super := run(t, "dumpe2fs", "-h", out+fsOffset)
	if !strings.Contains(super, "Filesystem volume name:   lpmroot") {
		t.Errorf("label missing:\n%s", super)
	}
	features := regexp.MustCompile(`(?m)^Filesystem features:(.*)$`).FindStringSubmatch(super)
	if features == nil || !strings.Contains(features[1], "extent") || strings.Contains(features[1], "metadata_csum_seed") {
		t.Errorf("features: want ext4 without metadata_csum_seed (GRUB 2.06 cannot read it): %v", features)
	}
	if got := run(t, "debugfs", "-R", "cat /etc/hostname", out+fsOffset); got != "lpm\n" {
		t.Errorf("/etc/hostname in the image = %q", got)
	}
	if got := run(t, "debugfs", "-R", "stat /usr/bin/tool", out+fsOffset); !strings.Contains(got, "Mode:  0755") {
		t.Errorf("/usr/bin/tool lost its mode:\n%s", got)
	}
	if got := run(t, "debugfs", "-R", "stat /bin/tool", out+fsOffset); !strings.Contains(got, `Fast link dest: "../usr/bin/tool"`) {
		t.Errorf("/bin/tool is not the symlink:\n%s", got)
	}
	if got := run(t, "debugfs", "-R", "stat /tmp", out+fsOffset); !strings.Contains(got, "Mode:  01777") {
		t.Errorf("/tmp lost its sticky bit:\n%s", got)
	}
	if got := run(t, "debugfs", "-R", "ls -l /boot/grub", out+fsOffset); !strings.Contains(got, "grub.cfg") {
		t.Errorf("/boot/grub lacks grub.cfg:\n%s", got)
	}
	run(t, "e2fsck", "-fn", out+fsOffset)
	// No GRUB was asked for: the MBR's code area stays empty.
	disk, _ := os.ReadFile(out)
	if !bytes.Equal(disk[:440], make([]byte, 440)) {
		t.Error("boot code written although no GRUB was given")
	}
	// Nothing but the image is left beside it.
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("leftovers beside the image: %v", entries)
	}
}

func TestAGivenSizeIsRoundedUpToAWholeMiB(t *testing.T) {
	needTools(t)
	out := filepath.Join(t.TempDir(), "disk.img")
	if err := Build(tinyRoot(t), out, Options{Size: 32*mib + 1, DiskID: 1}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(out)
	if fi.Size() != 33*mib {
		t.Errorf("size = %d, want %d", fi.Size(), 33*mib)
	}
	if table := run(t, "sfdisk", "-d", out); !strings.Contains(table, "label-id: 0x00000001") || !strings.Contains(table, "size=       65536") {
		t.Errorf("sfdisk -d:\n%s", table)
	}
}

func TestARootTooBigForTheSizeFailsAndLeavesNothing(t *testing.T) {
	needTools(t)
	root := tinyRoot(t)
	big := bytes.Repeat([]byte("x"), 6*mib)
	os.WriteFile(filepath.Join(root, "big"), big, 0o644)
	dir := t.TempDir()
	out := filepath.Join(dir, "disk.img")
	err := Build(root, out, Options{Size: 4 * mib, DiskID: 1})
	if err == nil || !strings.Contains(err.Error(), "mke2fs") || !strings.Contains(err.Error(), "larger size") {
		t.Errorf("error = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestBuildRefusesWhatWouldMakeABadImage(t *testing.T) {
	root := tinyRoot(t)
	file := filepath.Join(root, "etc/hostname")
	cases := []struct {
		name string
		root string
		out  string
		opts Options
		want string
	}{
		{"a zero disk id", root, filepath.Join(t.TempDir(), "d.img"), Options{}, "disk id must not be 0"},
		{"an output inside the root", root, filepath.Join(root, "d.img"), Options{DiskID: 1}, "inside the root"},
		{"a root that is a file", file, filepath.Join(t.TempDir(), "d.img"), Options{DiskID: 1}, "not a directory"},
		{"a root without GRUB asked for boot code", root, filepath.Join(t.TempDir(), "d.img"), Options{DiskID: 1, Grub: RootGrub(root)}, "GRUB is not installed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Build(c.root, c.out, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want %q", err, c.want)
			}
			if _, err := os.Stat(c.out); err == nil {
				t.Errorf("%s was written", c.out)
			}
		})
	}
}

// The expected bytes are those sfdisk 2.38 writes for the same table.
func TestMBRMatchesWhatFdiskWrites(t *testing.T) {
	b := mbr(0x4c504d31, 2048, 129024)
	want := map[int][]byte{
		0x1b8: {0x31, 0x4d, 0x50, 0x4c, 0, 0},
		// active, CHS 0/32/33, Linux, CHS 8/40/32, LBA 2048, 129024 sectors
		0x1be: {0x80, 0x20, 0x21, 0x00, 0x83, 0x28, 0x20, 0x08, 0x00, 0x08, 0, 0, 0x00, 0xf8, 0x01, 0x00},
		0x1ce: make([]byte, 48),
		0x1fe: {0x55, 0xaa},
	}
	for off, w := range want {
		if got := b[off : off+len(w)]; !bytes.Equal(got, w) {
			t.Errorf("at %#x: % x, want % x", off, got, w)
		}
	}
	if got := chs(1 << 30); !bytes.Equal(got, []byte{0xfe, 0xff, 0xff}) {
		t.Errorf("CHS past cylinder 1023 = % x, want fe ff ff", got)
	}
}

// fakeGrubImages are a boot.img and a core.img with recognisable bytes and
// the boot.img's jump at the drive check, as GRUB's own are laid out.
func fakeGrubImages() (boot, core []byte) {
	boot = bytes.Repeat([]byte{0xb0}, 512)
	boot[bootDriveCheck], boot[bootDriveCheck+1] = 0xeb, 0x05
	boot[510], boot[511] = 0x55, 0xaa
	core = bytes.Repeat([]byte{0xc0}, 3*512+100)
	return boot, core
}

func diskFile(t *testing.T, sector0 []byte, size int64) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	f.Truncate(size)
	f.WriteAt(sector0, 0)
	return f
}

func TestBootCodeGoesAroundThePartitionTable(t *testing.T) {
	table := mbr(0x4c504d31, 2048, 6144)
	f := diskFile(t, table, 4*mib)
	// A partition's first sector must survive.
	f.WriteAt(bytes.Repeat([]byte{0xdd}, 512), 2048*512)
	boot, core := fakeGrubImages()
	if err := placeBootCode(f, boot, core); err != nil {
		t.Fatal(err)
	}
	disk := make([]byte, 2049*512)
	f.ReadAt(disk, 0)
	if !bytes.Equal(disk[:bootKernelSector], boot[:bootKernelSector]) {
		t.Error("boot.img's code is not at the start of the MBR")
	}
	if got := binary.LittleEndian.Uint64(disk[bootKernelSector:]); got != 1 {
		t.Errorf("kernel sector = %d, want 1", got)
	}
	if got := disk[bootDriveCheck : bootDriveCheck+2]; !bytes.Equal(got, []byte{0x90, 0x90}) {
		t.Errorf("drive check = % x, want 90 90 (hard disk)", got)
	}
	if !bytes.Equal(disk[440:512], table[440:512]) {
		t.Error("the disk id or the partition table changed")
	}
	if !bytes.Equal(disk[512:512+len(core)], core) {
		t.Error("core.img is not at sector 1")
	}
	if !bytes.Equal(disk[512+len(core):5*512], make([]byte, 5*512-512-len(core))) {
		t.Error("core.img's last sector is not padded with zeros")
	}
	if !bytes.Equal(disk[2048*512:], bytes.Repeat([]byte{0xdd}, 512)) {
		t.Error("the partition was written to")
	}
}

func TestBootCodeRefusesDisksWithoutRoomForIt(t *testing.T) {
	boot, core := fakeGrubImages()
	gpt := mbr(1, 1, 8191)
	gpt[0x1be+4] = 0xee
	cases := []struct {
		name    string
		sector0 []byte
		want    string
	}{
		{"a disk without a partition table", make([]byte, 512), "no MBR partition table"},
		{"a disk with a GPT", gpt, "GPT"},
		{"a partition starting right after the MBR", mbr(1, 3, 8000), "starts at sector 3"},
		{"an empty partition table", func() []byte { b := make([]byte, 512); b[510], b[511] = 0x55, 0xaa; return b }(), "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := diskFile(t, c.sector0, 4*mib)
			err := placeBootCode(f, boot, core)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want %q", err, c.want)
			}
			got := make([]byte, 4*512)
			f.ReadAt(got, 0)
			if !bytes.Equal(got[:512], c.sector0) || !bytes.Equal(got[512:], make([]byte, 3*512)) {
				t.Error("the disk changed although the boot code was refused")
			}
		})
	}
}

// TestRealGrubBootCode uses a root with GRUB installed when one is named
// by LPM_TEST_GRUB_ROOT (the boot test leaves one in its cache); the boot
// test proves such a disk boots.
func TestRealGrubBootCode(t *testing.T) {
	root := os.Getenv("LPM_TEST_GRUB_ROOT")
	if root == "" {
		t.Skip("set LPM_TEST_GRUB_ROOT to a root with GRUB's i386-pc install")
	}
	needTools(t)
	g := RootGrub(root)
	out := filepath.Join(t.TempDir(), "disk.img")
	if err := Build(tinyRoot(t), out, Options{DiskID: 7, Grub: g}); err != nil {
		t.Fatal(err)
	}
	disk, _ := os.ReadFile(out)
	boot, _ := os.ReadFile(filepath.Join(g.Dir, "boot.img"))
	if !bytes.Equal(disk[:bootKernelSector], boot[:bootKernelSector]) {
		t.Error("boot.img not in the MBR")
	}
	diskboot, _ := os.ReadFile(filepath.Join(g.Dir, "diskboot.img"))
	if len(diskboot) < 100 || !bytes.Equal(disk[512:512+100], diskboot[:100]) {
		t.Error("core.img at sector 1 does not start with diskboot.img")
	}
	// A second write to the finished disk, as the bootloader hook does.
	if err := WriteBootCode(out, *g); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(out)
	if !bytes.Equal(again, disk) {
		t.Error("writing the same boot code again changed the disk")
	}
}

func TestPartUUIDRoundTrips(t *testing.T) {
	if got := PartUUID(0x4c504d31, 1); got != "4c504d31-01" {
		t.Errorf("PartUUID = %s", got)
	}
	id, part, err := ParsePartUUID("PARTUUID=4c504d31-01")
	if err != nil || id != 0x4c504d31 || part != 1 {
		t.Errorf("ParsePartUUID = %x, %d, %v", id, part, err)
	}
	for _, bad := range []string{"/dev/sda1", "PARTUUID=4c504d31", "UUID=4c504d31-01-02", "zzzzzzzz-01"} {
		if _, _, err := ParsePartUUID(bad); err == nil {
			t.Errorf("ParsePartUUID(%q) accepted", bad)
		}
	}
}
