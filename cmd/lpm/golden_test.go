package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from what lpm prints")

// Volatile values are replaced before comparing: the root's temp path,
// times, hashes and sizes of what this machine's gcc built.
var (
	goldenTime = regexp.MustCompile(`"(started|install_time)": "[^"]*"`)
	goldenHash = regexp.MustCompile(`"[0-9a-f]{64}"`)
	goldenSize = regexp.MustCompile(`"size": [0-9]+`)
	goldenKey  = regexp.MustCompile(`"([^"]*)": `)
	snakeCase  = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
)

// golden checks one command's --json output against
// testdata/golden/NAME.json: one style (snake_case keys), [] for empty
// lists and never null, and no change unnoticed in review.
func (r *testRoot) golden(name string, code int, args ...string) {
	r.t.Helper()
	out, errOut, got := r.lpm(append([]string{"--json"}, args...)...)
	if got != code {
		r.t.Fatalf("lpm --json %s: exit %d, want %d\n%s", strings.Join(args, " "), got, code, errOut)
	}
	for _, m := range goldenKey.FindAllStringSubmatch(out, -1) {
		if !snakeCase.MatchString(m[1]) {
			r.t.Errorf("lpm --json %s: key %q is not snake_case", strings.Join(args, " "), m[1])
		}
	}
	if strings.Contains(out, "null") {
		r.t.Errorf("lpm --json %s prints null:\n%s", strings.Join(args, " "), out)
	}
	norm := strings.ReplaceAll(out, r.dir, "$ROOT")
	norm = strings.ReplaceAll(norm, repo(r.t), "$REPO")
	norm = goldenTime.ReplaceAllString(norm, `"$1": "$$TIME"`)
	norm = goldenHash.ReplaceAllString(norm, `"$$SHA256"`)
	norm = goldenSize.ReplaceAllString(norm, `"size": "$$SIZE"`)
	file := filepath.Join("testdata/golden", name+".json")
	if *update {
		os.MkdirAll(filepath.Dir(file), 0o755)
		if err := os.WriteFile(file, []byte(norm), 0o644); err != nil {
			r.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		r.t.Fatalf("%v (make it with go test -run %s -update)", err, r.t.Name())
	}
	if !bytes.Equal(want, []byte(norm)) {
		r.t.Errorf("lpm --json %s differs from %s (go test -run %s -update rewrites it):\n%s", strings.Join(args, " "), file, r.t.Name(), diffLines(string(want), norm))
	}
}

func TestJSONOutputMatchesTheGoldenFiles(t *testing.T) {
	r := newRoot(t)
	broken := r.path("srv/ports")
	writePort(t, broken, "broken", "name = \"broken\"\nversion = \n")
	// Empty answers on a root with nothing installed.
	r.golden("list-empty", 0, "list")
	r.golden("history-empty", 0, "history")
	r.golden("verify-empty", 0, "verify")
	r.golden("plan-install", 0, "install", "--dry-run", "hello")

	r.ok("install", "libgreet@1.0.0")
	r.ok("upgrade")
	r.ok("install", "hello")
	os.WriteFile(r.path("etc/greet.conf"), []byte("greeting = Howdy\n"), 0o644)
	r.golden("list", 0, "list")
	r.golden("info-installed", 0, "info", "hello")
	r.golden("info-port", 0, "info", "libgreet@1.0.0")
	r.golden("files", 0, "files", "libgreet")
	r.golden("owns", 1, "owns", "/usr/bin/hello", "/lib/libgreet.so.1", "/etc/passwd")
	r.golden("search", 0, "search", "greet")
	r.golden("verify", 0, "verify")
	r.golden("history", 0, "history")
	r.golden("why", 0, "why", "libgreet")
	r.golden("plan-downgrade", 0, "install", "--dry-run", "libgreet@1.0.0")
	r.golden("plan-upgrade-none", 0, "upgrade", "--dry-run")
	r.golden("check-libs", 1, "check-libs")
	r.golden("lint", 1, "lint", broken)
}
