package pkgdb

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// schema6 makes a schema-6 database at root holding, in raw rows as lpm at
// schema 6 wrote them, packages whose paths exercise the split: entries of
// the root itself, directories shared by packages, names sorting before
// "/" ("a-b" against "a/b"), a path that is not UTF-8, symlinks, hardlinks
// and needed libraries.
func schema6(t *testing.T, root string) {
	t.Helper()
	file := Path(root)
	raw := rawDB(t, file+"?_foreign_keys=1")
	defer raw.Close()
	// As lpm makes a database (enableIncrementalVacuum).
	rawExec(t, raw, "PRAGMA auto_vacuum = INCREMENTAL", "VACUUM")
	if _, err := migrate(context.Background(), raw, file, migrations[:6]); err != nil {
		t.Fatal(err)
	}
	sum := "X'" + strings.Repeat("ab", 32) + "'"
	var q []string
	for _, name := range []string{"aaa", "zlib", "odd"} {
		q = append(q, `INSERT INTO packages (name, version, release, install_time, build_date) VALUES ('`+name+`', '1', 1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`)
	}
	row := func(pkg, path, typ, link, soname string) string {
		return fmt.Sprintf(`INSERT INTO files (package, path, type, mode, uid, gid, size, sha256, link, soname) VALUES ('%s', CAST(X'%x' AS TEXT), '%s', 493, 0, 0, 3, %s, '%s', '%s')`,
			pkg, path, typ, sum, link, soname)
	}
	for _, pkg := range []string{"aaa", "zlib"} {
		q = append(q, row(pkg, "usr", "dir", "", ""), row(pkg, "usr/lib", "dir", "", ""))
	}
	q = append(q,
		row("aaa", "a-b", "file", "", ""),
		row("aaa", "a", "dir", "", ""),
		row("aaa", "a/b", "file", "", ""),
		row("aaa", "a/b-c", "hardlink", "a/b", ""),
		row("aaa", "a/b.d", "dir", "", ""),
		row("aaa", "a/b.d/e", "symlink", "../b", ""),
		row("aaa", "a/c", "file", "", ""),
		row("zlib", "usr/lib/libz.so.1", "file", "", "libz.so.1"),
		row("zlib", "usr/lib/libz.so", "symlink", "libz.so.1", ""),
		row("odd", "usr/lib/caf\xe9/\x80x", "file", "", "libodd.so.1"),
		row("odd", "usr/lib/caf\xe9", "dir", "", ""),
		`INSERT INTO needed (package, path, seq, soname) VALUES ('zlib', 'usr/lib/libz.so.1', 0, 'libc.so.6'), ('zlib', 'usr/lib/libz.so.1', 1, 'ld-linux-x86-64.so.2')`,
		`INSERT INTO needed (package, path, seq, soname) VALUES ('odd', CAST(X'`+fmt.Sprintf("%x", "usr/lib/caf\xe9/\x80x")+`' AS TEXT), 0, 'libz.so.1')`,
	)
	rawExec(t, raw, q...)
}

// answers is what the queries say about a database, to compare one
// before and after its migration.
type answers struct {
	files    map[string][]string // package -> "path type link soname needed" in path order
	list     map[string]string   // package -> lpm files' listing
	owners   map[string][]string
	shared   []string
	owned    []string
	needers  map[string][]string
	provides map[string][]string
}

var askedPaths = []string{"usr", "usr/lib", "a", "a-b", "a/b", "a/b.d/e", "usr/lib/libz.so.1", "usr/lib/caf\xe9/\x80x", "usr/lib/caf\xe9", "nothing/here", "usr/lib/libz"}

