// Package fetch downloads a port's source files into the distfiles cache
// and proves they are the files the port author checksummed.
//
// It owns the distfiles directory: a file appears there under its final
// name only after its checksum matched, so anything found there by name and
// hash is trusted and used without touching the network. Downloads go to a
// hidden temporary file beside it and are renamed into place, over a
// cached copy of the same name only once they verified.
//
// It must never write outside Distfiles, never hand back a file whose
// checksum was not checked, and never accept a source with no checksum.
// Mirrors are tried before the upstream URL; a mirror that is missing the
// file or serves the wrong bytes only moves on to the next one, and the
// final error lists every URL tried and why each failed.
package fetch

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lfs-lpm/lpm/progress"
)

// Source is one file a port needs.
type Source struct {
	URL    string
	SHA256 string // hex; preferred
	MD5    string // hex; accepted for old ports, with a warning
	Name   string // file name in Distfiles; default: last element of URL's path
}

// Fetcher fetches sources into Distfiles.
type Fetcher struct {
	Distfiles string   // cache directory, checked first
	Mirrors   []string // base URLs tried in order before a source's own URL
	Client    *http.Client
	Progress  *progress.Printer // nil prints nothing
}

// ErrNoChecksum is returned for a source with neither SHA256 nor MD5.
var ErrNoChecksum = errors.New("no checksum; add sha256 to the port")

// ErrNotFound is wrapped by attempts where the file does not exist at a URL.
var ErrNotFound = errors.New("not found")

// ErrTooLarge is wrapped by Get when a file is larger than its limit.
var ErrTooLarge = errors.New("too large")

// MismatchError says a file's content is not what the port expects.
type MismatchError struct {
	Algo     string // "sha256" or "md5"
	Expected string
	Actual   string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s mismatch: expected %s, got %s", e.Algo, e.Expected, e.Actual)
}

// Attempt is one URL tried and why it failed.
type Attempt struct {
	URL string
	Err error
}

// Error is returned when no URL produced the file. It prints on one line.
type Error struct {
	Name     string
	Attempts []Attempt // in the order tried
}

func (e *Error) Error() string {
	if len(e.Attempts) == 0 {
		return fmt.Sprintf("fetch %s: no URL to fetch from; set url in the port or configure a mirror", e.Name)
	}
	parts := make([]string, len(e.Attempts))
	for i, a := range e.Attempts {
		parts[i] = a.URL + ": " + a.Err.Error()
	}
	return "fetch " + e.Name + ": " + strings.Join(parts, "; ")
}

// Unwrap exposes every attempt's error to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Attempts))
	for i, a := range e.Attempts {
		errs[i] = a.Err
	}
	return errs
}

// stallTimeout aborts a download that has received no data for this long;
// tests shorten it.
var stallTimeout = 2 * time.Minute

// Fetch returns the path of s's file in Distfiles, downloading it if the
// cache lacks it or holds a copy with the wrong checksum.
func (f *Fetcher) Fetch(ctx context.Context, s Source) (string, error) {
	name, err := s.fileName()
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", s.URL, err)
	}
	want, err := s.sums()
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", name, err)
	}
	if f.Distfiles == "" {
		return "", fmt.Errorf("fetch %s: no distfiles directory configured", name)
	}
	if want.sha256 == "" {
		f.Progress.Printf("warning: %s verified by md5 only (weak); add sha256", name)
	}
	if err := os.MkdirAll(f.Distfiles, 0o755); err != nil {
		return "", fmt.Errorf("fetch %s: create distfiles directory: %w", name, err)
	}

	final := filepath.Join(f.Distfiles, name)
	err = VerifyFile(final, s)
	var mismatch *MismatchError
	switch {
	case err == nil:
		return final, nil
	case errors.As(err, &mismatch):
		// Every file here verified when it arrived, so this is most likely
		// another port's file of the same name (or this port's checksum is
		// wrong). It stays until a download that verifies replaces it: one
		// port's mistake must not cost another port its good copy.
		f.Progress.Printf("%s: cached copy has the wrong %s for this port; fetching it again (the cached copy stays unless the download verifies)", final, mismatch.Algo)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("fetch %s: %w; remove it from the distfiles directory", name, err)
	}

	fail := &Error{Name: name}
	for _, u := range f.urls(s, name) {
		err := f.download(ctx, u, name, final, want)
		if err == nil {
			return final, nil
		}
		fail.Attempts = append(fail.Attempts, Attempt{URL: u, Err: err})
		if ctx.Err() != nil {
			break // cancelled: the remaining URLs would fail the same way
		}
	}
	return "", fail
}

