package installer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sharedUpgrade installs "other", which shares the directory
// usr/share/shared with "pkg", and pkg 1.0; it returns pkg 2.0, which
// changes usr/bin/x, drops usr/bin/y and adds usr/bin/z and usr/share/new
// with a file in it.
func sharedUpgrade(t *testing.T, in *Installer) (v2 string) {
	t.Helper()
	other := pack(t, stageTree(t, "usr/share/shared/", "usr/share/shared/theirs"), "other", "1.0")
	common := []string{"usr/bin/", "usr/bin/x", "usr/share/shared/", "usr/share/shared/mine", "usr/share/pkg/a", "usr/share/pkg/b"}
	v1 := pack(t, stageTree(t, append(common, "usr/bin/y")...), "pkg", "1.0")
	stage2 := stageTree(t, append(common, "usr/bin/z", "usr/share/new/", "usr/share/new/n")...)
	if err := os.WriteFile(filepath.Join(stage2, "usr/bin/x"), []byte("version 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{other, v1} {
		if _, err := in.Apply([]Change{{Archive: a, Explicit: true}}); err != nil {
			t.Fatal(err)
		}
	}
	return pack(t, stage2, "pkg", "2.0")
}

// What the old version of a package records needs no owner lookup: a
// non-directory it records has no other owner (the commit refuses a
// non-directory with two), a directory it records is owned. So an upgrade
// asks the database only about the paths new to the package, and still
// records a directory it shares with another package as shared.
func TestAnUpgradeAsksWhoOwnsOnlyThePathsNewToThePackage(t *testing.T) {
	in, root := newTestInstaller(t)
	v2 := sharedUpgrade(t, in)
	in.ownerLookups = 0
	if _, err := in.Apply([]Change{{Archive: v2}}); err != nil {
		t.Fatal(err)
	}
	if new := 3; in.ownerLookups != new { // usr/bin/z, usr/share/new, usr/share/new/n
		t.Errorf("the upgrade looked up the owners of %d paths, want the %d new to the package", in.ownerLookups, new)
	}
	owners, err := in.DB.Owners([]string{"usr/share/shared", "usr/bin/x", "usr/bin/y", "usr/bin/z", "usr/share/new/n"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"usr/share/shared": {"other", "pkg"}, "usr/bin/x": {"pkg"}, "usr/bin/z": {"pkg"}, "usr/share/new/n": {"pkg"}}
	for p, w := range want {
		if !slices.Equal(owners[p], w) {
			t.Errorf("/%s is owned by %v after the upgrade, want %v", p, owners[p], w)
		}
	}
	if o, ok := owners["usr/bin/y"]; ok {
		t.Errorf("/usr/bin/y, gone from pkg 2.0, is still owned by %v", o)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "usr/bin/x")); string(got) != "version 2\n" {
		t.Errorf("/usr/bin/x holds %q after the upgrade", got)
	}
	if diffs, err := Verify(root, in.DB, nil); err != nil || len(diffs) != 0 {
		t.Errorf("verify after the upgrade: %v %v", diffs, err)
	}
}

// A path new to the package that another package owns is still refused,
// and nothing changes.
func TestAnUpgradeRefusesAPathNewToItThatAnotherPackageOwns(t *testing.T) {
	in, root := newTestInstaller(t)
	sharedUpgrade(t, in)
	v2 := pack(t, stageTree(t, "usr/bin/", "usr/bin/x", "usr/share/shared/", "usr/share/shared/mine", "usr/share/shared/theirs"), "pkg", "2.0")
	before := listing(t, root)
	_, err := in.Apply([]Change{{Archive: v2}})
	var conflict *ConflictError
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "/usr/share/shared/theirs (owned by other)") {
		t.Fatalf("an upgrade taking another package's file: %v", err)
	}
	if after := listing(t, root); !slices.Equal(after, before) {
		t.Errorf("the refused upgrade changed the root:\n%v\n%v", before, after)
	}
	if p, err := in.DB.Package("pkg"); err != nil || p.Version != "1.0" {
		t.Errorf("after the refused upgrade pkg is %+v (%v), want 1.0", p, err)
	}
}
