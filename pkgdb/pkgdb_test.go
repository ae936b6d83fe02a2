package pkgdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// openRoot opens (creating) the database of a fresh root.
func openRoot(t *testing.T) (*DB, string) {
	t.Helper()
	root := t.TempDir()
	db, err := Open(root)
	if err != nil {
		t.Fatalf("Open(%s): %v", root, err)
	}
	t.Cleanup(func() { db.Close() })
	return db, root
}

func put(t *testing.T, db *DB, p Package, files []File) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback()
	if err := tx.PutPackage(p, slices.Values(files)); err != nil {
		t.Fatalf("PutPackage(%s): %v", p.Name, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func pkg(name, version string) Package {
	return Package{
		Name:        name,
		Version:     version,
		Release:     1,
		InstallTime: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func dir(p string) File { return File{Path: p, Type: "dir", Mode: 0o755} }
func file(p string) File {
	return File{Path: p, Type: "file", Mode: 0o644, Size: 3, SHA256: strings.Repeat("ab", 32)}
}

func paths(files []File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

func hashFile(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// rawDB opens a database file with plain SQLite settings, to build files
// the way another program (or a newer lpm) would.
func rawDB(t *testing.T, file string) *sql.DB {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", file)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

func rawExec(t *testing.T, db *sql.DB, queries ...string) {
	t.Helper()
	for _, q := range queries {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestOpenCreatesTheDatabaseAndReopeningKeepsIt(t *testing.T) {
	for _, tc := range []struct{ name, rootName string }{
		{"a plain root", "root"},
		{"a root whose name has URI characters", "r?o#o%t 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), tc.rootName)
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			db, err := Open(root)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got := db.SchemaVersion(); got != len(migrations) {
				t.Errorf("SchemaVersion() = %d, want %d", got, len(migrations))
			}
			put(t, db, pkg("zlib", "1.3.1"), []File{dir("usr"), dir("usr/lib"), file("usr/lib/libz.so.1")})
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, err := os.Stat(filepath.Join(root, "var/lib/lpm/lpm.db")); err != nil {
				t.Fatalf("database file not at ROOT/var/lib/lpm/lpm.db: %v", err)
			}

			for _, opener := range []struct {
				name string
				open func(string) (*DB, error)
			}{{"Open", Open}, {"OpenReadOnly", OpenReadOnly}} {
				db, err := opener.open(root)
				if err != nil {
					t.Fatalf("%s after reopen: %v", opener.name, err)
				}
				p, err := db.Package("zlib")
				if err != nil {
					t.Fatalf("%s: Package(zlib): %v", opener.name, err)
				}
				if p.Version != "1.3.1" || db.SchemaVersion() != len(migrations) {
					t.Errorf("%s: got version %q schema %d", opener.name, p.Version, db.SchemaVersion())
				}
				db.Close()
			}
		})
	}
}

func TestOpenSetsJournalSyncAndForeignKeys(t *testing.T) {
	db, _ := openRoot(t)
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", fmt.Sprint(busyTimeout.Milliseconds())},
	} {
		var got string
		if err := db.sql.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
		}
	}
}

// Users who may read but not write the database can open it read-only
// only if the -wal and -shm files exist and they may read them.
func TestCloseKeepsTheWALFilesAsReadableAsTheDatabase(t *testing.T) {
	db, root := openRoot(t)
	put(t, db, pkg("a", "1"), nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	dbInfo, err := os.Stat(Path(root))
	if err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		info, err := os.Stat(Path(root) + suffix)
		if err != nil {
			t.Fatalf("%s file gone after Close: %v", suffix, err)
		}
		if info.Mode().Perm() != dbInfo.Mode().Perm() {
			t.Errorf("%s file mode %v, database mode %v", suffix, info.Mode(), dbInfo.Mode())
		}
	}
	if v, _, err := headerVersion(Path(root)); err != nil || v != len(migrations) {
		t.Errorf("header version after Close = %d (%v), want %d: the WAL was not folded back", v, err, len(migrations))
	}
}

// Closing leaves a commit in the WAL, where it is durable, instead of
// checkpointing it into the database file (an fsync of each): the next
// Open, for writing or reading, sees it, and so does a reader who may
// not write the database's directory. The database file's header still
// tells its schema version.
func TestCloseLeavesCommitsInTheWAL(t *testing.T) {
	db, root := openRoot(t)
	dbSize := func() int64 {
		info, err := os.Stat(Path(root))
		if err != nil {
			t.Fatal(err)
		}
		return info.Size()
	}
	before := dbSize()
	put(t, db, pkg("a", "1"), []File{dir("usr"), file("usr/a")})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wal, err := os.Stat(Path(root) + "-wal")
	if err != nil || wal.Size() == 0 {
		t.Fatalf("the WAL after Close: %v, %d bytes; want the commit still in it", err, wal.Size())
	}
	if after := dbSize(); after != before {
		t.Errorf("the database file went from %d to %d bytes at Close: it was checkpointed", before, after)
	}
	if v, _, err := headerVersion(Path(root)); err != nil || v != len(migrations) {
		t.Errorf("header version = %d (%v), want %d", v, err, len(migrations))
	}
	for _, open := range []func(string) (*DB, error){Open, OpenReadOnly} {
		db, err := open(root)
		if err != nil {
			t.Fatal(err)
		}
		files, err := db.Files("a")
		db.Close()
		if err != nil || len(files) != 2 {
			t.Errorf("files of a after reopening: %v, %v", files, err)
		}
	}
}

// A transaction that grew the WAL past bigWAL leaves it emptied at Close,
// folded into the database file.
func TestCloseEmptiesABigWAL(t *testing.T) {
	db, root := openRoot(t)
	files := []File{dir("usr"), dir("usr/share")}
	for i := range 20000 {
		files = append(files, file(fmt.Sprintf("usr/share/f%06d", i)))
	}
	put(t, db, pkg("big", "1"), files)
	wal, err := os.Stat(Path(root) + "-wal")
	if err != nil || wal.Size() <= bigWAL {
		t.Fatalf("the WAL before Close: %v, %d bytes; the test needs more than %d", err, wal.Size(), bigWAL)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if wal, err := os.Stat(Path(root) + "-wal"); err != nil || wal.Size() != 0 {
		t.Errorf("the WAL after Close: %v, %d bytes; want it there and empty", err, wal.Size())
	}
	db, err = OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.Files("big"); err != nil || len(got) != len(files) {
		t.Errorf("files of big after reopening: %d, %v; want %d", len(got), err, len(files))
	}
}

func TestOpenRefusesARootThatIsNotADirectory(t *testing.T) {
	base := t.TempDir()
	notDir := filepath.Join(base, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, root string }{
		{"missing root", filepath.Join(base, "missing")},
		{"root is a file", notDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if db, err := Open(tc.root); err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if _, err := os.Stat(filepath.Join(base, "missing")); err == nil {
				t.Error("Open created the missing root")
			}
		})
	}
}

func TestOpenMigratesAnEmptyFile(t *testing.T) {
	root := t.TempDir()
	file := Path(root)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(root)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if db.SchemaVersion() != len(migrations) {
		t.Errorf("SchemaVersion() = %d, want %d", db.SchemaVersion(), len(migrations))
	}
	for _, table := range []string{"packages", "files", "deps", "provides", "conflicts", "needed", "transactions", "tx_packages"} {
		var n int
		if err := db.sql.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}

func TestMigrateRunsMissingStepsInOrderAndStopsAtAFailingOne(t *testing.T) {
	file := filepath.Join(t.TempDir(), "test.db")
	raw := rawDB(t, file)
	defer raw.Close()
	ctx := context.Background()
	steps := []step{
		{sql: "CREATE TABLE a (x INTEGER)"},
		{sql: "ALTER TABLE a ADD COLUMN y INTEGER; CREATE TABLE b (z INTEGER)"},
		{sql: "CREATE TABLE c (x INTEGER); INSERT INTO no_such_table VALUES (1)"},
	}

	if v, err := migrate(ctx, raw, file, steps[:1]); err != nil || v != 1 {
		t.Fatalf("migrating to 1: version %d, error %v", v, err)
	}
	if v, err := migrate(ctx, raw, file, steps[:2]); err != nil || v != 2 {
		t.Fatalf("migrating 1 to 2: version %d, error %v", v, err)
	}
	rawExec(t, raw, "INSERT INTO a (x, y) VALUES (1, 2)", "INSERT INTO b VALUES (3)")

	_, err := migrate(ctx, raw, file, steps)
	if err == nil || !strings.Contains(err.Error(), "migrating schema 2 to 3") {
		t.Fatalf("failing step: error %v, want one naming the step", err)
	}
	var v int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != 2 {
		t.Errorf("user_version after failed step = %d (%v), want 2", v, err)
	}
	var n int
	if err := raw.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'c'").Scan(&n); err != nil || n != 0 {
		t.Errorf("failed step left table c behind (count %d, %v)", n, err)
	}
}

func TestANewerSchemaIsRefusedWithoutModifyingTheFile(t *testing.T) {
	setups := []struct {
		name  string
		setup func(t *testing.T, file string) (cleanup func())
	}{
		{"rollback-journal database", func(t *testing.T, file string) func() {
			raw := rawDB(t, file)
			rawExec(t, raw, "CREATE TABLE future (x)", "PRAGMA user_version = 99")
			raw.Close()
			return func() {}
		}},
		{"WAL database closed cleanly", func(t *testing.T, file string) func() {
			raw := rawDB(t, file)
			rawExec(t, raw, "PRAGMA journal_mode = WAL", "CREATE TABLE future (x)", "PRAGMA user_version = 99")
			raw.Close()
			return func() {}
		}},
		{"newer version still only in the WAL", func(t *testing.T, file string) func() {
			raw := rawDB(t, file)
			rawExec(t, raw, "PRAGMA journal_mode = WAL", "PRAGMA wal_autocheckpoint = 0",
				"CREATE TABLE future (x)", "PRAGMA user_version = 99")
			// Keeping the connection open keeps the WAL un-checkpointed,
			// so the main file's header still says version 0.
			if v, _, err := headerVersion(file); err != nil || v != 0 {
				t.Fatalf("header version = %d (%v); the test needs 0", v, err)
			}
			return func() { raw.Close() }
		}},
	}
	openers := []struct {
		name string
		open func(string) (*DB, error)
	}{{"Open", Open}, {"OpenReadOnly", OpenReadOnly}}

	for _, s := range setups {
		for _, o := range openers {
			t.Run(o.name+" on a "+s.name, func(t *testing.T) {
				root := t.TempDir()
				file := Path(root)
				defer s.setup(t, file)()
				before := hashFile(t, file)
				namesBefore := dirNames(t, filepath.Dir(file))

				db, err := o.open(root)
				if err == nil {
					db.Close()
					t.Fatal("opening a schema-99 database succeeded")
				}
				want := fmt.Sprintf("database %s has schema 99, this lpm knows up to %d: upgrade lpm", file, len(migrations))
				if err.Error() != want {
					t.Errorf("error = %q\nwant    %q", err, want)
				}
				if hashFile(t, file) != before {
					t.Error("the database file changed")
				}
				if got := dirNames(t, filepath.Dir(file)); !slices.Equal(got, namesBefore) {
					t.Errorf("files next to the database changed: %v, before %v", got, namesBefore)
				}
			})
		}
	}
}

func TestAFileThatIsNotSQLiteIsRefusedAndLeftAlone(t *testing.T) {
	root := t.TempDir()
	file := Path(root)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("not a database, just text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := hashFile(t, file)
	for _, open := range []func(string) (*DB, error){Open, OpenReadOnly} {
		db, err := open(root)
		if err == nil {
			db.Close()
			t.Fatal("opening a text file as database succeeded")
		}
		if !strings.Contains(err.Error(), "is not an SQLite file") {
			t.Errorf("error = %v", err)
		}
	}
	if hashFile(t, file) != before {
		t.Error("the file changed")
	}
}

func TestOpenReadOnlyWithoutADatabaseSaysNothingIsInstalled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, root string)
	}{
		{"no file", func(t *testing.T, root string) {}},
		{"empty file", func(t *testing.T, root string) {
			if err := os.MkdirAll(filepath.Dir(Path(root)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(Path(root), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.setup(t, root)
			db, err := OpenReadOnly(root)
			if err == nil {
				db.Close()
				t.Fatal("OpenReadOnly succeeded")
			}
			if !errors.Is(err, ErrNoDatabase) {
				t.Errorf("error %v does not wrap ErrNoDatabase", err)
			}
			if !strings.HasPrefix(err.Error(), "no package database at "+Path(root)) {
				t.Errorf("error = %q", err)
			}
		})
	}
	root := t.TempDir()
	OpenReadOnly(root)
	if _, err := os.Stat(filepath.Join(root, "var")); err == nil {
		t.Error("OpenReadOnly created directories")
	}
}

func TestPutPackageStoresEveryField(t *testing.T) {
	db, _ := openRoot(t)
	want := Package{
		Name: "openssl", Version: "3.4.0", Release: 2,
		Description: "TLS toolkit", License: "Apache-2.0", Homepage: "https://openssl.org",
		Explicit: true, Held: true,
		InstallTime: time.Date(2025, 1, 2, 3, 4, 5, 600, time.FixedZone("CET", 3600)),
		BuildDate:   time.Time{},
		ArchivePath: "/var/cache/lpm/openssl-3.4.0-2.lpm", ManifestSHA256: strings.Repeat("0f", 32),
		Size:     123456789,
		Depends:  []string{"zlib >=1.3", "perl", "glibc"},
		Provides: []string{"libssl.so.3"}, Conflicts: []string{"libressl"},
	}
	files := []File{
		{Path: "etc", Type: "dir", Mode: 0o755},
		{Path: "etc/ssl", Type: "dir", Mode: 0o750, UID: 0, GID: 10},
		{Path: "etc/ssl/openssl.cnf", Type: "file", Mode: 0o644, Size: 12, SHA256: strings.Repeat("1a", 32), Backup: true},
		{Path: "usr/lib/libssl.so", Type: "symlink", Mode: 0o777, Link: "libssl.so.3"},
		{Path: "usr/lib/libssl.so.3", Type: "file", Mode: 0o755, Size: 700000, SHA256: strings.Repeat("2b", 32),
			Soname: "libssl.so.3", Needed: []string{"libcrypto.so.3", "libc.so.6"}},
		{Path: "usr/lib/libssl2.so.3", Type: "hardlink", Mode: 0o755, Link: "usr/lib/libssl.so.3"},
		{Path: "usr/sbin/suid", Type: "file", Mode: 0o4755, UID: 1000, GID: 1000, Size: 1, SHA256: strings.Repeat("3c", 32)},
	}
	put(t, db, want, files)

	got, err := db.Package("openssl")
	if err != nil {
		t.Fatal(err)
	}
	if !got.InstallTime.Equal(want.InstallTime) || got.InstallTime.Location() != time.UTC {
		t.Errorf("InstallTime = %v, want %v in UTC", got.InstallTime, want.InstallTime)
	}
	if !got.BuildDate.IsZero() {
		t.Errorf("BuildDate = %v, want zero", got.BuildDate)
	}
	got.InstallTime, got.BuildDate = want.InstallTime, want.BuildDate
	if fmt.Sprintf("%#v", *got) != fmt.Sprintf("%#v", want) {
		t.Errorf("Package() =\n%#v\nwant\n%#v", *got, want)
	}

	gotFiles, err := db.Files("openssl")
	if err != nil {
		t.Fatal(err)
	}
	for i := range files {
		files[i].Package = "openssl"
	}
	if fmt.Sprintf("%#v", gotFiles) != fmt.Sprintf("%#v", files) {
		t.Errorf("Files() =\n%#v\nwant\n%#v", gotFiles, files)
	}
}

func TestPutPackageReplacesEveryRecordOfThePackage(t *testing.T) {
	db, _ := openRoot(t)
	v1 := pkg("foo", "1.0")
	v1.Depends, v1.Provides, v1.Conflicts = []string{"bar"}, []string{"oldfoo"}, []string{"baz"}
	libOld := file("usr/lib/libfoo.so.1")
	libOld.Needed = []string{"libbar.so.1"}
	put(t, db, v1, []File{dir("usr"), dir("usr/lib"), libOld, file("usr/bin/foo-old")})

	v2 := pkg("foo", "2.0")
	v2.Depends = []string{"qux >=2"}
	libNew := file("usr/lib/libfoo.so.2")
	libNew.Needed = []string{"libqux.so.2"}
	put(t, db, v2, []File{dir("usr"), dir("usr/lib"), libNew})

	got, err := db.Package("foo")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "2.0" || !slices.Equal(got.Depends, []string{"qux >=2"}) || got.Provides != nil || got.Conflicts != nil {
		t.Errorf("after replace: %+v", got)
	}
	files, err := db.Files("foo")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"usr", "usr/lib", "usr/lib/libfoo.so.2"}; !slices.Equal(paths(files), want) {
		t.Errorf("files = %v, want %v", paths(files), want)
	}
	if !slices.Equal(files[2].Needed, []string{"libqux.so.2"}) {
		t.Errorf("needed = %v", files[2].Needed)
	}
	for table, want := range map[string]int{"packages": 1, "files": 3, "deps": 1, "provides": 0, "conflicts": 0, "needed": 1} {
		var n int
		if err := db.sql.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil || n != want {
			t.Errorf("table %s has %d rows (%v), want %d", table, n, err, want)
		}
	}
}

func TestDeletePackageRemovesEveryRecord(t *testing.T) {
	db, _ := openRoot(t)
	foo := pkg("foo", "1.0")
	foo.Depends, foo.Provides, foo.Conflicts = []string{"bar"}, []string{"x"}, []string{"y"}
	lib := file("usr/lib/libfoo.so")
	lib.Needed = []string{"libc.so.6"}
	put(t, db, foo, []File{dir("usr"), dir("usr/lib"), lib})
	put(t, db, pkg("bar", "1.0"), []File{dir("usr"), file("usr/bar")})

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.DeletePackage("foo"); err != nil {
		t.Fatalf("DeletePackage(foo): %v", err)
	}
	if err := tx.DeletePackage("never-installed"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("DeletePackage(never-installed) = %v, want ErrNotInstalled", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	if _, err := db.Package("foo"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Package(foo) after delete: %v", err)
	}
	if _, err := db.Files("foo"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Files(foo) after delete: %v", err)
	}
	for _, table := range []string{"files", "deps", "provides", "conflicts", "needed"} {
		var n int
		if err := db.sql.QueryRow("SELECT count(*) FROM " + table + " WHERE package = 'foo'").Scan(&n); err != nil || n != 0 {
			t.Errorf("table %s keeps %d rows of foo (%v)", table, n, err)
		}
	}
	owners, err := db.Owners([]string{"usr"})
	if err != nil || !slices.Equal(owners["usr"], []string{"bar"}) {
		t.Errorf("Owners(usr) = %v, %v; want [bar]", owners, err)
	}
}

func TestRollbackDiscardsTheTransaction(t *testing.T) {
	db, _ := openRoot(t)
	put(t, db, pkg("keep", "1"), []File{file("keep")})
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutPackage(pkg("new", "1"), slices.Values([]File{file("new")})); err != nil {
		t.Fatal(err)
	}
	if err := tx.DeletePackage("keep"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Errorf("second Rollback = %v, want nil", err)
	}
	if err := tx.Commit(); err == nil {
		t.Error("Commit after Rollback succeeded")
	}
	pkgs, err := db.Packages()
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 || pkgs[0].Name != "keep" {
		t.Errorf("packages after rollback = %+v", pkgs)
	}
}

func TestPutPackageRejectsBadRecordsAndLeavesTheTransactionUsable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     Package
		files []File
		want  string
	}{
		{"an empty name", pkg("", "1"), nil, "empty package name"},
		{"an empty version", pkg("a", ""), nil, "empty version"},
		{"an absolute path", pkg("a", "1"), []File{file("/usr/bin/a")}, "absolute"},
		{"an unclean path", pkg("a", "1"), []File{file("usr//bin/a")}, "not clean"},
		{"a path with a trailing slash", pkg("a", "1"), []File{dir("usr/")}, "not clean"},
		{"a path escaping the root", pkg("a", "1"), []File{file("../etc/passwd")}, "escapes the root"},
		{"an empty path", pkg("a", "1"), []File{file("")}, "empty path"},
		{"an unknown type", pkg("a", "1"), []File{{Path: "dev/null", Type: "chardev"}}, "unknown type"},
		{"a file of another package", pkg("a", "1"), []File{{Package: "b", Path: "x", Type: "file"}}, "belongs to package"},
		{"a path listed twice", pkg("a", "1"), []File{dir("usr"), file("usr/a"), file("usr/a")}, "usr/a is listed twice"},
		{"a hash that is not hexadecimal", pkg("a", "1"), []File{{Path: "x", Type: "file", SHA256: "sha256:ab"}}, `sha256 "sha256:ab" is not lowercase hexadecimal`},
		{"a hash in capitals", pkg("a", "1"), []File{{Path: "x", Type: "file", BuiltSHA256: "AB"}}, `built_sha256 "AB" is not lowercase hexadecimal`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openRoot(t)
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			err = tx.PutPackage(tc.p, slices.Values(tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PutPackage error = %v, want one containing %q", err, tc.want)
			}
			if err := tx.PutPackage(pkg("good", "1"), slices.Values([]File{file("good")})); err != nil {
				t.Fatalf("PutPackage after a rejected one: %v", err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			pkgs, err := db.Packages()
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) != 1 || pkgs[0].Name != "good" {
				t.Errorf("packages = %+v, want only good", pkgs)
			}
		})
	}
}

func TestOwners(t *testing.T) {
	db, _ := openRoot(t)
	nonUTF8 := "usr/share/caf\xe9"
	put(t, db, pkg("zlib", "1"), []File{dir("usr"), dir("usr/lib"), file("usr/lib/libz.so")})
	put(t, db, pkg("bzip2", "1"), []File{dir("usr"), dir("usr/lib"), file("usr/lib/libbz2.so"), dir("usr/share"), file(nonUTF8)})

	for _, tc := range []struct {
		name  string
		paths []string
		want  map[string][]string
	}{
		{"a file has its one owner", []string{"usr/lib/libz.so"}, map[string][]string{"usr/lib/libz.so": {"zlib"}}},
		{"a shared directory lists every owner sorted", []string{"usr/lib"}, map[string][]string{"usr/lib": {"bzip2", "zlib"}}},
		{"an unowned path is absent", []string{"usr/bin/nothing"}, map[string][]string{}},
		{"a non-UTF-8 path matches byte for byte", []string{nonUTF8}, map[string][]string{nonUTF8: {"bzip2"}}},
		{"a path asked twice is answered once", []string{"usr", "usr"}, map[string][]string{"usr": {"bzip2", "zlib"}}},
		{"no paths give an empty map", nil, map[string][]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Owners(tc.paths)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Owners(%q) = %v, want %v", tc.paths, got, tc.want)
			}
		})
	}

	if _, err := db.Owners([]string{"/usr/lib/libz.so"}); err == nil {
		t.Error("Owners accepted an absolute path")
	}
}

func TestOwnersAcrossChunks(t *testing.T) {
	db, _ := openRoot(t)
	var files []File
	var query []string
	for i := range 2*chunkSize + 7 {
		p := fmt.Sprintf("f%04d", i)
		files = append(files, file(p))
		query = append(query, p, "missing-"+p)
	}
	put(t, db, pkg("many", "1"), files)
	got, err := db.Owners(query)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(files) {
		t.Errorf("Owners found %d paths, want %d", len(got), len(files))
	}
	if !slices.Equal(got["f1003"], []string{"many"}) {
		t.Errorf("Owners[f1003] = %v", got["f1003"])
	}
}

func TestCommitRefusesPathsSharedByNonDirectories(t *testing.T) {
	symlink := File{Path: "usr/lib/x", Type: "symlink", Mode: 0o777, Link: "y"}
	for _, tc := range []struct {
		name   string
		first  File
		second File
	}{
		{"two files", file("usr/lib/x"), file("usr/lib/x")},
		{"a directory and a file", dir("usr/lib/x"), file("usr/lib/x")},
		{"a file and a directory", file("usr/lib/x"), dir("usr/lib/x")},
		{"two symlinks", symlink, symlink},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openRoot(t)
			put(t, db, pkg("a", "1"), []File{dir("usr"), dir("usr/lib"), tc.first})

			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.PutPackage(pkg("b", "1"), slices.Values([]File{dir("usr"), dir("usr/lib"), tc.second})); err != nil {
				t.Fatalf("PutPackage: %v", err)
			}
			err = tx.Commit()
			if !errors.Is(err, ErrSharedPath) {
				t.Fatalf("Commit = %v, want ErrSharedPath", err)
			}
			if !strings.Contains(err.Error(), "usr/lib/x: a ("+tc.first.Type+"), b ("+tc.second.Type+")") {
				t.Errorf("error does not name the path and owners: %v", err)
			}
			if _, err := db.Package("b"); !errors.Is(err, ErrNotInstalled) {
				t.Errorf("b is recorded after a refused commit: %v", err)
			}
		})
	}
}

// The commit asks about a big package's paths a few thousand at a time:
// a path shared with another package is found in any of those parts.
func TestCommitFindsASharedPathAmongThousands(t *testing.T) {
	db, _ := openRoot(t)
	put(t, db, pkg("a", "1"), []File{dir("usr"), dir("usr/var"), file("usr/var/x")})
	files := []File{dir("usr"), dir("usr/share")}
	for i := range 2*sharedPathsChunk + 10 {
		files = append(files, file(fmt.Sprintf("usr/share/f%06d", i)))
	}
	files = append(files, dir("usr/var"), file("usr/var/x")) // sorts last: in the last part
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.PutPackage(pkg("b", "1"), slices.Values(files)); err != nil {
		t.Fatalf("PutPackage: %v", err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrSharedPath) || !strings.Contains(err.Error(), "usr/var/x: a (file), b (file)") {
		t.Fatalf("Commit = %v, want ErrSharedPath naming usr/var/x", err)
	}
	if _, err := db.Package("b"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("b is recorded after a refused commit: %v", err)
	}
}

func TestAFileMayMoveBetweenPackagesInEitherOrder(t *testing.T) {
	for _, order := range []string{"new owner first", "old owner first"} {
		t.Run(order, func(t *testing.T) {
			db, _ := openRoot(t)
			put(t, db, pkg("old", "1"), []File{dir("usr"), file("usr/moved")})
			put(t, db, pkg("new", "1"), []File{dir("usr")})

			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			steps := []func() error{
				func() error {
					return tx.PutPackage(pkg("new", "2"), slices.Values([]File{dir("usr"), file("usr/moved")}))
				},
				func() error { return tx.PutPackage(pkg("old", "2"), slices.Values([]File{dir("usr")})) },
			}
			if order == "old owner first" {
				slices.Reverse(steps)
			}
			for _, step := range steps {
				if err := step(); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			owners, err := db.Owners([]string{"usr/moved"})
			if err != nil || !slices.Equal(owners["usr/moved"], []string{"new"}) {
				t.Errorf("Owners(usr/moved) = %v, %v; want [new]", owners, err)
			}
		})
	}
}

func TestAllFilesGroupsEntriesByPath(t *testing.T) {
	db, _ := openRoot(t)
	put(t, db, pkg("b", "1"), []File{dir("usr"), file("usr/b")})
	put(t, db, pkg("a", "1"), []File{dir("usr"), file("usr/a")})
	all, err := db.AllFiles()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range all {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"usr", "usr/a", "usr/b"}; !slices.Equal(keys, want) {
		t.Errorf("paths = %v, want %v", keys, want)
	}
	if len(all["usr"]) != 2 || all["usr"][0].Package != "a" || all["usr"][1].Package != "b" {
		t.Errorf("usr entries = %+v, want a then b", all["usr"])
	}
	if f := all["usr/b"]; len(f) != 1 || f[0].Package != "b" || f[0].Type != "file" {
		t.Errorf("usr/b entries = %+v", f)
	}
}

func TestPackagesAndFilesAreSorted(t *testing.T) {
	db, _ := openRoot(t)
	for _, name := range []string{"zlib", "Abc", "bash", "acl"} {
		put(t, db, pkg(name, "1"), nil)
	}
	put(t, db, pkg("tree", "1"), []File{dir("b"), file("b/z"), dir("a"), file("a-b"), file("a/b")})
	pkgs, err := db.Packages()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name)
	}
	if want := []string{"Abc", "acl", "bash", "tree", "zlib"}; !slices.Equal(names, want) {
		t.Errorf("Packages() = %v, want %v", names, want)
	}
	files, err := db.Files("tree")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "a-b", "a/b", "b", "b/z"}; !slices.Equal(paths(files), want) {
		t.Errorf("Files() = %v, want %v (bytewise)", paths(files), want)
	}
	files, err = db.Files("acl")
	if err != nil || len(files) != 0 {
		t.Errorf("Files of a package without files = %v, %v", files, err)
	}
	if _, err := db.Package("missing"); !errors.Is(err, ErrNotInstalled) || err.Error() != "package missing: not installed" {
		t.Errorf("Package(missing) = %v", err)
	}
}

func TestSearch(t *testing.T) {
	db, _ := openRoot(t)
	for _, p := range []Package{
		{Name: "zlib", Description: "Compression library"},
		{Name: "bzip2", Description: "Block-sorting file compressor"},
		{Name: "Python", Description: "The Python programming language"},
		{Name: "icu", Description: "Unicode support, Ärger-free"},
		{Name: "pct", Description: "100% literal_match"},
	} {
		p.Version = "1"
		put(t, db, p, nil)
	}
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"by name", "zli", []string{"zlib"}},
		{"by description ignoring case", "COMPRESS", []string{"bzip2", "zlib"}},
		{"by name ignoring case", "python", []string{"Python"}},
		{"non-ASCII ignoring case", "ärger", []string{"icu"}},
		{"wildcard characters are literal", "%", []string{"pct"}},
		{"underscore is literal", "l_m", []string{"pct"}},
		{"no match", "kernel", nil},
		{"empty text lists everything", "", []string{"Python", "bzip2", "icu", "pct", "zlib"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Search(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range got {
				names = append(names, p.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("Search(%q) = %v, want %v", tc.text, names, tc.want)
			}
		})
	}
}

func TestSetHeldAndSetExplicit(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(db *DB, name string, value bool) error
		get  func(p *Package) bool
	}{
		{"held", (*DB).SetHeld, func(p *Package) bool { return p.Held }},
		{"explicit", (*DB).SetExplicit, func(p *Package) bool { return p.Explicit }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, root := openRoot(t)
			put(t, db, pkg("gcc", "14.2"), nil)
			put(t, db, pkg("other", "1"), nil)
			if err := tc.set(db, "gcc", true); err != nil {
				t.Fatal(err)
			}
			if p, err := db.Package("gcc"); err != nil || !tc.get(p) {
				t.Errorf("after setting true: %+v, %v", p, err)
			}
			if p, err := db.Package("other"); err != nil || tc.get(p) {
				t.Errorf("another package changed too: %+v, %v", p, err)
			}
			if err := tc.set(db, "nope", true); !errors.Is(err, ErrNotInstalled) {
				t.Errorf("setting a missing package = %v, want ErrNotInstalled", err)
			}

			ro, err := OpenReadOnly(root)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if p, err := ro.Package("gcc"); err != nil || !tc.get(p) {
				t.Errorf("not visible to another handle: %+v, %v", p, err)
			}
			if err := tc.set(ro, "gcc", false); err == nil {
				t.Error("setting on a read-only database succeeded")
			}

			if err := tc.set(db, "gcc", false); err != nil {
				t.Fatal(err)
			}
			if p, err := db.Package("gcc"); err != nil || tc.get(p) {
				t.Errorf("after setting false: %+v, %v", p, err)
			}
		})
	}
}

