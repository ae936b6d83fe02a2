package pkgdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-sqlite3"
	"golang.org/x/sys/unix"
)

// writerDriver is the SQLite driver for read-write handles. It keeps the
// -wal and -shm files when the last connection closes, as rpm does:
// SQLite cannot open a WAL database read-only without them, and a user
// who may not write ROOT/var/lib/lpm could not create them, so "lpm
// list" as an ordinary user would fail. Read-only handles use
// readerDriver. The size limit keeps the kept WAL from staying at the
// size of the biggest transaction ever committed.
const writerDriver = "sqlite3-lpm-writer"

// readerDriver is the SQLite driver for read-only handles. It reads the
// database file through a memory map instead of a pread per page: a
// query's whole process is one run over a few MiB (lpm files of a
// 20,000-file package reads 600 pages), so the system calls were a
// seventh of it. SQLite never maps past the file's end as it was when
// the read began, and a checkpoint never shrinks the file under a reader.
const readerDriver = "sqlite3-lpm-reader"

func init() {
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(conn *sqlite3.SQLiteConn) error {
			if err := conn.SetFileControlInt("main", sqlite3.SQLITE_FCNTL_PERSIST_WAL, 1); err != nil {
				return err
			}
			if err := noCheckpointOnClose(conn); err != nil {
				return err
			}
			_, err := conn.Exec(fmt.Sprintf("PRAGMA journal_size_limit = %d", bigWAL), nil)
			return err
		},
	})
	sql.Register(readerDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(conn *sqlite3.SQLiteConn) error {
			_, err := conn.Exec("PRAGMA mmap_size = 268435456", nil)
			return err
		},
	})
}

// ErrNotInstalled is wrapped by errors about a package that has no
// record in the database.
var ErrNotInstalled = errors.New("not installed")

// ErrNoDatabase is wrapped by OpenReadOnly's error when the root has no
// database yet. Query commands can treat it as "nothing installed".
var ErrNoDatabase = errors.New("nothing installed yet")

// ErrOldSchema is wrapped by OpenReadOnly's error when the database's
// schema is older than this lpm's: a writer's Open migrates it, which is
// what the error tells the user.
var ErrOldSchema = errors.New("run an lpm command that changes the root (as a user who may write the database) to upgrade it")

// ErrSharedPath is wrapped by Tx.Commit's error when the transaction
// would leave a path with several owners and not all of them record it
// as a directory.
var ErrSharedPath = errors.New("only directories may have several owners")

// busyTimeout is how long a statement waits for another process's write
// lock before failing. Readers in WAL mode never wait for writers.
const busyTimeout = 5 * time.Second

// chunkSize bounds the number of "?" in one IN (...) list, well below
// SQLite's limit on bound parameters.
const chunkSize = 500

// Package is one installed package. Depends, Provides and Conflicts are
// the run-time relation strings exactly as the port wrote them, e.g.
// "zlib >=1.3", in their original order. Times come back in UTC.
type Package struct {
	Name, Version string
	Release       int
	// SemVer is the version the solver compares ("9.9.2" for 9.9p2),
	// "" when the package was installed by an lpm that did not record it.
	SemVer string

	Description, License, Homepage string

	// Explicit is true when the user asked for the package, false when
	// it was pulled in as a dependency. Held packages are not upgraded.
	Explicit, Held bool

	InstallTime, BuildDate time.Time

	// ArchivePath is the archive the package was installed from, and
	// ManifestSHA256 the sha256 of its .MANIFEST entry (archive.Reader's
	// ManifestSHA256), which tells that build from another one written
	// to the same path since; undo and repair check it. "" for records
	// older than schema 8 and for packages adopted without an archive.
	ArchivePath, ManifestSHA256 string

	// Size is the installed size in bytes.
	Size int64

	// AdoptedFrom is where lpm adopt learned the file list of a package
	// it did not install ("archive PATH", "footprint PATH", "build PATH",
	// "provided" for one with no files); "" for packages lpm installed.
	AdoptedFrom string

	Depends, Provides, Conflicts []string
}

// File is one path a package owns. Path is relative to the root and
// clean ("usr/bin/foo"). Type is "dir", "file", "symlink" or "hardlink".
// Size and SHA256 describe a file's content; Link is a symlink's target
// or a hardlink's path; Soname and Needed are the ELF DT_SONAME and
// DT_NEEDED entries. Backup marks a config file to preserve on upgrade.
type File struct {
	Package string

	Path, Type string

	Mode     uint32
	UID, GID int
	Size     int64

	SHA256, Link string

	Soname string
	Needed []string

	Backup bool

	// BuiltSHA256 is, for an adopted file whose content differed from the
	// package's, the package's hash (SHA256 is the disk's); "" otherwise.
	BuiltSHA256 string
}

