package pkgdb

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// fromRecords is the listing of package name as its records give it.
func fromRecords(t *testing.T, db *DB, name string) string {
	t.Helper()
	files, err := db.Files(name)
	if err != nil {
		t.Fatal(err)
	}
	var list strings.Builder
	if err := writeListing(&list, slices.Values(files)); err != nil {
		t.Fatal(err)
	}
	return list.String()
}

func stored(t *testing.T, db *DB, name string) string {
	t.Helper()
	var list strings.Builder
	if err := db.FileList(name, &list); err != nil {
		t.Fatal(err)
	}
	return list.String()
}

func TestTheStoredListingIsWhatTheRecordsSayAfterEveryChange(t *testing.T) {
	db, _ := openRoot(t)
	link := func(p, to string) File { return File{Path: p, Type: "symlink", Mode: 0o777, Link: to} }
	hard := func(p, to string) File { return File{Path: p, Type: "hardlink", Mode: 0o644, Link: to} }
	// Names that sort around the slash, bytes that are not UTF-8, a
	// newline and a space in a name, records not in path order.
	v1 := []File{
		dir("usr"), dir("usr/lib"), file("usr/lib/a\xffb"), file("usr/lib-x"), dir("usr/lib/sub"),
		file("usr/lib/sub/z"), link("usr/lib/libz.so", "libz.so.1"), file("usr/lib/libz.so.1"),
		hard("usr/lib/hard", "usr/lib/libz.so.1"), file("usr/new\nline"), file("usr/a b"), dir("etc"), file("etc/conf"),
	}
	put(t, db, pkg("p", "1"), v1)
	want1 := "/etc/\n/etc/conf\n/usr/\n/usr/a b\n/usr/lib/\n/usr/lib-x\n/usr/lib/a\xffb\n/usr/lib/hard\n" +
		"/usr/lib/libz.so -> libz.so.1\n/usr/lib/libz.so.1\n/usr/lib/sub/\n/usr/lib/sub/z\n/usr/new\nline\n"
	if got := stored(t, db, "p"); got != want1 || fromRecords(t, db, "p") != want1 {
		t.Fatalf("listing of p =\n%q\nfrom its records\n%q\nwant\n%q", got, fromRecords(t, db, "p"), want1)
	}

	// An upgrade that drops, adds and changes records (a file becomes a
	// symlink, a symlink's target changes).
	v2 := []File{
		dir("usr"), dir("usr/lib"), link("usr/lib/a\xffb", "elsewhere"), dir("usr/lib/sub"), file("usr/lib/sub/z"),
		link("usr/lib/libz.so", "libz.so.2"), file("usr/lib/libz.so.2"), file("usr/lib/sub/y"), dir("opt"),
	}
	put(t, db, pkg("p", "2"), v2)
	want2 := "/opt/\n/usr/\n/usr/lib/\n/usr/lib/a\xffb -> elsewhere\n/usr/lib/libz.so -> libz.so.2\n/usr/lib/libz.so.2\n" +
		"/usr/lib/sub/\n/usr/lib/sub/y\n/usr/lib/sub/z\n"
	if got := stored(t, db, "p"); got != want2 || fromRecords(t, db, "p") != want2 {
		t.Fatalf("listing of p after the upgrade =\n%q\nfrom its records\n%q\nwant\n%q", got, fromRecords(t, db, "p"), want2)
	}

	put(t, db, pkg("empty", "1"), nil)
	if got := stored(t, db, "empty"); got != "" {
		t.Errorf("listing of a package without files = %q", got)
	}

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.DeletePackage("p"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.sql.QueryRow("SELECT count(*) FROM listings WHERE package = 'p'").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d listings of a removed package (%v)", n, err)
	}
	if err := db.FileList("p", &strings.Builder{}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("FileList of a removed package = %v, want ErrNotInstalled", err)
	}
}

func TestAPackageWithoutAStoredListingIsListedFromItsRecords(t *testing.T) {
	db, _ := openRoot(t)
	put(t, db, pkg("p", "1"), []File{dir("b"), file("b/z"), dir("a"), file("a-b"), file("a/b")})
	if _, err := db.sql.Exec("DELETE FROM listings"); err != nil {
		t.Fatal(err)
	}
	if got, want := stored(t, db, "p"), "/a/\n/a-b\n/a/b\n/b/\n/b/z\n"; got != want {
		t.Errorf("listing from the records = %q, want %q", got, want)
	}
}

func TestADamagedListingIsAnErrorNamingTheDatabaseAndTheRepair(t *testing.T) {
	db, _ := openRoot(t)
	files := []File{dir("usr"), dir("usr/share")}
	for i := range 2000 {
		files = append(files, file("usr/share/"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+strings.Repeat("y", i%7)+string(rune('0'+i%10))))
	}
	seen := map[string]bool{}
	var unique []File
	for _, f := range files {
		if !seen[f.Path] {
			seen[f.Path] = true
			unique = append(unique, f)
		}
	}
	put(t, db, pkg("p", "1"), unique)
	var packed []byte
	if err := db.sql.QueryRow("SELECT listing FROM listings WHERE package = 'p'").Scan(&packed); err != nil {
		t.Fatal(err)
	}
	for name, damaged := range map[string][]byte{
		"a byte flipped in the middle": func() []byte { b := bytes.Clone(packed); b[len(b)/2] ^= 0x5a; return b }(),
		"cut short":                    packed[:len(packed)/2],
		"not zstd at all":              []byte("/usr/\n/usr/share/\n"),
	} {
		if _, err := db.sql.Exec("UPDATE listings SET listing = ? WHERE package = 'p'", damaged); err != nil {
			t.Fatal(err)
		}
		err := db.FileList("p", &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), db.path) || !strings.Contains(err.Error(), "lpm repair p") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: FileList = %v, want one line naming %s and lpm repair p", name, err, db.path)
		}
	}
}
