package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Removing a package unlinks each of its paths once and removes each
// directory once: the kernel's work for a path, and no more (a directory
// took a failed unlink before its rmdir). strace counts the calls.
func TestRemoveMakesOneSystemCallAPath(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed")
	}
	const dirs, perDir = 12, 25
	files := map[string]string{}
	for d := range dirs {
		for i := range perDir {
			p := fmt.Sprintf("usr/share/many/d%02d/f%03d", d, i)
			files[p] = p
		}
	}
	pkg := packFiles(t, "many", "1.0", files)
	r := newRoot(t)
	r.ok("install", "--file", pkg)

	calls := unlinkCalls(t, r, "remove", "many")
	if _, err := os.Stat(r.path("usr/share/many")); !os.IsNotExist(err) {
		t.Fatalf("usr/share/many is still there after the removal (%v)", err)
	}
	// The files, their directories, usr/share/many and usr/share (the
	// install made it; usr was there before).
	paths := dirs*perDir + dirs + 2
	if calls != paths {
		t.Errorf("removing %d paths made %d unlink and rmdir calls", paths, calls)
	}
}

// unlinkCalls runs lpm with args on r under strace and returns how many
// unlink, unlinkat and rmdir calls it made; strace's table goes into the
// test's log.
func unlinkCalls(t *testing.T, r *testRoot, args ...string) int {
	t.Helper()
	return straceCalls(t, r, []string{"unlink", "unlinkat", "rmdir"}, args...)
}

// straceCalls runs lpm with args on r under strace and returns how many
// calls of the system calls named it made; strace's table goes into the
// test's log.
func straceCalls(t *testing.T, r *testRoot, calls []string, args ...string) int {
	t.Helper()
	counts := filepath.Join(t.TempDir(), "strace")
	argv := append([]string{"-f", "-c", "-o", counts, "-e", "trace=" + strings.Join(calls, ","),
		lpmBin, "--root", r.dir, "--yes", "-q"}, args...)
	cmd := exec.Command("strace", argv...)
	cmd.Env = append(os.Environ(), "LPM_CONFIG=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lpm %s under strace: %v\n%s", strings.Join(args, " "), err, out)
	}
	data, err := os.ReadFile(counts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("strace -c of lpm %s:\n%s", strings.Join(args, " "), data)
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && slices.Contains(calls, f[len(f)-1]) {
			var c int
			fmt.Sscan(f[3], &c)
			n += c
		}
	}
	return n
}
