package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"syscall"

	"github.com/klauspost/compress/zstd"
)

// maxWindow is the largest zstd window a reader accepts (zstd --long's
// default); it caps the memory a hostile archive can demand.
const maxWindow = 128 << 20

// ReadManifest returns the validated manifest of the archive at path.
// It decompresses only the first tar entry.
func ReadManifest(path string) (*Manifest, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	r.Close()
	return r.m, nil
}

// newDecoder starts decompressing r. The decoder is synchronous, so
// nothing past what is asked for is decoded, and its buffers (a window of
// history, 4 MiB for lpm's archives, 8 for older ones) are the only ones
// it holds.
// Decoders are reused (releaseDecoder): a command that installs 300 small
// archives made 600 of them, whose windows kept the collector busy.
func newDecoder(r io.Reader, path string) (*zstd.Decoder, error) {
	if dec, ok := decoders.Get().(*zstd.Decoder); ok {
		if err := dec.Reset(r); err == nil {
			return dec, nil
		}
	}
	dec, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(maxWindow))
	if err != nil {
		return nil, fmt.Errorf("read package %s: %w", path, err)
	}
	return dec, nil
}

// decoders holds idle decoders. A sync.Pool lets the collector free them,
// so an idle lpm keeps no window.
var decoders sync.Pool

// releaseDecoder returns a decoder newDecoder gave, done with.
func releaseDecoder(dec *zstd.Decoder) {
	if dec.Reset(nil) == nil { // drops the file it read
		decoders.Put(dec)
	}
}

// readManifestEntry reads and validates the .MANIFEST entry as it
// streams, leaving tr at the first package entry, and returns the sha256
// of its bytes, by which Walk knows the archive has not changed since.
func readManifestEntry(tr *tar.Reader, path string) (*Manifest, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if err := manifestHeader(tr); err != nil {
		return nil, sum, corrupt(path, err)
	}
	h := sha256.New()
	m, err := decodeManifestFrom(io.TeeReader(tr, h))
	if err != nil {
		return nil, sum, corrupt(path, err)
	}
	// The decoder read up to its end; anything it left is hashed too.
	if _, err := io.Copy(h, tr); err != nil {
		return nil, sum, corrupt(path, fmt.Errorf("cannot read %s: %v", manifestName, err))
	}
	h.Sum(sum[:0])
	return m, sum, nil
}

// manifestHeader checks that the next tar entry is a .MANIFEST of an
// allowed size.
func manifestHeader(tr *tar.Reader) error {
	hdr, err := tr.Next()
	if err != nil {
		return fmt.Errorf("cannot read the first tar entry (is it a zstd-compressed tar?): %v", err)
	}
	if hdr.Name != manifestName || hdr.Typeflag != tar.TypeReg {
		return fmt.Errorf("first tar entry is %q, not the regular file %s", hdr.Name, manifestName)
	}
	if hdr.Size > maxManifestSize {
		return fmt.Errorf("%s is %d bytes, more than the %d allowed", manifestName, hdr.Size, maxManifestSize)
	}
	return nil
}

// Reader gives access to one open archive: its manifest at once, its
// entries through Walk. A Reader is not safe for concurrent use.
type Reader struct {
	path string
	f    *os.File
	m    *Manifest
	sum  [sha256.Size]byte // of .MANIFEST as Open read it; Walk insists on the same
	// The seek table's frames (nil for an archive of one stream), and
	// where the compressed stream ends: the table, or the end of the file.
	frames       []frame
	end          int64
	decompressed int64 // bytes of tar stream walks decompressed
}

