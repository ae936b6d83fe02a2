// Package image makes a bootable raw disk image from a root directory: an
// MBR partition table written here in Go, one ext4 partition filled from
// the directory by mke2fs -d (no mount, no loop device), and GRUB's i386-pc
// boot code: boot.img in the MBR's first 440 bytes and core.img from
// sector 1, in the gap before the partition. It also writes that boot code
// to an existing disk (or disk image file), for the bootloader hook.
//
// GRUB comes from the root's own install: ROOT/usr/bin/grub-mkimage is run
// on the host with -d ROOT/usr/lib/grub/i386-pc, so the boot code always
// matches the modules in the root. The root is only read.
//
// It must never write anything but the output file (made under a temporary
// name beside it and renamed when complete) and, for WriteBootCode, the
// boot sectors of the device it is given: never a partition's contents,
// never the partition table.
package image

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	sectorSize = 512
	// partStart is the first sector of the partition (1 MiB), as fdisk
	// aligns it; sectors 1..partStart-1 hold core.img.
	partStart = 2048
	mib       = 1 << 20
)

// Options say how to make the image.
type Options struct {
	// Size of the whole disk in bytes, rounded up to a MiB; 0 sizes it
	// from the root's contents plus headroom.
	Size int64
	// DiskID is the MBR disk signature. Linux names the partition
	// PARTUUID=<DiskID as 8 hex digits>-01, so a fixed id makes
	// root=PARTUUID=... predictable. It must not be 0.
	DiskID uint32
	// Label is the ext4 volume label; "" for none.
	Label string
	// Grub is the GRUB to install as boot code; nil leaves the disk
	// without any (it then boots only through another loader).
	Grub *Grub
}

// Grub says where GRUB's i386-pc files are and what core.img holds.
type Grub struct {
	Dir     string   // the i386-pc directory: boot.img, *.mod, *.lst
	Mkimage string   // grub-mkimage, run on the host
	Prefix  string   // where core.img finds grub.cfg; default DefaultPrefix
	Modules []string // embedded in core.img; default DefaultModules
}

// DefaultPrefix is the first partition's /boot/grub on the boot disk.
const DefaultPrefix = "(hd0,msdos1)/boot/grub"

// DefaultModules are embedded in core.img: everything needed to read
// grub.cfg from ext4 and boot Linux, so no module has to be read from disk
// before the menu.
var DefaultModules = []string{
	"biosdisk", "part_msdos", "ext2", "normal", "linux", "boot",
	"serial", "terminal", "echo", "configfile", "search", "test",
}

// RootGrub is the GRUB installed in root: its grub-mkimage (run on the
// host, so it must be runnable there) and its i386-pc modules.
func RootGrub(root string) *Grub {
	return &Grub{
		Dir:     filepath.Join(root, "usr/lib/grub/i386-pc"),
		Mkimage: filepath.Join(root, "usr/bin/grub-mkimage"),
	}
}

// Installed reports whether g's files are there, and if not, names the
// first one missing.
func (g *Grub) Installed() (bool, string) {
	for _, p := range []string{g.Mkimage, filepath.Join(g.Dir, "boot.img"), filepath.Join(g.Dir, "moddep.lst")} {
		if _, err := os.Stat(p); err != nil {
			return false, p
		}
	}
	return true, ""
}

// PartUUID is how Linux names partition n of a disk with this MBR id:
// root=PARTUUID=4c504d31-01.
func PartUUID(diskID uint32, n int) string {
	return fmt.Sprintf("%08x-%02x", diskID, n)
}

// ParsePartUUID reads an MBR partition's PARTUUID ("PARTUUID=4c504d31-01"
// or "4c504d31-01") back into its disk id and partition number.
func ParsePartUUID(s string) (diskID uint32, part int, err error) {
	v := strings.TrimPrefix(s, "PARTUUID=")
	id, n, ok := strings.Cut(v, "-")
	if !ok || len(id) != 8 || len(n) != 2 {
		return 0, 0, fmt.Errorf("%q is not an MBR PARTUUID (8 hex digits, a dash, 2 hex digits)", s)
	}
	d, err := strconv.ParseUint(id, 16, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not an MBR PARTUUID: %w", s, err)
	}
	p, err := strconv.ParseUint(n, 16, 8)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not an MBR PARTUUID: %w", s, err)
	}
	return uint32(d), int(p), nil
}