func TestAReadOnlyDatabaseRefusesWriteTransactions(t *testing.T) {
	db, root := openRoot(t)
	put(t, db, pkg("a", "1"), nil)
	ro, err := OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if tx, err := ro.Begin(); err == nil {
		tx.Rollback()
		t.Error("Begin on a read-only database succeeded")
	}
	// The connection itself must be read-only, not just our guard.
	if _, err := ro.sql.Exec("DELETE FROM packages"); err == nil {
		t.Error("a read-only connection deleted rows")
	}
	if p, err := db.Package("a"); err != nil || p.Name != "a" {
		t.Errorf("Package(a) = %v, %v", p, err)
	}
}

func TestReadersSeeCommittedStateWhileAWriterHoldsATransaction(t *testing.T) {
	writer, root := openRoot(t)
	put(t, writer, pkg("base", "1"), []File{dir("usr"), file("usr/base")})

	tx, err := writer.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.PutPackage(pkg("pending", "1"), slices.Values([]File{dir("usr"), file("usr/pending")})); err != nil {
		t.Fatal(err)
	}
	if err := tx.DeletePackage("base"); err != nil {
		t.Fatal(err)
	}

	reader, err := OpenReadOnly(root)
	if err != nil {
		t.Fatalf("OpenReadOnly while a writer holds a transaction: %v", err)
	}
	defer reader.Close()
	// Opening for writing must not need the lock either; only Begin does.
	second, err := Open(root)
	if err != nil {
		t.Fatalf("Open while another handle holds a transaction: %v", err)
	}
	defer second.Close()
	for name, db := range map[string]*DB{"read-only handle": reader, "second writable handle": second, "writer's own handle": writer} {
		pkgs, err := db.Packages()
		if err != nil {
			t.Fatalf("%s: Packages: %v", name, err)
		}
		if len(pkgs) != 1 || pkgs[0].Name != "base" {
			t.Errorf("%s sees %+v before commit, want only base", name, pkgs)
		}
		owners, err := db.Owners([]string{"usr/base", "usr/pending"})
		if err != nil || fmt.Sprint(owners) != "map[usr/base:[base]]" {
			t.Errorf("%s: Owners before commit = %v, %v", name, owners, err)
		}
	}

	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	pkgs, err := reader.Packages()
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 || pkgs[0].Name != "pending" {
		t.Errorf("reader sees %+v after commit, want only pending", pkgs)
	}
}

