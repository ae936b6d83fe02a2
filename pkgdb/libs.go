package pkgdb

import (
	"database/sql"
	"slices"
)

// A LibRef is one installed file in a shared-library relation.
type LibRef struct {
	Package string
	Path    string
}

// Needers returns, for each soname, the installed files whose ELF
// DT_NEEDED names it.
func (db *DB) Needers(sonames []string) (map[string][]LibRef, error) {
	return db.libQuery("SELECT n.soname, n.package, d.path || n.name AS path FROM needed n JOIN dirs d ON d.id = n.dir WHERE n.soname IN ", sonames)
}

// SonameProviders returns, for each soname, the installed files whose ELF
// DT_SONAME it is.
func (db *DB) SonameProviders(sonames []string) (map[string][]LibRef, error) {
	return db.libQuery("SELECT f.soname, f.package, d.path || f.name AS path FROM files f JOIN dirs d ON d.id = f.dir WHERE f.soname IN ", sonames)
}

// AllNeeded returns every installed file's needed sonames: file -> sonames.
func (db *DB) AllNeeded() (map[LibRef][]string, error) {
	out := map[LibRef][]string{}
	err := db.read("listing needed libraries", func(tx *sql.Tx) error {
		rows, err := tx.Query("SELECT n.package, d.path || n.name, n.soname FROM needed n JOIN dirs d ON d.id = n.dir ORDER BY n.package, n.dir, n.name, n.seq")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r LibRef
			var soname string
			if err := rows.Scan(&r.Package, &r.Path, &soname); err != nil {
				return err
			}
			out[r] = append(out[r], soname)
		}
		return rows.Err()
	})
	return out, err
}

func (db *DB) libQuery(query string, sonames []string) (map[string][]LibRef, error) {
	out := map[string][]LibRef{}
	err := db.read("looking up shared libraries", func(tx *sql.Tx) error {
		for chunk := range slices.Chunk(sonames, chunkSize) {
			rows, err := tx.Query(query+"("+placeholders(len(chunk))+") ORDER BY package, path", anySlice(chunk)...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var soname string
				var r LibRef
				if err := rows.Scan(&soname, &r.Package, &r.Path); err != nil {
					rows.Close()
					return err
				}
				out[soname] = append(out[soname], r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