// Build writes a bootable raw disk image of root to out.
func Build(root, out string, opts Options) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("image of %s: %w", root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("image of %s: not a directory", root)
	}
	if opts.DiskID == 0 {
		return fmt.Errorf("image of %s: the disk id must not be 0; pick one (it names root=PARTUUID=XXXXXXXX-01)", root)
	}
	absRoot, _ := filepath.Abs(root)
	absOut, _ := filepath.Abs(out)
	if rel, err := filepath.Rel(absRoot, absOut); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("image of %s: the output %s is inside the root and would be copied into itself; write it elsewhere", root, out)
	}
	if opts.Grub != nil {
		if ok, missing := opts.Grub.Installed(); !ok {
			return fmt.Errorf("image of %s: GRUB is not installed there (%s is missing); install the grub port or make the image without boot code", root, missing)
		}
	}
	size := opts.Size
	if size == 0 {
		if size, err = Estimate(root); err != nil {
			return err
		}
	}
	size = (size + mib - 1) / mib * mib
	if size < 4*mib {
		return fmt.Errorf("image of %s: %d bytes is too small; give at least 4 MiB", root, size)
	}

	tmp, err := os.CreateTemp(filepath.Dir(absOut), "."+filepath.Base(absOut)+".")
	if err != nil {
		return fmt.Errorf("image %s: %w", out, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes 0600 files; an image is as readable as any file.
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("image %s: %w", out, err)
	}
	if err := tmp.Truncate(size); err != nil {
		return fmt.Errorf("image %s: %w", out, err)
	}
	sectors := size / sectorSize
	if _, err := tmp.WriteAt(mbr(opts.DiskID, partStart, uint32(sectors-partStart)), 0); err != nil {
		return fmt.Errorf("image %s: writing the partition table: %w", out, err)
	}
	if err := makeFS(root, tmp.Name(), partStart*sectorSize, size-partStart*sectorSize, opts.Label); err != nil {
		return fmt.Errorf("image %s: %w", out, err)
	}
	if opts.Grub != nil {
		if err := installBootCode(tmp, *opts.Grub); err != nil {
			return fmt.Errorf("image %s: %w", out, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("image %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("image %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), absOut); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("image %s: %w", out, err)
	}
	done = true
	return nil
}

// Estimate is a disk size that holds root: its files rounded to 4 KiB
// blocks, a quarter more, and 24 MiB for the journal, the inode tables and
// the 1 MiB before the partition.
func Estimate(root string) (int64, error) {
	var used int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		used += 256 // the inode
		switch {
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			used += (fi.Size() + 4095) / 4096 * 4096
		case d.IsDir(), d.Type()&fs.ModeSymlink != 0:
			used += 4096
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sizing the image of %s: %w", root, err)
	}
	return used + used/4 + 24*mib, nil
}

// mbr is a master boot record with one bootable Linux partition and no
// boot code (bytes 0..439 stay zero until GRUB's are written).
func mbr(diskID, start, count uint32) []byte {
	b := make([]byte, sectorSize)
	binary.LittleEndian.PutUint32(b[0x1b8:], diskID)
	e := b[0x1be : 0x1be+16]
	e[0] = 0x80 // active: some BIOSes boot only a disk with an active partition
	copy(e[1:4], chs(start))
	e[4] = 0x83 // Linux
	copy(e[5:8], chs(start+count-1))
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], count)
	b[0x1fe], b[0x1ff] = 0x55, 0xaa
	return b
}

// chs encodes a sector in the legacy cylinder/head/sector form with the
// usual 255 heads and 63 sectors per track, or the "use LBA" maximum past
// cylinder 1023. Nothing on the boot path reads it; fdisk writes the same.
func chs(lba uint32) []byte {
	const heads, perTrack = 255, 63
	c := lba / (heads * perTrack)
	h := (lba / perTrack) % heads
	s := lba%perTrack + 1
	if c > 1023 {
		c, h, s = 1023, 254, 63
	}
	return []byte{byte(h), byte(s) | byte((c>>8)&3)<<6, byte(c)}
}

// makeFS writes an ext4 filesystem filled from root into file at offset.
func makeFS(root, file string, offset, size int64, label string) error {
	mke2fs, err := lookTool("mke2fs")
	if err != nil {
		return err
	}
	// GRUB 2.06 cannot read a filesystem with metadata_csum_seed (it stops
	// at grub>), and e2fsprogs 1.47 upstream turns it on by default.
	args := []string{"-q", "-F", "-t", "ext4", "-O", "^metadata_csum_seed",
		"-E", fmt.Sprintf("offset=%d", offset), "-d", root}
	if label != "" {
		args = append(args, "-L", label)
	}
	args = append(args, file, fmt.Sprintf("%dk", size/1024))
	cmd := exec.Command(mke2fs, args...)
	output, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(output))
		hint := ""
		if strings.Contains(msg, "Could not allocate") || strings.Contains(msg, "No space") {
			hint = "; the root does not fit: give a larger size"
		}
		return fmt.Errorf("mke2fs -d %s: %v: %s%s", root, err, msg, hint)
	}
	return nil
}

// lookTool finds a host tool that may live in an sbin directory missing
// from PATH.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on this machine; install e2fsprogs", name)
}

