package installer

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

// An lpm older than schema 11 journaled a row per path. Killed with two
// transactions open (an install staged, a removal committed), it leaves
// them in those rows, and this lpm's Recover must roll back the one and
// finish the other from them, names that are not UTF-8 included.
func TestRecoverClosesJournalsAnOlderLpmLeftInRows(t *testing.T) {
	root := t.TempDir()
	write := func(p, content string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(from, to string) {
		t.Helper()
		if err := os.Link(filepath.Join(root, from), filepath.Join(root, to)); err != nil {
			t.Fatal(err)
		}
	}
	// The install, staged: a new directory and a file written in place
	// in it, and a new usr/bin/tool at its temp name, the old one linked
	// under its backup name.
	write("usr/lib/new/caf\xe9", "new")
	write("usr/bin/tool", "old tool")
	write("usr/bin/.lpm-new.t-1.tool", "new tool")
	link("usr/bin/tool", "usr/bin/.lpm-old.t-1.tool")
	staged := []pkgdb.JournalEntry{
		{Op: opMkdir, Path: "usr/lib/new"},
		{Op: opReplace, Path: "usr/lib/new/caf\xe9"},
		{Op: opReplace, Path: "usr/bin/tool", Temp: "usr/bin/.lpm-new.t-1.tool", Backup: "usr/bin/.lpm-old.t-1.tool"},
	}
	// The removal, committed: its files are still there, an edited
	// config among them.
	write("usr/share/old/doc\xff", "doc")
	write("etc/old\xff.conf", "edited")
	committed := []pkgdb.JournalEntry{
		{Op: opRemove, Path: "usr/share/old/doc\xff"},
		{Op: opSave, Path: "etc/old\xff.conf", Backup: "etc/old\xff.conf.lpmsave"},
		{Op: opRmdir, Path: "usr/share/old"},
	}

	db, err := pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite3", pkgdb.Path(root))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO transactions (id, started, state, command, command_id) VALUES (1, '2026-01-01T00:00:00Z', 'applying', 'install new 1.0', 1)`,
		`INSERT INTO transactions (id, started, state, command, command_id) VALUES (2, '2026-01-01T00:00:01Z', 'committed', 'remove old', 2)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for tx, entries := range map[int][]pkgdb.JournalEntry{1: staged, 2: committed} {
		for seq, e := range entries {
			if _, err := raw.Exec("INSERT INTO journal (tx, seq, op, path, temp, backup) VALUES (?,?,?,?,?,?)", tx, seq, e.Op, e.Path, e.Temp, e.Backup); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw.Close()

	db, err = pkgdb.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Recover(root, db, &progress.Printer{Quiet: true}); err != nil {
		t.Fatal(err)
	}

	gone := []string{"usr/lib/new", "usr/bin/.lpm-new.t-1.tool", "usr/bin/.lpm-old.t-1.tool", "usr/share/old", "etc/old\xff.conf"}
	for _, p := range gone {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%q after Recover: %v, want it gone", p, err)
		}
	}
	for p, want := range map[string]string{"usr/bin/tool": "old tool", "etc/old\xff.conf.lpmsave": "edited"} {
		if got, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(got) != want {
			t.Errorf("%q after Recover: %q, %v; want %q", p, got, err, want)
		}
	}
	if open, err := db.OpenTransactions(); err != nil || len(open) != 0 {
		t.Errorf("open transactions after Recover: %+v, %v", open, err)
	}
	recs, err := db.History()
	if err != nil || len(recs) != 2 {
		t.Fatalf("History = %+v, %v", recs, err)
	}
	if recs[0].State != pkgdb.StateRolledBack || recs[1].State != pkgdb.StateDone {
		t.Errorf("states after Recover: %q and %q, want rolled back and done", recs[0].State, recs[1].State)
	}
	if want := []pkgdb.SavedConfig{{Path: "etc/old\xff.conf", Saved: "etc/old\xff.conf.lpmsave"}}; !slices.Equal(recs[1].Saved, want) {
		t.Errorf("saved configs of the removal: %q, want %q", recs[1].Saved, want)
	}
	for _, id := range []int64{1, 2} {
		if j, err := db.Journal(id); err != nil || len(j) != 0 {
			t.Errorf("journal %d after Recover: %q, %v; want it gone", id, j, err)
		}
	}
}
