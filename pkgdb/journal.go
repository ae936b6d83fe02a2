package pkgdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
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

// insertJournal writes the entries of transaction id, in order. They go
// in as JSON arrays of a thousand that SQLite takes apart itself: a few
// statements instead of one per entry, a fifth of the time for a
// 20,000-path journal, and never the whole journal as one more string in
// memory. JSON cannot carry a path that is not UTF-8 (a file adopted
// from disk may have one), so such a chunk is written row by row.
func (tx *Tx) insertJournal(id int64, entries []JournalEntry) error {
	ctx := context.Background()
	const chunk = 1000
	for start := 0; start < len(entries); start += chunk {
		part := entries[start:min(start+chunk, len(entries))]
		rows := make([][4]string, len(part))
		text := true
		for i, e := range part {
			rows[i] = [4]string{e.Op, e.Path, e.Temp, e.Backup}
			text = text && utf8.ValidString(e.Path) && utf8.ValidString(e.Temp) && utf8.ValidString(e.Backup)
		}
		if text {
			data, err := json.Marshal(rows)
			if err != nil {
				return err
			}
			_, err = tx.conn.ExecContext(ctx, `INSERT INTO journal (tx, seq, op, path, temp, backup)
				SELECT ?, ? + key, value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`, id, start, string(data))
			if err != nil {
				return err
			}
			continue
		}
		for i, e := range part {
			_, err := tx.conn.ExecContext(ctx, "INSERT INTO journal (tx, seq, op, path, temp, backup) VALUES (?,?,?,?,?,?)",
				id, start+i, e.Op, e.Path, e.Temp, e.Backup)
			if err != nil {
				return err
			}
		}
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
		if _, err := tx.Exec("INSERT OR IGNORE INTO tx_saved (tx, path, saved) SELECT tx, path, backup FROM journal WHERE tx = ? AND op = 'save'", id); err != nil {
			return lockError(db.path, err)
		}
	}
	if state == StateDone || state == StateRolledBack {
		if _, err := tx.Exec("DELETE FROM journal WHERE tx = ?", id); err != nil {
			return lockError(db.path, err)
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

// Journal returns the entries of transaction id in order.
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
		return rows.Err()
	})
	return entries, err
}
