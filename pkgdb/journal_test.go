package pkgdb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// oddEntries are entries the chunk encoding must carry exactly: names
// that are not UTF-8, empty temps and backups, an op not in its table, a
// path that is a prefix of the one before, the same path twice, a path
// that shares nothing with the one before, and a long one.
func oddEntries() []JournalEntry {
	long := "usr/share/" + strings.Repeat("x", 4000)
	return []JournalEntry{
		{Op: "save", Path: "etc/latin1-caf\xe9.conf", Backup: "etc/latin1-caf\xe9.conf.lpmsave"},
		{Op: "replace", Path: "usr/lib/\xff\xfe", Temp: "usr/lib/.lpm-new.\x80", Backup: ""},
		{Op: "replace", Path: "usr/lib/libx.so", Temp: "", Backup: ""},
		{Op: "replace", Path: "usr/lib/lib", Temp: "", Backup: "usr/lib/.lpm-old.lib"},
		{Op: "remove", Path: "usr/lib/lib"},
		{Op: "mkdir", Path: ""},
		{Op: "rmdir", Path: "opt"},
		{Op: "a future op", Path: "opt/y", Temp: "tmp/elsewhere", Backup: "opt/y"},
		{Op: "", Path: "opt/z"},
		{Op: "todir", Path: long, Temp: long + ".lpm-dir"},
		{Op: "fromdir", Path: "caf\u00e9 \"quoted\" \\ back", Temp: "caf\u00e9.new"},
	}
}

// manyEntries is a journal like the bench's L package's: 20,000 paths in
// directories of a hundred, each with a temp and a backup beside it, the
// odd entries among them.
func manyEntries() []JournalEntry {
	var entries []JournalEntry
	for i := range 20000 {
		p := fmt.Sprintf("usr/share/doc/pkg/d%03d/file%05d.html", i/100, i)
		dir := p[:strings.LastIndexByte(p, '/')+1]
		entries = append(entries, JournalEntry{Op: []string{"replace", "remove", "mkdir"}[i%3], Path: p,
			Temp: dir + fmt.Sprintf(".lpm-new.0123abcd-%d.file%05d.html", i, i), Backup: dir + fmt.Sprintf(".lpm-old.0123abcd-%d.file%05d.html", i, i)})
		if i%5000 == 2500 {
			entries = append(entries, oddEntries()...)
		}
	}
	return entries
}

func TestAJournalOfManyPathsIsAFewRowsAndComesBackWhole(t *testing.T) {
	db, _ := openRoot(t)
	entries := manyEntries()
	id, err := db.BeginJournal("install pkg 1.0", []TxPackage{{Name: "pkg", NewVersion: "1.0", Action: "install"}}, entries)
	if err != nil {
		t.Fatal(err)
	}
	var rows, chunks, total int
	if err := db.sql.QueryRow("SELECT count(*) FROM journal").Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d rows in the table of a row per entry (%v), want 0", rows, err)
	}
	if err := db.sql.QueryRow("SELECT count(*), sum(entries) FROM journal_chunks WHERE tx = ?", id).Scan(&chunks, &total); err != nil {
		t.Fatal(err)
	}
	if chunks < 2 || chunks > 40 || total != len(entries) {
		t.Errorf("the journal of %d entries is %d chunks holding %d, want 2 to 40 holding them all", len(entries), chunks, total)
	}
	got, err := db.Journal(id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, entries) {
		t.Errorf("the journal read back differs: %d entries, want %d", len(got), len(entries))
		for i := range min(len(got), len(entries)) {
			if got[i] != entries[i] {
				t.Errorf("entry %d = %+v, want %+v", i, got[i], entries[i])
				break
			}
		}
	}
	// Closing keeps the saved configs, which lie in chunks among others,
	// and leaves no chunk.
	if err := db.SetTxState(id, StateDone); err != nil {
		t.Fatal(err)
	}
	recs, err := db.History()
	if err != nil || len(recs) != 1 {
		t.Fatalf("History = %+v, %v", recs, err)
	}
	want := []SavedConfig{{Path: "etc/latin1-caf\xe9.conf", Saved: "etc/latin1-caf\xe9.conf.lpmsave"}}
	if !slices.Equal(recs[0].Saved, want) {
		t.Errorf("saved configs = %q, want %q", recs[0].Saved, want)
	}
	if err := db.sql.QueryRow("SELECT count(*) FROM journal_chunks").Scan(&chunks); err != nil || chunks != 0 {
		t.Errorf("%d chunks left after the transaction closed (%v)", chunks, err)
	}
}