func TestForeignDirsAreRemembered(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.AddForeignDirs([]string{"usr", "usr/lib", "usr"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.AddForeignDirs([]string{"/abs"}); err == nil {
		t.Error("an absolute path was accepted")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := db.ForeignDirs([]string{"usr/lib", "usr/bin", "usr"})
	if err != nil {
		t.Fatal(err)
	}
	if !got["usr"] || !got["usr/lib"] || got["usr/bin"] || len(got) != 2 {
		t.Errorf("ForeignDirs = %v", got)
	}
}

func TestOpenEmptyIsAnEmptyDatabaseThatWritesNothing(t *testing.T) {
	db, err := OpenEmpty()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pkgs, err := db.Packages()
	if err != nil || len(pkgs) != 0 {
		t.Errorf("packages of the empty database: %v, %v", pkgs, err)
	}
	if _, err := db.Package("zlib"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("a package of the empty database: %v", err)
	}
	if db.SchemaVersion() != len(migrations) {
		t.Errorf("schema %d, want %d", db.SchemaVersion(), len(migrations))
	}
	if err := db.SetHeld("zlib", true); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a change to the empty database: %v", err)
	}
}

func TestAnEmptyDatabaseIsNewOnlyOnARootWithoutLpmState(t *testing.T) {
	fresh := t.TempDir()
	os.MkdirAll(filepath.Dir(Path(fresh)), 0o755)
	os.WriteFile(Path(fresh), nil, 0o644) // what a first lpm killed at once leaves
	db, err := Open(fresh)
	if err != nil {
		t.Fatalf("an empty database on a fresh root: %v", err)
	}
	db.Close()

	used := t.TempDir()
	os.MkdirAll(filepath.Join(filepath.Dir(Path(used)), "pristine/zlib"), 0o755)
	os.WriteFile(Path(used), nil, 0o644)
	for name, open := range map[string]func(string) (*DB, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		_, err := open(used)
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "rebuild-db") {
			t.Errorf("%s of an emptied database on a used root: %v; want it refused as damaged", name, err)
		}
	}
	if fi, _ := os.Stat(Path(used)); fi.Size() != 0 {
		t.Error("the emptied database was written")
	}
	os.Remove(Path(used))
	if _, err := Open(used); !errors.Is(err, ErrDamaged) {
		t.Errorf("Open of a missing database on a used root: %v; want it refused", err)
	}
	db, err = OpenNew(used)
	if err != nil {
		t.Fatalf("OpenNew: %v", err)
	}
	db.Close()
}

func TestADatabaseWithDamagedPagesIsReportedAsDamaged(t *testing.T) {
	root := t.TempDir()
	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := db.Begin()
	for i := 0; i < 200; i++ {
		p := Package{Name: fmt.Sprintf("p%03d", i), Version: "1.0", Release: 1, InstallTime: time.Now(), BuildDate: time.Now()}
		if err := tx.PutPackage(p, slices.Values([]File{{Path: fmt.Sprintf("usr/share/p%03d", i), Type: "file", Mode: 0o644, SHA256: strings.Repeat("a", 64)}})); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Overwrite every page but the header's with garbage.
	data, _ := os.ReadFile(Path(root))
	for i := 4096; i < len(data); i++ {
		data[i] = 0xa5
	}
	os.WriteFile(Path(root), data, 0o644)
	os.Remove(Path(root) + "-wal")
	os.Remove(Path(root) + "-shm")
	db, err = OpenReadOnly(root)
	if err == nil {
		_, err = db.Packages()
		db.Close()
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "rebuild-db") {
		t.Errorf("reading a damaged database: %v; want it reported as damaged with what to do", err)
	}
	if db, err := OpenReadOnly(root); err == nil {
		if err := db.Check(); !errors.Is(err, ErrDamaged) {
			t.Errorf("Check of a damaged database: %v", err)
		}
		db.Close()
	}
}

func TestFilesMoveToTheirKeysOrderAndKeepTheirNeededLibraries(t *testing.T) {
	root := t.TempDir()
	file := Path(root)
	// Schema 4, migrated with foreign keys on as Open runs migrations: the
	// rebuild of files must not cascade into needed.
	raw := rawDB(t, file+"?_foreign_keys=1")
	if _, err := migrate(context.Background(), raw, file, migrations[:4]); err != nil {
		t.Fatal(err)
	}
	rawExec(t, raw,
		`INSERT INTO packages (name, version, release, install_time, build_date) VALUES ('zlib', '1.3.1', 1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`,
		`INSERT INTO files (package, path, type, mode, uid, gid, size, sha256, soname, built_sha256) VALUES ('zlib', 'usr/lib/libz.so.1', 'file', 493, 0, 0, 5, 'ab', 'libz.so.1', 'cd')`,
		`INSERT INTO files (package, path, type, mode, uid, gid) VALUES ('zlib', 'usr/lib', 'dir', 493, 0, 0)`,
		`INSERT INTO needed (package, path, seq, soname) VALUES ('zlib', 'usr/lib/libz.so.1', 0, 'libc.so.6')`,
	)
	raw.Close()

	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files, err := db.Files("zlib")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[1].Path != "usr/lib/libz.so.1" || files[1].SHA256 != "ab" || files[1].Soname != "libz.so.1" || !slices.Equal(files[1].Needed, []string{"libc.so.6"}) {
		t.Errorf("files after the migration: %+v", files)
	}
	var built string
	if err := db.sql.QueryRow("SELECT lower(hex(built_sha256)) FROM files WHERE name = 'libz.so.1'").Scan(&built); err != nil || built != "cd" {
		t.Errorf("built_sha256 after the migration: %q (%v), want cd", built, err)
	}
	for _, table := range []string{"files", "needed"} {
		var schema string
		if err := db.sql.QueryRow("SELECT sql FROM sqlite_schema WHERE name = ?", table).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(schema, "WITHOUT ROWID") {
			t.Errorf("%s is still a rowid table:\n%s", table, schema)
		}
	}
	var indexes int
	if err := db.sql.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'files' AND name LIKE 'sqlite_autoindex_%'").Scan(&indexes); err != nil || indexes != 0 {
		t.Errorf("files keeps %d automatic indexes of its key (%v), want 0", indexes, err)
	}
	// Removing the package still takes its needed rows along.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.DeletePackage("zlib"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.sql.QueryRow("SELECT count(*) FROM needed").Scan(&left); err != nil || left != 0 {
		t.Errorf("needed rows left after removing the package: %d (%v)", left, err)
	}
}

