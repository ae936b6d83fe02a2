package pkgdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// A step brings the schema from one version to the next: its SQL, then,
// for a step that SQL cannot do exactly, Go code on the same connection,
// in the same transaction.
type step struct {
	sql     string
	convert func(ctx context.Context, conn *sql.Conn) error
}

// migrations is the ordered list of schema steps. migrations[i] brings a
// database from version i to version i+1; the number of entries is the
// newest schema this lpm knows. Never edit a released step: append a new
// one, because databases in the field have already run the old ones.
//
// Conventions: times are RFC 3339 UTC text (readable with the sqlite3
// shell), booleans are 0/1 integers, and an absent string is ”. Tables
// are STRICT so a wrongly typed value is an error instead of being stored.
var migrations = []step{
	// 1: initial schema.
	{sql: `
CREATE TABLE packages (
	name           TEXT PRIMARY KEY,
	version        TEXT NOT NULL,
	release        INTEGER NOT NULL,
	description    TEXT NOT NULL DEFAULT '',
	license        TEXT NOT NULL DEFAULT '',
	homepage       TEXT NOT NULL DEFAULT '',
	explicit       INTEGER NOT NULL DEFAULT 0 CHECK (explicit IN (0, 1)),
	held           INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1)),
	install_time   TEXT NOT NULL,
	build_date     TEXT NOT NULL,
	archive_sha256 TEXT NOT NULL DEFAULT '',
	archive_path   TEXT NOT NULL DEFAULT '',
	size           INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Every record below hangs off its package row and is deleted with it.
CREATE TABLE files (
	package TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,
	path    TEXT NOT NULL,
	type    TEXT NOT NULL CHECK (type IN ('dir', 'file', 'symlink', 'hardlink')),
	mode    INTEGER NOT NULL,
	uid     INTEGER NOT NULL,
	gid     INTEGER NOT NULL,
	size    INTEGER NOT NULL DEFAULT 0,
	sha256  TEXT NOT NULL DEFAULT '',
	link    TEXT NOT NULL DEFAULT '',
	soname  TEXT NOT NULL DEFAULT '',
	backup  INTEGER NOT NULL DEFAULT 0 CHECK (backup IN (0, 1)),
	PRIMARY KEY (package, path)
) STRICT;
CREATE INDEX files_path ON files (path);

-- seq keeps the order the port wrote the relations in.
CREATE TABLE deps (
	package TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	dep     TEXT NOT NULL,
	PRIMARY KEY (package, seq)
) STRICT;
CREATE TABLE provides (
	package TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	provide TEXT NOT NULL,
	PRIMARY KEY (package, seq)
) STRICT;
CREATE TABLE conflicts (
	package  TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,
	seq      INTEGER NOT NULL,
	conflict TEXT NOT NULL,
	PRIMARY KEY (package, seq)
) STRICT;

-- ELF DT_NEEDED entries of one file, in file order.
CREATE TABLE needed (
	package TEXT NOT NULL,
	path    TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	soname  TEXT NOT NULL,
	PRIMARY KEY (package, path, seq),
	FOREIGN KEY (package, path) REFERENCES files (package, path) ON DELETE CASCADE
) STRICT;
CREATE INDEX needed_soname ON needed (soname);
CREATE INDEX files_soname ON files (soname) WHERE soname != '';

-- History: one row per lpm run that changed the root. Rows outlive the
-- packages they mention, so there are no foreign keys to packages.
CREATE TABLE transactions (
	id       INTEGER PRIMARY KEY,
	started  TEXT NOT NULL,
	finished TEXT NOT NULL DEFAULT '',
	state    TEXT NOT NULL,
	command  TEXT NOT NULL DEFAULT '',
	summary  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE tx_packages (
	tx               INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
	name             TEXT NOT NULL,
	old_version      TEXT NOT NULL DEFAULT '',
	new_version      TEXT NOT NULL DEFAULT '',
	action           TEXT NOT NULL,
	old_archive_path TEXT NOT NULL DEFAULT '',
	new_archive_path TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (tx, name)
) STRICT;

-- The journal of a transaction: every change it will make to the root,
-- written durably before the first file changes, so that a crashed lpm's
-- successor can roll it back or finish it. Rows go once it is done.
CREATE TABLE journal (
	tx     INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
	seq    INTEGER NOT NULL,
	op     TEXT NOT NULL,
	path   TEXT NOT NULL,
	temp   TEXT NOT NULL DEFAULT '',
	backup TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (tx, seq)
) STRICT;

-- Directories that were on disk, owned by no package, when a package
-- first claimed them (an LFS system's /usr/lib): lpm did not create them,
-- so it never removes them.
CREATE TABLE foreign_dirs (
	path TEXT PRIMARY KEY
) STRICT;
`},
	// 2: one lpm command is one history entry (command_id is the id of
	// its first transaction), and undo can put back what was there: the
	// releases and explicit flags before and after (-1: not recorded, a
	// transaction older than this step), whether it was held, and the
	// edited config files a removal kept as .lpmsave.
	{sql: `
ALTER TABLE transactions ADD COLUMN command_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN command_line TEXT NOT NULL DEFAULT '';
UPDATE transactions SET command_id = id;
CREATE INDEX transactions_command ON transactions (command_id);
ALTER TABLE tx_packages ADD COLUMN old_release INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tx_packages ADD COLUMN new_release INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tx_packages ADD COLUMN old_explicit INTEGER NOT NULL DEFAULT -1 CHECK (old_explicit IN (-1, 0, 1));
ALTER TABLE tx_packages ADD COLUMN new_explicit INTEGER NOT NULL DEFAULT -1 CHECK (new_explicit IN (-1, 0, 1));
ALTER TABLE tx_packages ADD COLUMN old_held INTEGER NOT NULL DEFAULT 0 CHECK (old_held IN (0, 1));
CREATE TABLE tx_saved (
	tx    INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
	path  TEXT NOT NULL,
	saved TEXT NOT NULL,
	PRIMARY KEY (tx, path)
) STRICT;
`},
	// 3: the version the solver compares, as the port declared or the
	// version rule read it when the package was built ('' for packages
	// installed before: callers fall back to the port or the rule).
	{sql: `ALTER TABLE packages ADD COLUMN semver TEXT NOT NULL DEFAULT '';`},
	// 4: lpm adopt. A package lpm did not install but took over records
	// where its file list came from (adopted_from: "archive PATH",
	// "footprint PATH", "build PATH", or "provided" for a package with no
	// files); '' for packages lpm installed. An adopted file whose content
	// on disk differed from the package's records the package's hash in
	// built_sha256 (its sha256 is what is on disk), so that verify
	// --against-package can list it later.
	{sql: `
ALTER TABLE packages ADD COLUMN adopted_from TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN built_sha256 TEXT NOT NULL DEFAULT '';
`},
	// 5: files and needed are stored in their primary key's order
	// (WITHOUT ROWID): a package's files are one range of the table, read
	// in order by files and remove, and the (package, path) index that
	// repeated every row's key is gone (a fifth of the database).
	// needed is copied aside and dropped first: dropping files with
	// foreign keys on would delete its rows through ON DELETE CASCADE,
	// and the pragma that turns them off cannot run in a transaction.
	{sql: `
CREATE TEMP TABLE needed_copy AS SELECT package, path, seq, soname FROM needed;
DROP TABLE needed;
CREATE TABLE files_new (
	package TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,
	path    TEXT NOT NULL,
	type    TEXT NOT NULL CHECK (type IN ('dir', 'file', 'symlink', 'hardlink')),
	mode    INTEGER NOT NULL,
	uid     INTEGER NOT NULL,
	gid     INTEGER NOT NULL,
	size    INTEGER NOT NULL DEFAULT 0,
	sha256  TEXT NOT NULL DEFAULT '',
	link    TEXT NOT NULL DEFAULT '',
	soname  TEXT NOT NULL DEFAULT '',
	backup  INTEGER NOT NULL DEFAULT 0 CHECK (backup IN (0, 1)),
	built_sha256 TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (package, path)
) STRICT, WITHOUT ROWID;
INSERT INTO files_new (package, path, type, mode, uid, gid, size, sha256, link, soname, backup, built_sha256)
	SELECT package, path, type, mode, uid, gid, size, sha256, link, soname, backup, built_sha256 FROM files;
DROP TABLE files;
ALTER TABLE files_new RENAME TO files;
CREATE INDEX files_path ON files (path);
CREATE INDEX files_soname ON files (soname) WHERE soname != '';
CREATE TABLE needed (
	package TEXT NOT NULL,
	path    TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	soname  TEXT NOT NULL,
	PRIMARY KEY (package, path, seq),
	FOREIGN KEY (package, path) REFERENCES files (package, path) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
INSERT INTO needed (package, path, seq, soname) SELECT package, path, seq, soname FROM needed_copy;
DROP TABLE needed_copy;
CREATE INDEX needed_soname ON needed (soname);
`},
	// 6: a file's sha256 (and built_sha256) is its 32 bytes, not 64 hex
	// digits: a seventh of a big package's rows. Hashes are lowercase hex
	// outside the database, as before. The table is rebuilt as in step 5
	// (needed aside first); a hash that is not hexadecimal, which no lpm
	// wrote, fails the step and leaves the database at schema 5.
	{sql: `
CREATE TEMP TABLE needed_copy AS SELECT package, path, seq, soname FROM needed;
DROP TABLE needed;
CREATE TABLE files_new (
	package TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,
	path    TEXT NOT NULL,
	type    TEXT NOT NULL CHECK (type IN ('dir', 'file', 'symlink', 'hardlink')),
	mode    INTEGER NOT NULL,
	uid     INTEGER NOT NULL,
	gid     INTEGER NOT NULL,
	size    INTEGER NOT NULL DEFAULT 0,
	sha256  BLOB NOT NULL DEFAULT X'',
	link    TEXT NOT NULL DEFAULT '',
	soname  TEXT NOT NULL DEFAULT '',
	backup  INTEGER NOT NULL DEFAULT 0 CHECK (backup IN (0, 1)),
	built_sha256 BLOB NOT NULL DEFAULT X'',
	PRIMARY KEY (package, path)
) STRICT, WITHOUT ROWID;
INSERT INTO files_new (package, path, type, mode, uid, gid, size, sha256, link, soname, backup, built_sha256)
	SELECT package, path, type, mode, uid, gid, size, unhex(sha256), link, soname, backup, unhex(built_sha256)
	FROM files ORDER BY package, path;
DROP TABLE files;
ALTER TABLE files_new RENAME TO files;
CREATE INDEX files_path ON files (path);
CREATE INDEX files_soname ON files (soname) WHERE soname != '';
CREATE TABLE needed (
	package TEXT NOT NULL,
	path    TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	soname  TEXT NOT NULL,
	PRIMARY KEY (package, path, seq),
	FOREIGN KEY (package, path) REFERENCES files (package, path) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
INSERT INTO needed (package, path, seq, soname) SELECT package, path, seq, soname FROM needed_copy ORDER BY package, path, seq;
DROP TABLE needed_copy;
CREATE INDEX needed_soname ON needed (soname);
`},
	// 7: paths are interned: a file record names its directory by the id
	// of a dirs row ("usr/bin/", "" for the root's own entries) and keeps
	// only its base name, so neither the records nor the path index repeat
	// whole paths (together a third of the database). A directory no
	// record names any more goes when the transaction that dropped the
	// last one commits. convertPaths moves the records; the new tables
	// take the old ones' place only once every record is in, in this
	// step's transaction, so a step that fails leaves schema 6 as it was.
	{sql: `
CREATE TABLE dirs (
	id   INTEGER PRIMARY KEY,
	path TEXT NOT NULL UNIQUE
) STRICT;
CREATE TEMP TABLE needed_copy AS SELECT package, path, seq, soname FROM needed;
DROP TABLE needed;
CREATE TABLE files_new (
	package TEXT NOT NULL REFERENCES packages(name) ON DELETE CASCADE,
	dir     INTEGER NOT NULL REFERENCES dirs(id),
	name    TEXT NOT NULL,
	type    TEXT NOT NULL CHECK (type IN ('dir', 'file', 'symlink', 'hardlink')),
	mode    INTEGER NOT NULL,
	uid     INTEGER NOT NULL,
	gid     INTEGER NOT NULL,
	size    INTEGER NOT NULL DEFAULT 0,
	sha256  BLOB NOT NULL DEFAULT X'',
	link    TEXT NOT NULL DEFAULT '',
	soname  TEXT NOT NULL DEFAULT '',
	backup  INTEGER NOT NULL DEFAULT 0 CHECK (backup IN (0, 1)),
	built_sha256 BLOB NOT NULL DEFAULT X'',
	PRIMARY KEY (package, dir, name)
) STRICT, WITHOUT ROWID;
`, convert: convertPaths},
	// 8: a package records the sha256 of its archive's .MANIFEST entry,
	// which Open computes anyway and which names every entry's content, in
	// place of the sha256 of the whole archive file, which cost a second
	// read of the archive on every install and which nothing read. The
	// history keeps the old version's manifest hash beside its archive, so
	// that undo can tell the build it replaced from another build of the
	// same release in the package cache. Records and history written
	// before this step have no manifest hash ('') and are not checked;
	// their archive hashes go, as they could not serve undo (the history
	// never kept them) and nothing else ever read them.
	{sql: `
ALTER TABLE packages ADD COLUMN manifest_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE packages DROP COLUMN archive_sha256;
ALTER TABLE tx_packages ADD COLUMN old_manifest_sha256 TEXT NOT NULL DEFAULT '';
`},
	// 9: each package keeps its listing, what lpm files prints for it,
	// zstd-compressed (listing.go): lpm files of a 20,000-file package
	// reads one row instead of every record, as dpkg -L reads one .list
	// file. PutPackage writes it with the records, in one transaction;
	// the records stay the truth for every other question.
	// convertListings writes every package's from its records.
	{sql: `
CREATE TABLE listings (
	package TEXT PRIMARY KEY REFERENCES packages(name) ON DELETE CASCADE,
	listing BLOB NOT NULL
) STRICT;
`, convert: convertListings},
	// 10: needed has no foreign key to files. SQLite ran its ON DELETE
	// CASCADE as a subprogram for every file record deleted, which was two
	// thirds of removing a 20,000-file package from the database (112 ->
	// 36 ms in the sqlite3 shell). pkgdb deletes a record's needed rows
	// with it instead (tx.go: DeletePackage, PutUpgrade); a test holds
	// it to leaving none behind. Rows no record names, which only a
	// foreign key would have caught, go here.
	{sql: `
CREATE TABLE needed_new (
	package TEXT NOT NULL,
	dir     INTEGER NOT NULL,
	name    TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	soname  TEXT NOT NULL,
	PRIMARY KEY (package, dir, name, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO needed_new (package, dir, name, seq, soname)
	SELECT n.package, n.dir, n.name, n.seq, n.soname FROM needed n
	WHERE EXISTS (SELECT 1 FROM files f WHERE f.package = n.package AND f.dir = n.dir AND f.name = n.name)
	ORDER BY n.package, n.dir, n.name, n.seq;
DROP TABLE needed;
ALTER TABLE needed_new RENAME TO needed;
CREATE INDEX needed_soname ON needed (soname);
`},
	// 11: a transaction's journal is a few rows, each a chunk of its
	// entries in one BLOB (journalcodec.go), instead of a row per path:
	// 20,000 rows of journal and its key index were written before a big
	// package's first file changed and deleted as it closed. entries is
	// how many the chunk holds, saves how many of them are 'save' ops
	// (closing a done transaction reads only those chunks, for tx_saved).
	// Journals an older lpm left open in journal stay there, and are read
	// first; nothing writes that table any more.
	{sql: `
CREATE TABLE journal_chunks (
	tx      INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	entries INTEGER NOT NULL,
	saves   INTEGER NOT NULL DEFAULT 0,
	data    BLOB NOT NULL,
	PRIMARY KEY (tx, seq)
) STRICT;
`},
}