// An older lpm wrote a row per entry. Killed with its transactions open,
// it leaves them in journal; this lpm migrates the database and must
// read them back, byte for byte, and close them, keeping their saves.
func TestJournalsAnOlderLpmLeftOpenInRowsAreReadAndClosedAfterTheMigration(t *testing.T) {
	root := t.TempDir()
	file := Path(root)
	raw := rawDB(t, file+"?_foreign_keys=1")
	if _, err := migrate(context.Background(), raw, file, migrations[:10]); err != nil {
		t.Fatal(err)
	}
	rawExec(t, raw,
		`INSERT INTO transactions (id, started, state, command, command_id) VALUES (1, '2026-01-01T00:00:00Z', 'applying', 'install new 1.0', 1)`,
		`INSERT INTO transactions (id, started, state, command, command_id) VALUES (2, '2026-01-01T00:00:01Z', 'committed', 'remove old', 2)`)
	staging := []JournalEntry{
		{Op: "mkdir", Path: "usr/lib/new"},
		{Op: "replace", Path: "usr/lib/new/caf\xe9", Temp: "usr/lib/new/.lpm-new.caf\xe9", Backup: ""},
		{Op: "replace", Path: "usr/bin/new"},
	}
	committed := []JournalEntry{
		{Op: "remove", Path: "usr/bin/old"},
		{Op: "save", Path: "etc/old\xff.conf", Backup: "etc/old\xff.conf.lpmsave"},
		{Op: "rmdir", Path: "usr/share/old"},
	}
	for tx, entries := range map[int][]JournalEntry{1: staging, 2: committed} {
		// As the older lpm wrote them: a row each, names bound as text
		// whatever their bytes.
		for seq, e := range entries {
			if _, err := raw.Exec("INSERT INTO journal (tx, seq, op, path, temp, backup) VALUES (?,?,?,?,?,?)", tx, seq, e.Op, e.Path, e.Temp, e.Backup); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw.Close()

	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.SchemaVersion() != len(migrations) {
		t.Fatalf("schema %d after Open, want %d", db.SchemaVersion(), len(migrations))
	}
	open, err := db.OpenTransactions()
	if err != nil || len(open) != 2 {
		t.Fatalf("open transactions after the migration: %+v, %v", open, err)
	}
	for id, want := range map[int64][]JournalEntry{1: staging, 2: committed} {
		got, err := db.Journal(id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("journal %d after the migration = %q, want %q", id, got, want)
		}
	}
	// A journal with both (none has, but Journal reads both): the rows
	// come first.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	more := []JournalEntry{{Op: "replace", Path: "usr/bin/more"}}
	if err := tx.insertJournal(1, more); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Journal(1); err != nil || !slices.Equal(got, append(slices.Clone(staging), more...)) {
		t.Errorf("journal 1 with rows and a chunk = %q (%v), want the rows, then the chunk", got, err)
	}

	if err := db.SetTxState(1, StateRolledBack); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTxState(2, StateDone); err != nil {
		t.Fatal(err)
	}
	var rows, chunks int
	if err := db.sql.QueryRow("SELECT (SELECT count(*) FROM journal), (SELECT count(*) FROM journal_chunks)").Scan(&rows, &chunks); err != nil || rows != 0 || chunks != 0 {
		t.Errorf("%d journal rows and %d chunks left after closing both (%v)", rows, chunks, err)
	}
	recs, err := db.History()
	if err != nil || len(recs) != 2 {
		t.Fatalf("History = %+v, %v", recs, err)
	}
	if want := []SavedConfig{{Path: "etc/old\xff.conf", Saved: "etc/old\xff.conf.lpmsave"}}; len(recs[0].Saved) != 0 || !slices.Equal(recs[1].Saved, want) {
		t.Errorf("saved configs = %q and %q, want none and %q", recs[0].Saved, recs[1].Saved, want)
	}
}

func TestADamagedJournalChunkIsAnErrorNamingTheDatabaseAndTheTransaction(t *testing.T) {
	uvarint := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	one := []byte{journalFormat, 3, 0, 1, 'a', 0, 0, 0, 0} // remove "a"
	for _, tc := range []struct {
		name    string
		data    []byte
		entries int
	}{
		{"an empty chunk", []byte{}, 0},
		{"an unknown format", []byte{99, 3, 0, 1, 'a', 0, 0, 0, 0}, 1},
		{"an unknown op code", []byte{journalFormat, 200, 0, 1, 'a', 0, 0, 0, 0}, 1},
		{"a chunk cut short", one[:len(one)-1], 1},
		{"a length cut short", []byte{journalFormat, 3, 0, 0x80}, 1},
		{"a length of 2^62", cat([]byte{journalFormat, 3, 0}, uvarint(1<<62)), 1},
		{"a length past the end", []byte{journalFormat, 3, 0, 50, 'a'}, 1},
		{"a varint of eleven bytes", cat([]byte{journalFormat, 3, 0}, bytesOf(0xff, 10), []byte{1}), 1},
		{"a prefix longer than the path before", []byte{journalFormat, 3, 0, 1, 'a', 0, 0, 0, 0, 3, 5, 0, 0, 0, 0, 0}, 2},
		{"a prefix of the path longer than it", []byte{journalFormat, 3, 0, 1, 'a', 2, 0, 0, 0}, 1},
		{"an op of 2^62 bytes", cat([]byte{journalFormat, 0}, uvarint(1<<62)), 1},
		{"more entries than the row says", cat(one, one[1:]), 1},
		{"fewer entries than the row says", one, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openRoot(t)
			id, err := db.BeginJournal("remove x", []TxPackage{{Name: "x", Action: "remove"}},
				[]JournalEntry{{Op: "save", Path: "etc/x.conf", Backup: "etc/x.conf.lpmsave"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.sql.Exec("UPDATE journal_chunks SET data = ?, entries = ? WHERE tx = ?", tc.data, tc.entries, id); err != nil {
				t.Fatal(err)
			}
			_, err = db.Journal(id)
			want := fmt.Sprintf("database %s is damaged: the journal of transaction %d, chunk 0: ", db.path, id)
			if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrDamaged) {
				t.Errorf("Journal of a damaged chunk: %v; want an error beginning %q that wraps ErrDamaged", err, want)
			}
			// Closing it would lose its save, so it is refused the same way.
			if err := db.SetTxState(id, StateDone); err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("closing a transaction with a damaged chunk: %v; want an error beginning %q", err, want)
			}
		})
	}
}

func bytesOf(b byte, n int) []byte { return slices.Repeat([]byte{b}, n) }

// FuzzDecodeJournalChunk feeds the decoder damaged chunks: it may refuse
// them, but never panics, and what it accepts encodes back to no more
// bytes than it read (appendJournalEntry's encoding is the shortest).
func FuzzDecodeJournalChunk(f *testing.F) {
	var chunk []byte
	prev := JournalEntry{}
	chunk = append(chunk, journalFormat)
	for _, e := range oddEntries() {
		chunk = appendJournalEntry(chunk, prev, e)
		prev = e
	}
	f.Add(chunk)
	for i := range chunk {
		f.Add(chunk[:i])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := decodeJournalChunk(nil, data)
		if err != nil {
			return
		}
		again := []byte{journalFormat}
		prev := JournalEntry{}
		for _, e := range entries {
			again = appendJournalEntry(again, prev, e)
			prev = e
		}
		if len(again) > len(data) {
			t.Errorf("%d entries decoded from %d bytes encode to %d", len(entries), len(data), len(again))
		}
	})
}
