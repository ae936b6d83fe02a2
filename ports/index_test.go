package ports

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lfs-lpm/lpm/resolver"
)

// layeredTrees writes a local tree over a shipped one: versions in
// subdirectories, provides, a broken port, a port hidden by the local
// tree and a port whose name differs from its directory.
func layeredTrees(t *testing.T) (local, shipped string) {
	t.Helper()
	root := t.TempDir()
	local, shipped = filepath.Join(root, "local"), filepath.Join(root, "shipped")
	writePort(t, shipped, "zlib", zlibPort)
	writePort(t, shipped, "gawk", simplePort("gawk", "5.3.1", `provides = ["awk"]
[depends]
run = ["glibc"]`))
	writePort(t, shipped, "mawk", simplePort("mawk", "1.3.4", `provides = ["awk=1.3.4"]`))
	writePort(t, shipped, "glibc/2.40", simplePort("glibc", "2.40", ""))
	writePort(t, shipped, "glibc/2.41", simplePort("glibc", "2.41", ""))
	writePort(t, shipped, "broken", "name = \"broken\"\nversion = ")
	writePort(t, shipped, "oddly-named", simplePort("renamed", "1.0", ""))
	writePort(t, local, "mawk", simplePort("mawk", "1.3.5", `provides = ["awk=1.3.5"]`))
	writePort(t, local, "hello", simplePort("hello", "2.12", `[depends]
run = ["awk", "zlib >=1.3"]`))
	return local, shipped
}

// treeView is everything a Tree answers, as text.
func treeView(t *testing.T, tr *Tree) string {
	t.Helper()
	var b strings.Builder
	names := tr.Names()
	fmt.Fprintln(&b, "names:", names)
	for _, n := range append(names, "awk", "broken", "missing") {
		vs, err := tr.Versions(n)
		fmt.Fprintln(&b, n, "versions:", vs, "err:", err)
		for _, p := range tr.All(n) {
			fmt.Fprintln(&b, "  port", p.Name, p.Version, p.Ver, p.Dir, p.Description, p.Depends.Run)
		}
		version, description, ok := tr.Summary(n)
		fmt.Fprintln(&b, "  summary", version, description, ok)
		provs, err := tr.Providers(n)
		fmt.Fprintln(&b, "  providers", provs, err)
		_, err = tr.Lookup(n, nil)
		fmt.Fprintln(&b, "  lookup error:", err)
	}
	broken := tr.Broken()
	keys := make([]string, 0, len(broken))
	for k := range broken {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintln(&b, "broken", k, broken[k])
	}
	return b.String()
}

// bothReadings runs test with a tree read name by name from its index
// (as large trees are) and read from it at once (small trees).
func bothReadings(t *testing.T, test func(t *testing.T)) {
	for _, limit := range []int{0, 1000} {
		t.Run(fmt.Sprintf("smallTree=%d", limit), func(t *testing.T) {
			defer func(old int) { smallTree = old }(smallTree)
			smallTree = limit
			test(t)
		})
	}
}

func TestIndexedTreeAnswersAsAFullyReadTree(t *testing.T) {
	bothReadings(t, indexedTreeAnswersAsAFullyReadTree)
}

func indexedTreeAnswersAsAFullyReadTree(t *testing.T) {
	local, shipped := layeredTrees(t)
	full, err := Load(local, shipped)
	if err != nil {
		t.Fatal(err)
	}
	want := treeView(t, full)
	cache := t.TempDir()
	for _, pass := range []string{"building the index", "reading the index"} {
		tr, err := Open(cache, local, shipped)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.layers) != 2 {
			t.Fatalf("%s: the tree has %d indexes, want 2", pass, len(tr.layers))
		}
		if got := treeView(t, tr); got != want {
			t.Errorf("%s: the indexed tree says\n%s\nthe files say\n%s", pass, got, want)
		}
		tr.Close()
	}
}

