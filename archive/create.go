package archive

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
)

// epoch is the modification time of every tar header: file times in a
// DESTDIR say when the build ran, which would make archives differ
// between otherwise identical builds.
var epoch = time.Unix(0, 0)

// Create packs stagingDir into a new archive at path and returns the
// manifest it wrote. The caller fills in the package fields of m
// (name, version, relations, backup, build date); Create sets Format and
// replaces Entries with what it finds in stagingDir. The staging root
// itself is not an entry. Symlinks are recorded, never followed; files
// sharing an inode become one "file" entry (the first path in entry
// order) plus "hardlink" entries. Ownership and permission bits are taken
// from the staging tree as they are, so stage as the owner the files
// should have (typically root). Device nodes, fifos and sockets are
// refused. The archive is written to a temporary file beside path,
// synced and renamed into place, so path is either the old file or the
// complete new one.
func Create(path string, stagingDir string, m Manifest) (*Manifest, error) {
	fail := func(err error) (*Manifest, error) {
		return nil, fmt.Errorf("create package %s from %s: %w", path, stagingDir, err)
	}
	if err := checkOutside(path, stagingDir); err != nil {
		return fail(err)
	}
	entries, sources, err := scanStaging(stagingDir)
	if err != nil {
		return fail(err)
	}

	m.Format = FormatVersion
	m.BuildDate = m.BuildDate.UTC()
	m.Depends = cloneList(m.Depends)
	m.Provides = cloneList(m.Provides)
	m.Conflicts = cloneList(m.Conflicts)
	m.Backup = cloneList(m.Backup)
	m.Entries = entries
	if err := validateManifest(&m); err != nil {
		return fail(fmt.Errorf("%w; fix the port's package fields or the staging dir", err))
	}
	data, err := encodeManifest(&m)
	if err != nil {
		return fail(err)
	}
	err = writeAtomically(path, func(w io.Writer) error {
		return writeArchive(w, data, m.Entries, sources)
	})
	if err != nil {
		return fail(err)
	}
	return &m, nil
}

// cloneList copies a caller's list so the returned manifest does not
// alias it, and turns empty into nil so a manifest read back compares
// equal to the one Create returned.
func cloneList(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// checkOutside refuses to write the archive inside the tree being packed:
// the walk would pick up the half-written temporary file.
func checkOutside(archivePath, stagingDir string) error {
	stage, err := filepath.EvalSymlinks(stagingDir)
	if err != nil {
		return fmt.Errorf("staging dir: %w", err)
	}
	out, err := filepath.EvalSymlinks(filepath.Dir(archivePath))
	if err != nil {
		return fmt.Errorf("output dir: %w", err)
	}
	stage, _ = filepath.Abs(stage)
	out, _ = filepath.Abs(out)
	rel, err := filepath.Rel(stage, out)
	if err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return errors.New("the archive would be written inside the staging dir; write it elsewhere")
	}
	return nil
}

type inode struct{ dev, ino uint64 }

// scanStaging lists the staging tree in entry order. sources[i] is the
// on-disk path of entries[i] when it is a file, else "".
func scanStaging(root string) ([]Entry, []string, error) {
	info, err := os.Lstat(root)
	if err != nil {
		return nil, nil, err
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("staging dir %s is not a directory", root)
	}

	var entries []Entry
	var sources []string
	firstPath := make(map[inode]string)
	// WalkDir visits each directory's names in sorted order, depth first,
	// which is exactly the format's entry order; it does not follow links.
	err = filepath.WalkDir(root, func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, full)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no unix file metadata", full)
		}
		e := Entry{
			Path: filepath.ToSlash(rel),
			Mode: st.Mode & 0o7777,
			UID:  int(st.Uid),
			GID:  int(st.Gid),
		}
		source := ""
		switch fi.Mode().Type() {
		case fs.ModeDir:
			e.Type = TypeDir
		case fs.ModeSymlink:
			e.Type = TypeSymlink
			if e.Link, err = os.Readlink(full); err != nil {
				return err
			}
		case 0:
			key := inode{uint64(st.Dev), uint64(st.Ino)}
			if first, ok := firstPath[key]; ok && st.Nlink > 1 {
				e.Type = TypeHardlink
				e.Link = first
				break
			}
			if st.Nlink > 1 {
				firstPath[key] = e.Path
			}
			e.Type = TypeFile
			source = full
			var elfMagic bool
			if e.SHA256, e.Size, elfMagic, err = hashStaged(full, fi); err != nil {
				return err
			}
			if elfMagic {
				// A file that only looks like ELF is packed as plain data.
				if soname, needed, ok := ELFInfo(full); ok {
					e.Soname, e.Needed = soname, needed
				}
			}
		default:
			return fmt.Errorf("%s is %s; packages may hold only dirs, files and links, so create it from an install hook instead", full, fileKind(fi.Mode()))
		}
		entries = append(entries, e)
		sources = append(sources, source)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return entries, sources, nil
}

