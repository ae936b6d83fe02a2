package pkgdb

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// Tx is a write transaction. It holds the database's write lock from
// Begin until Commit or Rollback, so keep it short. Readers keep seeing
// the last committed state meanwhile. A Tx is not safe for concurrent use.
type Tx struct {
	db    *DB
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	// touched lists every path PutPackage wrote; Commit checks them for
	// owners that may not share a path.
	touched []storedPath
	// dirs caches the ids of the dirs rows this transaction looked up or
	// made; dropped lists those whose last record it may have deleted,
	// which Commit deletes if no record names them any more.
	dirs    map[string]int64
	dropped []int64
	done    bool
}

// storedPath is a path with the id of its directory's dirs row.
type storedPath struct {
	path string
	dir  int64
}

// name is the path's base name, as the files row keeps it.
func (s storedPath) name() string {
	_, name := splitPath(s.path)
	return name
}

// Statements a Tx prepares once and reuses; PutPackage of a large package
// runs insertFile thousands of times.
var txStatements = map[string]string{
	"deletePackage": "DELETE FROM packages WHERE name = ?",
	"insertPackage": "INSERT INTO packages (" + packageColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	// upsertPackage keeps the row (a delete would cascade to every file).
	"upsertPackage": "INSERT INTO packages (" + packageColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)" +
		` ON CONFLICT (name) DO UPDATE SET version = excluded.version, release = excluded.release,
		description = excluded.description, license = excluded.license, homepage = excluded.homepage,
		explicit = excluded.explicit, held = excluded.held, install_time = excluded.install_time,
		build_date = excluded.build_date, manifest_sha256 = excluded.manifest_sha256,
		archive_path = excluded.archive_path, size = excluded.size, semver = excluded.semver, adopted_from = excluded.adopted_from`,
	"deleteDeps":      "DELETE FROM deps WHERE package = ?",
	"deleteProvides":  "DELETE FROM provides WHERE package = ?",
	"deleteConflicts": "DELETE FROM conflicts WHERE package = ?",
	"deleteFile":      "DELETE FROM files WHERE package = ? AND dir = ? AND name = ?",
	// needed has no foreign key (schema step 10): a record's needed rows
	// are deleted with it, by these two.
	"deleteNeeded":        "DELETE FROM needed WHERE package = ? AND dir = ? AND name = ?",
	"deletePackageNeeded": "DELETE FROM needed WHERE package = ?",
	"insertDep":           "INSERT INTO deps (package, seq, dep) VALUES (?,?,?)",
	"insertProvide":       "INSERT INTO provides (package, seq, provide) VALUES (?,?,?)",
	"insertConflict":      "INSERT INTO conflicts (package, seq, conflict) VALUES (?,?,?)",
	"insertFile": `INSERT INTO files (package, dir, name, type, mode, uid, gid, size, sha256, link, soname, backup, built_sha256)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
	"insertNeeded":  "INSERT INTO needed (package, dir, name, seq, soname) VALUES (?,?,?,?,?)",
	"insertForeign": "INSERT OR IGNORE INTO foreign_dirs (path) VALUES (?)",
	"putListing":    "INSERT INTO listings (package, listing) VALUES (?, ?) ON CONFLICT (package) DO UPDATE SET listing = excluded.listing",
	"selectDir":     "SELECT id FROM dirs WHERE path = ?",
	"insertDir":     "INSERT INTO dirs (path) VALUES (?)",
	"packageDirs":   "SELECT DISTINCT dir FROM files WHERE package = ?",
	// dropDirs deletes those of a JSON array of dirs ids no record names.
	"dropDirs": "DELETE FROM dirs WHERE id IN (SELECT value FROM json_each(?)) AND NOT EXISTS (SELECT 1 FROM files WHERE dir = dirs.id)",
}

// Begin starts a write transaction. It waits up to a few seconds for
// another process's transaction to finish, then fails.
func (db *DB) Begin() (*Tx, error) {
	if err := db.checkWritable(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", db.path, err)
	}
	// IMMEDIATE takes the write lock now; a deferred transaction could
	// fail with "database is locked" halfway through instead.
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		conn.Close()
		return nil, lockError(db.path, err)
	}
	return &Tx{db: db, conn: conn, stmts: make(map[string]*sql.Stmt, len(txStatements)), dirs: map[string]int64{}}, nil
}

// stmt is the named statement of txStatements, prepared on its first use:
// a journal or a small package's records use a few of them, and preparing
// them all took 1.2 ms of every small install's 10 ms of CPU.
func (tx *Tx) stmt(name string) (*sql.Stmt, error) {
	if stmt, ok := tx.stmts[name]; ok {
		return stmt, nil
	}
	stmt, err := tx.conn.PrepareContext(context.Background(), txStatements[name])
	if err != nil {
		return nil, fmt.Errorf("database %s: preparing %s: %w", tx.db.path, name, err)
	}
	tx.stmts[name] = stmt
	return stmt, nil
}

// lockError explains SQLITE_BUSY, the one error a user can act on.
func lockError(file string, err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrBusy {
		return fmt.Errorf("database %s is locked by another lpm process; wait for it to finish and try again: %w", file, err)
	}
	if full(err) {
		return fmt.Errorf("database %s: %w (%v)", file, ErrDiskFull, err)
	}
	if corrupt(err) {
		return damagedError(file, err)
	}
	return fmt.Errorf("database %s: %w", file, err)
}

// ErrDiskFull is wrapped by errors of writes that found no space left on
// the database's filesystem.
var ErrDiskFull = errors.New("no space left on the filesystem")

// corrupt reports an SQLite error that means the file is damaged.
func corrupt(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB)
}

func damagedError(file string, err error) error {
	return fmt.Errorf("database %s is damaged (%v): %w; restore it from a backup, or run lpm rebuild-db to rebuild it from the package cache and the disk", file, err, ErrDamaged)
}

func full(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrFull
}

func (tx *Tx) exec(name string, args ...any) (sql.Result, error) {
	stmt, err := tx.stmt(name)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(context.Background(), args...)
}

// PutPackage records p and its files, replacing every earlier record of
// p.Name (package row, files, deps, provides, conflicts, needed). Files
// must have Package empty or equal to p.Name; nil is none. They are
// yielded, not handed over as a slice, so that a caller with 20,000 of
// them makes each as it is written rather than holding a copy of all
// (slices.Values passes a slice); files is run twice, to check every
// record before writing any. If PutPackage fails, the transaction is as
// it was before the call.
func (tx *Tx) PutPackage(p Package, files iter.Seq[File]) error {
	return tx.PutUpgrade(p, files, nil)
}

// PutUpgrade is PutPackage for a caller that has read the package's
// current records by path, under the writer lock it still holds (an
// upgrade's plan): they are not read again, which for L was 20,000 rows.
// Should the database hold a different number of them, it reads them
// after all. With old nil it is PutPackage.
func (tx *Tx) PutUpgrade(p Package, files iter.Seq[File], old map[string]File) error {
	if tx.done {
		return errors.New("pkgdb: PutPackage on a finished transaction")
	}
	if files == nil {
		files = func(func(File) bool) {}
	}
	if err := checkPackage(p, files); err != nil {
		return fmt.Errorf("package %q: %w", p.Name, err)
	}
	// A savepoint makes the call all-or-nothing inside the transaction.
	ctx := context.Background()
	if _, err := tx.conn.ExecContext(ctx, "SAVEPOINT put_package"); err != nil {
		return fmt.Errorf("database %s: %w", tx.db.path, err)
	}
	if err := tx.putPackage(p, files, old); err != nil {
		tx.conn.ExecContext(ctx, "ROLLBACK TO put_package")
		tx.conn.ExecContext(ctx, "RELEASE put_package")
		clear(tx.dirs) // dirs rows it made are gone again
		return fmt.Errorf("database %s: recording package %s: %w", tx.db.path, p.Name, err)
	}
	if _, err := tx.conn.ExecContext(ctx, "RELEASE put_package"); err != nil {
		return fmt.Errorf("database %s: %w", tx.db.path, err)
	}
	return nil
}

func (tx *Tx) putPackage(p Package, files iter.Seq[File], known map[string]File) error {
	// An upgrade rewrites only the file rows that changed: an unchanged
	// 20,000-file package costs a read, not 40,000 writes.
	have, err := tx.recorded(p.Name, known)
	if err != nil {
		return err
	}
	_, err = tx.exec("upsertPackage", p.Name, p.Version, p.Release, p.Description, p.License, p.Homepage,
		p.Explicit, p.Held, formatTime(p.InstallTime), formatTime(p.BuildDate), p.ManifestSHA256, p.ArchivePath, p.Size, p.SemVer, p.AdoptedFrom)
	if err != nil {
		return err
	}
	for _, rel := range []struct {
		del, stmt string
		values    []string
	}{
		{"deleteDeps", "insertDep", p.Depends},
		{"deleteProvides", "insertProvide", p.Provides},
		{"deleteConflicts", "insertConflict", p.Conflicts},
	} {
		if _, err := tx.exec(rel.del, p.Name); err != nil {
			return err
		}
		for seq, v := range rel.values {
			if _, err := tx.exec(rel.stmt, p.Name, seq, v); err != nil {
				return err
			}
		}
	}
	seen := map[string]bool{}
	for file := range files {
		f := &file
		if seen[f.Path] {
			return fmt.Errorf("path %s is listed twice", f.Path)
		}
		seen[f.Path] = true
		old, ok := have[f.Path]
		if ok && sameFile(&old, f) {
			continue
		}
		dirPath, name := splitPath(f.Path)
		dir, err := tx.dirID(dirPath)
		if err != nil {
			return fmt.Errorf("path %s: %w", f.Path, err)
		}
		if ok {
			if err := tx.deleteFile(p.Name, dir, name); err != nil {
				return fmt.Errorf("path %s: %w", f.Path, err)
			}
		}
		_, err = tx.exec("insertFile", p.Name, dir, name, f.Type, f.Mode, f.UID, f.GID, f.Size,
			hashBytes(f.SHA256), f.Link, f.Soname, f.Backup, hashBytes(f.BuiltSHA256))
		if err != nil {
			return fmt.Errorf("path %s: %w", f.Path, err)
		}
		for seq, soname := range f.Needed {
			if _, err := tx.exec("insertNeeded", p.Name, dir, name, seq, soname); err != nil {
				return fmt.Errorf("path %s: %w", f.Path, err)
			}
		}
		tx.touched = append(tx.touched, storedPath{f.Path, dir})
	}
	for path := range have {
		if seen[path] {
			continue
		}
		dirPath, name := splitPath(path)
		dir, err := tx.dirID(dirPath)
		if err == nil {
			err = tx.deleteFile(p.Name, dir, name)
		}
		if err != nil {
			return fmt.Errorf("path %s: %w", path, err)
		}
		tx.dropped = append(tx.dropped, dir)
	}
	listing, err := packListing(files)
	if err == nil {
		_, err = tx.exec("putListing", p.Name, listing)
	}
	if err != nil {
		return fmt.Errorf("the listing of its files: %w", err)
	}
	return nil
}

// recorded returns the file records of the package name by path: known,
// when the database holds as many, else what it holds.
func (tx *Tx) recorded(name string, known map[string]File) (map[string]File, error) {
	if known != nil {
		var n int
		err := tx.conn.QueryRowContext(context.Background(), "SELECT count(*) FROM files WHERE package = ?", name).Scan(&n)
		if err != nil {
			return nil, err
		}
		if n == len(known) {
			return known, nil
		}
	}
	files, err := queryFiles(connQuerier{tx.conn}, name, false)
	if err != nil {
		return nil, err
	}
	have := make(map[string]File, len(files))
	for _, f := range files {
		have[f.Path] = f
	}
	return have, nil
}

// dirID returns the id of the dirs row of dir (splitPath's form), making
// the row if there is none.
func (tx *Tx) dirID(dir string) (int64, error) {
	if id, ok := tx.dirs[dir]; ok {
		return id, nil
	}
	var id int64
	stmt, err := tx.stmt("selectDir")
	if err != nil {
		return 0, err
	}
	err = stmt.QueryRowContext(context.Background(), dir).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		var res sql.Result
		if res, err = tx.exec("insertDir", dir); err == nil {
			id, err = res.LastInsertId()
		}
	}
	if err != nil {
		return 0, fmt.Errorf("directory %q: %w", dir, err)
	}
	tx.dirs[dir] = id
	return id, nil
}

// sameFile reports whether two records of one path say the same.
func sameFile(a, b *File) bool {
	return a.Type == b.Type && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID && a.Size == b.Size &&
		a.SHA256 == b.SHA256 && a.Link == b.Link && a.Soname == b.Soname && a.Backup == b.Backup && a.BuiltSHA256 == b.BuiltSHA256 &&
		slices.Equal(a.Needed, b.Needed)
}

// hashBytes is how a hash is stored: its bytes, an empty blob (never
// NULL) when there is none. checkPackage made sure it is hexadecimal.
func hashBytes(h string) []byte {
	b, _ := hex.DecodeString(h)
	if b == nil {
		b = []byte{}
	}
	return b
}

// connQuerier reads through a write transaction's connection.
type connQuerier struct{ conn *sql.Conn }

func (c connQuerier) Query(query string, args ...any) (*sql.Rows, error) {
	return c.conn.QueryContext(context.Background(), query, args...)
}

var fileTypes = []string{"dir", "file", "symlink", "hardlink"}

// checkPackage rejects records the database must never hold, with a
// message naming the field, before anything is written.
func checkPackage(p Package, files iter.Seq[File]) error {
	switch {
	case p.Name == "":
		return errors.New("empty package name")
	case p.Version == "":
		return errors.New("empty version")
	case p.Release < 0:
		return fmt.Errorf("negative release %d", p.Release)
	}
	for file := range files {
		f := &file
		if err := checkPath(f.Path); err != nil {
			return fmt.Errorf("file %q: %w", f.Path, err)
		}
		if !slices.Contains(fileTypes, f.Type) {
			return fmt.Errorf("file %q: unknown type %q (want dir, file, symlink or hardlink)", f.Path, f.Type)
		}
		for _, h := range []struct{ name, value string }{{"sha256", f.SHA256}, {"built_sha256", f.BuiltSHA256}} {
			if b, err := hex.DecodeString(h.value); err != nil || hex.EncodeToString(b) != h.value {
				return fmt.Errorf("file %q: %s %q is not lowercase hexadecimal", f.Path, h.name, h.value)
			}
		}
		if f.Package != "" && f.Package != p.Name {
			return fmt.Errorf("file %q belongs to package %q", f.Path, f.Package)
		}
	}
	return nil
}

// DeletePackage removes every record of package name, or returns an
// error wrapping ErrNotInstalled.
func (tx *Tx) DeletePackage(name string) error {
	if tx.done {
		return errors.New("pkgdb: DeletePackage on a finished transaction")
	}
	stmt, err := tx.stmt("packageDirs")
	if err != nil {
		return fmt.Errorf("database %s: deleting package %s: %w", tx.db.path, name, err)
	}
	rows, err := stmt.QueryContext(context.Background(), name)
	if err != nil {
		return fmt.Errorf("database %s: deleting package %s: %w", tx.db.path, name, err)
	}
	for rows.Next() {
		var dir int64
		if err := rows.Scan(&dir); err != nil {
			rows.Close()
			return fmt.Errorf("database %s: deleting package %s: %w", tx.db.path, name, err)
		}
		tx.dropped = append(tx.dropped, dir)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("database %s: deleting package %s: %w", tx.db.path, name, err)
	}
	if _, err := tx.exec("deletePackageNeeded", name); err != nil {
		return fmt.Errorf("database %s: deleting package %s: %w", tx.db.path, name, err)
	}
	res, err := tx.exec("deletePackage", name)
	if err != nil {
		return fmt.Errorf("database %s: deleting package %s: %w", tx.db.path, name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("package %s: %w", name, ErrNotInstalled)
	}
	return nil
}

// deleteFile deletes one file record and its needed rows.
func (tx *Tx) deleteFile(pkg string, dir int64, name string) error {
	if _, err := tx.exec("deleteNeeded", pkg, dir, name); err != nil {
		return err
	}
	_, err := tx.exec("deleteFile", pkg, dir, name)
	return err
}

// Commit checks that no path the transaction wrote has several owners
// unless all of them record it as a directory, then makes the changes
// durable. On any error the transaction is rolled back.
func (tx *Tx) Commit() error {
	if tx.done {
		return errors.New("pkgdb: Commit on a finished transaction")
	}
	if err := tx.checkSharedPaths(); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.dropDirs(); err != nil {
		tx.Rollback()
		return err
	}
	if _, err := tx.conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		tx.Rollback()
		if full(err) {
			return fmt.Errorf("database %s: committing: %w (%v)", tx.db.path, ErrDiskFull, err)
		}
		return fmt.Errorf("database %s: committing: %w", tx.db.path, err)
	}
	tx.finish()
	return nil
}

// dropDirs deletes the dirs rows the transaction's deletions may have
// left without a record.
func (tx *Tx) dropDirs() error {
	if len(tx.dropped) == 0 {
		return nil
	}
	slices.Sort(tx.dropped)
	ids, err := json.Marshal(slices.Compact(tx.dropped))
	if err == nil {
		_, err = tx.exec("dropDirs", string(ids))
	}
	if err != nil {
		return fmt.Errorf("database %s: deleting unused directories: %w", tx.db.path, err)
	}
	return nil
}

// sharedPathsChunk is how many paths checkSharedPaths asks about at once.
const sharedPathsChunk = 2000

// checkSharedPaths finds touched paths whose owners are not all "dir"
// entries. It runs at commit, not per insert, so that moving a file from
// one package to another works in either PutPackage order. Paths are
// judged by counting their rows: asking, for each owner, whether another
// owner differs was a lookup per pair, and the usr/bin of 300 packages has
// 90,000 pairs. Only the paths found bad have their owners read.
func (tx *Tx) checkSharedPaths() error {
	paths := slices.Clone(tx.touched)
	slices.SortFunc(paths, func(a, b storedPath) int { return strings.Compare(a.path, b.path) })
	paths = slices.CompactFunc(paths, func(a, b storedPath) bool { return a.path == b.path })

	type owner struct{ pkg, typ string }
	bad := make(map[string][]owner)
	var badPaths []string
	ctx := context.Background()
	fail := func(err error) error {
		return fmt.Errorf("database %s: checking shared paths: %w", tx.db.path, err)
	}
	// A few thousand paths a query: in one, the 20,000 paths of a big
	// package were a JSON text SQLite took apart into 2.7 MiB of its own
	// memory, at the commit point, when the process is at its largest.
	var chunks [][]storedPath
	for part := range slices.Chunk(paths, sharedPathsChunk) {
		chunks = append(chunks, tableChunks(part, func(p storedPath) string { return p.path })...)
	}
	for _, chunk := range chunks {
		table, args := pairTable(chunk, func(p storedPath) (any, string) { return p.dir, p.name() })
		rows, err := tx.conn.QueryContext(ctx, `WITH t (dir, name) AS (`+table+`)
			SELECT d.path || f.name FROM t CROSS JOIN files f CROSS JOIN dirs d
			WHERE f.dir = t.dir AND f.name = t.name AND d.id = f.dir
			GROUP BY f.dir, f.name HAVING count(*) > 1 AND max(f.type <> 'dir')`, args...)
		if err != nil {
			return fail(err)
		}
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return fail(err)
			}
			badPaths = append(badPaths, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fail(err)
		}
	}
	if len(badPaths) == 0 {
		return nil
	}
	const shown = 5
	slices.Sort(badPaths)
	for _, p := range badPaths[:min(shown, len(badPaths))] {
		dir, name := splitPath(p)
		rows, err := tx.conn.QueryContext(ctx, `SELECT f.package, f.type FROM dirs d CROSS JOIN files f
			WHERE d.path = ? AND f.dir = d.id AND f.name = ? ORDER BY f.package`, dir, name)
		if err != nil {
			return fail(err)
		}
		for rows.Next() {
			var o owner
			if err := rows.Scan(&o.pkg, &o.typ); err != nil {
				rows.Close()
				return fail(err)
			}
			bad[p] = append(bad[p], o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fail(err)
		}
	}
	var list []string
	for _, p := range badPaths[:min(shown, len(badPaths))] {
		var owners []string
		for _, o := range bad[p] {
			owners = append(owners, o.pkg+" ("+o.typ+")")
		}
		list = append(list, fmt.Sprintf("%s: %s", p, strings.Join(owners, ", ")))
	}
	more := ""
	if len(badPaths) > shown {
		more = fmt.Sprintf(" and %d more", len(badPaths)-shown)
	}
	return fmt.Errorf("database %s: transaction rolled back, %d path(s) would have several owners: %s%s; resolve these file conflicts before recording the packages: %w",
		tx.db.path, len(badPaths), strings.Join(list, "; "), more, ErrSharedPath)
}

// Rollback discards the transaction. After Commit or Rollback it does
// nothing and returns nil, so it is safe to defer.
func (tx *Tx) Rollback() error {
	if tx.done {
		return nil
	}
	_, err := tx.conn.ExecContext(context.Background(), "ROLLBACK")
	tx.finish()
	if err != nil {
		return fmt.Errorf("database %s: rolling back: %w", tx.db.path, err)
	}
	return nil
}

func (tx *Tx) finish() {
	for _, stmt := range tx.stmts {
		stmt.Close()
	}
	tx.conn.Close()
	tx.done = true
}

// AddForeignDirs records directories that existed before any package
// claimed them; the installer never removes those.
func (tx *Tx) AddForeignDirs(paths []string) error {
	if tx.done {
		return errors.New("pkgdb: AddForeignDirs on a finished transaction")
	}
	for _, p := range paths {
		if err := checkPath(p); err != nil {
			return fmt.Errorf("foreign directory %q: %w", p, err)
		}
		if _, err := tx.exec("insertForeign", p); err != nil {
			return fmt.Errorf("database %s: recording foreign directory %s: %w", tx.db.path, p, err)
		}
	}
	return nil
}
