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
