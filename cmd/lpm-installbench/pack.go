package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/lfs-lpm/lpm/archive"
)

// pkgFiles are one package version in every format the bench installs;
// delta is the floor's upgrade archive (changed and added files only).
type pkgFiles struct {
	lpm, deb, pac, tar, delta string
}

// The peers' packages are compressed as lpm's archive writer compresses
// (archive/create.go: klauspost's SpeedBetterCompression, a 4 MiB window,
// one encoder), so that no column reads a cheaper stream: the Arch package
// and the floor's tar.zst with that same encoder, the .deb with dpkg-deb at
// zstdLevel, the libzstd level klauspost's mode corresponds to (7-8).
// Left alone, dpkg-deb compresses at level 3 and the bench's tar.zst files
// were written at SpeedDefault (about level 3); Arch's makepkg.conf uses
// --ultra -20.
const zstdLevel = 7

// packer builds the archives; debZ is dpkg-deb's compressor, chosen once.
type packer struct {
	ctx  context.Context
	deb  bool // dpkg-deb is available
	pac  bool // the pacman column runs
	tar  bool // the floor column runs
	debZ string
}

// pack writes NAME-VERSION archives of staging into out in every format
// that has a column. The staging tree is left as it was.
func (p *packer) pack(out, staging, name, version string, size int64) (pkgFiles, error) {
	var f pkgFiles
	base := filepath.Join(out, name+"-"+version)
	f.lpm = base + ".lpm"
	m := archive.Manifest{Name: name, Version: version, Release: 1, Description: "lpm-installbench generated package"}
	if _, err := archive.Create(f.lpm, staging, m); err != nil {
		return f, err
	}
	if p.deb {
		f.deb = base + ".deb"
		if err := p.packDeb(f.deb, staging, name, version, size); err != nil {
			return f, err
		}
	}
	if p.pac {
		f.pac = base + "-1-x86_64.pkg.tar.zst"
		info := fmt.Sprintf("pkgname = %s\npkgbase = %s\npkgver = %s-1\npkgdesc = lpm-installbench generated package\nbuilddate = 0\npackager = lpm-installbench\nsize = %d\narch = x86_64\n", name, name, version, size)
		mt, err := mtree(staging)
		if err != nil {
			return f, err
		}
		if err := writeTarZst(f.pac, staging, []member{{".PKGINFO", []byte(info)}, {".MTREE", mt}}, nil); err != nil {
			return f, err
		}
	}
	if p.tar {
		f.tar = base + ".tar.zst"
		if err := writeTarZst(f.tar, staging, nil, nil); err != nil {
			return f, err
		}
	}
	return f, nil
}

// packDeb runs dpkg-deb on staging with a DEBIAN/control that exists only
// while it runs, so the other formats never see it.
func (p *packer) packDeb(out, staging, name, version string, size int64) error {
	ctl := filepath.Join(staging, "DEBIAN")
	if err := os.Mkdir(ctl, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(ctl)
	control := fmt.Sprintf("Package: %s\nVersion: %s-1\nArchitecture: amd64\nMaintainer: lpm-installbench <bench@example.invalid>\nInstalled-Size: %d\nDescription: lpm-installbench generated package\n", name, version, (size+1023)/1024)
	if err := os.WriteFile(filepath.Join(ctl, "control"), []byte(control), 0o644); err != nil {
		return err
	}
	try := []string{"zstd", "xz"}
	if p.debZ != "" {
		try = []string{p.debZ}
	}
	var last error
	for _, z := range try {
		args := []string{"--build", "-Z" + z, "--root-owner-group", staging, out}
		if z == "zstd" {
			args = append([]string{"-z" + fmt.Sprint(zstdLevel)}, args...)
		}
		cmd := exec.CommandContext(p.ctx, "dpkg-deb", args...)
		var stderr bytes.Buffer
		cmd.Stdout = io.Discard
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			last = fmt.Errorf("dpkg-deb %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
			continue
		}
		p.debZ = z
		return nil
	}
	return last
}

// member is a file an archive carries before the staging tree's.
type member struct {
	name string
	data []byte
}

// writeTarZst writes staging as a zstd-compressed tar. Metadata members
// come first (.PKGINFO, then .MTREE, as pacman expects). A non-nil only
// restricts the archive to those files (slash paths relative to staging):
// the floor for an upgrade writes just what changed.
func writeTarZst(out, staging string, meta []member, only []string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(4<<20))
	if err != nil {
		f.Close()
		return err
	}
	tw := tar.NewWriter(zw)
	err = func() error {
		for _, m := range meta {
			hdr := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if _, err := tw.Write(m.data); err != nil {
				return err
			}
		}
		if only != nil {
			for _, rel := range only {
				if err := addTarMember(tw, staging, rel); err != nil {
					return err
				}
			}
			return nil
		}
		return filepath.WalkDir(staging, func(full string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(staging, full)
			if err != nil || rel == "." {
				return err
			}
			return addTarMember(tw, staging, filepath.ToSlash(rel))
		})
	}()
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s from %s: %w", out, staging, err)
	}
	return nil
}

func addTarMember(tw *tar.Writer, staging, rel string) error {
	full := filepath.Join(staging, filepath.FromSlash(rel))
	fi, err := os.Lstat(full)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(full); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	src, err := os.Open(full)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(tw, src)
	return err
}

// mtree is the gzipped .MTREE that makepkg puts in every Arch package
// (bsdtar's mtree format with type, uid, gid, mode, time, size, md5 and
// sha256, and link targets): pacman keeps it in its database for
// pacman -Qkk, as lpm keeps every file's sha256 and dpkg its md5sums, so
// the database sizes compare like with like.
func mtree(staging string) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	fmt.Fprintln(gz, "#mtree")
	err := filepath.WalkDir(staging, func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(staging, full)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		// The tar header carries the time rounded to the second (Go's
		// writer in USTAR format), and that is what lands on disk.
		mt := fi.ModTime().Round(time.Second)
		line := fmt.Sprintf("./%s time=%d.0 mode=%o uid=0 gid=0", mtreeEscape(filepath.ToSlash(rel)), mt.Unix(), fi.Mode().Perm())
		switch {
		case fi.IsDir():
			line += " type=dir"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return err
			}
			line += " type=link link=" + mtreeEscape(target)
		default:
			f, err := os.Open(full)
			if err != nil {
				return err
			}
			m, h := md5.New(), sha256.New()
			_, err = io.Copy(io.MultiWriter(m, h), f)
			f.Close()
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" type=file size=%d md5digest=%x sha256digest=%x", fi.Size(), m.Sum(nil), h.Sum(nil))
		}
		_, err = fmt.Fprintln(gz, line)
		return err
	})
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("mtree of %s: %w", staging, err)
	}
	return buf.Bytes(), nil
}

// mtreeEscape writes the bytes mtree cannot carry bare as \ooo.
func mtreeEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
			fmt.Fprintf(&b, "\\%03o", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
