package pkgdb

import (
	"fmt"
	"slices"
	"testing"
)

// benchFiles builds a package tree of about n entries: directories of 100
// files each, every tenth file an ELF object with DT_NEEDED entries.
func benchFiles(prefix string, n int) []File {
	files := []File{dir(prefix)}
	for d := 0; len(files) < n; d++ {
		sub := fmt.Sprintf("%s/d%03d", prefix, d)
		files = append(files, dir(sub))
		for i := 0; i < 99 && len(files) < n; i++ {
			f := file(fmt.Sprintf("%s/f%04d", sub, i))
			if i%10 == 0 {
				f.Soname = fmt.Sprintf("libf%d.so.1", i)
				f.Needed = []string{"libc.so.6", "libz.so.1"}
			}
			files = append(files, f)
		}
	}
	return files
}

func BenchmarkPutPackage20000(b *testing.B) {
	db, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p := pkg("big", "1")
	p.Depends = []string{"glibc", "zlib >=1.3"}
	files := append([]File{dir("usr"), dir("usr/share")}, benchFiles("usr/share/big", 20000-2)...)

	b.ResetTimer()
	for b.Loop() {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.PutPackage(p, slices.Values(files)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOwners1000(b *testing.B) {
	db, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	// 300 packages of 67 entries: 20,100 rows, the shared directories
	// usr and usr/share owned by all of them.
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	for i := range 300 {
		name := fmt.Sprintf("p%03d", i)
		files := append([]File{dir("usr"), dir("usr/share")}, benchFiles("usr/share/"+name, 65)...)
		if err := tx.PutPackage(pkg(name, "1"), slices.Values(files)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}

	// 900 owned files, 98 unowned paths and the two shared directories.
	query := []string{"usr", "usr/share"}
	for i := range 900 {
		query = append(query, fmt.Sprintf("usr/share/p%03d/d000/f%04d", i%300, i/300))
	}
	for i := range 98 {
		query = append(query, fmt.Sprintf("usr/share/nobody/f%d", i))
	}

	b.ResetTimer()
	for b.Loop() {
		owners, err := db.Owners(query)
		if err != nil {
			b.Fatal(err)
		}
		if len(owners) != 902 || len(owners["usr"]) != 300 {
			b.Fatalf("Owners found %d paths, %d owners of usr", len(owners), len(owners["usr"]))
		}
	}
}

// BenchmarkJournal20000 writes and closes the journal of a 20,000-path
// install, as Apply does around its changes to the disk.
func BenchmarkJournal20000(b *testing.B) {
	db, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var entries []JournalEntry
	for i := range 20000 {
		p := fmt.Sprintf("usr/share/big/d%03d/f%04d", i/100, i%100)
		entries = append(entries, JournalEntry{Op: "replace", Path: p})
	}
	pkgs := []TxPackage{{Name: "big", NewVersion: "1", Action: "install"}}

	b.ResetTimer()
	for b.Loop() {
		id, err := db.BeginJournal("install big 1", pkgs, entries)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.SetTxState(id, StateDone); err != nil {
			b.Fatal(err)
		}
	}
}
