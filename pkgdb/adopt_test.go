package pkgdb

import (
	"slices"
	"testing"
)

func TestAnAdoptedPackageKeepsWhereItCameFromAndThePackagesHash(t *testing.T) {
	db, _ := openRoot(t)
	p := pkg("hello", "1.0")
	p.AdoptedFrom = "footprint /usr/ports/hello/footprint"
	differs := file("usr/bin/hello")
	differs.BuiltSHA256 = "ab" + differs.SHA256[2:]
	put(t, db, p, []File{dir("usr"), dir("usr/bin"), differs})
	put(t, db, pkg("glibc", "2.41"), nil) // provided: no files

	got, err := db.Package("hello")
	if err != nil || got.AdoptedFrom != p.AdoptedFrom {
		t.Errorf("Package = %+v, %v; want adopted from %q", got, err, p.AdoptedFrom)
	}
	files, err := db.Files("hello")
	if err != nil || len(files) != 3 || files[2].BuiltSHA256 != differs.BuiltSHA256 {
		t.Errorf("Files = %+v, %v", files, err)
	}
	// An upgrade's record of the same path carries no package hash of its
	// own: the row is rewritten, not kept.
	p.AdoptedFrom = ""
	put(t, db, p, []File{dir("usr"), dir("usr/bin"), file("usr/bin/hello")})
	if files, _ := db.Files("hello"); files[2].BuiltSHA256 != "" {
		t.Errorf("after a new record the old package hash stayed: %+v", files[2])
	}
	owned, err := db.OwnedPaths()
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for p := range owned {
		list = append(list, p)
	}
	slices.Sort(list)
	if !slices.Equal(list, []string{"usr", "usr/bin", "usr/bin/hello"}) {
		t.Errorf("OwnedPaths = %v", list)
	}
	if files, err := db.Files("glibc"); err != nil || len(files) != 0 {
		t.Errorf("a package with no files: %+v, %v", files, err)
	}
}