// schema6Answers asks a schema-6 database the queries lpm at schema 6
// asked, written as they were then.
func schema6Answers(t *testing.T, raw *sql.DB) answers {
	t.Helper()
	a := answers{files: map[string][]string{}, list: map[string]string{}, owners: map[string][]string{}, needers: map[string][]string{}, provides: map[string][]string{}}
	strs := func(query string, args ...any) [][]string {
		rows, err := raw.Query(query, args...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out [][]string
		for rows.Next() {
			vals := make([]string, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, vals)
		}
		return out
	}
	for _, pkg := range []string{"aaa", "zlib", "odd"} {
		for _, r := range strs(`SELECT path, type, link, soname, coalesce((SELECT group_concat(soname, ',') FROM (SELECT soname FROM needed n WHERE n.package = f.package AND n.path = f.path ORDER BY seq)), '')
			FROM files f WHERE package = ? ORDER BY path, package`, pkg) {
			a.files[pkg] = append(a.files[pkg], strings.Join(r, " "))
		}
		a.list[pkg] = strs(`SELECT coalesce(group_concat(line, ''), '') FROM (
			SELECT '/' || path || CASE type WHEN 'dir' THEN '/' WHEN 'symlink' THEN ' -> ' || link ELSE '' END || char(10) AS line
			FROM files WHERE package = ? ORDER BY path)`, pkg)[0][0]
	}
	for _, p := range askedPaths {
		for _, r := range strs("SELECT path, package FROM files WHERE path = ? ORDER BY package", p) {
			a.owners[r[0]] = append(a.owners[r[0]], r[1])
		}
	}
	for _, r := range strs(`SELECT DISTINCT f.path FROM files f WHERE f.package IN ('aaa') AND EXISTS (
		SELECT 1 FROM files o WHERE o.path = f.path AND o.package NOT IN ('aaa')) ORDER BY 1`) {
		a.shared = append(a.shared, r[0])
	}
	for _, r := range strs("SELECT DISTINCT path FROM files ORDER BY 1") {
		a.owned = append(a.owned, r[0])
	}
	for _, r := range strs("SELECT soname, package, path FROM needed WHERE soname IN ('libc.so.6', 'libz.so.1') ORDER BY package, path") {
		a.needers[r[0]] = append(a.needers[r[0]], r[1]+" "+r[2])
	}
	for _, r := range strs("SELECT soname, package, path FROM files WHERE soname IN ('libz.so.1', 'libodd.so.1') ORDER BY package, path") {
		a.provides[r[0]] = append(a.provides[r[0]], r[1]+" "+r[2])
	}
	return a
}

// dbAnswers asks the same of an open database through pkgdb.
func dbAnswers(t *testing.T, db *DB) answers {
	t.Helper()
	a := answers{files: map[string][]string{}, list: map[string]string{}, needers: map[string][]string{}, provides: map[string][]string{}}
	for _, pkg := range []string{"aaa", "zlib", "odd"} {
		files, err := db.Files(pkg)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			a.files[pkg] = append(a.files[pkg], strings.Join([]string{f.Path, f.Type, f.Link, f.Soname, strings.Join(f.Needed, ",")}, " "))
		}
		var list strings.Builder
		if err := db.FileList(pkg, &list); err != nil {
			t.Fatal(err)
		}
		a.list[pkg] = list.String()
	}
	var err error
	if a.owners, err = db.Owners(askedPaths); err != nil {
		t.Fatal(err)
	}
	shared, err := db.SharedPaths([]string{"aaa"})
	if err != nil {
		t.Fatal(err)
	}
	for p := range shared {
		a.shared = append(a.shared, p)
	}
	slices.Sort(a.shared)
	owned, err := db.OwnedPaths()
	if err != nil {
		t.Fatal(err)
	}
	for p := range owned {
		a.owned = append(a.owned, p)
	}
	slices.Sort(a.owned)
	refs := func(m map[string][]LibRef, err error) map[string][]string {
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for soname, rs := range m {
			for _, r := range rs {
				out[soname] = append(out[soname], r.Package+" "+r.Path)
			}
		}
		return out
	}
	a.needers = refs(db.Needers([]string{"libc.so.6", "libz.so.1"}))
	a.provides = refs(db.SonameProviders([]string{"libz.so.1", "libodd.so.1"}))
	return a
}