// DB is an open package database. Its methods are safe for concurrent
// use; a Tx is not.
type DB struct {
	sql      *sql.DB
	path     string
	readOnly bool
	version  int

	// mu guards the command the transactions begun through this handle
	// belong to (SetCommand); commandID is 0 until the first one.
	mu          sync.Mutex
	commandLine string
	commandID   int64
}

// Path returns where the package database of root lives.
func Path(root string) string {
	return filepath.Join(root, "var", "lib", "lpm", "lpm.db")
}

// Open opens the package database of root for reading and writing,
// creating ROOT/var/lib/lpm and the database if they are missing and
// migrating the schema to the newest version this lpm knows. root itself
// must already exist. A database with a newer schema is refused without
// writing to it.
func Open(root string) (*DB, error) { return openWriter(root, false) }

// OpenNew creates a new, empty database for root where there is none,
// whatever lpm's state on the root says: lpm rebuild-db, after moving a
// damaged one aside (MoveAside).
func OpenNew(root string) (*DB, error) {
	if _, err := os.Lstat(Path(root)); err == nil {
		return nil, fmt.Errorf("database %s exists; move it aside first", Path(root))
	}
	return openWriter(root, true)
}

func openWriter(root string, fresh bool) (*DB, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("install root: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("install root %s is not a directory", root)
	}

	file := Path(root)
	// Check the file's header before SQLite opens it read-write, so a
	// database from a newer lpm is not touched at all.
	version, exists, err := headerVersion(file)
	if err != nil {
		return nil, err
	}
	if !fresh {
		if err := checkNoRebuild(root); err != nil {
			return nil, err
		}
		if err := checkNotEmptied(root, file, exists); err != nil {
			return nil, err
		}
	}
	if err := checkNotNewer(file, version); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, fmt.Errorf("creating the package database directory: %w", err)
	}

	db, err := open(file, false)
	if err != nil {
		return nil, err
	}
	if err := db.setUpForWriting(); err != nil {
		db.sql.Close()
		return nil, err
	}
	return db, nil
}

// OpenReadOnly opens the package database of root for queries. It never
// creates or migrates anything; if root has no database it returns an
// error wrapping ErrNoDatabase.
func OpenReadOnly(root string) (*DB, error) {
	if err := checkNoRebuild(root); err != nil {
		return nil, err
	}
	file := Path(root)
	version, exists, err := headerVersion(file)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := checkNotEmptied(root, file, false); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no package database at %s; %w", file, ErrNoDatabase)
	}
	if err := checkNotNewer(file, version); err != nil {
		return nil, err
	}

	db, err := open(file, true)
	if err != nil {
		return nil, err
	}
	// The header can lag behind the WAL, so ask SQLite for the truth.
	version, err = db.userVersion(context.Background())
	if err != nil && walGoneAndUnwritable(file) {
		// A database whose last writer folded its WAL and took the -wal
		// and -shm files away (the sqlite3 shell, another SQLite program) cannot be
		// opened read-only where SQLite may not make them again (a
		// read-only mount), unless it is taken as immutable: with no WAL
		// and no writer through this mount, the file is all there is.
		db.sql.Close()
		if db, err = openImmutable(file); err != nil {
			return nil, err
		}
		version, err = db.userVersion(context.Background())
	}
	if err == nil {
		err = checkNotNewer(file, version)
	}
	if err == nil && version == 0 {
		err = checkNotEmptied(root, file, true)
		if err == nil {
			err = fmt.Errorf("no package database at %s (the file is empty); %w", file, ErrNoDatabase)
		}
	}
	if err == nil && version < len(migrations) {
		err = fmt.Errorf("database %s has schema %d, this lpm needs %d: %w", file, version, len(migrations), ErrOldSchema)
	}
	if err != nil {
		db.sql.Close()
		return nil, err
	}
	db.version = version
	return db, nil
}

// OpenEmpty returns an empty database of the current schema, held in
// memory and read-only: what a query sees on a root where nothing was ever
// installed, without creating anything there.
func OpenEmpty() (*DB, error) {
	sqldb, err := sql.Open("sqlite3", "file::memory:?_foreign_keys=1")
	if err != nil {
		return nil, fmt.Errorf("empty database: %w", err)
	}
	// Each connection to :memory: is a database of its own: keep one.
	sqldb.SetMaxOpenConns(1)
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)
	version, err := migrate(context.Background(), sqldb, "(empty)", migrations)
	if err != nil {
		sqldb.Close()
		return nil, err
	}
	return &DB{sql: sqldb, path: "(no database yet)", readOnly: true, version: version}, nil
}

// open connects to file. Per-connection settings go into the DSN so that
// every pooled connection gets them; none of them writes to the file.
// walGoneAndUnwritable reports whether the database file has no WAL with
// data and no -shm beside it, in a directory this process may not write.
func walGoneAndUnwritable(file string) bool {
	if fi, err := os.Stat(file + "-wal"); err == nil && fi.Size() > 0 {
		return false
	}
	if _, err := os.Lstat(file + "-shm"); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return unix.Access(filepath.Dir(file), unix.W_OK) != nil
}

