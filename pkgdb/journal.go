package pkgdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Transaction states. A transaction is open while its state is Staging,
// Applying or Committed; the installer's recovery closes it.
const (
	// Staging: new files are being written under temp names; the live
	// paths are untouched. Recovery rolls back.
	StateStaging = "staging"
	// Applying: temps are being renamed over live paths. Recovery rolls
	// back, restoring the kept old files.
	StateApplying = "applying"
	// Committed: the package records are in; only cleanup of kept old
	// files may be left. Recovery finishes.
	StateCommitted  = "committed"
	StateDone       = "done"
	StateRolledBack = "rolled back"
)

// A JournalEntry is one change a transaction makes to the root.
type JournalEntry struct {
	Op     string // "mkdir", "replace", "remove", "save", "rmdir", "todir" or "fromdir" (see installer/journal.go)
	Path   string // the live path, relative to the root
	Temp   string // where the new content is staged: a temp name beside Path (or below a new directory's)
	Backup string // the old content's name beside Path, "" if there was none
}

// A TxRecord is one transaction of the history.
type TxRecord struct {
	ID       int64
	Started  time.Time
	Finished time.Time // zero while open
	State    string
	Command  string // what the transaction did ("install hello 1.0.0")
	// CommandID groups the transactions of one lpm command (an install
	// that builds in between makes several): the ID of its first one.
	CommandID int64
	// CommandLine is the lpm command that made it ("install hello").
	CommandLine string
	Packages    []TxPackage
	// Saved lists the edited config files a removal kept aside.
	Saved []SavedConfig
}

// TxPackage is what a transaction did to one package.
type TxPackage struct {
	Name       string
	OldVersion string // "" when it was not installed
	NewVersion string // "" when it was removed
	Action     string // install, upgrade, downgrade, reinstall, remove
	OldArchive string // the archive the old version came from
	NewArchive string
	// OldManifestSHA256 is the old version's manifest hash, read from its
	// package record as the transaction began ("" when there was none,
	// or the record or the transaction is older than schema 8): the build
	// undo must find in OldArchive.
	OldManifestSHA256 string
	// The releases and explicit flags before and after, read from the
	// package records as the transaction began and committed. Releases are
	// 0 where there was no package. FlagsKnown is false for transactions
	// recorded before lpm kept them. OldHeld: it was held (lpm hold).
	OldRelease, NewRelease   int
	OldExplicit, NewExplicit bool
	FlagsKnown               bool
	OldHeld                  bool
}

// A SavedConfig is an edited config file a removal renamed aside (to
// Saved, "etc/x.conf.lpmsave") instead of deleting.
type SavedConfig struct {
	Path, Saved string
}

// SetCommand names the lpm command that the transactions begun through db
// from now on belong to: they form one history entry, and one undo. A
// DB opened by one lpm run serves one command, so lpm calls it once.
func (db *DB) SetCommand(line string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.commandLine, db.commandID = line, 0
}

