// Package tarball unpacks upstream source archives into a build's work
// directory.
//
// Source tarballs come from the internet and are untrusted even after their
// checksum matched: the checksum proves we got what the port author saw, not
// that upstream is benign. So the package owns one promise: everything an
// archive creates lands inside dest, and nothing is ever written through a
// symlink, whether the symlink came from the archive or was already there.
// It walks every path one component at a time with openat(2) and
// O_NOFOLLOW, never handing the kernel a path with "/" or "..", so a symlink
// created by an earlier entry cannot redirect a later one.
//
// It must never follow a symlink when writing, create device nodes or
// fifos, keep setuid/setgid bits, or chown anything: owners in the archive
// are ignored and files belong to the user running lpm.
//
// The compression is detected from the first bytes of the file, not its
// name: plain tar, gzip, xz, bzip2 and zstd. Linux only (openat semantics).
package tarball

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/lfs-lpm/lpm/progress"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// ErrHostile marks an archive entry that tried to escape dest or write
// through a symlink, or that a source archive has no business holding.
// The message of every such error ends in "refusing to extract".
var ErrHostile = errors.New("refusing to extract")

// Extract unpacks archive into dest, creating dest if needed. Progress, if
// bar is non-nil, counts compressed bytes read from archive; the caller
// starts and finishes the bar. On error dest may hold a partial tree; the
// caller should remove the work directory.
func Extract(archive, dest string, bar *progress.Bar) error {
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("extract %s: %w", archive, err)
	}
	defer f.Close()

	r, closeDecoder, err := decompress(archive, bar.Proxy(f))
	if err != nil {
		return err
	}
	defer closeDecoder()

	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("extract %s: create destination: %w", archive, err)
	}
	root, err := unix.Open(dest, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("extract %s: open destination %s: %w", archive, dest, err)
	}
	defer unix.Close(root)

	x := &extractor{archive: archive, root: root, regular: map[string]bool{}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("extract %s: read tar: %w; the file is damaged or not a tar archive", archive, err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	// Reading to the end lets gzip, xz and zstd check their trailing
	// checksums, so a truncated or damaged stream is reported, not ignored.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("extract %s: %w; the file is damaged", archive, err)
	}
	return nil
}

// Root returns the directory a build should enter after extracting into
// dest: the single top-level directory when the archive had exactly one
// (zlib-1.3.1/), otherwise dest itself.
func Root(dest string) (string, error) {
	entries, err := os.ReadDir(dest)
	if err != nil {
		return "", fmt.Errorf("find source root: %w", err)
	}
	if len(entries) == 0 {
		return "", fmt.Errorf("find source root: %s is empty; the archive held no files", dest)
	}
	// ReadDir does not follow symlinks, so a lone symlink to a directory
	// does not count as the root.
	if len(entries) == 1 && entries[0].IsDir() {
		return filepath.Join(dest, entries[0].Name()), nil
	}
	return dest, nil
}

var (
	gzipMagic  = []byte{0x1f, 0x8b}
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	bzip2Magic = []byte("BZh")
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress picks the decoder from the stream's magic bytes.
func decompress(archive string, r io.Reader) (io.Reader, func(), error) {
	noop := func() {}
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(512)
	if err != nil && err != io.EOF {
		return nil, noop, fmt.Errorf("extract %s: %w", archive, err)
	}
	fail := func(kind string, err error) (io.Reader, func(), error) {
		return nil, noop, fmt.Errorf("extract %s: open %s stream: %w", archive, kind, err)
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail("gzip", err)
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(head, xzMagic):
		zr, err := xz.NewReader(br)
		if err != nil {
			return fail("xz", err)
		}
		return zr, noop, nil
	case bytes.HasPrefix(head, bzip2Magic) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return bzip2.NewReader(br), noop, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return fail("zstd", err)
		}
		return zr, zr.Close, nil
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return br, noop, nil
	}
	return nil, noop, fmt.Errorf("extract %s: unknown archive format (not tar, gzip, xz, bzip2 or zstd)", archive)
}

// refusal is why an entry is hostile; entry() adds the archive and name.
type refusal string

func (r refusal) Error() string { return string(r) }

func refuse(format string, args ...any) error {
	return refusal(fmt.Sprintf(format, args...))
}

type extractor struct {
	archive string
	root    int // dest, opened once; every path is resolved from here
	// regular holds the cleaned paths of regular files this extraction
	// created and that are still regular files: the only legal hard link
	// targets.
	regular map[string]bool
}

func (x *extractor) entry(hdr *tar.Header, body io.Reader) error {
	err := x.create(hdr, body)
	if err == nil {
		return nil
	}
	var r refusal
	if errors.As(err, &r) {
		return fmt.Errorf("extract %s: entry %q: %s; %w", x.archive, hdr.Name, r, ErrHostile)
	}
	return fmt.Errorf("extract %s: entry %q: %w", x.archive, hdr.Name, err)
}

func (x *extractor) create(hdr *tar.Header, body io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // pax metadata for the whole archive, no file
	case tar.TypeDir, tar.TypeReg, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeLink:
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return refuse("is a device node or fifo, which no source archive needs")
	default:
		return refuse("has unsupported entry type %q", hdr.Typeflag)
	}

	name, err := clean(hdr.Name)
	if err != nil {
		return refuse("path %v", err)
	}
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return nil // "./": dest itself, which already exists
		}
		return refuse("would replace the destination directory itself")
	}
	dir, base := path.Split(name)
	parent, err := x.openDir(dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(parent)

	perm := uint32(hdr.Mode) & 0o777 // drops setuid, setgid and sticky
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(parent, base, perm)
	case tar.TypeSymlink:
		if err := x.removeExisting(parent, base, name); err != nil {
			return err
		}
		if err := unix.Symlinkat(hdr.Linkname, parent, base); err != nil {
			return fmt.Errorf("create symlink to %q: %w", hdr.Linkname, err)
		}
		setTimes(parent, base, hdr.ModTime)
		return nil
	case tar.TypeLink:
		return x.link(parent, base, name, hdr.Linkname)
	default:
		return x.writeFile(parent, base, name, perm, hdr.ModTime, body)
	}
}