// WriteBootCode writes GRUB's boot code to device, a disk or a disk image
// file that already has an MBR partition table with room for core.img
// before its first partition. Only the MBR's first 440 bytes and the
// sectors before the first partition change.
func WriteBootCode(device string, g Grub) error {
	if ok, missing := g.Installed(); !ok {
		return fmt.Errorf("boot code for %s: GRUB is not installed (%s is missing)", device, missing)
	}
	fi, err := os.Stat(device)
	if err != nil {
		return fmt.Errorf("boot code for %s: %w", device, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("boot code for %s: a directory, not a disk", device)
	}
	f, err := os.OpenFile(device, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("boot code for %s: %w", device, err)
	}
	if err := installBootCode(f, g); err != nil {
		f.Close()
		return fmt.Errorf("boot code for %s: %w", device, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("boot code for %s: %w", device, err)
	}
	return f.Close()
}

// installBootCode makes core.img with g and writes it and boot.img to disk.
func installBootCode(disk *os.File, g Grub) error {
	boot, err := os.ReadFile(filepath.Join(g.Dir, "boot.img"))
	if err != nil {
		return fmt.Errorf("GRUB boot.img: %w", err)
	}
	core, err := makeCore(g)
	if err != nil {
		return err
	}
	return placeBootCode(disk, boot, core)
}

// makeCore runs grub-mkimage to make core.img in a temporary directory.
func makeCore(g Grub) ([]byte, error) {
	prefix, modules := g.Prefix, g.Modules
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if len(modules) == 0 {
		modules = DefaultModules
	}
	dir, err := os.MkdirTemp("", "lpm-core-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	core := filepath.Join(dir, "core.img")
	args := append([]string{"-d", g.Dir, "-O", "i386-pc", "-o", core, "-p", prefix}, modules...)
	output, err := exec.Command(g.Mkimage, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", g.Mkimage, err, strings.TrimSpace(string(output)))
	}
	return os.ReadFile(core)
}

// Offsets in GRUB's i386-pc boot.img (include/grub/i386/pc/boot.h).
const (
	bootKernelSector = 0x5c  // LE64: where core.img starts
	bootDriveCheck   = 0x66  // a 2-byte jmp over the boot drive check
	bootCodeSize     = 0x1b8 // 440: the MBR code area, before the disk id
)

// placeBootCode checks disk's partition table leaves room, then writes
// core at sector 1 and boot's code area over the MBR's, keeping the disk
// id and the partition table.
func placeBootCode(disk *os.File, boot, core []byte) error {
	if len(boot) != sectorSize {
		return fmt.Errorf("GRUB boot.img is %d bytes, not %d", len(boot), sectorSize)
	}
	if len(core) == 0 {
		return errors.New("GRUB core.img is empty")
	}
	sector0 := make([]byte, sectorSize)
	if _, err := disk.ReadAt(sector0, 0); err != nil {
		return fmt.Errorf("reading the MBR: %w", err)
	}
	if sector0[0x1fe] != 0x55 || sector0[0x1ff] != 0xaa {
		return errors.New("no MBR partition table (no 55 aa signature); partition the disk first")
	}
	first := uint32(0)
	for i := 0; i < 4; i++ {
		e := sector0[0x1be+16*i : 0x1be+16*(i+1)]
		typ, start, count := e[4], binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		if typ == 0 || count == 0 {
			continue
		}
		if typ == 0xee {
			return errors.New("the disk has a GPT; BIOS boot from GPT needs a BIOS boot partition, which lpm does not set up")
		}
		if first == 0 || start < first {
			first = start
		}
	}
	if first == 0 {
		return errors.New("the partition table is empty; GRUB needs the partition holding /boot/grub")
	}
	coreSectors := (len(core) + sectorSize - 1) / sectorSize
	if uint32(1+coreSectors) > first {
		return fmt.Errorf("core.img needs sectors 1..%d but the first partition starts at sector %d; start it at 2048", coreSectors, first)
	}

	code := append([]byte{}, sector0...)
	copy(code[:bootCodeSize], boot[:bootCodeSize])
	// What grub-bios-setup does: point boot.img at core.img, and on a hard
	// disk skip the jump over the boot drive check, for BIOSes that pass a
	// wrong drive number.
	binary.LittleEndian.PutUint64(code[bootKernelSector:], 1)
	if code[bootDriveCheck] == 0xeb {
		code[bootDriveCheck], code[bootDriveCheck+1] = 0x90, 0x90
	}
	padded := make([]byte, coreSectors*sectorSize)
	copy(padded, core)
	// core.img first, then the code that loads it.
	if _, err := disk.WriteAt(padded, sectorSize); err != nil {
		return fmt.Errorf("writing core.img: %w", err)
	}
	if _, err := disk.WriteAt(code, 0); err != nil {
		return fmt.Errorf("writing boot.img: %w", err)
	}
	return nil
}
