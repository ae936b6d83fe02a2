package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lfs-lpm/lpm/progress"
)

const name = "zlib-1.3.1.tar.gz"

// tarball is a real gzip'd tar, the kind of file fetch exists for.
func tarball(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	body := []byte(strings.Repeat("/* zlib */\n", 500))
	if err := tw.WriteHeader(&tar.Header{Name: "zlib-1.3.1/zlib.h", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(body)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(b []byte) string    { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// server serves good bytes under /good/, /good2/ and /enc/ (the last with a
// misleading Content-Encoding), wrong bytes under /bad/, a stalled body
// under /stall/ and 404 elsewhere. It counts requests per path.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newServer(t *testing.T, good []byte) *server {
	s := &server{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		hit := s.hits[r.URL.Path]
		s.mu.Unlock()
		dir, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch dir {
		case "good", "good2":
			w.Write(good)
		case "enc":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(good)
		case "bad":
			w.Write([]byte("<html>this is an error page, not a tarball</html>"))
		case "cut", "cutnorange":
			// The first request breaks half-way; later ones serve ranges
			// ("cut") or only the whole file again ("cutnorange").
			if hit == 1 || dir == "cutnorange" && r.Header.Get("Range") != "" {
				if hit > 1 {
					w.Write(good) // a 200 that ignores the range
					return
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(good)))
				w.Write(good[:len(good)/2])
				w.(http.Flusher).Flush()
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			}
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(good))
		case "stall":
			w.Header().Set("Content-Length", strconv.Itoa(len(good)))
			w.Write(good[:10])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) hit(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *server) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.hits {
		n += v
	}
	return n
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// fileMirror makes a directory holding name with the given bytes and
// returns its file:// URL.
func fileMirror(t *testing.T, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	if data != nil {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return "file://" + dir
}

func assertStored(t *testing.T, distfiles, got string, want []byte) {
	t.Helper()
	if got != filepath.Join(distfiles, name) {
		t.Fatalf("path = %q, want %q", got, filepath.Join(distfiles, name))
	}
	data, err := os.ReadFile(got)
	if err != nil || !bytes.Equal(data, want) {
		t.Fatalf("stored file differs from the source (%v)", err)
	}
	if names := listDir(t, distfiles); len(names) != 1 || names[0] != name {
		t.Fatalf("distfiles holds %v, want only %s (no temporary files)", names, name)
	}
}

func TestFetchDownloadsVerifiesAndStores(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	tests := []struct {
		name string
		path string
	}{
		{"a plain download is stored under its URL's file name", "/good/" + name},
		{"a tarball served with Content-Encoding gzip is stored as served, not unpacked", "/enc/" + name},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			distfiles := filepath.Join(t.TempDir(), "distfiles") // does not exist yet
			var out bytes.Buffer
			f := &Fetcher{Distfiles: distfiles, Progress: &progress.Printer{Out: &out}}
			got, err := f.Fetch(context.Background(), Source{URL: srv.URL + tt.path, SHA256: sha(good)})
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			assertStored(t, distfiles, got, good)
			if fi, err := os.Stat(got); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("stored file mode %v (%v), want 0644", fi.Mode(), err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 || lines[0] != "fetching "+name+" ("+strconv.Itoa(len(good))+" B)" || !strings.HasPrefix(lines[1], "fetched "+name+": ") {
				t.Errorf("progress lines %q", lines)
			}
			if strings.Contains(out.String(), "\r") {
				t.Errorf("progress wrote a carriage return to a buffer")
			}
		})
	}
}

func TestACachedFileIsUsedWithoutTheNetwork(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	url := srv.URL + "/good/" + name
	srv.Close() // any network use would now fail

	distfiles := t.TempDir()
	if err := os.WriteFile(filepath.Join(distfiles, name), good, 0o644); err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Distfiles: distfiles, Mirrors: []string{"file:///nonexistent-mirror"}}
	got, err := f.Fetch(context.Background(), Source{URL: url, SHA256: sha(good)})
	if err != nil {
		t.Fatalf("Fetch with a good cached copy: %v", err)
	}
	assertStored(t, distfiles, got, good)
}

func TestACachedFileWithTheWrongHashIsFetchedAgain(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	distfiles := t.TempDir()
	if err := os.WriteFile(filepath.Join(distfiles, name), []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	f := &Fetcher{Distfiles: distfiles, Progress: &progress.Printer{Out: &out}}
	got, err := f.Fetch(context.Background(), Source{URL: srv.URL + "/good/" + name, SHA256: sha(good)})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	assertStored(t, distfiles, got, good)
	if srv.hit("/good/"+name) != 1 {
		t.Errorf("server hits = %d, want 1", srv.hit("/good/"+name))
	}
	if !strings.Contains(out.String(), "cached copy has the wrong sha256") {
		t.Errorf("no notice about the bad cached copy: %q", out.String())
	}
}

func TestFailedFetchesLeaveNothingAndNameEveryURL(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	missing := fileMirror(t, nil)
	tests := []struct {
		name    string
		mirrors []string
		url     string
		src     func(url string) Source
		want    []string // substrings, in order
	}{
		{
			name: "a sha256 mismatch names the URL and both hashes",
			url:  srv.URL + "/bad/" + name,
			src:  func(u string) Source { return Source{URL: u, SHA256: sha(good)} },
			want: []string{"fetch " + name + ": " + srv.URL + "/bad/" + name + ": sha256 mismatch: expected " + sha(good) + ", got " + sha([]byte("<html>this is an error page, not a tarball</html>"))},
		},
		{
			name: "an md5-only mismatch is reported as md5",
			url:  srv.URL + "/bad/" + name,
			src:  func(u string) Source { return Source{URL: u, MD5: md5hex(good)} },
			want: []string{srv.URL + "/bad/" + name + ": md5 mismatch: expected " + md5hex(good)},
		},
		{
			name: "a 404 says not found",
			url:  srv.URL + "/nowhere/" + name,
			src:  func(u string) Source { return Source{URL: u, SHA256: sha(good)} },
			want: []string{srv.URL + "/nowhere/" + name + ": not found (HTTP 404 Not Found)"},
		},
		{
			name:    "every mirror and the URL are listed in order with their reasons",
			mirrors: []string{missing, srv.URL + "/bad"},
			url:     srv.URL + "/nowhere/" + name,
			src:     func(u string) Source { return Source{URL: u, SHA256: sha(good)} },
			want: []string{
				"fetch " + name + ": " + missing + "/" + name + ": not found; ",
				srv.URL + "/bad/" + name + ": sha256 mismatch: expected " + sha(good) + ", got ",
				"; " + srv.URL + "/nowhere/" + name + ": not found (HTTP 404 Not Found)",
			},
		},
		{
			name: "an unknown scheme is an error",
			url:  "ftp://ftp.example.org/pub/" + name,
			src:  func(u string) Source { return Source{URL: u, SHA256: sha(good)} },
			want: []string{"ftp://ftp.example.org/pub/" + name + `: unsupported URL scheme "ftp"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			distfiles := t.TempDir()
			f := &Fetcher{Distfiles: distfiles, Mirrors: tt.mirrors}
			got, err := f.Fetch(context.Background(), tt.src(tt.url))
			if err == nil {
				t.Fatalf("Fetch succeeded with %q", got)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q lacks (in order) %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
			if names := listDir(t, distfiles); len(names) != 0 {
				t.Errorf("distfiles holds %v after a failed fetch", names)
			}
		})
	}
}

func TestMirrorsAreTriedInOrderBeforeTheURL(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	distfiles := t.TempDir()
	var out bytes.Buffer
	f := &Fetcher{
		Distfiles: distfiles,
		Mirrors:   []string{fileMirror(t, nil), srv.URL + "/bad/", srv.URL + "/good2", srv.URL + "/good"},
		Progress:  &progress.Printer{Out: &out},
	}
	got, err := f.Fetch(context.Background(), Source{URL: srv.URL + "/good/upstream/" + name, SHA256: sha(good)})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	assertStored(t, distfiles, got, good)
	for path, want := range map[string]int{
		"/bad/" + name:           1,
		"/good2/" + name:         1,
		"/good/" + name:          0,
		"/good/upstream/" + name: 0,
	} {
		if n := srv.hit(path); n != want {
			t.Errorf("%s requested %d times, want %d", path, n, want)
		}
	}
	if !strings.Contains(out.String(), "fetching "+name+": failed after ") || !strings.Contains(out.String(), srv.URL+"/bad/"+name+": sha256 mismatch") {
		t.Errorf("the bad mirror was not reported: %q", out.String())
	}
}

func TestAFileMirrorWorksWithoutTheNetwork(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	url := srv.URL + "/good/" + name
	srv.Close()
	distfiles := t.TempDir()
	f := &Fetcher{Distfiles: distfiles, Mirrors: []string{fileMirror(t, good)}}
	got, err := f.Fetch(context.Background(), Source{URL: url, SHA256: sha(good)})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	assertStored(t, distfiles, got, good)
}

func TestMD5OnlySourcesWarn(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	distfiles := t.TempDir()
	var out bytes.Buffer
	f := &Fetcher{Distfiles: distfiles, Progress: &progress.Printer{Out: &out}}
	src := Source{URL: srv.URL + "/good/" + name, MD5: strings.ToUpper(md5hex(good))}
	for i := 0; i < 2; i++ { // a download, then a cache hit: both warn
		got, err := f.Fetch(context.Background(), src)
		if err != nil {
			t.Fatalf("Fetch #%d: %v", i+1, err)
		}
		assertStored(t, distfiles, got, good)
	}
	warning := "warning: " + name + " verified by md5 only (weak); add sha256\n"
	if n := strings.Count(out.String(), warning); n != 2 {
		t.Errorf("warning printed %d times, want 2; output %q", n, out.String())
	}
	if srv.total() != 1 {
		t.Errorf("server hits = %d, want 1", srv.total())
	}
}

func TestSourcesThatCannotBeFetchedSafely(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"a source without a checksum is refused", Source{URL: srv.URL + "/good/" + name}, "fetch " + name + ": no checksum; add sha256 to the port"},
		{"a malformed sha256 is refused", Source{URL: srv.URL + "/good/" + name, SHA256: "abc"}, "is not 64 hex digits"},
		{"a name that climbs out of distfiles is refused", Source{URL: srv.URL + "/good/" + name, Name: "../" + name, SHA256: sha(good)}, "is not a plain file name"},
		{"a URL ending in a slash needs a name", Source{URL: srv.URL + "/good/", SHA256: sha(good)}, "set name in the port"},
		{"a hidden name is refused", Source{URL: srv.URL + "/good/.x", SHA256: sha(good)}, "is not a plain file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			distfiles := filepath.Join(parent, "distfiles")
			f := &Fetcher{Distfiles: distfiles}
			_, err := f.Fetch(context.Background(), tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if names := listDir(t, parent); len(names) > 1 || (len(names) == 1 && len(listDir(t, distfiles)) != 0) {
				t.Errorf("something was written: %v", names)
			}
		})
	}
	if srv.total() != 0 {
		t.Errorf("refused sources still reached the network %d times", srv.total())
	}
}

func TestAnExplicitNameOverridesTheURL(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	distfiles := t.TempDir()
	f := &Fetcher{Distfiles: distfiles}
	got, err := f.Fetch(context.Background(), Source{URL: srv.URL + "/good/download?id=3", Name: name, SHA256: sha(good)})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	assertStored(t, distfiles, got, good)
}

func TestACancelledFetchStopsAndSaysSo(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	distfiles := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &Fetcher{Distfiles: distfiles, Mirrors: []string{srv.URL + "/good"}}
	_, err := f.Fetch(ctx, Source{URL: srv.URL + "/good2/" + name, SHA256: sha(good)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	var fe *Error
	if !errors.As(err, &fe) || len(fe.Attempts) != 1 {
		t.Fatalf("want one attempt before stopping, got %v", err)
	}
	if names := listDir(t, distfiles); len(names) != 0 {
		t.Errorf("distfiles holds %v", names)
	}
}

func TestAStalledDownloadIsAbandoned(t *testing.T) {
	old := stallTimeout
	stallTimeout = 100 * time.Millisecond
	defer func() { stallTimeout = old }()
	good := tarball(t)
	srv := newServer(t, good)
	distfiles := t.TempDir()
	f := &Fetcher{Distfiles: distfiles, Mirrors: []string{srv.URL + "/stall"}}
	got, err := f.Fetch(context.Background(), Source{URL: srv.URL + "/good/" + name, SHA256: sha(good)})
	if err != nil {
		t.Fatalf("Fetch did not move on from the stalled mirror: %v", err)
	}
	assertStored(t, distfiles, got, good)

	f.Mirrors = nil
	os.Remove(got)
	_, err = f.Fetch(context.Background(), Source{URL: srv.URL + "/stall/" + name, SHA256: sha(good)})
	if err == nil || !strings.Contains(err.Error(), "the server stalled") {
		t.Fatalf("error %v, want a stall", err)
	}
}

func TestVerifyFile(t *testing.T) {
	good := tarball(t)
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, good, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		src  Source
		want string // "" means success
	}{
		{"the right sha256 verifies", p, Source{SHA256: sha(good)}, ""},
		{"the right sha256 and md5 verify", p, Source{SHA256: sha(good), MD5: md5hex(good)}, ""},
		{"a wrong sha256 names the file and both hashes", p, Source{SHA256: sha(nil)}, "verify " + p + ": sha256 mismatch: expected " + sha(nil) + ", got " + sha(good)},
		{"a wrong md5 fails even when sha256 matches", p, Source{SHA256: sha(good), MD5: md5hex(nil)}, "md5 mismatch"},
		{"a missing file names the path", filepath.Join(dir, "absent.tar.gz"), Source{SHA256: sha(good)}, "verify " + filepath.Join(dir, "absent.tar.gz") + ": no such file"},
		{"no checksum is an error", p, Source{}, "no checksum; add sha256 to the port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyFile(tt.path, tt.src)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("VerifyFile: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAWrongChecksumLeavesAnotherPortsCachedFileAlone(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	distfiles := t.TempDir()
	f := &Fetcher{Distfiles: distfiles}
	// One port fetched and verified the file.
	src := Source{URL: srv.URL + "/good/" + name, SHA256: sha(good)}
	if _, err := f.Fetch(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	// Another port names a file of the same name with a wrong checksum,
	// from a server that has the right file and from one that has not.
	for _, u := range []string{srv.URL + "/good/" + name, srv.URL + "/bad/" + name} {
		_, err := f.Fetch(context.Background(), Source{URL: u, SHA256: sha([]byte("another file"))})
		var mismatch *MismatchError
		if !errors.As(err, &mismatch) {
			t.Fatalf("Fetch with a wrong checksum from %s: %v, want a mismatch", u, err)
		}
	}
	got := filepath.Join(distfiles, name)
	if err := VerifyFile(got, src); err != nil {
		t.Fatalf("the first port's cached file was lost: %v", err)
	}
	if names := listDir(t, distfiles); len(names) != 1 {
		t.Errorf("distfiles holds %v, want only %s", names, name)
	}
	hits := srv.total()
	if _, err := f.Fetch(context.Background(), src); err != nil || srv.total() != hits {
		t.Errorf("the first port fetched again (%v, %d requests)", err, srv.total()-hits)
	}
}

func TestACutDownloadResumesWhereItBroke(t *testing.T) {
	good := tarball(t)
	srv := newServer(t, good)
	distfiles := t.TempDir()
	f := &Fetcher{Distfiles: distfiles}
	got, err := f.Fetch(context.Background(), Source{URL: srv.URL + "/cut/" + name, SHA256: sha(good)})
	if err != nil {
		t.Fatalf("a cut download did not resume: %v", err)
	}
	assertStored(t, distfiles, got, good)
	if n := srv.hit("/cut/" + name); n != 2 {
		t.Errorf("%d requests, want the first and one resume", n)
	}

	// A server that cannot resume fails the download, leaving nothing.
	_, err = f.Fetch(context.Background(), Source{URL: srv.URL + "/cutnorange/" + name, SHA256: sha(good), Name: "other.tar.gz"})
	if err == nil || !strings.Contains(err.Error(), "cannot resume") {
		t.Fatalf("error %v, want one saying the server cannot resume", err)
	}
	if names := listDir(t, distfiles); len(names) != 1 {
		t.Errorf("distfiles holds %v after a failed resume", names)
	}
}