// VerifyFile checks the file at path against s's checksums: sha256 if
// given, md5 if given, both if both are.
func VerifyFile(path string, s Source) error {
	want, err := s.sums()
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	file, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in our message
		}
		return fmt.Errorf("verify %s: %w", path, err)
	}
	defer file.Close()
	h := want.hashers()
	if _, err := io.Copy(h, file); err != nil {
		return fmt.Errorf("verify %s: read: %w", path, err)
	}
	if err := want.check(h); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	return nil
}

// fileName is the name s is stored under, refusing anything that is not
// a plain file name so that nothing lands outside Distfiles.
func (s Source) fileName() (string, error) {
	name := s.Name
	if name == "" {
		if s.URL == "" {
			return "", errors.New("source has neither url nor name")
		}
		u, err := url.Parse(s.URL)
		if err != nil {
			return "", fmt.Errorf("bad URL: %w", err)
		}
		if u.Path == "" || strings.HasSuffix(u.Path, "/") {
			return "", errors.New("cannot take a file name from the URL; set name in the port")
		}
		name = path.Base(u.Path)
	}
	if name == "." || name == ".." || strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("file name %q is not a plain file name; set name in the port", name)
	}
	return name, nil
}

// sums holds the expected checksums, lower-case hex.
type sums struct{ sha256, md5 string }

func (s Source) sums() (sums, error) {
	w := sums{sha256: strings.ToLower(strings.TrimSpace(s.SHA256)), md5: strings.ToLower(strings.TrimSpace(s.MD5))}
	if w.sha256 == "" && w.md5 == "" {
		return w, ErrNoChecksum
	}
	if w.sha256 != "" && !isHex(w.sha256, sha256.Size) {
		return w, fmt.Errorf("sha256 %q is not %d hex digits; fix the port", s.SHA256, 2*sha256.Size)
	}
	if w.md5 != "" && !isHex(w.md5, md5.Size) {
		return w, fmt.Errorf("md5 %q is not %d hex digits; fix the port", s.MD5, 2*md5.Size)
	}
	return w, nil
}

func isHex(s string, size int) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == size
}

// hashes feeds one read of the content to every checksum the port gave.
type hashes struct{ sha256, md5 hash.Hash }

func (h hashes) Write(p []byte) (int, error) {
	if h.sha256 != nil {
		h.sha256.Write(p)
	}
	if h.md5 != nil {
		h.md5.Write(p)
	}
	return len(p), nil
}

func (w sums) hashers() hashes {
	var h hashes
	if w.sha256 != "" {
		h.sha256 = sha256.New()
	}
	if w.md5 != "" {
		h.md5 = md5.New()
	}
	return h
}

func (w sums) check(h hashes) error {
	if h.sha256 != nil {
		if got := hex.EncodeToString(h.sha256.Sum(nil)); got != w.sha256 {
			return &MismatchError{Algo: "sha256", Expected: w.sha256, Actual: got}
		}
	}
	if h.md5 != nil {
		if got := hex.EncodeToString(h.md5.Sum(nil)); got != w.md5 {
			return &MismatchError{Algo: "md5", Expected: w.md5, Actual: got}
		}
	}
	return nil
}

// urls lists where to look, in order: each mirror, then the source's own
// URL, without repeats.
func (f *Fetcher) urls(s Source, name string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, m := range f.Mirrors {
		add(strings.TrimRight(m, "/") + "/" + url.PathEscape(name))
	}
	add(s.URL)
	return out
}

// download fetches one URL into a temporary file in Distfiles and renames
// it to final only if the checksums match.
func (f *Fetcher) download(ctx context.Context, rawURL, name, final string, want sums) (err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("bad URL: %w", err)
	}
	var body io.ReadCloser
	var size int64
	switch u.Scheme {
	case "http", "https":
		body, size, err = f.get(ctx, rawURL, 0)
	case "file":
		body, size, err = openLocal(u)
	default:
		return fmt.Errorf("unsupported URL scheme %q (use http, https or file)", u.Scheme)
	}
	if err != nil {
		return err
	}
	defer body.Close()

	tmp, err := os.CreateTemp(f.Distfiles, "."+name+".part-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	bar := f.Progress.Start("fetching "+name, size, progress.Bytes)
	defer func() {
		if err != nil {
			bar.Finish(fmt.Errorf("%s: %w", rawURL, err))
			return
		}
		bar.Finish(nil)
	}()

	h := want.hashers()
	got, err := io.Copy(io.MultiWriter(tmp, h), bar.Proxy(body))
	// A connection cut mid-way over HTTP resumes where it broke (Range),
	// a few times, into the same temporary file: the hash goes on over
	// the bytes as they arrive.
	for resumes := 0; err != nil && resumes < maxResumes && u.Scheme != "file" && resumable(ctx, err); resumes++ {
		body.Close()
		var more io.ReadCloser
		if more, _, err = f.get(ctx, rawURL, got); err != nil {
			break
		}
		body = more
		var n int64
		n, err = io.Copy(io.MultiWriter(tmp, h), bar.Proxy(body))
		got += n
	}
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if err := want.check(h); err != nil {
		return err
	}
	// Flush before the rename so a crash cannot leave a verified name
	// holding unverified bytes.
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("store %s: %w", final, err)
	}
	return nil
}