// openImmutable opens the database read-only as a file nothing changes
// (SQLite's immutable=1: no locks, no -shm).
func openImmutable(file string) (*DB, error) {
	return openWith(file, true, true)
}

func open(file string, readOnly bool) (*DB, error) {
	return openWith(file, readOnly, false)
}

func openWith(file string, readOnly, immutable bool) (*DB, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", file, err)
	}
	params := url.Values{}
	params.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	params.Set("_foreign_keys", "1")
	params.Set("_synchronous", "FULL")
	// database/sql never uses one connection from two goroutines at once,
	// so SQLite's own per-call mutex is pure cost: a quarter of reading a
	// big package's records.
	params.Set("_mutex", "no")
	if readOnly {
		params.Set("mode", "ro")
	}
	if immutable {
		params.Set("immutable", "1")
	}
	// A file: URI with an escaped path survives roots containing "?",
	// "#" or "%"; SQLite ignores the driver's "_" parameters.
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + params.Encode()
	driverName := writerDriver
	if readOnly {
		driverName = readerDriver
	}
	sqldb, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", file, err)
	}
	return &DB{sql: sqldb, path: file, readOnly: readOnly}, nil
}

// setUpForWriting checks the schema version as SQLite sees it, switches
// to WAL and runs any missing migrations, in that order: nothing is
// written before the version check passes.
func (db *DB) setUpForWriting() error {
	ctx := context.Background()
	version, err := db.userVersion(ctx)
	if err != nil {
		return err
	}
	if err := checkNotNewer(db.path, version); err != nil {
		return err
	}
	// WAL is a property of the file; only a new database needs the switch,
	// which would otherwise wait for another process's write lock.
	var mode string
	if err := db.sql.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("database %s: reading the journal mode: %w", db.path, err)
	}
	if mode != "wal" && version == 0 {
		db.enableIncrementalVacuum(ctx)
	}
	if mode != "wal" {
		if err := db.sql.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
			return fmt.Errorf("database %s: switching to WAL mode: %w", db.path, err)
		}
	}
	if mode != "wal" {
		return fmt.Errorf("database %s: SQLite cannot use WAL journal mode here (got %q); keep the root on a local filesystem", db.path, mode)
	}
	db.version, err = migrate(ctx, db.sql, db.path, migrations)
	return err
}

// enableIncrementalVacuum sets up a new database to give free pages back
// to the filesystem: a transaction's journal (390 KB in chunks for a
// package of 20,000 paths) is deleted when it closes, and SetTxState's
// incremental vacuum then shrinks the file instead of leaving it at its
// biggest journal's size. SQLite takes the setting only before the first
// table exists, and only from a VACUUM on the same connection (the pool
// might hand the first write to another). A failure leaves an ordinary
// database, whose free pages are reused by the next transaction.
func (db *DB) enableIncrementalVacuum(ctx context.Context) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err == nil {
		conn.ExecContext(ctx, "VACUUM")
	}
}

// migrate applies the steps the database has not run yet, each in its own
// write transaction, and returns the resulting version. An up-to-date
// database is not locked at all, so opening it never waits for another
// writer. The version is re-read under the write lock so two lpm
// processes starting at once cannot both run a step.
func migrate(ctx context.Context, sqldb *sql.DB, file string, steps []step) (int, error) {
	conn, err := sqldb.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("database %s: %w", file, err)
	}
	defer conn.Close()
	migrated := false
	for {
		version, err := userVersionOn(ctx, conn, file)
		if err != nil {
			return 0, err
		}
		if version > len(steps) {
			return 0, newerError(file, version, len(steps))
		}
		if version == len(steps) {
			if migrated {
				// A step that rebuilt a table left the old one's pages
				// free: give them back now, not at the next transaction's
				// close (housekeeping; a database without auto_vacuum
				// reuses them instead).
				if rows, err := conn.QueryContext(ctx, "PRAGMA incremental_vacuum"); err == nil {
					for rows.Next() {
					}
					rows.Close()
				}
				// Closing does not fold the WAL back (noCheckpointOnClose),
				// but the version in the file's header should be the
				// schema's: an older lpm reads it to refuse a newer
				// database before SQLite opens it. A failure leaves the
				// version in the WAL, where SQLite still reads it first.
				checkpointNow(ctx, conn)
			}
			return version, nil
		}

		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return 0, lockError(file, err)
		}
		version, err = userVersionOn(ctx, conn, file)
		if err == nil && version > len(steps) {
			err = newerError(file, version, len(steps))
		}
		if err == nil && version < len(steps) {
			_, err = conn.ExecContext(ctx, steps[version].sql)
			if err == nil && steps[version].convert != nil {
				err = steps[version].convert(ctx, conn)
			}
			if err == nil {
				_, err = conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version+1))
			}
			if err != nil {
				err = fmt.Errorf("database %s: migrating schema %d to %d: %w", file, version, version+1, err)
			}
		}
		if err == nil {
			_, err = conn.ExecContext(ctx, "COMMIT")
		}
		if err != nil {
			conn.ExecContext(ctx, "ROLLBACK") // the error that matters is err
			return 0, err
		}
		migrated = true
	}
}

