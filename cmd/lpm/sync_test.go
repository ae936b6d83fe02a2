package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A small install flushes what its transaction needs and nothing more:
// the journal's commit, the staged files' syncfs and the commit's. Each
// flush is a journal commit of the filesystem, which is most of what a
// small package costs: the WAL checkpoint when the database closed (two
// fsyncs) and the fsync of the WAL header the next command then wrote
// were three more. The fourth allowed is SQLite's fsync of the database's
// directory, once a process, which has nothing to write.
func TestSmallInstallFlushesFourTimes(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed")
	}
	pkg := func(name string) string {
		files := map[string]string{}
		for i := range 10 {
			p := fmt.Sprintf("usr/share/%s/f%02d", name, i)
			files[p] = p
		}
		return packFiles(t, name, "1.0", files)
	}
	r := newRoot(t)
	// The second command of a root, as every install of a system but its
	// first: the first one's database is closed.
	r.ok("install", "--file", pkg("one"))
	flushes := straceCalls(t, r, []string{"fsync", "fdatasync", "syncfs"}, "install", "--file", pkg("two"))
	if _, err := os.Stat(r.path("usr/share/two/f09")); err != nil {
		t.Fatalf("after the install: %v", err)
	}
	if flushes > 4 {
		t.Errorf("installing 10 files made %d fsync, fdatasync and syncfs calls; want at most 4", flushes)
	}
	// What the next command reads is what was committed, from the WAL.
	if out := r.ok("files", "two"); !strings.Contains(out, "/usr/share/two/f09") {
		t.Errorf("lpm files two after the install: %q", out)
	}
}
