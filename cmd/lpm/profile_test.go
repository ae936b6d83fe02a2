package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --cpuprofile FILE writes a profile of the whole command that go tool
// pprof reads (gzip-compressed protocol buffers), and stays out of --help.
func TestCPUProfileFlagWritesAProfileOfTheCommand(t *testing.T) {
	r := newRoot(t)
	prof := filepath.Join(t.TempDir(), "list.prof")
	r.ok("--cpuprofile", prof, "list")
	data, err := os.ReadFile(prof)
	if err != nil {
		t.Fatalf("no profile written: %v", err)
	}
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		t.Errorf("the profile is not gzip-compressed pprof data: % x", data[:min(8, len(data))])
	}
	if help := r.ok("--help"); strings.Contains(help, "cpuprofile") {
		t.Errorf("--help lists the hidden --cpuprofile:\n%s", help)
	}
}

// --timings prints one line per transaction step, in Apply's order, to
// stderr, and stays out of --help.
func TestTimingsFlagNamesEveryTransactionStep(t *testing.T) {
	r := newRoot(t)
	_, errOut, code := r.lpm("--timings", "install", "--file", packFiles(t, "t", "1.0", map[string]string{"usr/share/t/a": "a\n"}))
	if code != 0 {
		t.Fatalf("lpm --timings install: exit %d\n%s", code, errOut)
	}
	at := -1
	for _, step := range []string{"plan and check", "journal", "stage", "apply", "smoke test and commit", "finish"} {
		i := strings.Index(errOut, "lpm: "+step+" ")
		if i <= at {
			t.Errorf("step %q missing or out of order in:\n%s", step, errOut)
		}
		at = i
	}
	if help := r.ok("--help"); strings.Contains(help, "timings") {
		t.Errorf("--help lists the hidden --timings:\n%s", help)
	}
}