// Open opens the archive at path and validates its manifest and its seek
// table.
func Open(path string) (*Reader, error) {
	// An archive is a regular file: a named pipe would block the open and
	// every read until a writer came, and a device reads forever. Without
	// O_NONBLOCK, opening a pipe waits for a writer before the check
	// below can refuse it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open package %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open package %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		kind := fileKind(fi.Mode())
		if target, err := os.Readlink(path); err == nil {
			kind = "a symlink to " + target + ", " + kind
		}
		return nil, fmt.Errorf("package %s is %s, not a regular file: name the .lpm file itself", path, kind)
	}
	r := &Reader{path: path, f: f}
	if err := r.open(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// fileKind names a kind of file that is not a regular one.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

func (r *Reader) open() error {
	n, end, err := findSeekTable(r.f)
	if err != nil && err != errNoSeekTable {
		return corrupt(r.path, err)
	}
	r.end = end
	// The stream is read only up to the table, so no decoder meets it.
	dec, err := newDecoder(bufio.NewReader(io.NewSectionReader(r.f, 0, r.end)), r.path)
	if err != nil {
		return err
	}
	r.m, r.sum, err = readManifestEntry(tar.NewReader(dec), r.path)
	releaseDecoder(dec)
	if err != nil {
		return err
	}
	if n > 0 {
		if r.frames, err = readSeekTable(r.f, n, r.end, len(r.m.Entries)); err != nil {
			return corrupt(r.path, err)
		}
	}
	return nil
}

// Manifest returns the archive's validated manifest. Walk checks the
// stream against these very entries (a big package's manifest is not
// copied), so callers must not change them.
func (r *Reader) Manifest() *Manifest { return r.m }

// Decompressed is how many bytes of tar stream the walks of r have
// decompressed, which is what a seek table saves.
func (r *Reader) Decompressed() int64 { return r.decompressed }

// Close releases the archive file.
func (r *Reader) Close() error { return r.f.Close() }

// ManifestSHA256 is the sha256 of the archive's .MANIFEST entry, in
// lowercase hex, as Open read it. The manifest names every entry's
// content, mode and owner and the build's date, so this identifies the
// build as well as a hash of the whole file does, at no extra cost: it
// is what the database records, and what undo and repair check a cached
// archive against.
func (r *Reader) ManifestSHA256() string { return hex.EncodeToString(r.sum[:]) }

// Walk streams the archive's entries in manifest order and calls fn for
// each. For a "file" entry content yields its bytes; for other types it is
// empty. fn need not read everything; content fn does not read at all is
// skipped without being hashed (nothing was taken from it), content it
// reads even partly is verified in full. Walk checks every tar header against
// the manifest before calling fn, hashes file content as it streams and,
// once fn returns, fails if the size or sha256 disagrees with the
// manifest; so fn must treat what it wrote as provisional until Walk has
// moved on or returned nil. An error returned by fn stops the walk and
// is returned unchanged, unless reading the archive failed underneath
// fn, in which case the archive error is returned. Walk may be called
// more than once. It reads the whole archive, its seek table included.
func (r *Reader) Walk(fn func(e Entry, content io.Reader) error) error {
	return r.WalkOnly(nil, fn)
}

// WalkOnly is Walk for the entries want marks (want[i] for
// Manifest().Entries[i]; nil wants them all): fn is called for those
// only. An archive with a seek table has only the frames holding them
// decompressed; their tar headers, and those of the other entries in the
// same frames, are checked as Walk checks them, and content is verified
// just the same. An archive without one is read whole.
func (r *Reader) WalkOnly(want []bool, fn func(e Entry, content io.Reader) error) error {
	if want != nil && len(want) != len(r.m.Entries) {
		return fmt.Errorf("read package %s: %d entries wanted of %d", r.path, len(want), len(r.m.Entries))
	}
	if r.frames != nil {
		return r.walkFrames(want, fn)
	}
	// A decoder of its own, closed when Walk returns: its window (4 MiB
	// for lpm's archives) is the biggest buffer an install holds.
	dec, err := newDecoder(bufio.NewReader(io.NewSectionReader(r.f, 0, r.end)), r.path)
	if err != nil {
		return err
	}
	defer releaseDecoder(dec)
	cr := &countingReader{r: dec}
	defer func() { r.decompressed += cr.n }()
	tr := tar.NewReader(cr)
	if err := r.checkManifestMember(tr); err != nil {
		return err
	}
	for i := range r.m.Entries {
		if err := r.member(tr, i, want, fn); err != nil {
			return err
		}
	}
	return r.checkEnd(tr, cr)
}

// walkFrames walks an archive with a seek table, one frame at a time,
// skipping the frames that hold nothing wanted. Each frame is decoded on
// its own and must hold exactly the members the table says, which is what
// makes a lying table an error rather than a wrong file.
func (r *Reader) walkFrames(want []bool, fn func(e Entry, content io.Reader) error) error {
	var frames []int // the frames to read
	for k, fr := range r.frames {
		if want == nil || slices.Contains(want[max(fr.first-1, 0):r.frameEnd(k)-1], true) {
			frames = append(frames, k)
		}
	}
	wanted := len(r.m.Entries)
	if want != nil {
		wanted = countTrue(want)
	}
	s := r.streamFrames(frames, 2*wanted < len(r.m.Entries))
	defer s.close()
	for i, k := range frames {
		if i > 0 {
			s.next()
		}
		fr := r.frames[k]
		last := k == len(r.frames)-1
		cr := &countingReader{r: s}
		tr := tar.NewReader(cr)
		for m := fr.first; m < r.frameEnd(k); m++ {
			var err error
			if m == 0 {
				err = r.checkManifestMember(tr)
			} else {
				err = r.member(tr, m-1, want, fn)
			}
			if err != nil {
				return err
			}
		}
		if last {
			if err := r.checkEnd(tr, cr); err != nil {
				return err
			}
		} else if err := endOfFrame(tr, cr); err != nil {
			return corrupt(r.path, fmt.Errorf("frame %d: %w", k, err))
		}
		r.decompressed += cr.n
		if cr.n != fr.content {
			return corrupt(r.path, fmt.Errorf("the seek table says frame %d holds %d bytes of tar stream, it holds %d", k, fr.content, cr.n))
		}
	}
	return nil
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// frameEnd is the tar member after frame k's last.
func (r *Reader) frameEnd(k int) int {
	if k == len(r.frames)-1 {
		return len(r.m.Entries) + 1
	}
	return r.frames[k+1].first
}

// endOfFrame checks that a frame ends where its last member does: the
// rest of that member's content, its padding, and nothing else.
func endOfFrame(tr *tar.Reader, cr *countingReader) error {
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return fmt.Errorf("compressed stream is damaged: %v", err)
	}
	var pad [blockSize]byte
	n, err := io.ReadFull(cr, pad[:])
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		if slices.ContainsFunc(pad[:n], func(b byte) bool { return b != 0 }) {
			return errors.New("it does not end where its last tar member does")
		}
		return nil
	case err != nil:
		return fmt.Errorf("compressed stream is damaged: %v", err)
	}
	return errors.New("it holds more tar members than the seek table says")
}