func (db *DB) userVersion(ctx context.Context) (int, error) {
	var v int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, versionError(db.path, err)
	}
	return v, nil
}

func userVersionOn(ctx context.Context, conn *sql.Conn, file string) (int, error) {
	var v int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, versionError(file, err)
	}
	return v, nil
}

// versionError says why the schema version of file could not be read.
// SQLite answers "attempt to write a readonly database" when a user who
// may not write the database's directory reads a WAL database that has no
// -shm file beside it (SQLite must make one to read): the first lpm run
// by root leaves one.
func versionError(file string, err error) error {
	if corrupt(err) {
		return damagedError(file, err)
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrReadonly {
		return fmt.Errorf("database %s: cannot be read without writing its directory (it has no %s-shm beside it, which SQLite must make): run lpm once as root", file, filepath.Base(file))
	}
	return fmt.Errorf("database %s: reading the schema version: %w", file, err)
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// headerVersion reads the schema version (user_version, a big-endian
// 32-bit integer at offset 60 of the SQLite header) straight from the
// file, which cannot modify it. An empty file is an empty database.
func headerVersion(file string) (version int, exists bool, err error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("package database: %w", err)
	}
	defer f.Close()
	var header [100]byte
	n, err := io.ReadFull(f, header[:])
	if n == 0 && err == io.EOF {
		return 0, true, nil
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		return 0, true, fmt.Errorf("package database: %w", err)
	}
	if err == io.ErrUnexpectedEOF || string(header[:len(sqliteMagic)]) != sqliteMagic {
		return 0, true, fmt.Errorf("database %s is not an SQLite file; lpm left it untouched: restore it from a backup, or run lpm rebuild-db to rebuild it from the package cache and the disk: %w", file, ErrDamaged)
	}
	return int(int32(binary.BigEndian.Uint32(header[60:64]))), true, nil
}

// ErrDamaged is wrapped by errors about a database that lpm's state on the
// root says cannot be what it is: empty, or not SQLite.
var ErrDamaged = errors.New("the package database is damaged")

// checkNotEmptied refuses an empty database file on a root that holds
// lpm's state: something emptied it (filesystem damage, a careless
// truncate), and taking it for "nothing installed" would start a new
// database over a root full of packages. An empty file on a root without
// that state is what an lpm killed while first creating it leaves.
//
// A missing database is judged on stronger evidence only (what lpm leaves
// beside its database once it has installed something), since lpm build
// fills the package cache of a root that has none yet.
func checkNotEmptied(root, file string, exists bool) error {
	what := "missing"
	if exists {
		fi, err := os.Stat(file)
		if err != nil || fi.Size() > 0 {
			return nil
		}
		what = "empty"
	}
	if state := lpmState(root, exists); state != "" {
		return fmt.Errorf("database %s is %s, but %s holds lpm's state (%s): it was damaged, not new; lpm left everything untouched: run lpm rebuild-db to rebuild it from the package cache and the disk, or restore it from a backup: %w", file, what, root, state, ErrDamaged)
	}
	return nil
}

// lpmState names the first sign of lpm's use it finds on root, "" if
// none; withCache counts archives in the package cache as one.
func lpmState(root string, withCache bool) string {
	dir := filepath.Dir(Path(root))
	if fi, err := os.Stat(Path(root) + "-wal"); err == nil && fi.Size() > 0 {
		return Path(root) + "-wal"
	}
	for _, name := range []string{"pristine", "reserve", "hook-temps"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	if !withCache {
		return ""
	}
	if archives, _ := filepath.Glob(filepath.Join(root, "var/cache/lpm/packages/*.lpm")); len(archives) > 0 {
		return fmt.Sprintf("%d package archive(s) in %s", len(archives), filepath.Dir(archives[0]))
	}
	return ""
}

// MoveAside renames root's database (and its -wal and -shm) to names
// marked damaged with the time, so that a new one can be built while
// nothing of the old is lost. It returns the new name of the database.
func MoveAside(root string) (string, error) {
	file := Path(root)
	aside := fmt.Sprintf("%s.damaged-%s", file, time.Now().UTC().Format("20060102T150405"))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		err := os.Rename(file+suffix, aside+suffix)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("moving the damaged database aside: %w", err)
		}
	}
	return aside, nil
}