func TestAClosedJournalGivesItsPagesBack(t *testing.T) {
	root := t.TempDir()
	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var entries []JournalEntry
	for i := range 20000 {
		p := fmt.Sprintf("usr/share/doc/pkg/d%03d/file%05d.html", i/100, i)
		entries = append(entries, JournalEntry{Op: "replace", Path: p, Temp: p + ".lpm-new", Backup: p + ".lpm-old"})
	}
	id, err := db.BeginJournal("install pkg 1.0", []TxPackage{{Name: "pkg", NewVersion: "1.0", Action: "install"}}, entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetTxState(id, StateDone); err != nil {
		t.Fatal(err)
	}
	var free, pages int
	if err := db.sql.QueryRow("PRAGMA freelist_count").Scan(&free); err != nil {
		t.Fatal(err)
	}
	if err := db.sql.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if free > 8 {
		t.Errorf("%d of the database's %d pages are free after the journal closed: the file keeps the journal's size", free, pages)
	}
}

func TestFileListIsWhatLpmFilesPrintsInPathOrder(t *testing.T) {
	db, _ := openRoot(t)
	put(t, db, pkg("empty", "1"), nil)
	put(t, db, pkg("tree", "1"), []File{
		dir("b"), file("b/z"), dir("a"), file("a-b"), file("a/b"),
		{Path: "a/link", Type: "symlink", Mode: 0o777, Link: "../b/z"},
		{Path: "a/hard", Type: "hardlink", Mode: 0o644, Link: "a/b"},
	})
	var list strings.Builder
	if err := db.FileList("tree", &list); err != nil {
		t.Fatal(err)
	}
	want := "/a/\n/a-b\n/a/b\n/a/hard\n/a/link -> ../b/z\n/b/\n/b/z\n"
	if list.String() != want {
		t.Errorf("FileList(tree) =\n%s\nwant (bytewise order, dirs with a slash, symlinks with their target)\n%s", list.String(), want)
	}
	list.Reset()
	if err := db.FileList("empty", &list); err != nil || list.Len() != 0 {
		t.Errorf("FileList of a package without files = %q, %v", list.String(), err)
	}
	if err := db.FileList("missing", &list); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("FileList(missing) = %v, want ErrNotInstalled", err)
	}
}