func (f *Fetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return defaultClient
}

// defaultClient has timeouts for every phase except the body, which may
// take long on a slow link; stalls there are caught by stallTimeout.
var defaultClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 30 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t}
}()

// maxResumes is how many times one download resumes after a cut.
const maxResumes = 3

// resumable reports whether a download that failed with err may go on
// from where it stopped: the connection broke, not the caller's context
// and not a stalled server (which would only stall again).
func resumable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !strings.Contains(err.Error(), "the server stalled") &&
		(errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET))
}

// get opens an HTTP download, from byte offset from when it is above 0 (a
// resume, which needs the server's 206 for exactly that range).
func (f *Fetcher) get(ctx context.Context, rawURL string, from int64) (io.ReadCloser, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		cancel()
		return nil, 0, fmt.Errorf("bad URL: %w", err)
	}
	req.Header.Set("User-Agent", "lpm")
	// Ask for the bytes as stored. Otherwise Go's transport would
	// transparently gunzip a .tar.gz served with Content-Encoding: gzip,
	// and the checksum would never match.
	req.Header.Set("Accept-Encoding", "identity")
	if from > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	}
	resp, err := f.client().Do(req)
	if err != nil {
		cancel()
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is already in our message
		}
		return nil, 0, err
	}
	if from > 0 {
		if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", from)) {
			resp.Body.Close()
			cancel()
			return nil, 0, fmt.Errorf("the connection broke and the server cannot resume (HTTP %s)", resp.Status)
		}
		return newStallReader(resp.Body, cancel), resp.ContentLength, nil
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			return nil, 0, fmt.Errorf("%w (HTTP %s)", ErrNotFound, resp.Status)
		}
		return nil, 0, fmt.Errorf("HTTP %s", resp.Status)
	}
	return newStallReader(resp.Body, cancel), resp.ContentLength, nil
}

// stallReader cancels a download that receives nothing for stallTimeout.
type stallReader struct {
	body    io.ReadCloser
	cancel  context.CancelFunc
	timer   *time.Timer
	limit   time.Duration
	stalled atomic.Bool
}

func newStallReader(body io.ReadCloser, cancel context.CancelFunc) *stallReader {
	s := &stallReader{body: body, cancel: cancel, limit: stallTimeout}
	s.timer = time.AfterFunc(s.limit, func() {
		s.stalled.Store(true)
		cancel()
	})
	return s
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if n > 0 {
		s.timer.Reset(s.limit)
	}
	if err != nil && err != io.EOF && s.stalled.Load() {
		err = fmt.Errorf("no data for %s; the server stalled", s.limit)
	}
	return n, err
}

func (s *stallReader) Close() error {
	s.timer.Stop()
	s.cancel()
	return s.body.Close()
}

// openLocal opens a file:// URL, which names a path on this machine.
func openLocal(u *url.URL) (io.ReadCloser, int64, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, 0, fmt.Errorf("file URL names host %q; only local files are supported", u.Host)
	}
	if !filepath.IsAbs(u.Path) {
		return nil, 0, fmt.Errorf("file URL path %q is not absolute", u.Path)
	}
	file, err := os.Open(u.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		file.Close()
		return nil, 0, fmt.Errorf("not a regular file")
	}
	return file, fi.Size(), nil
}

// Get reads a small file from an http, https or file URL, such as a
// repository's index, whose checksum nobody knows in advance (its
// signature is checked by the caller). It refuses more than limit bytes.
func (f *Fetcher) Get(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: bad URL: %w", rawURL, err)
	}
	var body io.ReadCloser
	switch u.Scheme {
	case "http", "https":
		body, _, err = f.get(ctx, rawURL, 0)
	case "file":
		body, _, err = openLocal(u)
	default:
		err = fmt.Errorf("unsupported URL scheme %q (use http, https or file)", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawURL, err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawURL, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes; refused", rawURL, ErrTooLarge, limit)
	}
	return data, nil
}