func checkNotNewer(file string, version int) error {
	if version < 0 {
		return fmt.Errorf("database %s has invalid schema version %d; it was not written by lpm", file, version)
	}
	if version > len(migrations) {
		return newerError(file, version, len(migrations))
	}
	return nil
}

func newerError(file string, version, known int) error {
	return fmt.Errorf("database %s has schema %d, this lpm knows up to %d: upgrade lpm", file, version, known)
}

// bigWAL is the size past which Close checkpoints the WAL, the writer's
// journal_size_limit. A smaller WAL stays for the next command to append
// to (noCheckpointOnClose): the commands of a few small packages.
const bigWAL = 1 << 20

// Close closes the database. A writer's Close leaves what it committed in
// the WAL, unless the WAL grew past bigWAL: then it is folded into the
// main file and emptied, as every Close did before, so that the database
// is not kept at the size of its last big transaction (the main file
// shrinks, after the journal of 20,000 paths is deleted, only when that
// is checkpointed: 4.9 MB in all after an install of 20,000 files with
// the WAL kept, 2.3 MB without), and the next command does not read a
// big WAL to rebuild its index.
func (db *DB) Close() error {
	if !db.readOnly {
		if fi, err := os.Stat(db.path + "-wal"); err == nil && fi.Size() > bigWAL {
			ctx := context.Background()
			if conn, err := db.sql.Conn(ctx); err == nil {
				checkpointNow(ctx, conn)
				conn.Close()
			}
		}
	}
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("database %s: closing: %w", db.path, err)
	}
	return nil
}

