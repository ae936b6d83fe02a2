package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/hooks"
	"github.com/lfs-lpm/lpm/image"
	"github.com/lfs-lpm/lpm/installer"
)

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image --root DIR --out DISK.img",
		Short: "Make a bootable raw disk image from a root",
		Long: `image writes a raw disk image of the root: an MBR partition table with one
bootable Linux partition from 1 MiB to the end, an ext4 filesystem made by
mke2fs -d from the root's files (no mount, no loop device), and GRUB's boot
code (boot.img in the MBR, core.img from sector 1) made by the root's own
grub-mkimage, run on this machine with the root's i386-pc modules.

The disk id decides the partition's PARTUUID: by default it is taken from
root = "PARTUUID=XXXXXXXX-01" in [bootloader] of ROOT/etc/lpm/lpm.toml, so the image
matches the grub.cfg the bootloader hook wrote; otherwise it is random.`,
		Example: `  lpm --root /mnt/lfs image --out lfs.img
  lpm --root /mnt/lfs image --out lfs.img --size 2G --disk-id 4c504d31`,
		Args: argsExactly(0),
		RunE: runImage,
	}
	cmd.Flags().String("out", "", "the image file to write (replaced if it exists)")
	cmd.Flags().String("size", "", "disk size: bytes, or with K, M, G (powers of 1024); default: the root's size plus headroom")
	cmd.Flags().String("disk-id", "", "MBR disk id, 8 hex digits (PARTUUID=ID-01); default from [bootloader] root in lpm.toml, else random")
	cmd.Flags().String("label", "lpmroot", "ext4 volume label")
	cmd.Flags().Bool("no-bootloader", false, "write no GRUB boot code (the root need not have GRUB)")
	cmd.Flags().Bool("no-wait", false, "fail at once if another lpm holds the root's lock")
	return cmd
}

func runImage(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	root := e.cfg.Root
	out, _ := cmd.Flags().GetString("out")
	if out == "" {
		return fmt.Errorf("image: give the image file with --out")
	}
	if root == "/" {
		return fmt.Errorf("image: the root is /; make images of a root you built (--root DIR), not of the running system")
	}
	opts := image.Options{}
	opts.Label, _ = cmd.Flags().GetString("label")
	if s, _ := cmd.Flags().GetString("size"); s != "" {
		if opts.Size, err = parseSize(s); err != nil {
			return err
		}
	}
	settings, err := hooks.ReadBootloaderSettings(root)
	if err != nil {
		return err
	}
	if opts.DiskID, err = diskID(cmd, settings); err != nil {
		return err
	}
	if settings != nil && strings.HasPrefix(settings.Root, "PARTUUID=") && settings.Root != "PARTUUID="+image.PartUUID(opts.DiskID, 1) {
		e.out.Printf("warning: %s says root = %q but the image's partition is PARTUUID=%s: the kernel will not find its root", hooks.BootloaderFile, settings.Root, image.PartUUID(opts.DiskID, 1))
	}
	if noBoot, _ := cmd.Flags().GetBool("no-bootloader"); !noBoot {
		opts.Grub = image.RootGrub(root)
		if settings != nil {
			opts.Grub.Prefix = settings.GrubPrefix
		}
		if ok, missing := opts.Grub.Installed(); !ok {
			return fmt.Errorf("image: %s has no GRUB (%s is missing); install the grub port or pass --no-bootloader", root, missing)
		}
		if _, err := os.Stat(filepath.Join(root, "boot/grub/grub.cfg")); err != nil {
			e.out.Printf("warning: %s has no boot/grub/grub.cfg: GRUB will stop at its prompt (set up %s and install a kernel)", root, hooks.BootloaderFile)
		}
	}
	// A root lpm manages is imaged between transactions, never halfway
	// through one.
	if _, err := os.Stat(filepath.Join(root, "var/lib/lpm")); err == nil {
		noWait, _ := cmd.Flags().GetBool("no-wait")
		lock, err := installer.AcquireLock(root, !noWait, func() {
			fmt.Fprintf(os.Stderr, "lpm: waiting for another lpm to finish with %s\n", root)
		})
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	if err := image.Build(root, out, opts); err != nil {
		return err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return err
	}
	boot := "with GRUB"
	if opts.Grub == nil {
		boot = "without boot code"
	}
	e.out.Printf("wrote %s: %d MiB, %s; the root partition is PARTUUID=%s", out, fi.Size()>>20, boot, image.PartUUID(opts.DiskID, 1))
	return nil
}

// diskID is --disk-id, else the id in bootloader.toml's root, else random.
func diskID(cmd *cobra.Command, settings *hooks.BootloaderSettings) (uint32, error) {
	if s, _ := cmd.Flags().GetString("disk-id"); s != "" {
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 32)
		if err != nil || v == 0 {
			return 0, fmt.Errorf("image: --disk-id %q: give 8 hex digits, not all zero", s)
		}
		return uint32(v), nil
	}
	if settings != nil && strings.HasPrefix(settings.Root, "PARTUUID=") {
		id, part, err := image.ParsePartUUID(settings.Root)
		if err != nil {
			return 0, fmt.Errorf("image: root in %s: %w", hooks.BootloaderFile, err)
		}
		if part != 1 {
			return 0, fmt.Errorf("image: root in %s names partition %d; the image has only partition 1", hooks.BootloaderFile, part)
		}
		return id, nil
	}
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		if id := binary.LittleEndian.Uint32(b[:]); id != 0 {
			return id, nil
		}
	}
}

// parseSize reads "512M", "2G", "1048576".
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "IB"), "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		case 'T':
			mult, t = 1<<40, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("image: size %q: give bytes or a number with K, M, G or T", s)
	}
	return v * mult, nil
}