// pathTables is the rest of step 7 once convertPaths filled files_new: it
// takes the place of files, and needed is made again, keyed like it.
const pathTables = `
DROP TABLE files;
ALTER TABLE files_new RENAME TO files;
CREATE INDEX files_path ON files (dir, name);
CREATE INDEX files_soname ON files (soname) WHERE soname != '';
CREATE TABLE needed (
	package TEXT NOT NULL,
	dir     INTEGER NOT NULL,
	name    TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	soname  TEXT NOT NULL,
	PRIMARY KEY (package, dir, name, seq),
	FOREIGN KEY (package, dir, name) REFERENCES files (package, dir, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
`

// convertPaths copies every file record of schema 6 into files_new, its
// path split as splitPath does, then puts the new tables in place and
// copies the needed libraries. A path no lpm writes (absolute, not
// clean) stops the step, naming the record: splitting it could merge it
// with another record, or lose it.
func convertPaths(ctx context.Context, conn *sql.Conn) error {
	dirs := map[string]int64{}
	insertDir, err := conn.PrepareContext(ctx, "INSERT INTO dirs (path) VALUES (?)")
	if err != nil {
		return err
	}
	defer insertDir.Close()
	insertFile, err := conn.PrepareContext(ctx, `INSERT INTO files_new (package, dir, name, type, mode, uid, gid, size, sha256, link, soname, backup, built_sha256)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer insertFile.Close()
	rows, err := conn.QueryContext(ctx, `SELECT package, path, type, mode, uid, gid, size, sha256, link, soname, backup, built_sha256
		FROM files ORDER BY package, path`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var pkg, p, typ, link, soname string
	var mode, uid, gid, size, backup int64
	var sum, built []byte
	for rows.Next() {
		if err := rows.Scan(&pkg, &p, &typ, &mode, &uid, &gid, &size, &sum, &link, &soname, &backup, &built); err != nil {
			return err
		}
		if err := checkPath(p); err != nil {
			return fmt.Errorf("the record of %q in package %s: %w; no lpm writes such a path: delete that record (sqlite3) or run lpm rebuild-db", p, pkg, err)
		}
		dir, name := splitPath(p)
		id, ok := dirs[dir]
		if !ok {
			res, err := insertDir.ExecContext(ctx, dir)
			if err == nil {
				id, err = res.LastInsertId()
			}
			if err != nil {
				return fmt.Errorf("the directory of %q in package %s: %w", p, pkg, err)
			}
			dirs[dir] = id
		}
		if _, err := insertFile.ExecContext(ctx, pkg, id, name, typ, mode, uid, gid, size, sum, link, soname, backup, built); err != nil {
			return fmt.Errorf("the record of %q in package %s: %w", p, pkg, err)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()

	if _, err := conn.ExecContext(ctx, pathTables); err != nil {
		return err
	}
	insertNeeded, err := conn.PrepareContext(ctx, "INSERT INTO needed (package, dir, name, seq, soname) VALUES (?,?,?,?,?)")
	if err != nil {
		return err
	}
	defer insertNeeded.Close()
	needed, err := conn.QueryContext(ctx, "SELECT package, path, seq, soname FROM needed_copy ORDER BY package, path, seq")
	if err != nil {
		return err
	}
	defer needed.Close()
	var seq int64
	for needed.Next() {
		if err := needed.Scan(&pkg, &p, &seq, &soname); err != nil {
			return err
		}
		dir, name := splitPath(p)
		id, ok := dirs[dir]
		if !ok {
			return fmt.Errorf("library %s needed by %q in package %s: the package has no record of that file", soname, p, pkg)
		}
		if _, err := insertNeeded.ExecContext(ctx, pkg, id, name, seq, soname); err != nil {
			return fmt.Errorf("library %s needed by %q in package %s: %w", soname, p, pkg, err)
		}
	}
	if err := needed.Err(); err != nil {
		return err
	}
	needed.Close()
	_, err = conn.ExecContext(ctx, "DROP TABLE needed_copy; CREATE INDEX needed_soname ON needed (soname);")
	return err
}

// splitPath splits a database path into the dirs row it is stored under
// (its directory with a trailing slash, "" for an entry of the root
// itself) and its base name: "usr/bin/ls" is "usr/bin/" and "ls", "usr"
// is "" and "usr". The path is the two put together, byte for byte, so
// SQL rebuilds it with ||, whatever its bytes.
func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	return p[:i+1], p[i+1:]
}