// checkpointNow folds the WAL into the database file and empties it, if
// no reader is in the way: it does not wait for one (a user's lpm files
// of a big package) as the busy timeout would let it, and a checkpoint
// that cannot finish leaves the WAL as it was, no less durable. The
// connection is left with the busy timeout of the DSN.
func checkpointNow(ctx context.Context, conn *sql.Conn) {
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return
	}
	conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeout.Milliseconds())); err != nil {
		// A connection that would not wait must not be used again.
		conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// Check reads the whole database file (SQLite's quick_check) and returns
// an error wrapping ErrDamaged when any of it is damaged.
func (db *DB) Check() error {
	var result string
	err := db.sql.QueryRow("PRAGMA quick_check(1)").Scan(&result)
	if err == nil && result != "ok" {
		err = errors.New(result)
	}
	if err != nil {
		return damagedError(db.path, err)
	}
	return nil
}

// SchemaVersion returns the schema version of the open database.
func (db *DB) SchemaVersion() int {
	return db.version
}

// read runs fn in one read transaction, so multi-query reads see one
// consistent state even while a writer commits.
func (db *DB) read(what string, fn func(tx *sql.Tx) error) error {
	tx, err := db.sql.Begin()
	if err != nil {
		return fmt.Errorf("database %s: %s: %w", db.path, what, err)
	}
	defer tx.Rollback() // read-only; nothing to keep
	if err := fn(tx); err != nil {
		if errors.Is(err, ErrNotInstalled) || errors.Is(err, ErrDamaged) {
			return err // it says what it is about
		}
		if corrupt(err) {
			return damagedError(db.path, err)
		}
		return fmt.Errorf("database %s: %s: %w", db.path, what, err)
	}
	return nil
}

const packageColumns = `name, version, release, description, license, homepage,
	explicit, held, install_time, build_date, manifest_sha256, archive_path, size, semver, adopted_from`

// Packages returns every installed package, sorted by name.
func (db *DB) Packages() ([]Package, error) {
	var pkgs []Package
	err := db.read("listing packages", func(tx *sql.Tx) error {
		var err error
		pkgs, err = queryPackages(tx, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return pkgs, nil
}

// Package returns one installed package, or an error wrapping
// ErrNotInstalled.
func (db *DB) Package(name string) (*Package, error) {
	var pkgs []Package
	err := db.read("reading package "+name, func(tx *sql.Tx) error {
		var err error
		pkgs, err = queryPackages(tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("package %s: %w", name, ErrNotInstalled)
	}
	return &pkgs[0], nil
}

// queryPackages reads one package by name, or all of them when name is "".
func queryPackages(tx *sql.Tx, name string) ([]Package, error) {
	filter, args := "", []any(nil)
	if name != "" {
		filter, args = "WHERE name = ?", []any{name}
	}
	rows, err := tx.Query("SELECT "+packageColumns+" FROM packages "+filter+" ORDER BY name", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var pkgs []Package
	for rows.Next() {
		var p Package
		var installTime, buildDate string
		err := rows.Scan(&p.Name, &p.Version, &p.Release, &p.Description, &p.License, &p.Homepage,
			&p.Explicit, &p.Held, &installTime, &buildDate, &p.ManifestSHA256, &p.ArchivePath, &p.Size, &p.SemVer, &p.AdoptedFrom)
		if err != nil {
			return nil, err
		}
		if p.InstallTime, err = parseTime(installTime); err != nil {
			return nil, fmt.Errorf("package %s: install_time: %w", p.Name, err)
		}
		if p.BuildDate, err = parseTime(buildDate); err != nil {
			return nil, fmt.Errorf("package %s: build_date: %w", p.Name, err)
		}
		pkgs = append(pkgs, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	for _, rel := range []struct {
		table, column string
		field         func(p *Package) *[]string
	}{
		{"deps", "dep", func(p *Package) *[]string { return &p.Depends }},
		{"provides", "provide", func(p *Package) *[]string { return &p.Provides }},
		{"conflicts", "conflict", func(p *Package) *[]string { return &p.Conflicts }},
	} {
		values, err := queryRelation(tx, rel.table, rel.column, filter, args)
		if err != nil {
			return nil, err
		}
		for i := range pkgs {
			*rel.field(&pkgs[i]) = values[pkgs[i].Name]
		}
	}
	return pkgs, nil
}

// queryRelation reads one relation table, keyed by package name. table
// and column are constants from queryPackages, never user input.
func queryRelation(tx *sql.Tx, table, column, filter string, args []any) (map[string][]string, error) {
	filter = strings.Replace(filter, "name", "package", 1)
	rows, err := tx.Query("SELECT package, "+column+" FROM "+table+" "+filter+" ORDER BY package, seq", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	values := make(map[string][]string)
	for rows.Next() {
		var pkg, value string
		if err := rows.Scan(&pkg, &value); err != nil {
			return nil, err
		}
		values[pkg] = append(values[pkg], value)
	}
	return values, rows.Err()
}

// requireInstalled fails, wrapping ErrNotInstalled, unless package name
// is installed.
func requireInstalled(tx *sql.Tx, name string) error {
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM packages WHERE name = ?", name).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("package %s: %w", name, ErrNotInstalled)
	}
	return nil
}

// Files returns the paths package name owns, sorted by path (bytewise),
// or an error wrapping ErrNotInstalled.
func (db *DB) Files(name string) ([]File, error) {
	var files []File
	err := db.read("listing files of "+name, func(tx *sql.Tx) error {
		if err := requireInstalled(tx, name); err != nil {
			return err
		}
		var err error
		files, err = queryFiles(tx, name, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Sorted here: SQLite would sort whole records, which took as long as
	// reading them.
	sorted := make([]File, len(files))
	for i, j := range pathOrder(len(files), func(i int) (string, string) { return splitPath(files[i].Path) }) {
		sorted[i] = files[j]
	}
	return sorted, nil
}

// AllFiles returns every recorded path with its entries, one per owning
// package, sorted by package name. Installers use it for conflict checks.
func (db *DB) AllFiles() (map[string][]File, error) {
	all := make(map[string][]File)
	err := db.read("listing all files", func(tx *sql.Tx) error {
		files, err := queryFiles(tx, "", false)
		for _, f := range files {
			all[f.Path] = append(all[f.Path], f)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// ListFiles calls fn with each path package name owns, sorted by path
// (bytewise), one record at a time, so that listing a 20,000-file package
// holds one record in memory, not all of them. Needed is left empty (lpm
// files does not show it; Files fills it). fn must not keep f. An error
// wraps ErrNotInstalled when the package is not installed.
func (db *DB) ListFiles(name string, fn func(f *File) error) error {
	return db.read("listing files of "+name, func(tx *sql.Tx) error {
		if err := requireInstalled(tx, name); err != nil {
			return err
		}
		return scanFiles(tx, name, true, fn)
	})
}

// querier is what queryFiles reads through: a read transaction, or the
// connection of a write transaction.
type querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
}

// queryFiles reads the files of one package, or of all when name is "",
// sorted by path and then package when byPath is set, and by package in
// the order they are stored otherwise (no sort).
func queryFiles(tx querier, name string, byPath bool) ([]File, error) {
	filter, args := "", []any(nil)
	if name != "" {
		filter, args = "WHERE package = ?", []any{name}
	}

	type key struct{ pkg, path string }
	needed := make(map[key][]string)
	rows, err := tx.Query(`SELECT n.package, d.path || n.name, n.soname FROM needed n JOIN dirs d ON d.id = n.dir `+
		strings.Replace(filter, "package", "n.package", 1)+` ORDER BY n.package, n.dir, n.name, n.seq`, args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k key
		var soname string
		if err := rows.Scan(&k.pkg, &k.path, &soname); err != nil {
			rows.Close()
			return nil, err
		}
		needed[k] = append(needed[k], soname)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Sized up front: a big package's records are 20,000 Files, and
	// growing the slice by doubling would copy them over and over.
	var n int
	if rows, err := tx.Query("SELECT count(*) FROM files "+filter, args...); err == nil {
		if rows.Next() {
			rows.Scan(&n)
		}
		rows.Close()
	}
	files := make([]File, 0, n)
	err = scanFiles(tx, name, byPath, func(f *File) error {
		f.Needed = needed[key{f.Package, f.Path}]
		files = append(files, *f)
		return nil
	})
	return files, err
}

// scanFiles reads the file rows of one package, or of all when name is
// "", into one File it hands to fn: sorted by path and then package when
// byPath is set, else in the order of the primary key (package, dir,
// name), which needs no sort.
func scanFiles(tx querier, name string, byPath bool, fn func(f *File) error) error {
	filter, args := "", []any(nil)
	if name != "" {
		filter, args = "WHERE f.package = ?", []any{name}
	}
	order := "f.package, f.dir, f.name"
	if byPath {
		order = "d.path || f.name, f.package"
	}
	rows, err := tx.Query(`SELECT f.package, d.path || f.name AS path, f.type, f.mode, f.uid, f.gid, f.size, f.sha256, f.link, f.soname, f.backup, f.built_sha256
		FROM files f JOIN dirs d ON d.id = f.dir `+filter+` ORDER BY `+order, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var f File
	var sum, built sql.RawBytes
	for rows.Next() {
		f = File{}
		if err := rows.Scan(&f.Package, &f.Path, &f.Type, &f.Mode, &f.UID, &f.GID, &f.Size,
			&sum, &f.Link, &f.Soname, &f.Backup, &built); err != nil {
			return err
		}
		// Hashes are stored as their bytes (schema 6), shown as hex.
		f.SHA256, f.BuiltSHA256 = hex.EncodeToString(sum), hex.EncodeToString(built)
		if err := fn(&f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Owners returns, for each of paths that some package owns, the owning
// package names sorted. Unowned paths are absent from the map. Paths must
// be in database form ("usr/bin/foo").
func (db *DB) Owners(paths []string) (map[string][]string, error) {
	for _, p := range paths {
		if err := checkPath(p); err != nil {
			return nil, fmt.Errorf("looking up owner of %q: %w", p, err)
		}
	}
	owners := make(map[string][]string)
	err := db.read("looking up path owners", func(tx *sql.Tx) error {
		for _, chunk := range tableChunks(paths, func(p string) string { return p }) {
			// Each path is looked up as it is stored: its directory's row,
			// then the record under it; CROSS JOIN keeps that order. The
			// answers come in one row, "path NUL owner" NUL-separated (no
			// path or name holds a NUL): 1,500 rows cost more to hand over
			// one by one than to find.
			table, args := pathTable(chunk)
			var found string
			err := tx.QueryRow(`WITH q (dir, name) AS (`+table+`)
				SELECT coalesce(group_concat(q.dir || q.name || char(0) || f.package, char(0)), '')
				FROM q CROSS JOIN dirs d CROSS JOIN files f
				WHERE d.path = q.dir AND f.dir = d.id AND f.name = q.name`, args...).Scan(&found)
			if err != nil {
				return err
			}
			for rest, more := found, found != ""; more; {
				var p, pkg string
				p, rest, _ = strings.Cut(rest, "\x00")
				pkg, rest, more = strings.Cut(rest, "\x00")
				owners[p] = append(owners[p], pkg)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for p, pkgs := range owners {
		// A path listed twice by the caller lands in two chunks' results.
		slices.Sort(pkgs)
		owners[p] = slices.Compact(pkgs)
	}
	return owners, nil
}

// SharedPaths returns the paths that one of pkgs owns and a package not
// among them owns too: what removing or replacing pkgs must leave on
// disk. One query, however many paths the packages own.
func (db *DB) SharedPaths(pkgs []string) (map[string]bool, error) {
	names, err := json.Marshal(pkgs)
	if err != nil {
		return nil, err
	}
	var shared map[string]bool
	err = db.read("looking up shared paths", func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT d.path || f.name FROM files f JOIN dirs d ON d.id = f.dir
			WHERE f.package IN (SELECT value FROM json_each(?1)) AND EXISTS (
				SELECT 1 FROM files o WHERE o.dir = f.dir AND o.name = f.name AND o.package NOT IN (SELECT value FROM json_each(?1)))`, string(names))
		if err != nil {
			return err
		}
		shared, err = scanPathSet(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	return shared, nil
}

// ForeignDirs reports which of paths are directories lpm found on disk
// rather than created (see Tx.AddForeignDirs).
func (db *DB) ForeignDirs(paths []string) (map[string]bool, error) {
	found := map[string]bool{}
	err := db.read("looking up foreign directories", func(tx *sql.Tx) error {
		for chunk := range slices.Chunk(paths, chunkSize) {
			rows, err := tx.Query("SELECT path FROM foreign_dirs WHERE path IN ("+placeholders(len(chunk))+")", anySlice(chunk)...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var p string
				if err := rows.Scan(&p); err != nil {
					rows.Close()
					return err
				}
				found[p] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	return found, err
}

// Search returns the packages whose name or description contains text,
// ignoring case (Unicode-aware), sorted by name. Empty text matches all.
func (db *DB) Search(text string) ([]Package, error) {
	pkgs, err := db.Packages()
	if err != nil {
		return nil, err
	}
	needle := strings.ToLower(text)
	var found []Package
	for _, p := range pkgs {
		if strings.Contains(strings.ToLower(p.Name), needle) || strings.Contains(strings.ToLower(p.Description), needle) {
			found = append(found, p)
		}
	}
	return found, nil
}

// SetHeld marks package name as held (never upgraded) or releases it.
func (db *DB) SetHeld(name string, held bool) error {
	return db.setFlag("held", name, held)
}

// SetExplicit records whether the user asked for package name (true) or
// it is only there as a dependency (false).
func (db *DB) SetExplicit(name string, explicit bool) error {
	return db.setFlag("explicit", name, explicit)
}

// setFlag sets one boolean column of a package row; column is a constant
// from the callers above, never user input.
func (db *DB) setFlag(column, name string, value bool) error {
	if err := db.checkWritable(); err != nil {
		return err
	}
	res, err := db.sql.Exec("UPDATE packages SET "+column+" = ? WHERE name = ?", value, name)
	if err != nil {
		return lockError(db.path, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("package %s: %w", name, ErrNotInstalled)
	}
	return nil
}

func (db *DB) checkWritable() error {
	if db.readOnly {
		return fmt.Errorf("database %s is open read-only; use pkgdb.Open to change it", db.path)
	}
	return nil
}

// checkPath enforces the database path form: relative, clean, no "..".
func checkPath(p string) error {
	switch {
	case p == "" || p == ".":
		return errors.New("empty path")
	case strings.ContainsRune(p, 0):
		return errors.New("path contains a NUL byte")
	case strings.HasPrefix(p, "/"):
		return errors.New("path is absolute; the database stores paths relative to the root, like usr/bin/foo")
	case p == ".." || strings.HasPrefix(p, "../"):
		return errors.New("path escapes the root")
	case path.Clean(p) != p:
		return fmt.Errorf("path is not clean (clean form %q)", path.Clean(p))
	}
	return nil
}

// tableChunks splits items for pairTable: all at once when JSON can
// carry their paths, else in chunks of chunkSize.
func tableChunks[T any](items []T, path func(T) string) [][]T {
	for _, it := range items {
		if !utf8.ValidString(path(it)) {
			return slices.Collect(slices.Chunk(items, chunkSize))
		}
	}
	if len(items) == 0 {
		return nil
	}
	return [][]T{items}
}

// pairTable is a table of paths as they are stored, (dir, name) a row
// (dir a dirs path or id), as SQL and its arguments: one JSON array that
// SQLite takes apart itself (one bound value, however many paths: a
// VALUES list of 1,000 cost more to parse than to run), or, for names
// JSON cannot carry (not UTF-8), a VALUES list.
func pairTable[T any](items []T, pair func(T) (dir any, name string)) (string, []any) {
	pairs := make([][2]any, len(items))
	text := true
	for i, it := range items {
		dir, name := pair(it)
		pairs[i] = [2]any{dir, name}
		d, isText := dir.(string)
		text = text && utf8.ValidString(name) && (!isText || utf8.ValidString(d))
	}
	if data, err := json.Marshal(pairs); text && err == nil {
		return "SELECT value->>0, value->>1 FROM json_each(?)", []any{string(data)}
	}
	args := make([]any, 0, 2*len(items))
	for _, p := range pairs {
		args = append(args, p[0], p[1])
	}
	return "VALUES " + strings.TrimSuffix(strings.Repeat("(?,?),", len(items)), ","), args
}

// pathTable is pairTable for paths: each directory once, a JSON object
// of its names ({"usr/bin/": ["cat", "ls"]}), which SQLite takes apart
// in two json_each; an array of [dir, name] pairs cost two JSON parses a
// path, most of what looking up 1,000 owners took.
func pathTable(paths []string) (string, []any) {
	names := make(map[string][]string)
	for _, p := range paths {
		if !utf8.ValidString(p) {
			return pairTable(paths, splitPair)
		}
		dir, name := splitPath(p)
		names[dir] = append(names[dir], name)
	}
	data, err := json.Marshal(names)
	if err != nil {
		return pairTable(paths, splitPair)
	}
	return "SELECT d.key, n.value FROM json_each(?) d, json_each(d.value) n", []any{string(data)}
}

// splitPair is pairTable's pair for a path.
func splitPair(p string) (any, string) {
	dir, name := splitPath(p)
	return dir, name
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}