func TestInterningPathsKeepsEveryAnswerOfASchema6Database(t *testing.T) {
	root := t.TempDir()
	schema6(t, root)
	raw := rawDB(t, Path(root))
	before := schema6Answers(t, raw)
	raw.Close()
	if !strings.Contains(before.list["aaa"], "/a/\n/a-b\n/a/b\n") || !strings.Contains(before.list["aaa"], "/a/b.d/e -> ../b\n/a/c\n") || len(before.owners) != 9 {
		t.Fatalf("the schema-6 database is not what the test needs: %+v", before)
	}

	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.SchemaVersion() != len(migrations) {
		t.Fatalf("schema %d after Open, want %d", db.SchemaVersion(), len(migrations))
	}
	after := dbAnswers(t, db)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("the queries' answers changed with the migration:\nbefore %q\nafter  %q", before, after)
	}
	var dirs, records int
	if err := db.sql.QueryRow("SELECT (SELECT count(*) FROM dirs), (SELECT count(*) FROM files)").Scan(&dirs, &records); err != nil || dirs != 6 || records != 15 {
		t.Errorf("%d dirs rows and %d file records after the migration (%v), want 6 and 15", dirs, records, err)
	}

	// The migrated records take part as new ones do: the same records
	// again are no change, and removing the packages leaves nothing.
	files, err := db.Files("zlib")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.PutPackage(pkg("zlib", "1"), slices.Values(files)); err != nil {
		t.Fatal(err)
	}
	if len(tx.touched) != 0 {
		t.Errorf("re-recording zlib's migrated files rewrote %v", tx.touched)
	}
	for _, name := range []string{"aaa", "zlib", "odd"} {
		if err := tx.DeletePackage(name); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.sql.QueryRow("SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM needed) + (SELECT count(*) FROM dirs)").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows left after removing every package (%v)", left, err)
	}
}

func TestAPathNoLpmWritesStopsTheMigrationAndLosesNothing(t *testing.T) {
	root := t.TempDir()
	schema6(t, root)
	raw := rawDB(t, Path(root))
	rawExec(t, raw, `INSERT INTO files (package, path, type, mode, uid, gid) VALUES ('zlib', 'usr//lib/libz.a', 'file', 420, 0, 0)`)
	raw.Close()

	db, err := Open(root)
	if err == nil {
		db.Close()
		t.Fatal("Open migrated a database with the path usr//lib/libz.a")
	}
	for _, want := range []string{"migrating schema 6 to 7", `"usr//lib/libz.a"`, "package zlib", "not clean"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open = %v, want it to say %q", err, want)
		}
	}
	raw = rawDB(t, Path(root))
	defer raw.Close()
	var version, records, tables int
	if err := raw.QueryRow("SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM files), (SELECT count(*) FROM sqlite_schema WHERE name IN ('dirs', 'files_new'))").Scan(&version, &records, &tables); err != nil {
		t.Fatal(err)
	}
	if version != 6 || records != 16 || tables != 0 {
		t.Errorf("after the failed step: schema %d, %d file records, %d new tables; want 6, 16 and 0", version, records, tables)
	}
}