// A lookup (and so a solve) reads only the ports it is about once the
// index exists.
func TestIndexedSolveReadsOnlyThePortsItNeeds(t *testing.T) {
	defer func(old int) { smallTree = old }(smallTree)
	smallTree = 0 // as for a large tree
	local, shipped := layeredTrees(t)
	for i := 0; i < 50; i++ {
		writePort(t, shipped, fmt.Sprintf("unrelated%d", i), simplePort(fmt.Sprintf("unrelated%d", i), "1.0", ""))
	}
	cache := t.TempDir()
	first, err := Open(cache, local, shipped)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	old := time.Now().Add(-time.Hour)
	for _, dir := range []string{local, shipped} {
		// Files older than the racy window are trusted on their stat.
		setAllTimes(t, dir, old)
	}
	racyWindow = 0
	defer func() { racyWindow = 2 * time.Second }()
	first, _ = Open(cache, local, shipped)
	first.Names() // checks every port directory: stores the new stats
	first.Close()

	tr, err := Open(cache, local, shipped)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sol, err := resolver.Solve(tr, []resolver.Request{{Name: "hello"}}, resolver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sol.Selected {
		got = append(got, s.Name+" "+s.Version.String())
	}
	if want := "gawk 5.3.1, glibc 2.41.0, hello 2.12.0, zlib 1.3.1"; strings.Join(got, ", ") != want {
		t.Errorf("solution %s, want %s", strings.Join(got, ", "), want)
	}
	scanned := tr.layers[0].scanned + tr.layers[1].scanned
	if scanned != 0 {
		t.Errorf("the solve read %d port directories again; the index was fresh", scanned)
	}
	if tr.parsed > 6 {
		t.Errorf("the solve parsed %d port files; it needs hello, gawk, mawk, zlib and glibc (two versions)", tr.parsed)
	}
}

// setAllTimes sets the modification time of every file and directory
// under dir (the change time becomes now, which is still older than the
// index written after it).
func setAllTimes(t *testing.T, dir string, when time.Time) {
	t.Helper()
	err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(path, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rewriteKeepingStat rewrites file with text of the same length and puts
// its modification time back, as a careless tool (or a fast editor within
// one second) would.
func rewriteKeepingStat(t *testing.T, file, text string) {
	t.Helper()
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(text)) != st.Size() {
		t.Fatalf("test bug: %q is %d bytes, the file %d", text, len(text), st.Size())
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.Stat(file); !now.ModTime().Equal(st.ModTime()) || now.Size() != st.Size() {
		t.Fatal("test bug: the rewrite changed the size or modification time")
	}
}

func versionsOf(t *testing.T, tr *Tree, name string) string {
	t.Helper()
	vs, err := tr.Versions(name)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(vs)
}

func TestIndexNoticesAPortRewrittenWithTheSameSizeAndModificationTime(t *testing.T) {
	bothReadings(t, indexNoticesAPortRewrittenWithTheSameSizeAndModificationTime)
}

func indexNoticesAPortRewrittenWithTheSameSizeAndModificationTime(t *testing.T) {
	tree, cache := t.TempDir(), t.TempDir()
	file := writePort(t, tree, "zlib", simplePort("zlib", "1.3.1", ""))
	setAllTimes(t, tree, time.Now().Add(-time.Hour))
	for _, racy := range []bool{false, true} {
		t.Run(fmt.Sprintf("racy=%v", racy), func(t *testing.T) {
			if !racy {
				// Trust stats at once, so that only the change time can
				// tell; the kernel's clock tick must pass between writes.
				racyWindow = 0
				defer func() { racyWindow = 2 * time.Second }()
			}
			writeAt := func(version string) {
				rewriteKeepingStat(t, file, simplePort("zlib", version, ""))
			}
			writeAt("1.3.1")
			time.Sleep(20 * time.Millisecond)
			tr, err := Open(cache, tree)
			if err != nil {
				t.Fatal(err)
			}
			if got := versionsOf(t, tr, "zlib"); got != "[1.3.1]" {
				t.Fatalf("versions %s before the rewrite", got)
			}
			tr.Close()
			time.Sleep(20 * time.Millisecond)
			writeAt("1.3.2")
			tr, err = Open(cache, tree)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if got := versionsOf(t, tr, "zlib"); got != "[1.3.2]" {
				t.Fatalf("after rewriting zlib's port.toml as 1.3.2 (same size, same modification time), the index says %s", got)
			}
		})
	}
}

func TestIndexNoticesPortsAddedRemovedAndVersionsAdded(t *testing.T) {
	bothReadings(t, indexNoticesPortsAddedRemovedAndVersionsAdded)
}

func indexNoticesPortsAddedRemovedAndVersionsAdded(t *testing.T) {
	tree, cache := t.TempDir(), t.TempDir()
	writePort(t, tree, "zlib", simplePort("zlib", "1.3.1", ""))
	writePort(t, tree, "glibc/2.40", simplePort("glibc", "2.40", ""))
	writePort(t, tree, "gone", simplePort("gone", "1.0", ""))
	if err := os.MkdirAll(filepath.Join(tree, "glibc/2.42"), 0o755); err != nil {
		t.Fatal(err) // a version directory still without its port.toml
	}
	tr, err := Open(cache, tree)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tr.Names()); got != "[glibc gone zlib]" {
		t.Fatalf("names %s", got)
	}
	if got := versionsOf(t, tr, "glibc"); got != "[2.40.0]" {
		t.Fatalf("glibc versions %s", got)
	}
	tr.Close()
	time.Sleep(20 * time.Millisecond) // a new clock tick for the directories' stats
	writePort(t, tree, "glibc/2.41", simplePort("glibc", "2.41", ""))
	writePort(t, tree, "make", simplePort("make", "4.4.1", `provides = ["gmake"]`))
	if err := os.RemoveAll(filepath.Join(tree, "gone")); err != nil {
		t.Fatal(err)
	}
	tr, err = Open(cache, tree)
	if err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(t, tr, "glibc"); got != "[2.41.0 2.40.0]" {
		t.Errorf("glibc versions %s after adding 2.41", got)
	}
	if provs, _ := tr.Providers("gmake"); len(provs) != 1 || provs[0].Name != "make" {
		t.Errorf("providers of gmake %v after adding make", provs)
	}
	if got := versionsOf(t, tr, "gone"); got != "[]" {
		t.Errorf("gone versions %s after removing it", got)
	}
	if got := fmt.Sprint(tr.Names()); got != "[glibc make zlib]" {
		t.Errorf("names %s", got)
	}
	tr.Close()
	// Only the version directory changes when its port.toml arrives; the
	// stats alone must tell (no racy reading again).
	racyWindow = 0
	defer func() { racyWindow = 2 * time.Second }()
	tr, _ = Open(cache, tree)
	tr.Names() // stores every directory as not racy
	tr.Close()
	time.Sleep(20 * time.Millisecond)
	writePort(t, tree, "glibc/2.42", simplePort("glibc", "2.42", ""))
	tr, err = Open(cache, tree)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if got := versionsOf(t, tr, "glibc"); got != "[2.42.0 2.41.0 2.40.0]" {
		t.Errorf("glibc versions %s after writing 2.42's port.toml into its directory", got)
	}
}

func TestUnusableIndexFallsBackToReadingTheTree(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "zlib", simplePort("zlib", "1.3.1", ""))
	cache := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(cache, []byte("a file where the cache directory should be"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := Open(cache, tree)
	if err != nil {
		t.Fatal(err)
	}
	if tr.layers != nil {
		t.Fatal("the tree claims an index in a cache that cannot exist")
	}
	if got := versionsOf(t, tr, "zlib"); got != "[1.3.1]" {
		t.Errorf("versions %s", got)
	}
	// A damaged index file is rebuilt or bypassed, never believed.
	cache = t.TempDir()
	tr, _ = Open(cache, tree)
	path := tr.layers[0].path
	tr.Close()
	if err := os.WriteFile(path, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	tr, err = Open(cache, tree)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if got := versionsOf(t, tr, "zlib"); got != "[1.3.1]" {
		t.Errorf("versions %s with a damaged index", got)
	}
	if tr.layers == nil {
		t.Error("the damaged index was not made again")
	}
}

func TestOpenNamesAMissingTree(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := Open(t.TempDir(), missing)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %v does not name %s", err, missing)
	}
	_, lerr := Load(missing)
	if !reflect.DeepEqual(err.Error(), lerr.Error()) {
		t.Errorf("Open says %q, Load says %q", err, lerr)
	}
}

func TestMain(m *testing.M) {
	// The trees of these tests are small; index them anyway.
	smallDirBytes = -1
	os.Exit(m.Run())
}

func TestSmallTreesAreReadWithoutAnIndex(t *testing.T) {
	defer func(old int64) { smallDirBytes = old }(smallDirBytes)
	smallDirBytes = 16 << 10
	tree, cache := t.TempDir(), t.TempDir()
	writePort(t, tree, "zlib", simplePort("zlib", "1.3.1", ""))
	tr, err := Open(cache, tree)
	if err != nil {
		t.Fatal(err)
	}
	if tr.layers != nil {
		t.Error("a four-port tree was opened through an index")
	}
	if got := versionsOf(t, tr, "zlib"); got != "[1.3.1]" {
		t.Errorf("versions %s", got)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("the cache holds %d files", len(entries))
	}
}

// A small directory holding many versions of each port is indexed.
func TestManyVersionsInFewDirectoriesAreIndexed(t *testing.T) {
	defer func(old int64, oldTree int) { smallDirBytes, smallTree = old, oldTree }(smallDirBytes, smallTree)
	smallDirBytes, smallTree = 16<<10, 10
	tree, cache := t.TempDir(), t.TempDir()
	for v := 1; v <= 20; v++ {
		writePort(t, tree, fmt.Sprintf("lib/%d.0", v), simplePort("lib", fmt.Sprintf("%d.0", v), ""))
	}
	for pass := 0; pass < 2; pass++ {
		tr, err := Open(cache, tree)
		if err != nil {
			t.Fatal(err)
		}
		if tr.layers == nil {
			t.Errorf("pass %d: twenty versions were read without an index", pass)
		}
		if vs, _ := tr.Versions("lib"); len(vs) != 20 {
			t.Errorf("pass %d: %d versions", pass, len(vs))
		}
		tr.Close()
	}
}
