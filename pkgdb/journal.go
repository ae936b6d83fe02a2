package pkgdb

import (
	"context"
	"database/sql"
	"fmt"
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
	Op     string // "mkdir", "replace", "remove" or "save"
	Path   string // the live path, relative to the root
	Temp   string // "replace": the new content's temp name beside Path
	Backup string // the old content's name beside Path, "" if there was none
}

// A TxRecord is one transaction of the history.
type TxRecord struct {
	ID       int64
	Started  time.Time
	Finished time.Time // zero while open
	State    string
	Command  string
	Packages []TxPackage
}

// TxPackage is what a transaction did to one package.
type TxPackage struct {
	Name       string
	OldVersion string // "" when it was not installed
	NewVersion string // "" when it was removed
	Action     string // install, upgrade, downgrade, reinstall, remove
	OldArchive string // the archive the old version came from
	NewArchive string
}

// BeginJournal records a new transaction and its journal durably, before
// any file changes, and returns its id.
func (db *DB) BeginJournal(command string, pkgs []TxPackage, entries []JournalEntry) (int64, error) {
	tx, err := db.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	ctx := context.Background()
	res, err := tx.conn.ExecContext(ctx, "INSERT INTO transactions (started, state, command) VALUES (?, ?, ?)",
		formatTime(time.Now()), StateStaging, command)
	if err != nil {
		return 0, fmt.Errorf("database %s: starting a transaction: %w", db.path, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	for _, p := range pkgs {
		_, err := tx.conn.ExecContext(ctx, `INSERT INTO tx_packages (tx, name, old_version, new_version, action, old_archive_path, new_archive_path)
			VALUES (?,?,?,?,?,?,?)`, id, p.Name, p.OldVersion, p.NewVersion, p.Action, p.OldArchive, p.NewArchive)
		if err != nil {
			return 0, fmt.Errorf("database %s: recording transaction %d: %w", db.path, id, err)
		}
	}
	stmt, err := tx.conn.PrepareContext(ctx, "INSERT INTO journal (tx, seq, op, path, temp, backup) VALUES (?,?,?,?,?,?)")
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for i, e := range entries {
		if _, err := stmt.ExecContext(ctx, id, i, e.Op, e.Path, e.Temp, e.Backup); err != nil {
			return 0, fmt.Errorf("database %s: journal of transaction %d: %w", db.path, id, err)
		}
	}
	return id, tx.Commit()
}

// SetTxState moves an open transaction to state, durably.
func (db *DB) SetTxState(id int64, state string) error {
	if err := db.checkWritable(); err != nil {
		return err
	}
	finished := ""
	if state == StateDone || state == StateRolledBack {
		finished = formatTime(time.Now())
	}
	if _, err := db.sql.Exec("UPDATE transactions SET state = ?, finished = ? WHERE id = ?", state, finished, id); err != nil {
		return lockError(db.path, err)
	}
	if state == StateDone || state == StateRolledBack {
		if _, err := db.sql.Exec("DELETE FROM journal WHERE tx = ?", id); err != nil {
			return lockError(db.path, err)
		}
	}
	return nil
}

// MarkCommitted sets transaction id to Committed inside tx, the same
// SQLite transaction that records the packages: the commit point.
func (tx *Tx) MarkCommitted(id int64) error {
	_, err := tx.conn.ExecContext(context.Background(), "UPDATE transactions SET state = ? WHERE id = ?", StateCommitted, id)
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
		rows, err := tx.Query("SELECT id, started, finished, state, command FROM transactions " + where + " ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r TxRecord
			var started, finished string
			if err := rows.Scan(&r.ID, &started, &finished, &r.State, &r.Command); err != nil {
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
			pr, err := tx.Query(`SELECT name, old_version, new_version, action, old_archive_path, new_archive_path
				FROM tx_packages WHERE tx = ? ORDER BY name`, recs[i].ID)
			if err != nil {
				return err
			}
			for pr.Next() {
				var p TxPackage
				if err := pr.Scan(&p.Name, &p.OldVersion, &p.NewVersion, &p.Action, &p.OldArchive, &p.NewArchive); err != nil {
					pr.Close()
					return err
				}
				recs[i].Packages = append(recs[i].Packages, p)
			}
			pr.Close()
		}
		return nil
	})
	return recs, err
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
