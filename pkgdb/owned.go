package pkgdb

import "database/sql"

// OwnedPaths returns every path some package owns, in database form.
// lpm unowned walks the disk against it: one query, then map lookups.
func (db *DB) OwnedPaths() (map[string]bool, error) {
	var owned map[string]bool
	err := db.read("listing owned paths", func(tx *sql.Tx) error {
		rows, err := tx.Query("SELECT DISTINCT path FROM files")
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