// openStaged opens a staged regular file without following a symlink or
// blocking on a fifo that was swapped in, and checks it is still the file
// the walk saw.
func openStaged(full string, seen fs.FileInfo) (*os.File, error) {
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	now, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !now.Mode().IsRegular() || !os.SameFile(now, seen) {
		f.Close()
		return nil, fmt.Errorf("%s changed while packaging; rerun the build", full)
	}
	return f, nil
}

// hashStaged returns the sha256 and size of a staged file and whether it
// starts with the ELF magic.
func hashStaged(full string, seen fs.FileInfo) (sum string, size int64, elfMagic bool, err error) {
	f, err := openStaged(full, seen)
	if err != nil {
		return "", 0, false, err
	}
	defer f.Close()
	h := sha256.New()
	size, err = io.Copy(h, f)
	if err != nil {
		return "", 0, false, fmt.Errorf("read %s: %w", full, err)
	}
	magic := make([]byte, 4)
	if _, err := f.ReadAt(magic, 0); err == nil && string(magic) == "\x7fELF" {
		elfMagic = true
	}
	return hex.EncodeToString(h.Sum(nil)), size, elfMagic, nil
}

// writeArchive writes the compressed tar stream: manifest first, then
// every entry in order. Contents are hashed again while copied, so a file
// modified after the walk cannot end up disagreeing with the manifest.
// The stream is cut into zstd frames at the first entry boundary past
// frameTarget bytes of tar, listed in a seek table after it (seek.go),
// unless it fits in one.
func writeArchive(w io.Writer, manifest []byte, entries []Entry, sources []string) error {
	fw := &framedWriter{file: countingWriter{w: w}, frames: []frame{{}}}
	zw, err := zstd.NewWriter(&fw.file,
		zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithEncoderConcurrency(1), // one encoder keeps output byte-identical run to run
		// A 4 MiB window, not 8: every install holds one window to
		// decode, and on /usr/lib, /usr/include and /usr/share/man (856
		// MiB of tar) 8 MiB made the archive only 0.7% smaller.
		zstd.WithWindowSize(4<<20),
		zstd.WithEncoderCRC(true))
	if err != nil {
		return err
	}
	fw.enc = zw
	tw := tar.NewWriter(fw)
	err = tw.WriteHeader(&tar.Header{
		Name:     manifestName,
		Typeflag: tar.TypeReg,
		Mode:     0o644,
		Size:     int64(len(manifest)),
		ModTime:  epoch,
	})
	if err == nil {
		_, err = tw.Write(manifest)
	}
	for i := range entries {
		if err != nil {
			break
		}
		e := &entries[i]
		// A frame ends at the first entry boundary past its target. (Not
		// before a large file too: big binaries share much code, and each
		// frame starts without history.)
		if fw.content >= frameTarget {
			if err = tw.Flush(); err != nil { // the last entry's padding
				break
			}
			if err = fw.cut(i + 1); err != nil {
				break
			}
		}
		if err = tw.WriteHeader(tarHeader(e)); err != nil {
			break
		}
		if e.Type == TypeFile {
			err = copyStaged(tw, sources[i], e)
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if cerr := fw.close(); err == nil {
		err = cerr
	}
	if err == nil && len(fw.frames) > 1 {
		_, err = w.Write(encodeSeekTable(fw.frames))
	}
	return err
}

// tarHeader is the header the format prescribes for e: no owner names,
// epoch mtime, fields equal to the manifest's.
func tarHeader(e *Entry) *tar.Header {
	h := &tar.Header{
		Name:    e.Path,
		Mode:    int64(e.Mode),
		Uid:     e.UID,
		Gid:     e.GID,
		ModTime: epoch,
	}
	switch e.Type {
	case TypeDir:
		h.Typeflag = tar.TypeDir
		h.Name += "/"
	case TypeFile:
		h.Typeflag = tar.TypeReg
		h.Size = e.Size
	case TypeSymlink:
		h.Typeflag = tar.TypeSymlink
		h.Linkname = e.Link
	case TypeHardlink:
		h.Typeflag = tar.TypeLink
		h.Linkname = e.Link
	}
	return h
}

func copyStaged(w io.Writer, full string, e *Entry) error {
	info, err := os.Lstat(full)
	if err != nil {
		return err
	}
	f, err := openStaged(full, info)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(w, h), f, e.Size); err != nil {
		return fmt.Errorf("%s changed while packaging (%v); rerun the build", full, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return fmt.Errorf("%s changed while packaging; rerun the build", full)
	}
	return nil
}

// writeAtomically writes dst through a temporary file in the same
// directory, syncs it and renames it into place.
func writeAtomically(dst string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename durable. Filesystems that cannot sync
// directories say EINVAL; there is nothing better to do there.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
