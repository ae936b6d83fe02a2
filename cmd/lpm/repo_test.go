package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pkgrepo "github.com/lfs-lpm/lpm/repo"
)

// publisher is a machine that built the demo ports and published them.
type publisher struct {
	root *testRoot
	key  string // the secret key's file; its public key is key+".pub"
	pub  string // the public key's base64 line
	dir  string // the repository directory
}

// publish builds hello (libgreet and mkbanner with it) on a root of its
// own and makes a signed repository of its package cache.
func publish(t *testing.T) *publisher {
	t.Helper()
	p := &publisher{root: newRoot(t), dir: filepath.Join(t.TempDir(), "repo")}
	p.root.ok("install", "hello")
	p.key = filepath.Join(t.TempDir(), "lpm.key")
	out := p.root.ok("key", "generate", p.key)
	_, p.pub, _ = strings.Cut(strings.TrimSpace(out), ": ")
	p.root.ok("repo", "create", p.dir, "--from-cache", "--key", p.key)
	return p
}

// serve serves dir over HTTP on 127.0.0.1 for the rest of the test.
func serve(t *testing.T, dir string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// copyDir copies a repository so that a test can tamper with its copy.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// client is a fresh root that can build nothing: its mirrors are empty, so
// no source can be fetched, and lpm runs with no compiler on its PATH.
func client(t *testing.T, url, key string) *testRoot {
	t.Helper()
	r := newRoot(t)
	conf := fmt.Sprintf(`mirrors = ["file://%s"]
[build]
jobs = 2
[[repository]]
name = "builder"
url = %q
key = %q
`, t.TempDir(), url, key)
	if err := os.WriteFile(r.path("etc/lpm/lpm.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// noCompiler runs lpm with a PATH that holds no compiler: a shell and
// the tools of the shipped hooks only.
func noCompiler(t *testing.T) {
	t.Helper()
	bin := t.TempDir()
	for _, tool := range []string{"bash", "sh", "ldconfig", "install-info"} {
		if p, err := exec.LookPath(tool); err == nil {
			os.Symlink(p, filepath.Join(bin, tool))
		}
	}
	t.Setenv("PATH", bin)
}

func readIndex(t *testing.T, dir string) *pkgrepo.Index {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, pkgrepo.IndexName))
	if err != nil {
		t.Fatal(err)
	}
	var ix pkgrepo.Index
	if err := json.Unmarshal(data, &ix); err != nil {
		t.Fatal(err)
	}
	return &ix
}

func TestARepositoryInstallsOnAMachineThatBuildsNothing(t *testing.T) {
	p := publish(t)
	ix := readIndex(t, p.dir)
	var names []string
	for _, e := range ix.Entries {
		names = append(names, e.Name)
		if len(e.BuildHash) != 64 || len(e.SHA256) != 64 || e.Size == 0 {
			t.Errorf("index entry %+v lacks its build hash, sha256 or size", e)
		}
		if e.Name == "libgreet" && len(e.Sonames) == 0 {
			t.Errorf("libgreet's entry lists no soname: %+v", e)
		}
	}
	if got := strings.Join(names, " "); got != "hello libgreet mkbanner" {
		t.Errorf("the index lists %q, want hello libgreet mkbanner", got)
	}
	if time.Until(ix.Expires) < 29*24*time.Hour || ix.Serial == 0 {
		t.Errorf("serial %d expires %v: want a serial and 30 days", ix.Serial, ix.Expires)
	}
	// Debian's minisign verifies what lpm signed.
	if mini, err := exec.LookPath("minisign"); err == nil {
		out, err := exec.Command(mini, "-V", "-m", filepath.Join(p.dir, pkgrepo.IndexName), "-p", p.key+".pub").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Signature and comment signature verified") {
			t.Errorf("minisign does not verify the index: %v\n%s", err, out)
		}
	} else {
		t.Log("minisign is not installed (apt-get install minisign); its check is skipped")
	}

	url := serve(t, p.dir)
	c := client(t, url, p.pub)
	noCompiler(t)
	if plan := c.ok("install", "--dry-run", "hello"); !strings.Contains(plan, "explicit, from repository builder") || strings.Contains(plan, "build ") {
		t.Errorf("the plan should install hello from the repository and build nothing:\n%s", plan)
	}
	if _, err := os.Stat(c.path("var/lib/lpm/repositories.json")); err == nil {
		t.Errorf("a --dry-run plan recorded the serial it saw")
	}
	c.ok("install", "hello")
	c.ok("verify")
	if logs, _ := os.ReadDir(c.path("var/log/lpm/build")); len(logs) > 0 {
		t.Errorf("the client built something: %v", logs)
	}
	out := c.ok("--json", "list")
	if !strings.Contains(out, `"hello"`) || !strings.Contains(out, `"libgreet"`) || strings.Contains(out, `"mkbanner"`) {
		t.Errorf("installed: %s; want hello and libgreet, not the build-only mkbanner", out)
	}
	if data, err := os.ReadFile(filepath.Join(c.dir, "var/lib/lpm/repositories.json")); err != nil || !strings.Contains(string(data), fmt.Sprint(ix.Serial)) {
		t.Errorf("the serial seen is not recorded: %v %s", err, data)
	}
}

func TestARepositoryIsRefusedWhenTamperedWithReplayedOrExpired(t *testing.T) {
	p := publish(t)
	ix := readIndex(t, p.dir)
	otherKey := filepath.Join(t.TempDir(), "other.key")
	out := p.root.ok("key", "generate", otherKey)
	_, otherPub, _ := strings.Cut(strings.TrimSpace(out), ": ")
	key, err := pkgrepo.ReadKey(p.key)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(ix *pkgrepo.Index, name string) *pkgrepo.Entry {
		for i := range ix.Entries {
			if ix.Entries[i].Name == name {
				return &ix.Entries[i]
			}
		}
		t.Fatalf("no %s in the index", name)
		return nil
	}
	hello := entry(ix, "hello").File

	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string) // on a copy of the repository
		key    string                         // the client's key; the publisher's if ""
		seen   func(t *testing.T, c *testRoot, url string)
		want   []string
	}{
		{
			name: "a tampered archive",
			tamper: func(t *testing.T, dir string) {
				f := filepath.Join(dir, hello)
				data, _ := os.ReadFile(f)
				data[len(data)/2] ^= 0xff
				os.WriteFile(f, data, 0o644)
			},
			want: []string{"repository builder", "archive " + hello, "sha256 mismatch"},
		},
		{
			name: "a tampered index",
			tamper: func(t *testing.T, dir string) {
				f := filepath.Join(dir, pkgrepo.IndexName)
				data, _ := os.ReadFile(f)
				os.WriteFile(f, []byte(strings.Replace(string(data), `"release": 1`, `"release": 2`, 1)), 0o644)
			},
			want: []string{"repository builder", "index.json", "signature does not match"},
		},
		{
			name: "an index signed by another key",
			key:  otherPub,
			want: []string{"repository builder", "index.json", "signed by key", "not by the key lpm.toml lists"},
		},
		{
			name:   "an index without a signature",
			tamper: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, pkgrepo.SignatureName)) },
			want:   []string{"repository builder", "index.json", "no signature"},
		},
		{
			name: "an older index replayed",
			tamper: func(t *testing.T, dir string) {
				old := *ix
				old.Serial--
				if err := pkgrepo.WriteIndex(dir, &old, key); err != nil {
					t.Fatal(err)
				}
			},
			seen: func(t *testing.T, c *testRoot, url string) {
				// The client has seen the current index already.
				c.ok("install", "libgreet")
			},
			want: []string{"repository builder", "index.json", fmt.Sprintf("serial %d is older than serial %d", ix.Serial-1, ix.Serial), "replayed"},
		},
		{
			name: "an expired index",
			tamper: func(t *testing.T, dir string) {
				old := *ix
				old.Expires = time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
				if err := pkgrepo.WriteIndex(dir, &old, key); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"repository builder", "index.json", "expired"},
		},
		{
			name: "an archive whose manifest is not its index entry",
			tamper: func(t *testing.T, dir string) {
				// Signed with the right key, but hello's entry points at
				// libgreet's archive under hello's name.
				forged := *ix
				forged.Entries = append([]pkgrepo.Entry{}, ix.Entries...)
				lib := *entry(&forged, "libgreet")
				h := entry(&forged, "hello")
				data, _ := os.ReadFile(filepath.Join(dir, lib.File))
				os.WriteFile(filepath.Join(dir, h.File), data, 0o644)
				h.SHA256, h.Size = lib.SHA256, lib.Size
				if err := pkgrepo.WriteIndex(dir, &forged, key); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"repository builder", "archive " + hello, "its manifest has", `name "libgreet" where the index says "hello"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, p.dir)
			url := serve(t, dir)
			k := p.pub
			if tc.key != "" {
				k = tc.key
			}
			c := client(t, url, k)
			if tc.seen != nil {
				tc.seen(t, c, url)
			}
			if tc.tamper != nil {
				tc.tamper(t, dir)
			}
			before := c.state()
			t.Logf("refused: %s", c.fails(tc.want, "install", "hello"))
			c.unchanged(before)
			if _, err := os.Stat(c.path("var/cache/lpm/packages/" + hello)); err == nil {
				t.Errorf("the refused archive %s is in the package cache", hello)
			}
		})
	}
}

func TestSourceBuildsAreForcedOrForbiddenByBuildFrom(t *testing.T) {
	p := publish(t)
	url := serve(t, p.dir)
	c := client(t, url, p.pub)
	// With build.from = source the client builds, and here it cannot
	// fetch the sources.
	c.fails([]string{"fetch"}, "install", "--build-from", "source", "hello")
	// A port no repository has cannot be installed with --build-from repository.
	tree := t.TempDir()
	writePort(t, tree, "solo", "name = \"solo\"\nversion = \"1.0\"\n[build]\ninstall = 'mkdir -p \"$DESTDIR/usr/share/solo\"; echo > \"$DESTDIR/usr/share/solo/x\"'\n")
	c.ports = append([]string{tree}, c.ports...)
	c.fails([]string{"build.from = repository", "solo"}, "install", "--build-from", "repository", "solo")
	c.ok("install", "--build-from", "repository", "hello")
}

func TestARepositorysArchivesComeFromItsMirrorsFirst(t *testing.T) {
	p := publish(t)
	mirror := serve(t, p.dir)
	dir := copyDir(t, p.dir)
	hello := ""
	for _, e := range readIndex(t, dir).Entries {
		if e.Name == "hello" {
			hello = e.File
		}
	}
	os.Remove(filepath.Join(dir, hello)) // only the mirror has it now
	c := client(t, serve(t, dir), p.pub)
	conf, _ := os.ReadFile(c.path("etc/lpm/lpm.toml"))
	conf = append(conf, fmt.Sprintf("mirrors = [%q]\n", mirror)...)
	os.WriteFile(c.path("etc/lpm/lpm.toml"), conf, 0o644)
	c.ok("install", "hello")
	c.ok("verify")
}

func TestAnUnreachableRepositoryIsSkippedWithAWarning(t *testing.T) {
	p := publish(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	c := client(t, url, p.pub)
	_, errOut, code := c.lpm("install", "hello")
	// It builds from source instead, and this client cannot fetch sources.
	if code != 1 || !strings.Contains(errOut, "warning: repository builder: ") || !strings.Contains(errOut, "building from source what only it has") || !strings.Contains(errOut, "fetch ") {
		t.Errorf("exit %d:\n%s", code, errOut)
	}
}