// lineCounter is a writer that keeps only how much was written.
type lineCounter struct{ bytes, lines int }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.bytes += len(p)
	c.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

func TestListingTheFilesOfABigPackageDoesNotAllocatePerFile(t *testing.T) {
	db, _ := openRoot(t)
	const n = 5000
	files := []File{dir("usr"), dir("usr/share")}
	for i := range n {
		files = append(files, file(fmt.Sprintf("usr/share/f%06d", i)))
	}
	put(t, db, pkg("big", "1"), files)
	var out lineCounter
	allocs := testing.AllocsPerRun(3, func() {
		out = lineCounter{}
		if err := db.FileList("big", &out); err != nil {
			t.Fatal(err)
		}
	})
	if out.lines != n+2 {
		t.Fatalf("FileList(big) has %d lines, want %d", out.lines, n+2)
	}
	if allocs > n/10 {
		t.Errorf("FileList of %d files makes %.0f allocations: it builds a value per file", n, allocs)
	}
}

func TestListingABigPackageAllocatesLessThanItsListing(t *testing.T) {
	db, _ := openRoot(t)
	// L's shape: 20,000 entries in 200 directories, names and
	// directories of its lengths.
	files := []File{dir("usr"), dir("usr/share"), dir("usr/share/bench")}
	for d := 0; len(files) < 20000; d++ {
		sub := fmt.Sprintf("usr/share/bench/directory-%03d", d)
		files = append(files, dir(sub))
		for i := 0; i < 99; i++ {
			files = append(files, file(fmt.Sprintf("%s/file-%04d.data", sub, i)))
		}
	}
	put(t, db, pkg("big", "1"), files)
	var out lineCounter
	if err := db.FileList("big", &out); err != nil {
		t.Fatal(err)
	}
	out = lineCounter{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := db.FileList("big", &out)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if out.lines != len(files) {
		t.Fatalf("FileList(big) wrote %d lines, want %d", out.lines, len(files))
	}
	// What SQLite gives (base names, a record's directory id) is about
	// half the listing; copies of the listing would be more than all of it.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(out.bytes) {
		t.Errorf("listing %d files (%d bytes) allocates %d bytes: more than the listing itself (copies of it)", len(files), out.bytes, alloc)
	}
}

