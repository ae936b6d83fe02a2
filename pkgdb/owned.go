package pkgdb

import "database/sql"

// OwnedPaths returns every path some package owns, in database form.
// lpm unowned walks the disk against it: one query, then map lookups.
func (db *DB) OwnedPaths() (map[string]bool, error) {
	owned := map[string]bool{}
	err := db.read("listing owned paths", func(tx *sql.Tx) error {
		rows, err := tx.Query("SELECT DISTINCT path FROM files")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				return err
			}
			owned[p] = true
		}
		return rows.Err()
	})
	return owned, err
}