// blockSize is tar's.
const blockSize = 512

// checkManifestMember reads past .MANIFEST, insisting on the bytes Open
// read.
func (r *Reader) checkManifestMember(tr *tar.Reader) error {
	if err := manifestHeader(tr); err != nil {
		return corrupt(r.path, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, tr); err != nil {
		return corrupt(r.path, fmt.Errorf("cannot read %s: %v", manifestName, err))
	}
	if [sha256.Size]byte(h.Sum(nil)) != r.sum {
		return fmt.Errorf("archive %s changed while it was open; retry", r.path)
	}
	return nil
}

// member reads entry i's tar member, checks its header and, when it is
// wanted, hands it to fn and verifies what fn read.
func (r *Reader) member(tr *tar.Reader, i int, want []bool, fn func(e Entry, content io.Reader) error) error {
	e := r.m.Entries[i]
	hdr, err := tr.Next()
	if err == io.EOF {
		return corrupt(r.path, problem(e.Path, "is in the manifest but missing from the tar stream"))
	}
	if err != nil {
		return corrupt(r.path, problem(e.Path, "cannot be read from the tar stream: %v", err))
	}
	if err := checkHeader(hdr, &e); err != nil {
		return corrupt(r.path, err)
	}
	if want != nil && !want[i] {
		return nil
	}
	if e.Type != TypeFile {
		return fn(e, bytes.NewReader(nil))
	}
	body := &hashingReader{r: tr, h: sha256.New()}
	err = fn(e, body)
	if body.err != nil {
		return corrupt(r.path, problem(e.Path, "content cannot be read: %v", body.err))
	}
	if err != nil {
		return err
	}
	if body.n == 0 && e.Size > 0 {
		// The caller took nothing (an unchanged file an upgrade does
		// not rewrite): there is nothing to vouch for, so the content
		// is skipped unhashed, which keeps upgrades cheap.
		return nil
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return corrupt(r.path, problem(e.Path, "content cannot be read: %v", err))
	}
	if body.n != e.Size {
		return corrupt(r.path, problem(e.Path, "has %d bytes of content, the manifest says %d", body.n, e.Size))
	}
	if sum := hex.EncodeToString(body.h.Sum(nil)); sum != e.SHA256 {
		return corrupt(r.path, problem(e.Path, "content has sha256 %s, the manifest says %s", sum, e.SHA256))
	}
	return nil
}

// checkEnd checks what follows the last entry: the tar end marker, then
// nothing but zero bytes up to the end of the compressed stream, whose
// checksum is verified on the way.
func (r *Reader) checkEnd(tr *tar.Reader, rest io.Reader) error {
	hdr, err := tr.Next()
	if err == nil {
		return corrupt(r.path, problem(hdr.Name, "is in the tar stream but not in the manifest"))
	}
	if err != io.EOF {
		return corrupt(r.path, fmt.Errorf("tar stream is damaged after the last entry: %v", err))
	}
	if err := drainZeros(rest); err != nil {
		return corrupt(r.path, err)
	}
	return nil
}

// countingReader counts what passes through: a frame must hold as many
// bytes of tar stream as the seek table says.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Seek passes a skip forward on, and counts it, when what c reads can
// make one (frameStream); archive/tar skips content so.
func (c *countingReader) Seek(offset int64, whence int) (int64, error) {
	s, ok := c.r.(io.Seeker)
	if !ok {
		return -1, errNoSeek
	}
	from, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return -1, err
	}
	to, err := s.Seek(offset, whence)
	if err != nil {
		return -1, err
	}
	c.n += to - from
	return c.n, nil
}