func TestOwnersOfManyPathsComeInOneRowNotOneAnAnswer(t *testing.T) {
	db, _ := openRoot(t)
	// 300 packages sharing usr and usr/share, 20 files each.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var query []string
	for i := range 300 {
		name := fmt.Sprintf("p%03d", i)
		files := []File{dir("usr"), dir("usr/share"), dir("usr/share/" + name)}
		for j := range 20 {
			files = append(files, file(fmt.Sprintf("usr/share/%s/f%02d", name, j)))
		}
		if err := tx.PutPackage(pkg(name, "1"), slices.Values(files)); err != nil {
			t.Fatal(err)
		}
		query = append(query, files[3].Path, files[4].Path, files[5].Path)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	query = append(query, "usr", "usr/share", "usr/share/nobody")
	var owners map[string][]string
	allocs := testing.AllocsPerRun(3, func() {
		if owners, err = db.Owners(query); err != nil {
			t.Fatal(err)
		}
	})
	if len(owners) != 902 || len(owners["usr"]) != 300 || owners["usr/share/p007/f01"][0] != "p007" {
		t.Fatalf("Owners found %d paths, %d owners of usr, %v for usr/share/p007/f01", len(owners), len(owners["usr"]), owners["usr/share/p007/f01"])
	}
	// 1,500 answers (900 files, 300 owners each of usr and usr/share):
	// handed over from SQLite one by one, they made 11,800 allocations.
	if allocs > 4000 {
		t.Errorf("looking up %d paths (1,500 answers) makes %.0f allocations: a value per answer?", len(query), allocs)
	}
}

func TestHashesMoveToTheirBytesAndEveryFileRecordIsKept(t *testing.T) {
	root := t.TempDir()
	file := Path(root)
	sum, built := strings.Repeat("0123456789abcdef", 4), strings.Repeat("fe", 32)
	raw := rawDB(t, file+"?_foreign_keys=1")
	if _, err := migrate(context.Background(), raw, file, migrations[:5]); err != nil {
		t.Fatal(err)
	}
	rawExec(t, raw,
		`INSERT INTO packages (name, version, release, install_time, build_date) VALUES ('zlib', '1.3.1', 1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`,
		`INSERT INTO files (package, path, type, mode, uid, gid) VALUES ('zlib', 'usr/lib', 'dir', 493, 0, 0)`,
		`INSERT INTO files (package, path, type, mode, uid, gid, size, sha256, soname, built_sha256) VALUES ('zlib', 'usr/lib/libz.so.1', 'file', 493, 0, 0, 5, '`+sum+`', 'libz.so.1', '`+built+`')`,
		`INSERT INTO files (package, path, type, mode, uid, gid, link) VALUES ('zlib', 'usr/lib/libz.so', 'symlink', 511, 0, 0, 'libz.so.1')`,
		`INSERT INTO needed (package, path, seq, soname) VALUES ('zlib', 'usr/lib/libz.so.1', 0, 'libc.so.6')`,
	)
	raw.Close()

	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.SchemaVersion() != len(migrations) {
		t.Fatalf("schema %d after Open, want %d", db.SchemaVersion(), len(migrations))
	}
	files, err := db.Files("zlib")
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Package: "zlib", Path: "usr/lib", Type: "dir", Mode: 0o755},
		{Package: "zlib", Path: "usr/lib/libz.so", Type: "symlink", Mode: 0o777, Link: "libz.so.1"},
		{Package: "zlib", Path: "usr/lib/libz.so.1", Type: "file", Mode: 0o755, Size: 5, SHA256: sum, Soname: "libz.so.1", Needed: []string{"libc.so.6"}, BuiltSHA256: built},
	}
	if fmt.Sprint(files) != fmt.Sprint(want) {
		t.Errorf("files after the migration:\n%+v\nwant\n%+v", files, want)
	}
	var kind string
	var n int
	if err := db.sql.QueryRow("SELECT typeof(sha256), length(sha256) FROM files WHERE name = 'libz.so.1'").Scan(&kind, &n); err != nil || kind != "blob" || n != 32 {
		t.Errorf("sha256 is stored as %s of %d bytes (%v), want a blob of 32", kind, n, err)
	}
	// The migrated records still take part as before: replacing one file
	// with the same record is no change, removing the package cascades.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.PutPackage(pkg("zlib", "1.3.1"), slices.Values(files)); err != nil {
		t.Fatal(err)
	}
	if len(tx.touched) != 0 {
		t.Errorf("re-recording the migrated files rewrote %v", tx.touched)
	}
	if err := tx.DeletePackage("zlib"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.sql.QueryRow("SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM needed)").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows left after removing the package (%v)", left, err)
	}
}

