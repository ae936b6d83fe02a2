package ports

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// The shipped tree checked against the book: the LFS 12.3 facts in
// shared/lfs-12.3 (packages, patches, Appendix C), which CI keeps beside the
// repository.

// lfsData returns the directory of the book's tables: shared/lfs-12.3 beside
// the module root, or beside one of its parents (a worktree of the
// repository sits deeper than a clone).
func lfsData(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		data := filepath.Join(filepath.Dir(d), "shared", "lfs-12.3")
		if _, err := os.Stat(filepath.Join(data, "packages.tsv")); err == nil {
			return data
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	t.Skipf("the LFS 12.3 tables are not here: put shared/lfs-12.3 (packages.tsv, patches.tsv, dependencies.tsv, debian-sources.tsv) beside the repository, as %s", filepath.Join(filepath.Dir(dir), "shared", "lfs-12.3"))
	return ""
}

// readTSV reads a table of the book as one map per row, keyed by column.
func readTSV(t *testing.T, dir, name string) []map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, col := range rows[0] {
			if i < len(row) {
				m[col] = row[i]
			}
		}
		out = append(out, m)
	}
	return out
}

// sysv says whether a row of the book is in its SysV edition, the one the
// tree follows.
func sysv(row map[string]string) bool { return row["variant"] != "systemd" }

// bookPorts lists the packages.tsv rows that are ports: the chapter-8 builds
// of the SysV book, the kernel, its API headers and the bootscripts (the
// other rows are extra tarballs of some port).
func bookPorts(rows []map[string]string) []map[string]string {
	var out []map[string]string
	for _, r := range rows {
		switch {
		case r["chapter8_order"] != "", r["name"] == "linux", r["name"] == "linux-api-headers", r["name"] == "lfs-bootscripts":
			out = append(out, r)
		}
	}
	return out
}

// lfsTree loads the shipped tree from the repository.
func lfsTree(t *testing.T) *Tree {
	t.Helper()
	tree, err := Load("lfs")
	if err != nil {
		t.Fatal(err)
	}
	for name, errs := range tree.Broken() {
		t.Errorf("port %s does not parse: %v", name, errs)
	}
	return tree
}

// bookVersion returns the tree's port of name at the book's version.
func bookVersion(tree *Tree, name, version string) *Port {
	for _, p := range tree.All(name) {
		if p.Version == version {
			return p
		}
	}
	return nil
}

func TestLFSTreeHasEveryPackageOfTheBook(t *testing.T) {
	data := lfsData(t)
	tree := lfsTree(t)
	pkgs := bookPorts(readTSV(t, data, "packages.tsv"))
	if len(pkgs) != 83 {
		t.Fatalf("packages.tsv lists %d ports (80 chapter-8 builds, linux, linux-api-headers, lfs-bootscripts), want 83", len(pkgs))
	}
	for _, row := range pkgs {
		if bookVersion(tree, row["name"], row["version"]) == nil {
			var have []string
			for _, p := range tree.All(row["name"]) {
				have = append(have, p.Version)
			}
			t.Errorf("port %s %s (the book's) is missing; the tree has %v", row["name"], row["version"], have)
		}
	}
}

func TestLFSTreeSourcesAreTheBooks(t *testing.T) {
	data := lfsData(t)
	tree := lfsTree(t)
	all := readTSV(t, data, "packages.tsv")
	byName := map[string]map[string]string{}
	for _, r := range all {
		byName[r["name"]] = r
	}
	exact := map[string]string{} // name -> sha256 of the book's very tarball
	for _, r := range readTSV(t, data, "debian-sources.tsv") {
		if r["bytes"] == "exact" {
			exact[r["name"]] = r["sha256"]
		}
	}
	patches := map[string][]map[string]string{}
	for _, r := range readTSV(t, data, "patches.tsv") {
		if sysv(r) {
			patches[r["applies_to"]] = append(patches[r["applies_to"]], r)
		}
	}
	for _, row := range bookPorts(all) {
		p := bookVersion(tree, row["name"], row["version"])
		if p == nil {
			continue // TestLFSTreeHasEveryPackageOfTheBook says so
		}
		source := func(url string) *Source {
			for i := range p.Sources {
				if p.Sources[i].URL == url {
					return &p.Sources[i]
				}
			}
			return nil
		}
		want := func(what, url, md5, sha string) {
			s := source(url)
			switch {
			case s == nil:
				t.Errorf("%s: %s %s is not a source", p, what, url)
			case s.MD5 != md5:
				t.Errorf("%s: %s %s has md5 %q, the book says %s", p, what, url, s.MD5, md5)
			case sha != "" && s.SHA256 != sha:
				t.Errorf("%s: %s %s has sha256 %q, want %s (debian-sources.tsv, bytes exact)", p, what, url, s.SHA256, sha)
			}
		}
		want("tarball", row["url"], row["md5"], exact[row["name"]])
		if row["name"] != "linux-api-headers" && len(p.Sources) > 0 && p.Sources[0].URL != row["url"] {
			t.Errorf("%s: the first source is %s, want the book's tarball %s (builds start in it)", p, p.Sources[0].URL, row["url"])
		}
		for _, extra := range strings.Split(row["extra_sources"], ",") {
			if extra = strings.TrimSpace(extra); extra != "" {
				x := byName[extra]
				want("extra tarball "+extra, x["url"], x["md5"], exact[extra])
			}
		}
		for _, patch := range patches[row["name"]] {
			want("patch", patch["url"], patch["md5"], "")
			if !slices.Contains(p.Patches, patch["name"]) {
				t.Errorf("%s: patch %s is a source but not in patches = [...]", p, patch["name"])
			}
		}
	}
}

