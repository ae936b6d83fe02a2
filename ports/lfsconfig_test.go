package ports

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// configFileRows reads the book's config-files.tsv from shared/lfs-12.3
// beside the module root or beside one of its parents (a worktree sits
// deeper than a clone), skipping the test when it is not there.
func configFileRows(t *testing.T) []map[string]string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var f *os.File
	for d := dir; f == nil; d = filepath.Dir(d) {
		f, _ = os.Open(filepath.Join(filepath.Dir(d), "shared", "lfs-12.3", "config-files.tsv"))
		if f == nil && d == filepath.Dir(d) {
			t.Skipf("the book's tables are not here: put shared/lfs-12.3 beside the repository, as %s", filepath.Join(filepath.Dir(dir), "shared", "lfs-12.3"))
		}
	}
	defer f.Close()
	file := f.Name()
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	recs, err := r.ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("%s: %v", file, err)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, k := range recs[0] {
			if i < len(rec) {
				row[k] = rec[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// Every file the SysV book has the user write is a backup file, so that an
// edit survives upgrades: chapters 7 and 9-11 in the base ports, chapter 8
// in the port of the package whose section writes it.
func TestLFSConfigFilesOfTheBookAreBackupFiles(t *testing.T) {
	rows := configFileRows(t)
	tree, err := Load("lfs")
	if err != nil {
		t.Fatal(err)
	}
	backedUp := func(names []string, path string) bool {
		for _, n := range names {
			for _, p := range tree.All(n) {
				if slices.Contains(p.Backup, path) {
					return true
				}
			}
		}
		return false
	}
	checked := 0
	for _, row := range rows {
		path := strings.TrimPrefix(row["path"], "/")
		switch {
		case row["variant"] == "systemd", strings.HasPrefix(row["action"], "symlink"):
			continue // the systemd book's, or a link (etc/mtab, the user's time zone)
		case strings.Contains(row["note"], "optional") && !strings.Contains(row["note"], "systemd book"):
			continue // an alternative the book offers, not a file it writes
		case path == "boot/grub/grub.cfg":
			continue // written by the bootloader hook, between its markers
		}
		var owners []string
		if strings.HasPrefix(row["section_sysv"], "8.") {
			// "Glibc-2.41" is glibc's section.
			name := strings.ToLower(row["section_title"][:strings.LastIndex(row["section_title"], "-")])
			if len(tree.All(name)) == 0 {
				continue // a missing port is the tree test's to report
			}
			owners = []string{name}
		} else {
			owners = []string{"lfs-base", "lfs-config"}
		}
		checked++
		if !backedUp(owners, path) {
			t.Errorf("%s (book section %s, %s) is not a backup file of %s", row["path"], row["section_sysv"], row["section_title"], strings.Join(owners, " or "))
		}
	}
	if checked < 17 {
		t.Errorf("only %d of the book's config files were checked", checked)
	}
}
