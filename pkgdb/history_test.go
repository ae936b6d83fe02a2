package pkgdb

import (
	"context"
	"strings"
	"testing"
)

func TestTransactionsOfOneCommandAreOneHistoryEntry(t *testing.T) {
	db, root := openRoot(t)
	db.SetCommand("install hello")
	first, err := db.BeginJournal("install libgreet 1.1.0", []TxPackage{{Name: "libgreet", NewVersion: "1.1.0", Action: "install"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := db.BeginJournal("install hello 1.0.0", []TxPackage{{Name: "hello", NewVersion: "1.0.0", Action: "install"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// The next lpm run is the next command.
	db2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	db2.SetCommand("remove hello")
	third, err := db2.BeginJournal("remove hello", []TxPackage{{Name: "hello", OldVersion: "1.0.0", Action: "remove"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db2.History()
	if err != nil || len(recs) != 3 {
		t.Fatalf("History = %+v, %v", recs, err)
	}
	for i, want := range []struct {
		id, command int64
		line        string
	}{{first, first, "install hello"}, {second, first, "install hello"}, {third, third, "remove hello"}} {
		if recs[i].ID != want.id || recs[i].CommandID != want.command || recs[i].CommandLine != want.line {
			t.Errorf("transaction %d: id %d, command %d %q; want %d, %d %q", i, recs[i].ID, recs[i].CommandID, recs[i].CommandLine, want.id, want.command, want.line)
		}
	}
}

func TestHistoryKeepsReleasesFlagsAndSavedConfigs(t *testing.T) {
	db, _ := openRoot(t)
	old := pkg("libgreet", "1.0")
	old.Explicit = true
	old.ManifestSHA256 = strings.Repeat("ab", 32)
	put(t, db, old, []File{file("etc/greet.conf")})
	id, err := db.BeginJournal("upgrade libgreet", []TxPackage{{Name: "libgreet", OldVersion: "1.0", NewVersion: "1.0", Action: "upgrade"}},
		[]JournalEntry{{Op: "save", Path: "etc/greet.conf", Backup: "etc/greet.conf.lpmsave"}, {Op: "remove", Path: "usr/bin/x"}})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	bumped := pkg("libgreet", "1.0")
	bumped.Release = 2
	if err := tx.PutPackage(bumped, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.MarkCommitted(id); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTxState(id, StateDone); err != nil {
		t.Fatal(err)
	}
	recs, err := db.History()
	if err != nil || len(recs) != 1 || len(recs[0].Packages) != 1 {
		t.Fatalf("History = %+v, %v", recs, err)
	}
	p := recs[0].Packages[0]
	if p.OldRelease != 1 || p.NewRelease != 2 || !p.OldExplicit || p.NewExplicit || !p.FlagsKnown {
		t.Errorf("recorded package = %+v; want release 1 -> 2, explicit -> not", p)
	}
	if p.OldManifestSHA256 != old.ManifestSHA256 {
		t.Errorf("recorded old manifest hash %q, want the old record's %q", p.OldManifestSHA256, old.ManifestSHA256)
	}
	if s := recs[0].Saved; len(s) != 1 || s[0].Path != "etc/greet.conf" || s[0].Saved != "etc/greet.conf.lpmsave" {
		t.Errorf("saved configs = %+v", s)
	}
	if j, _ := db.Journal(id); len(j) != 0 {
		t.Errorf("the journal of a done transaction is kept: %+v", j)
	}
}

func TestOlderTransactionsStayEntriesOfTheirOwnAfterMigration(t *testing.T) {
	root := t.TempDir()
	file := Path(root)
	raw := rawDB(t, file)
	if _, err := migrate(context.Background(), raw, file, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	rawExec(t, raw,
		"INSERT INTO transactions (id, started, state, command) VALUES (1, '2025-03-01T12:00:00Z', 'done', 'install a 1'), (2, '2025-03-01T12:01:00Z', 'done', 'install b 1')",
		"INSERT INTO tx_packages (tx, name, new_version, action) VALUES (1, 'a', '1', 'install'), (2, 'b', '1', 'install')")
	raw.Close()
	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.History()
	if err != nil || len(recs) != 2 {
		t.Fatalf("History = %+v, %v", recs, err)
	}
	for _, r := range recs {
		if r.CommandID != r.ID || r.Packages[0].FlagsKnown {
			t.Errorf("migrated transaction %d: command %d, flags known %v", r.ID, r.CommandID, r.Packages[0].FlagsKnown)
		}
	}
}

// Step 8: records and history from before manifest hashes keep
// everything but the archive hash nothing read, and have no manifest
// hash, which tells undo and repair not to check.
func TestRecordsFromBeforeManifestHashesMigrateWithoutOne(t *testing.T) {
	root := t.TempDir()
	file := Path(root)
	raw := rawDB(t, file)
	if _, err := migrate(context.Background(), raw, file, migrations[:7]); err != nil {
		t.Fatal(err)
	}
	rawExec(t, raw,
		`INSERT INTO packages (name, version, release, install_time, build_date, archive_sha256, archive_path)
			VALUES ('zlib', '1.3.1', 2, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', '`+strings.Repeat("0f", 32)+`', '/var/cache/lpm/packages/zlib-1.3.1-2.lpm')`,
		"INSERT INTO transactions (id, started, state, command) VALUES (1, '2025-03-01T12:00:00Z', 'done', 'upgrade zlib')",
		"INSERT INTO tx_packages (tx, name, old_version, new_version, action, old_archive_path) VALUES (1, 'zlib', '1.3', '1.3.1', 'upgrade', '/var/cache/lpm/packages/zlib-1.3-1.lpm')")
	raw.Close()
	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.Package("zlib")
	if err != nil || p.Release != 2 || p.ArchivePath != "/var/cache/lpm/packages/zlib-1.3.1-2.lpm" || p.ManifestSHA256 != "" {
		t.Errorf("migrated record = %+v (%v), want release 2, its archive, no manifest hash", p, err)
	}
	var archiveHashes int
	if err := db.sql.QueryRow("SELECT count(*) FROM pragma_table_info('packages') WHERE name = 'archive_sha256'").Scan(&archiveHashes); err != nil || archiveHashes != 0 {
		t.Errorf("packages still has archive_sha256 (%d, %v)", archiveHashes, err)
	}
	recs, err := db.History()
	if err != nil || len(recs) != 1 || len(recs[0].Packages) != 1 {
		t.Fatalf("History = %+v, %v", recs, err)
	}
	if tp := recs[0].Packages[0]; tp.OldArchive != "/var/cache/lpm/packages/zlib-1.3-1.lpm" || tp.OldManifestSHA256 != "" {
		t.Errorf("migrated history = %+v, want its old archive and no manifest hash", tp)
	}
}

// Closing a transaction is written without its own fsync, and every
// write after it is durable again: the relaxed setting never outlives
// the close.
func TestClosingATransactionLeavesTheDatabaseSynchronous(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, state := range []string{StateDone, StateRolledBack} {
		id, err := db.BeginJournal("install x 1.0", []TxPackage{{Name: "x", NewVersion: "1.0", Action: "install"}}, []JournalEntry{{Op: "replace", Path: "usr/bin/x"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SetTxState(id, state); err != nil {
			t.Fatal(err)
		}
		var sync int
		if err := db.sql.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
			t.Errorf("after closing a transaction %s, synchronous = %d (%v), want 2 (FULL)", state, sync, err)
		}
		if open, err := db.OpenTransactions(); err != nil || len(open) != 0 {
			t.Errorf("after closing a transaction %s, open: %v %v", state, open, err)
		}
	}
}
