package pkgdb

import "database/sql"

// OwnedPaths returns every path some package owns, in database form.
// lpm unowned walks the disk against it: one query, then map lookups.
func (db *DB) OwnedPaths() (map[string]bool, error) {
	var owned map[string]bool
	err := db.read("listing owned paths", func(tx *sql.Tx) error {
		// No DISTINCT: the set drops the few directories several
		// packages share, without a sort of every path.
		rows, err := tx.Query("SELECT d.path || f.name FROM files f JOIN dirs d ON d.id = f.dir")
		if err != nil {
			return err
		}
		owned, err = scanPathSet(rows)
		return err
	})
	return owned, err
}

// scanPathSet reads rows of one path each into a set, and closes rows.
func scanPathSet(rows *sql.Rows) (map[string]bool, error) {
	defer rows.Close()
	set := map[string]bool{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		set[p] = true
	}
	return set, rows.Err()
}