// clean turns an archive path into a clean relative path, refusing
// absolute paths and any path that climbs out of dest. "a/../b" becomes
// "b": the ".." is resolved here, as text, and never by the kernel, so it
// cannot walk back out through a symlink.
func clean(name string) (string, error) {
	if name == "" {
		return "", refuse("is empty")
	}
	if strings.HasPrefix(name, "/") {
		return "", refuse("is absolute")
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", refuse("escapes the destination")
	}
	return c, nil
}

// openDir opens the directory at rel below dest, one component at a time,
// refusing symlinks at every step. With create it makes missing
// directories, as archives often omit entries for parents.
func (x *extractor) openDir(rel string, create bool) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	cur, err := unix.Dup(x.root)
	if err != nil {
		return -1, err
	}
	rel = strings.TrimSuffix(rel, "/")
	if rel == "" {
		return cur, nil
	}
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		next, err := unix.Openat(cur, part, flags, 0)
		if err == unix.ENOENT && create {
			if err = unix.Mkdirat(cur, part, 0o755); err == nil || err == unix.EEXIST {
				next, err = unix.Openat(cur, part, flags, 0)
			}
		}
		if err != nil {
			err = whyNotDir(cur, part, strings.Join(parts[:i+1], "/"), err)
			unix.Close(cur)
			return -1, err
		}
		unix.Close(cur)
		cur = next
	}
	return cur, nil
}

// whyNotDir explains a failed directory open: a symlink in the way is
// hostile, anything else is an ordinary error.
func whyNotDir(dir int, name, rel string, err error) error {
	var st unix.Stat_t
	if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			return refuse("parent %q is a symlink", rel)
		case unix.S_IFDIR:
		default:
			return fmt.Errorf("parent %q is not a directory", rel)
		}
	}
	return fmt.Errorf("open directory %q: %w", rel, err)
}

func (x *extractor) mkdir(parent int, base string, perm uint32) error {
	err := unix.Mkdirat(parent, base, 0o700)
	if err != nil && err != unix.EEXIST {
		return fmt.Errorf("create directory: %w", err)
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		var st unix.Stat_t
		if unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return refuse("a symlink with this name was already extracted; it cannot become a directory")
		}
		return fmt.Errorf("create directory: a file with this name was already extracted: %w", err)
	}
	defer unix.Close(fd)
	// The owner keeps rwx so the rest of the archive and the build can
	// write into it.
	if err := unix.Fchmod(fd, perm|0o700); err != nil {
		return fmt.Errorf("set directory mode: %w", err)
	}
	return nil
}

// removeExisting clears the way for a new non-directory entry, as tar does
// when an archive repeats a name. Unlinking a symlink removes the link,
// never what it points to. Directories are never removed.
func (x *extractor) removeExisting(parent int, base, name string) error {
	var st unix.Stat_t
	err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("a directory with this name was already extracted")
	}
	if err := unix.Unlinkat(parent, base, 0); err != nil {
		return fmt.Errorf("replace earlier entry: %w", err)
	}
	delete(x.regular, name)
	return nil
}

func (x *extractor) writeFile(parent int, base, name string, perm uint32, mtime time.Time, body io.Reader) error {
	if err := x.removeExisting(parent, base, name); err != nil {
		return err
	}
	// O_EXCL|O_NOFOLLOW: if anything appeared at this name since the
	// removal, fail rather than write into it.
	fd, err := unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return fmt.Errorf("write file: %w", err)
	}
	if err := unix.Fchmod(fd, perm); err != nil {
		f.Close()
		return fmt.Errorf("set file mode: %w", err)
	}
	// Keep upstream mtimes: make compares them, and generated files
	// (configure, *.info) must stay newer than their inputs or the build
	// tries to regenerate them with tools the system may lack.
	if !mtime.IsZero() {
		tv := unix.NsecToTimeval(mtime.UnixNano())
		unix.Futimes(fd, []unix.Timeval{tv, tv})
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	x.regular[name] = true
	return nil
}

func (x *extractor) link(parent int, base, name, linkname string) error {
	target, err := clean(linkname)
	if err != nil {
		return refuse("hard link target %q %v", linkname, err)
	}
	if !x.regular[target] {
		return refuse("hard link target %q is not a regular file extracted earlier from this archive", linkname)
	}
	if target == name {
		return refuse("is a hard link to itself")
	}
	tdir, tbase := path.Split(target)
	tparent, err := x.openDir(tdir, false)
	if err != nil {
		return err
	}
	defer unix.Close(tparent)
	var st unix.Stat_t
	if err := unix.Fstatat(tparent, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return refuse("hard link target %q is no longer a regular file", linkname)
	}
	if err := x.removeExisting(parent, base, name); err != nil {
		return err
	}
	// Flags 0: linkat does not follow a symlink at the target.
	if err := unix.Linkat(tparent, tbase, parent, base, 0); err != nil {
		return fmt.Errorf("create hard link to %q: %w", linkname, err)
	}
	x.regular[name] = true
	return nil
}

// setTimes sets a symlink's own mtime. Failure is harmless: nothing
// compares symlink times.
func setTimes(dir int, name string, mtime time.Time) {
	if mtime.IsZero() {
		return
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	unix.UtimesNanoAt(dir, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