// checkHeader insists the tar header says exactly what the manifest says.
func checkHeader(hdr *tar.Header, e *Entry) error {
	want := e.Path
	var flag byte
	switch e.Type {
	case TypeDir:
		want += "/"
		flag = tar.TypeDir
	case TypeFile:
		flag = tar.TypeReg
	case TypeSymlink:
		flag = tar.TypeSymlink
	case TypeHardlink:
		flag = tar.TypeLink
	}
	switch {
	case hdr.Name != want:
		return problem(e.Path, "is next in the manifest but the tar stream has %q", hdr.Name)
	case hdr.Typeflag != flag:
		return problem(e.Path, "is a %s in the manifest but tar type %q in the tar stream", e.Type, hdr.Typeflag)
	case hdr.Linkname != e.Link:
		return problem(e.Path, "links to %q in the manifest but to %q in the tar stream", e.Link, hdr.Linkname)
	case hdr.Mode != int64(e.Mode):
		return problem(e.Path, "has mode %#o in the manifest but %#o in the tar stream", e.Mode, hdr.Mode)
	case hdr.Uid != e.UID || hdr.Gid != e.GID:
		return problem(e.Path, "is owned by %d:%d in the manifest but %d:%d in the tar stream", e.UID, e.GID, hdr.Uid, hdr.Gid)
	case hdr.Size != e.Size:
		return problem(e.Path, "has size %d in the manifest but %d in the tar stream", e.Size, hdr.Size)
	}
	return nil
}

// hashingReader counts and hashes what passes through and remembers a
// read failure, so Walk can blame the archive rather than fn.
type hashingReader struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	err error
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	if err != nil && err != io.EOF && hr.err == nil {
		hr.err = err
	}
	return n, err
}

func drainZeros(r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if slices.ContainsFunc(buf[:n], func(b byte) bool { return b != 0 }) {
			return errors.New("has data after the end of the tar stream")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("compressed stream is damaged: %v", err)
		}
	}
}

// Verify reads the whole archive at path and checks every entry against
// its manifest.
func Verify(path string) error {
	r, err := Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.Walk(func(_ Entry, content io.Reader) error {
		_, err := io.Copy(io.Discard, content)
		return err
	})
}