func TestLFSTreeHasEveryAppendixCEdge(t *testing.T) {
	data := lfsData(t)
	tree := lfsTree(t)
	versions := map[string]string{}
	for _, r := range bookPorts(readTSV(t, data, "packages.tsv")) {
		versions[r["name"]] = r["version"]
	}
	// check and after are read from the file itself, so that this test
	// does not depend on how the Port type spells them.
	raw := map[string]map[string][]string{}
	depends := func(p *Port) map[string][]string {
		if d, ok := raw[p.Name]; ok {
			return d
		}
		var doc struct {
			Depends map[string][]string `toml:"depends"`
		}
		text, err := os.ReadFile(filepath.Join(p.Dir, FileName))
		if err == nil {
			err = toml.Unmarshal(text, &doc)
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		raw[p.Name] = doc.Depends
		return doc.Depends
	}
	names := func(deps []string) []string {
		var out []string
		for _, d := range deps {
			dep, err := ParseDep(d)
			if err != nil {
				t.Errorf("dependency %q: %v", d, err)
				continue
			}
			for _, term := range dep {
				out = append(out, term.Name)
			}
		}
		return out
	}
	keys := map[string]string{"install": "build", "runtime": "run", "test": "check"}
	for _, e := range readTSV(t, data, "dependencies.tsv") {
		// Appendix C's self edges (gcc installation depends on gcc) are
		// the temporary tools'; a port that needed itself could never be
		// built, nor upgraded, so they are left out.
		if e["scope"] != "lfs" || !sysv(e) || e["kind"] == "optional" || e["package"] == e["depends_on"] {
			continue
		}
		// "before" runs the other way: package must be installed
		// before depends_on, so depends_on's port has after = [package].
		owner, other, key := e["package"], e["depends_on"], keys[e["kind"]]
		if e["kind"] == "before" {
			owner, other, key = e["depends_on"], e["package"], "after"
		}
		p := bookVersion(tree, owner, versions[owner])
		if p == nil {
			continue // a missing port is reported by TestLFSTreeHasEveryPackageOfTheBook
		}
		if !slices.Contains(names(depends(p)[key]), other) {
			t.Errorf("%s: Appendix C says %s %s %s; add %q to [depends] %s", p, e["package"], e["kind"], e["depends_on"], other, key)
		}
	}
}

// TestLFSTreeLintsCleanWithTheChrootProfile: lint finds no error in the
// shipped tree on a system with the chroot profile's provided packages. (The
// toolchain's build cycle, glibc-gcc-binutils and the rest, is an error
// without them: a new system is built with the temporary tools.)
func TestLFSTreeLintsCleanWithTheChrootProfile(t *testing.T) {
	lfsData(t) // the tree is complete only where the book's tables are
	var conf struct {
		Provided []string `toml:"provided"`
	}
	text, err := os.ReadFile("../config/lfs/chroot.toml")
	if err == nil {
		err = toml.Unmarshal(text, &conf)
	}
	if err != nil {
		t.Fatal(err)
	}
	provided := map[string]bool{}
	for _, p := range conf.Provided {
		name, _, _ := strings.Cut(p, "=")
		provided[name] = true
	}
	probs, err := LintWith(LintOptions{Provided: provided}, "lfs")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if !p.Warning {
			t.Error(p)
		}
	}
}