func TestAHashNoLpmWroteStopsTheMigrationAndLosesNothing(t *testing.T) {
	root := t.TempDir()
	file := Path(root)
	raw := rawDB(t, file+"?_foreign_keys=1")
	if _, err := migrate(context.Background(), raw, file, migrations[:5]); err != nil {
		t.Fatal(err)
	}
	rawExec(t, raw,
		`INSERT INTO packages (name, version, release, install_time, build_date) VALUES ('zlib', '1.3.1', 1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`,
		`INSERT INTO files (package, path, type, mode, uid, gid, sha256) VALUES ('zlib', 'usr/lib/libz.so.1', 'file', 493, 0, 0, 'not a hash')`,
	)
	raw.Close()
	if db, err := Open(root); err == nil || !strings.Contains(err.Error(), "migrating schema 5 to 6") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open = %v, want the failed step named", err)
	}
	raw = rawDB(t, file)
	defer raw.Close()
	var version int
	var sum string
	if err := raw.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != 5 {
		t.Errorf("schema %d (%v) after the failed step, want 5", version, err)
	}
	if err := raw.QueryRow("SELECT sha256 FROM files").Scan(&sum); err != nil || sum != "not a hash" {
		t.Errorf("the file's record after the failed step: %q (%v)", sum, err)
	}
}

func TestAJournalKeepsEveryEntryInOrderAndPathsThatAreNotUTF8(t *testing.T) {
	for _, odd := range []string{"usr/share/caf\u00e9 \"quoted\" \\ back", "usr/share/latin1-caf\xe9"} {
		db, _ := openRoot(t)
		var entries []JournalEntry
		for i := range 1200 {
			p := fmt.Sprintf("usr/share/d%02d/f%04d", i%7, i)
			entries = append(entries, JournalEntry{Op: []string{"replace", "remove", "mkdir"}[i%3], Path: p, Temp: p + ".new", Backup: p + ".old"})
		}
		entries[500] = JournalEntry{Op: "save", Path: odd, Backup: odd + ".lpmsave"}
		id, err := db.BeginJournal("remove x", []TxPackage{{Name: "x", Action: "remove"}}, entries)
		if err != nil {
			t.Fatalf("BeginJournal with %q: %v", odd, err)
		}
		got, err := db.Journal(id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, entries) {
			t.Errorf("the journal with %q read back differs: %d entries, want %d", odd, len(got), len(entries))
			for i := range min(len(got), len(entries)) {
				if got[i] != entries[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], entries[i])
					break
				}
			}
		}
	}
}

func TestSharedPathsAreThoseAPackageThatStaysOwnsToo(t *testing.T) {
	db, _ := openRoot(t)
	put(t, db, pkg("a", "1"), []File{dir("usr"), dir("usr/share"), file("usr/a")})
	put(t, db, pkg("b", "1"), []File{dir("usr"), dir("usr/share"), file("usr/b")})
	put(t, db, pkg("c", "1"), []File{dir("usr")})
	for _, tc := range []struct {
		leaving []string
		want    []string
	}{
		{[]string{"a"}, []string{"usr", "usr/share"}},
		{[]string{"a", "b"}, []string{"usr"}},
		{[]string{"a", "b", "c"}, nil},
		{[]string{"c"}, []string{"usr"}},
		{[]string{"missing"}, nil},
	} {
		shared, err := db.SharedPaths(tc.leaving)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for p := range shared {
			got = append(got, p)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("SharedPaths(%v) = %v, want %v", tc.leaving, got, tc.want)
		}
	}
}

func TestFileRecordsKeepEveryFieldWhetherOrNotTheirPathsAreUTF8(t *testing.T) {
	for _, odd := range []string{"usr/lib/caf\u00e9 \"q\" \\ \u2603", "usr/lib/latin1-caf\xe9"} {
		db, _ := openRoot(t)
		lib := File{Path: odd, Type: "file", Mode: 0o4755, UID: 7, GID: 1 << 20, Size: 1 << 40, SHA256: strings.Repeat("01", 32),
			Soname: "libc.so.6", Needed: []string{"ld-linux-x86-64.so.2", "libm.so.6"}, Backup: true, BuiltSHA256: strings.Repeat("fe", 32)}
		files := []File{dir("usr"), dir("usr/lib"), lib, {Path: "usr/lib/link", Type: "symlink", Mode: 0o777, Link: strings.TrimPrefix(odd, "usr/lib/")}}
		put(t, db, pkg("odd", "1"), files)
		got, err := db.Files("odd")
		if err != nil {
			t.Fatal(err)
		}
		for i := range files {
			files[i].Package = "odd"
		}
		slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
		if !reflect.DeepEqual(got, files) {
			t.Errorf("records with %q read back as\n%+v\nwant\n%+v", odd, got, files)
		}
		// A second version changing one record rewrites only that one.
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		changed := slices.Clone(files)
		for i := range changed {
			if changed[i].Path == odd {
				changed[i].SHA256 = strings.Repeat("02", 32)
			}
		}
		if err := tx.PutPackage(pkg("odd", "2"), slices.Values(changed[:len(changed)-1])); err != nil {
			t.Fatal(err)
		}
		if len(tx.touched) != 1 || tx.touched[0].path != odd {
			t.Errorf("the second version rewrote %v, want only %q", tx.touched, odd)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		got, err = db.Files("odd")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, changed[:len(changed)-1]) {
			t.Errorf("after the second version with %q:\n%+v\nwant\n%+v", odd, got, changed[:len(changed)-1])
		}
	}
}

