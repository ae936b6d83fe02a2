package main

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// An upgrade unlinks what it removes and the backups of what it replaced,
// once each, and nothing else: the temps it renamed over the old files
// are gone already, and looking for them again cost L's upgrade 2,000
// failed unlinks.
func TestAnUpgradeUnlinksOnlyWhatItRemovesAndItsBackups(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed")
	}
	const files, changed, removed, added = 40, 10, 10, 5
	pack := func(version string, names []string, content func(string) string) string {
		files := map[string]string{}
		for _, n := range names {
			files["usr/share/up/"+n] = content(n)
		}
		return packFiles(t, "up", version, files)
	}
	var v1, v2 []string
	for i := range files {
		v1 = append(v1, fmt.Sprintf("f%03d", i))
		if i < files-removed {
			v2 = append(v2, fmt.Sprintf("f%03d", i))
		}
	}
	for i := range added {
		v2 = append(v2, fmt.Sprintf("g%03d", i))
	}
	r := newRoot(t)
	r.ok("install", "--file", pack("1.0", v1, func(n string) string { return n + " 1.0\n" }))
	upgrade := pack("2.0", v2, func(n string) string {
		if n < fmt.Sprintf("f%03d", changed) {
			return n + " 2.0\n"
		}
		return n + " 1.0\n"
	})

	calls := unlinkCalls(t, r, "install", "--file", upgrade)
	if got, _ := os.ReadFile(r.path("usr/share/up/f000")); string(got) != "f000 2.0\n" {
		t.Fatalf("usr/share/up/f000 holds %q after the upgrade", got)
	}
	if _, err := os.Lstat(r.path(fmt.Sprintf("usr/share/up/f%03d", files-1))); !os.IsNotExist(err) {
		t.Fatalf("a file gone from 2.0 is still there (%v)", err)
	}
	if calls != changed+removed {
		t.Errorf("upgrading %d changed and %d removed files made %d unlink and rmdir calls, want %d", changed, removed, calls, changed+removed)
	}
	r.ok("verify")
}