// addRecords adds n file records to package aaa of a schema-6 database.
func addRecords(t *testing.T, root string, n int) {
	t.Helper()
	raw := rawDB(t, Path(root))
	defer raw.Close()
	rawExec(t, raw, fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < %d)
		INSERT INTO files (package, path, type, mode, uid, gid) SELECT 'aaa', printf('usr/share/aaa/d%%03d/f%%05d', i / 100, i), 'file', 420, 0, 0 FROM n`, n))
}

func TestAMigrationGivesTheOldTablesPagesBack(t *testing.T) {
	root := t.TempDir()
	schema6(t, root)
	addRecords(t, root, 5000)
	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var free, pages int
	if err := db.sql.QueryRow("SELECT (SELECT freelist_count FROM pragma_freelist_count), (SELECT page_count FROM pragma_page_count)").Scan(&free, &pages); err != nil {
		t.Fatal(err)
	}
	if free > 0 {
		t.Errorf("after the migration %d of the file's %d pages are free: the old tables' pages stay in it", free, pages)
	}
}

// TestMain lets the test binary be the lpm a migration test kills.
func TestMain(m *testing.M) {
	if root := os.Getenv("LPM_TEST_MIGRATE_ROOT"); root != "" {
		db, err := Open(root)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		db.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestAMigrationKilledMidwayLeavesAnOlderSchemaOrACompleteNewerOne(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a migration of 60,000 records several times")
	}
	src := t.TempDir()
	schema6(t, src)
	const extra = 60000
	addRecords(t, src, extra)
	image, err := os.ReadFile(Path(src))
	if err != nil {
		t.Fatal(err)
	}

	// How long a whole migration takes here, to kill at moments within it.
	whole := func(root string) time.Duration {
		start := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LPM_TEST_MIGRATE_ROOT="+root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("migrating: %v: %s", err, out)
		}
		return time.Since(start)
	}
	fresh := func() string {
		root := t.TempDir()
		if err := os.MkdirAll(Path(root)[:len(Path(root))-len("/lpm.db")], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(Path(root), image, 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	took := whole(fresh())

	seen := map[int]int{}
	for trial := range 8 {
		root := fresh()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LPM_TEST_MIGRATE_ROOT="+root)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(took * time.Duration(trial+1) / 6)
		cmd.Process.Kill()
		cmd.Wait()

		raw := rawDB(t, Path(root))
		var version int
		if err := raw.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
			t.Fatalf("trial %d: reading the killed migration's database: %v", trial, err)
		}
		var records int
		// Steps 8 (manifest hashes), 9 (listings), 10 (needed without
		// a foreign key) and 11 (journal chunks) keep step 7's tables.
		interned := "files f JOIN dirs d ON d.id = f.dir"
		table := map[int]string{6: "files", 7: interned, 8: interned, 9: interned, 10: interned, 11: interned}[version]
		if table == "" {
			t.Fatalf("trial %d: schema %d after the kill, want 6 to 11", trial, version)
		}
		if err := raw.QueryRow("SELECT count(*) FROM " + table).Scan(&records); err != nil || records != extra+15 {
			t.Errorf("trial %d: schema %d with %d file records (%v), want %d", trial, version, records, err, extra+15)
		}
		if version >= 9 {
			var unlisted int
			if err := raw.QueryRow("SELECT count(*) FROM packages WHERE name NOT IN (SELECT package FROM listings)").Scan(&unlisted); err != nil || unlisted != 0 {
				t.Errorf("trial %d: schema %d with %d packages without a listing (%v)", trial, version, unlisted, err)
			}
		}
		raw.Close()
		seen[version]++

		// Either way the next lpm finishes it and reads every record.
		db, err := Open(root)
		if err != nil {
			t.Fatalf("trial %d: opening after the kill: %v", trial, err)
		}
		owned, err := db.OwnedPaths()
		db.Close()
		if err != nil || len(owned) != extra+13 {
			t.Errorf("trial %d: %d owned paths after the kill (%v), want %d", trial, len(owned), err, extra+13)
		}
	}
	t.Logf("a migration took %v; killed at sixths of it, it left schema 6 %d times, 7 %d times, 8 %d times, 9 %d times, 10 %d times and 11 %d times", took, seen[6], seen[7], seen[8], seen[9], seen[10], seen[11])
}

func TestADirectoryIsForgottenWithTheLastRecordUnderIt(t *testing.T) {
	db, _ := openRoot(t)
	put(t, db, pkg("a", "1"), []File{dir("usr"), dir("usr/share"), dir("usr/share/a"), file("usr/share/a/x"), file("usr/share/a/y")})
	put(t, db, pkg("b", "1"), []File{dir("usr"), dir("usr/share"), file("usr/share/b")})
	dirs := func() []string {
		rows, err := db.sql.Query("SELECT path FROM dirs ORDER BY path")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var p string
			rows.Scan(&p)
			out = append(out, p)
		}
		return out
	}
	if got, want := dirs(), []string{"", "usr/", "usr/share/", "usr/share/a/"}; !slices.Equal(got, want) {
		t.Fatalf("dirs = %q, want %q", got, want)
	}
	// A new version without usr/share/a's files: that directory goes.
	put(t, db, pkg("a", "2"), []File{dir("usr"), dir("usr/share"), dir("usr/share/a")})
	if got, want := dirs(), []string{"", "usr/", "usr/share/"}; !slices.Equal(got, want) {
		t.Errorf("after an upgrade emptied usr/share/a: dirs = %q, want %q", got, want)
	}
	// Removing a keeps what b's records still name.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.DeletePackage("a"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := dirs(), []string{"", "usr/", "usr/share/"}; !slices.Equal(got, want) {
		t.Errorf("after removing a: dirs = %q, want %q", got, want)
	}
	owners, err := db.Owners([]string{"usr/share", "usr/share/b", "usr/share/a/x"})
	if err != nil || !reflect.DeepEqual(owners, map[string][]string{"usr/share": {"b"}, "usr/share/b": {"b"}}) {
		t.Errorf("owners after removing a: %v, %v", owners, err)
	}
	// A failed PutPackage forgets the dirs rows it made with it.
	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	bad := []File{dir("opt"), dir("opt/c"), file("opt/c/x"), file("opt/c/x")}
	if err := tx.PutPackage(pkg("c", "1"), slices.Values(bad)); err == nil {
		t.Fatal("PutPackage took a path listed twice")
	}
	if err := tx.PutPackage(pkg("c", "1"), slices.Values(bad[:3])); err != nil {
		t.Fatalf("PutPackage after a failed one: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if files, err := db.Files("c"); err != nil || len(files) != 3 || files[2].Path != "opt/c/x" {
		t.Errorf("Files(c) = %+v, %v", files, err)
	}
}

// Bytes of database per file of a big package, paths as long as a
// distribution's documentation has them, a directory to ten files: at
// schema 6, with whole paths in the records and again in the path index,
// they were 227; interned, 140.
func TestTheRecordsOfABigPackageTakeLittleSpace(t *testing.T) {
	db, root := openRoot(t)
	const n = 20000
	files := []File{dir("usr"), dir("usr/share"), dir("usr/share/doc")}
	for d := 0; len(files) < n; d++ {
		sub := fmt.Sprintf("usr/share/doc/python3-module-%03d/html/_static", d)
		files = append(files, dir(sub[:strings.LastIndex(sub, "/html")]), dir(sub[:strings.LastIndex(sub, "/")]), dir(sub))
		for i := 0; i < 30 && len(files) < n; i++ {
			files = append(files, file(fmt.Sprintf("%s/searchtools-%03d-%02d.js", sub, d, i)))
		}
	}
	put(t, db, pkg("big", "1"), files)
	db.Close()
	fi, err := os.Stat(Path(root))
	if err != nil {
		t.Fatal(err)
	}
	if per := fi.Size() / n; per > 160 {
		t.Errorf("the database of a %d-file package is %d bytes, %d a file; want at most 160", n, fi.Size(), per)
	}
}

func TestPathOrderIsBytewiseOrderOfRecordsAsStored(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	parts := []string{"a", "a-b", "a.b", "b", "a b", "ab", "a+", "\xe9", "z", "a~"}
	for trial := range 200 {
		seen := map[string]bool{}
		var paths []string
		for range 1 + rng.IntN(60) {
			var p []string
			for range 1 + rng.IntN(4) {
				p = append(p, parts[rng.IntN(len(parts))])
			}
			// Every ancestor is recorded too, as packages record theirs,
			// but only sometimes.
			for i := range p {
				q := strings.Join(p[:i+1], "/")
				if (i == len(p)-1 || rng.IntN(2) == 0) && !seen[q] {
					seen[q] = true
					paths = append(paths, q)
				}
			}
		}
		// As stored: by directory, the directories in a random order,
		// names sorted within each.
		byDir := map[string][]string{}
		var dirs []string
		for _, p := range paths {
			d, _ := splitPath(p)
			if byDir[d] == nil {
				dirs = append(dirs, d)
			}
			byDir[d] = append(byDir[d], p)
		}
		rng.Shuffle(len(dirs), func(i, j int) { dirs[i], dirs[j] = dirs[j], dirs[i] })
		var stored []string
		for _, d := range dirs {
			slices.Sort(byDir[d])
			stored = append(stored, byDir[d]...)
		}
		if trial%10 == 0 {
			// Not as stored: a directory's records apart. Still sorted.
			rng.Shuffle(len(stored), func(i, j int) { stored[i], stored[j] = stored[j], stored[i] })
		}
		var got []string
		for _, i := range pathOrder(len(stored), func(i int) (string, string) { return splitPath(stored[i]) }) {
			got = append(got, stored[i])
		}
		want := slices.Clone(stored)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: pathOrder of\n%q\ngives\n%q\nwant\n%q", trial, stored, got, want)
		}
	}
}