// Checking at commit that only directories are shared reads each row of
// the paths a transaction wrote a few times, not once per pair of owners:
// the usr/bin of 300 packages has 90,000 pairs. The page cache is made
// tiny, so that SQLite's reads of the database show as system calls.
func TestCommitBesideManyPackagesSharingDirectoriesReadsEachRowFewTimes(t *testing.T) {
	db, _ := openRoot(t)
	shared := []File{dir("usr"), dir("usr/bin"), dir("usr/lib"), dir("usr/share"), dir("usr/share/doc"), dir("usr/include")}
	files := func(name string) []File {
		fs := append([]File{}, shared...)
		for _, d := range []string{"usr/bin", "usr/lib", "usr/include"} {
			fs = append(fs, file(d+"/"+name))
		}
		return fs
	}
	const packages = 300
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range packages {
		name := fmt.Sprintf("p%03d", i)
		if err := tx.PutPackage(pkg(name, "1"), slices.Values(files(name))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.PutPackage(pkg("last", "1"), slices.Values(files("last"))); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.conn.ExecContext(context.Background(), "PRAGMA cache_size = 8"); err != nil {
		t.Fatal(err)
	}
	before := readCalls(t)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	reads := readCalls(t) - before
	rows := (packages + 1) * len(shared)
	t.Logf("committing one package beside %d sharing %d directories (%d rows of them) took %d read calls", packages, len(shared), rows, reads)
	if reads > 2*rows {
		t.Errorf("committing one package beside %d that share its directories took %d read calls; want at most %d (2 per row of those paths)", packages, reads, 2*rows)
	}
}

// readCalls is how many read system calls (read, pread) the process has
// made, from /proc/self/io.
func readCalls(t *testing.T) int {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io to count reads with: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("/proc/self/io has no syscr: %s", data)
	return 0
}

// needed has no foreign key to cascade through (schema 10): an upgrade
// that changes a library's needed list or drops the library, and a
// removal, leave no needed row that no file record names.
func TestNeededRowsGoWithTheirRecords(t *testing.T) {
	db, _ := openRoot(t)
	needing := func(p string, sonames ...string) File {
		f := file(p)
		f.Needed = sonames
		return f
	}
	put(t, db, pkg("foo", "1.0"), []File{dir("usr"), dir("usr/lib"),
		needing("usr/lib/liba.so.1", "libc.so.6", "libm.so.6"), needing("usr/lib/libgone.so.1", "libz.so.1")})
	files, err := db.Files("foo")
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]File{}
	for _, f := range files {
		old[f.Path] = f
	}
	changed := needing("usr/lib/liba.so.1", "libc.so.6")
	changed.SHA256 = strings.Repeat("c", 64)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutUpgrade(pkg("foo", "2.0"), slices.Values([]File{dir("usr"), dir("usr/lib"), changed}), old); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	rows := func() []string {
		r, err := db.sql.Query("SELECT n.package || ' ' || n.name || ' ' || n.soname FROM needed n ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out []string
		for r.Next() {
			var s string
			r.Scan(&s)
			out = append(out, s)
		}
		return out
	}
	if got, want := rows(), []string{"foo liba.so.1 libc.so.6"}; !slices.Equal(got, want) {
		t.Errorf("needed rows after the upgrade: %q, want %q", got, want)
	}
	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.DeletePackage("foo"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := rows(); len(got) != 0 {
		t.Errorf("needed rows after removing foo: %q", got)
	}
}

// Schema 10 drops needed's foreign key, and with it the rows of a
// schema-9 database that no record names.
func TestNeededLosesItsForeignKeyAndItsOrphans(t *testing.T) {
	root := t.TempDir()
	file := Path(root)
	raw := rawDB(t, file+"?_foreign_keys=1")
	if _, err := migrate(context.Background(), raw, file, migrations[:9]); err != nil {
		t.Fatal(err)
	}
	rawExec(t, raw,
		`INSERT INTO packages (name, version, release, install_time, build_date) VALUES ('zlib', '1.3.1', 1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`,
		`INSERT INTO dirs (id, path) VALUES (1, 'usr/lib/')`,
		`INSERT INTO files (package, dir, name, type, mode, uid, gid) VALUES ('zlib', 1, 'libz.so.1', 'file', 493, 0, 0)`,
		`INSERT INTO needed (package, dir, name, seq, soname) VALUES ('zlib', 1, 'libz.so.1', 0, 'libc.so.6')`,
		`PRAGMA foreign_keys = OFF`,
		`INSERT INTO needed (package, dir, name, seq, soname) VALUES ('zlib', 1, 'nosuch.so', 0, 'libc.so.6')`,
	)
	raw.Close()
	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys int
	if err := db.sql.QueryRow("SELECT count(*) FROM pragma_foreign_key_list('needed')").Scan(&keys); err != nil || keys != 0 {
		t.Errorf("needed keeps %d foreign keys (%v), want none", keys, err)
	}
	files, err := db.Files("zlib")
	if err != nil || len(files) != 1 || !slices.Equal(files[0].Needed, []string{"libc.so.6"}) {
		t.Errorf("zlib's records after the migration: %+v, %v", files, err)
	}
	var n int
	if err := db.sql.QueryRow("SELECT count(*) FROM needed").Scan(&n); err != nil || n != 1 {
		t.Errorf("needed has %d rows (%v), want 1: the orphan goes", n, err)
	}
}

// An upgrade's records, put over the old version's as its plan read them,
// end as PutPackage's would; records that no longer match in number are
// read again.
func TestPutUpgradeOverTheRecordsReadBeforeEndsAsPutPackage(t *testing.T) {
	for _, stale := range []bool{false, true} {
		db, _ := openRoot(t)
		v1 := []File{dir("usr"), dir("usr/bin"), file("usr/bin/a"), file("usr/bin/b"), file("usr/bin/gone")}
		put(t, db, pkg("foo", "1.0"), v1)
		files, err := db.Files("foo")
		if err != nil {
			t.Fatal(err)
		}
		old := map[string]File{}
		for _, f := range files {
			old[f.Path] = f
		}
		if stale {
			delete(old, "usr/bin/gone") // as if read before a record was added
		}
		changed := file("usr/bin/a")
		changed.SHA256 = strings.Repeat("b", 64)
		v2 := []File{dir("usr"), dir("usr/bin"), changed, file("usr/bin/b"), file("usr/bin/new")}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.PutUpgrade(pkg("foo", "2.0"), slices.Values(v2), old); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		got, err := db.Files("foo")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"usr", "usr/bin", "usr/bin/a", "usr/bin/b", "usr/bin/new"}; !slices.Equal(paths(got), want) {
			t.Errorf("stale %v: files = %v, want %v", stale, paths(got), want)
		}
		if got[2].SHA256 != changed.SHA256 {
			t.Errorf("stale %v: usr/bin/a has sha256 %s after the upgrade", stale, got[2].SHA256)
		}
	}
}
