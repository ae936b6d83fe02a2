// Package pkgdb owns lpm's installed-package database: one SQLite file per
// target root, at ROOT/var/lib/lpm/lpm.db (see Path). It records which
// packages are installed on that root, their metadata and run-time
// relations, and which package owns which path. It also holds the
// transaction history tables that lpm's history and undo features use:
// the transactions begun through one handle after SetCommand are one
// command, one entry of lpm history, with each package's version, release,
// flags and archive before and after, and the edited config files a
// removal kept aside.
//
// It never touches a file outside the database: it does not install,
// remove or inspect files on the root, and it does not read archives.
// The only things it creates are the directories leading to the database,
// the database itself and SQLite's -wal and -shm files next to it, which
// it keeps after closing so that users who may read but not write
// ROOT/var/lib/lpm can still query. Callers keep the database and the
// root in step.
//
// Paths in the database are relative to the root and clean, with no
// leading slash: "usr/bin/foo", never "/usr/bin/foo" or "usr//bin/foo".
// Callers convert; pkgdb rejects any other form instead of guessing.
// A file record stores its path split (schema 7): the id of its
// directory's row in dirs ("usr/bin/") and its base name ("foo"); every
// query puts them back together, so callers only ever see whole paths.
//
// Each package also keeps its listing (schema 9, listing.go): what lpm
// files prints, zstd-compressed, which PutPackage writes with the records
// in the same transaction. Only lpm files reads it; every other question
// is answered from the records.
//
// A path has several owners only when every owner records it as a "dir".
// Tx.Commit enforces this for every path the transaction wrote, so the
// order of PutPackage calls within one transaction does not matter when a
// file moves from one package to another.
//
// # Schema
//
// The schema version is SQLite's PRAGMA user_version. Migrations are an
// ordered list of SQL steps; step N brings a database from version N-1 to
// N and runs in its own transaction, so a failed step leaves the database
// at the previous version. A database whose version is newer than this
// lpm knows is refused before anything is written to it, so an older lpm
// can never damage a newer lpm's database.
//
// The database runs in WAL mode with synchronous=FULL and foreign keys
// on: readers (OpenReadOnly) see the last committed state while one
// writer holds a transaction, and a committed transaction survives a
// power cut. Closing leaves the last commits in the -wal file (up to
// 1 MiB of them) rather than spend two fsyncs folding them into lpm.db:
// the three files together are the database, and a copy of lpm.db alone
// may lack the latest commands. A file's needed libraries are the one
// child table without a foreign key (schema 10): SQLite cascaded into it
// once per deleted file record, most of what removing a big package cost
// the database, so pkgdb deletes them with their records itself. A
// database another program folded and left without its -wal and -shm is
// read on a read-only mount as immutable (OpenReadOnly).
package pkgdb
