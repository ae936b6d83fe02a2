package pkgdb

import "testing"

func TestTheSolverVersionIsStoredAndOlderDatabasesMigrate(t *testing.T) {
	root := t.TempDir()
	raw := rawDB(t, Path(root))
	rawExec(t, raw, migrations[0].sql, "PRAGMA user_version = 1",
		`INSERT INTO packages (name, version, release, install_time, build_date)
		 VALUES ('openssh', '9.9p2', 1, '2025-03-01T12:00:00Z', '2025-03-01T12:00:00Z')`)
	raw.Close()
	db, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old, err := db.Package("openssh")
	if err != nil || old.Version != "9.9p2" || old.SemVer != "" {
		t.Fatalf("package from a schema-1 database: %+v, %v", old, err)
	}
	p := pkg("sudo", "1.9.16p2")
	p.SemVer = "1.9.16"
	put(t, db, p, []File{dir("usr")})
	got, err := db.Package("sudo")
	if err != nil || got.SemVer != "1.9.16" {
		t.Errorf("stored solver version: %+v, %v", got, err)
	}
}