// BeginJournal records a new transaction and its journal durably, before
// any file changes, and returns its id.
func (db *DB) BeginJournal(command string, pkgs []TxPackage, entries []JournalEntry) (int64, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	ctx := context.Background()
	res, err := tx.conn.ExecContext(ctx, "INSERT INTO transactions (started, state, command, command_line) VALUES (?, ?, ?, ?)",
		formatTime(time.Now()), StateStaging, command, db.commandLine)
	if err != nil {
		return 0, fmt.Errorf("database %s: starting a transaction: %w", db.path, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	commandID := db.commandID
	if commandID == 0 {
		commandID = id // the first transaction of the command names it
	}
	if _, err := tx.conn.ExecContext(ctx, "UPDATE transactions SET command_id = ? WHERE id = ?", commandID, id); err != nil {
		return 0, fmt.Errorf("database %s: recording transaction %d: %w", db.path, id, err)
	}
	for _, p := range pkgs {
		if err := tx.putTxPackage(id, p); err != nil {
			return 0, err
		}
	}
	if err := tx.insertJournal(id, entries); err != nil {
		return 0, fmt.Errorf("database %s: journal of transaction %d: %w", db.path, id, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	db.commandID = commandID
	return id, nil
}

// insertJournal writes the entries of transaction id, in order, as
// chunks of about journalChunkBytes (journalcodec.go): a few rows for
// 20,000 paths, encoded into one buffer that is reused (SQLite copies a
// bound BLOB), so the journal is never one more copy in memory.
func (tx *Tx) insertJournal(id int64, entries []JournalEntry) error {
	if len(entries) == 0 {
		return nil
	}
	ctx := context.Background()
	stmt, err := tx.conn.PrepareContext(ctx, "INSERT INTO journal_chunks (tx, seq, entries, saves, data) VALUES (?,?,?,?,?)")
	if err != nil {
		return err
	}
	defer stmt.Close()
	buf := make([]byte, 0, journalChunkBytes+4096)
	seq, count, saves := 0, 0, 0
	var prev JournalEntry
	flush := func() error {
		_, err := stmt.ExecContext(ctx, id, seq, count, saves, buf)
		seq, count, saves, prev = seq+1, 0, 0, JournalEntry{}
		buf = buf[:0]
		return err
	}
	for _, e := range entries {
		if count == 0 {
			buf = append(buf, journalFormat)
		}
		buf = appendJournalEntry(buf, prev, e)
		prev = e
		count++
		if e.Op == "save" {
			saves++
		}
		if len(buf) >= journalChunkBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if count > 0 {
		return flush()
	}
	return nil
}

// putTxPackage records what transaction id does to one package; a second
// record of the same package updates what it becomes. The old release and
// flag are read from the package record, which the transaction has not
// changed yet.
func (tx *Tx) putTxPackage(id int64, p TxPackage) error {
	_, err := tx.conn.ExecContext(context.Background(), `INSERT INTO tx_packages
		(tx, name, old_version, new_version, action, old_archive_path, new_archive_path, old_release, old_explicit, old_held, old_manifest_sha256)
		VALUES (?,?,?,?,?,?,?, coalesce((SELECT release FROM packages WHERE name = ?), 0),
			coalesce((SELECT explicit FROM packages WHERE name = ?), 0),
			coalesce((SELECT held FROM packages WHERE name = ?), 0),
			coalesce((SELECT manifest_sha256 FROM packages WHERE name = ?), ''))
		ON CONFLICT (tx, name) DO UPDATE SET new_version = excluded.new_version, action = excluded.action,
			new_archive_path = excluded.new_archive_path`,
		id, p.Name, p.OldVersion, p.NewVersion, p.Action, p.OldArchive, p.NewArchive, p.Name, p.Name, p.Name, p.Name)
	if err != nil {
		return fmt.Errorf("database %s: recording transaction %d: %w", tx.db.path, id, err)
	}
	return nil
}

// RecordTxPackage adds to transaction id's history a package it changes
// besides those BeginJournal named (the record of preserved libraries),
// or updates what a named one becomes.
func (tx *Tx) RecordTxPackage(id int64, p TxPackage) error {
	if tx.done {
		return errors.New("pkgdb: RecordTxPackage on a finished transaction")
	}
	return tx.putTxPackage(id, p)
}

// SetTxState moves an open transaction to state. Closing a done
// transaction keeps, from its journal, which edited config files it saved
// aside, for undo; the rest of the journal goes.
//
// Every state is durable when SetTxState returns but the closing ones,
// done and rolled back, which are durable by the next write that is (the
// WAL is one file, synced in order: the next command's journal, as Close
// checkpoints only a WAL past bigWAL) or by a checkpoint: until then a
// power cut leaves the transaction open, and
// Recover finishes or rolls it back again, which changes nothing twice.
// That saves an fsync per transaction, and one for the vacuum after it.
func (db *DB) SetTxState(id int64, state string) error {
	if err := db.checkWritable(); err != nil {
		return err
	}
	ctx := context.Background()
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return lockError(db.path, err)
	}
	defer conn.Close()
	closing := state == StateDone || state == StateRolledBack
	if closing {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
			return lockError(db.path, err)
		}
		defer func() {
			if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = FULL"); err != nil {
				// A connection that stays relaxed must not be used again.
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return lockError(db.path, err)
	}
	defer tx.Rollback()
	finished := ""
	if closing {
		finished = formatTime(time.Now())
	}
	if _, err := tx.Exec("UPDATE transactions SET state = ?, finished = ? WHERE id = ?", state, finished, id); err != nil {
		return lockError(db.path, err)
	}
	if state == StateDone {
		if err := db.keepSaved(tx, id); err != nil {
			return err
		}
	}
	if state == StateDone || state == StateRolledBack {
		// journal holds only what an older lpm left open.
		for _, q := range []string{"DELETE FROM journal_chunks WHERE tx = ?", "DELETE FROM journal WHERE tx = ?"} {
			if _, err := tx.Exec(q, id); err != nil {
				return lockError(db.path, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return lockError(db.path, err)
	}
	if state == StateDone || state == StateRolledBack {
		// Housekeeping after the fact: the transaction is closed either
		// way, and pages left free are reused by the next one. SQLite
		// frees one page per step of the pragma, so it is read to the end.
		if rows, err := conn.QueryContext(ctx, "PRAGMA incremental_vacuum"); err == nil {
			for rows.Next() {
			}
			rows.Close()
		}
	}
	return nil
}

// keepSaved copies the 'save' entries of transaction id's journal into
// tx_saved: from an older lpm's rows, and from the chunks that hold any
// (most hold none, and are not read).
func (db *DB) keepSaved(tx *sql.Tx, id int64) error {
	if _, err := tx.Exec("INSERT OR IGNORE INTO tx_saved (tx, path, saved) SELECT tx, path, backup FROM journal WHERE tx = ? AND op = 'save'", id); err != nil {
		return lockError(db.path, err)
	}
	var saved []JournalEntry
	err := db.readChunks(tx, id, "AND saves > 0", func(chunk []JournalEntry) {
		for _, e := range chunk {
			if e.Op == "save" {
				saved = append(saved, e)
			}
		}
	})
	if errors.Is(err, ErrDamaged) {
		return err
	}
	if err != nil {
		return lockError(db.path, err)
	}
	for _, e := range saved {
		if _, err := tx.Exec("INSERT OR IGNORE INTO tx_saved (tx, path, saved) VALUES (?, ?, ?)", id, e.Path, e.Backup); err != nil {
			return lockError(db.path, err)
		}
	}
	return nil
}

// readChunks decodes the journal chunks of transaction id (those that
// also match where) in order, and hands each chunk's entries to fn; the
// slice is reused for the next chunk. A chunk that does not decode, or
// holds another number of entries than its row says, is damage: the
// error (ErrDamaged) names the database, the transaction and the chunk.
// Errors of SQLite come back as they are.
func (db *DB) readChunks(tx *sql.Tx, id int64, where string, fn func([]JournalEntry)) error {
	rows, err := tx.Query("SELECT seq, entries, data FROM journal_chunks WHERE tx = ? "+where+" ORDER BY seq", id)
	if err != nil {
		return err
	}
	defer rows.Close()
	var chunk []JournalEntry
	var data sql.RawBytes // decoded before the next row, so not copied
	for rows.Next() {
		var seq, count int64
		if err := rows.Scan(&seq, &count, &data); err != nil {
			return err
		}
		chunk = chunk[:0]
		if count > 0 {
			chunk = slices.Grow(chunk, int(min(count, int64(len(data)/minEntryBytes))))
		}
		chunk, err = decodeJournalChunk(chunk, data)
		if err == nil && int64(len(chunk)) != count {
			err = fmt.Errorf("it holds %d entries, its row says %d", len(chunk), count)
		}
		if err != nil {
			return fmt.Errorf("database %s is damaged: the journal of transaction %d, chunk %d: %v: %w; lpm cannot tell what that transaction changed: restore the database from a backup, or run lpm rebuild-db to rebuild it from the package cache and the disk", db.path, id, seq, err, ErrDamaged)
		}
		fn(chunk)
	}
	return rows.Err()
}

// MarkCommitted sets transaction id to Committed inside tx, the same
// SQLite transaction that records the packages: the commit point.
// The history takes the packages' new releases and flags from their
// records as they are now.
func (tx *Tx) MarkCommitted(id int64) error {
	ctx := context.Background()
	_, err := tx.conn.ExecContext(ctx, "UPDATE transactions SET state = ? WHERE id = ?", StateCommitted, id)
	if err == nil {
		_, err = tx.conn.ExecContext(ctx, `UPDATE tx_packages SET
			new_release = coalesce((SELECT release FROM packages p WHERE p.name = tx_packages.name), 0),
			new_explicit = coalesce((SELECT explicit FROM packages p WHERE p.name = tx_packages.name), 0)
			WHERE tx = ?`, id)
	}
	if err != nil {
		return fmt.Errorf("database %s: committing transaction %d: %w", tx.db.path, id, err)
	}
	return nil
}

// OpenTransactions lists the transactions a crash left open, oldest first.
func (db *DB) OpenTransactions() ([]TxRecord, error) {
	return db.history("WHERE state IN ('" + StateStaging + "', '" + StateApplying + "', '" + StateCommitted + "')")
}

// History lists every transaction, oldest first.
func (db *DB) History() ([]TxRecord, error) { return db.history("") }

func (db *DB) history(where string) ([]TxRecord, error) {
	var recs []TxRecord
	err := db.read("reading the transaction history", func(tx *sql.Tx) error {
		rows, err := tx.Query("SELECT id, started, finished, state, command, command_id, command_line FROM transactions " + where + " ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r TxRecord
			var started, finished string
			if err := rows.Scan(&r.ID, &started, &finished, &r.State, &r.Command, &r.CommandID, &r.CommandLine); err != nil {
				return err
			}
			r.Started, _ = parseTime(started)
			if finished != "" {
				r.Finished, _ = parseTime(finished)
			}
			recs = append(recs, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range recs {
			if err := readTxPackages(tx, &recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return recs, err
}

func readTxPackages(tx *sql.Tx, r *TxRecord) error {
	rows, err := tx.Query(`SELECT name, old_version, new_version, action, old_archive_path, new_archive_path,
		old_release, new_release, old_explicit, new_explicit, old_held, old_manifest_sha256 FROM tx_packages WHERE tx = ? ORDER BY name`, r.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p TxPackage
		var oldExplicit, newExplicit int
		if err := rows.Scan(&p.Name, &p.OldVersion, &p.NewVersion, &p.Action, &p.OldArchive, &p.NewArchive,
			&p.OldRelease, &p.NewRelease, &oldExplicit, &newExplicit, &p.OldHeld, &p.OldManifestSHA256); err != nil {
			return err
		}
		p.OldExplicit, p.NewExplicit = oldExplicit == 1, newExplicit == 1
		p.FlagsKnown = oldExplicit >= 0 && newExplicit >= 0
		r.Packages = append(r.Packages, p)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	saved, err := tx.Query("SELECT path, saved FROM tx_saved WHERE tx = ? ORDER BY path", r.ID)
	if err != nil {
		return err
	}
	defer saved.Close()
	for saved.Next() {
		var c SavedConfig
		if err := saved.Scan(&c.Path, &c.Saved); err != nil {
			return err
		}
		r.Saved = append(r.Saved, c)
	}
	return saved.Err()
}

// Journal returns the entries of transaction id in order: first those
// an older lpm wrote as rows (a crash under it, recovered by this one),
// then the chunks.
func (db *DB) Journal(id int64) ([]JournalEntry, error) {
	var entries []JournalEntry
	err := db.read("reading a journal", func(tx *sql.Tx) error {
		rows, err := tx.Query("SELECT op, path, temp, backup FROM journal WHERE tx = ? ORDER BY seq", id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e JournalEntry
			if err := rows.Scan(&e.Op, &e.Path, &e.Temp, &e.Backup); err != nil {
				return err
			}
			entries = append(entries, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		return db.readChunks(tx, id, "", func(chunk []JournalEntry) {
			entries = append(entries, chunk...)
		})
	})
	return entries, err
}
