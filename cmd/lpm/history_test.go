package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
)

// Tests of history, undo, releases and preserved libraries, with the demo
// ports and real builds.

// histEntry is one entry of `lpm history --json`, as a script reads it.
type histEntry struct {
	ID       int64  `json:"id"`
	State    string `json:"state"`
	Command  string `json:"command"`
	Packages []struct {
		Name        string `json:"name"`
		Action      string `json:"action"`
		OldVersion  string `json:"old_version"`
		NewVersion  string `json:"new_version"`
		OldRelease  int    `json:"old_release"`
		NewRelease  int    `json:"new_release"`
		OldExplicit bool   `json:"old_explicit"`
		NewExplicit bool   `json:"new_explicit"`
	} `json:"packages"`
}

// forgetLdconfig removes what the ldconfig hook writes (owned by no
// package), so that states before and after can be compared.
func (r *testRoot) forgetLdconfig() {
	os.Remove(r.path("etc/ld.so.cache"))
	os.RemoveAll(r.path("var/cache/ldconfig"))
}

// unchangedButReinstalled is unchanged for a root whose packages were
// reinstalled as they were: only their install times may differ.
func (r *testRoot) unchangedButReinstalled(before string) {
	r.t.Helper()
	times := regexp.MustCompile(`InstallTime:[^A-Z]* UTC `)
	after := times.ReplaceAllString(r.state(), "")
	if before = times.ReplaceAllString(before, ""); after != before {
		r.t.Errorf("the root or database changed:\n%s", diffLines(before, after))
	}
}

func (r *testRoot) explicitFlags() map[string]bool {
	r.t.Helper()
	var list []listResult
	r.jsonOut(&list, "list")
	flags := map[string]bool{}
	for _, p := range list {
		flags[p.Name] = p.Explicit
	}
	return flags
}

func TestOneCommandIsOneHistoryEntryAndOneUndo(t *testing.T) {
	r := newRoot(t)
	before := r.state()
	r.ok("install", "hello")
	var hist []histEntry
	r.jsonOut(&hist, "history")
	if len(hist) != 1 || len(hist[0].Packages) != 3 || hist[0].State != "done" || hist[0].Command != "install hello" {
		t.Fatalf("history after one install of three packages = %+v", hist)
	}
	r.ok("undo")
	r.forgetLdconfig()
	r.unchanged(before)
	r.jsonOut(&hist, "history")
	if len(hist) != 2 || hist[0].Command != "undo" || len(hist[0].Packages) != 3 || hist[1].Command != "install hello" {
		t.Fatalf("history after undo (newest first) = %+v", hist)
	}
	for _, p := range hist[0].Packages {
		if p.Action != "remove" {
			t.Errorf("undo of an install did %s to %s", p.Action, p.Name)
		}
	}
	if out := r.ok("history"); !strings.Contains(out, "install hello") || !strings.Contains(out, "+libgreet 1.1.0") {
		t.Errorf("history:\n%s", out)
	}
}

func TestUndoRestoresExplicitFlags(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "libgreet")
	r.ok("install", "hello")
	r.ok("hold", "libgreet")
	r.ok("remove", "hello", "libgreet")
	r.ok("undo")
	if got := r.explicitFlags(); !got["hello"] || !got["libgreet"] || got["mkbanner"] {
		t.Errorf("explicit flags after undoing a removal = %v, want hello and libgreet", got)
	}
	var list []listResult
	r.jsonOut(&list, "list")
	for _, p := range list {
		if p.Held != (p.Name == "libgreet") {
			t.Errorf("after undoing the removal %s is held: %v", p.Name, p.Held)
		}
	}
	// why and remove agree: libgreet is wanted, and hello needs it.
	if out := r.ok("why", "libgreet"); !strings.Contains(out, "explicit") {
		t.Errorf("why libgreet after undo: %q", out)
	}
	r.fails([]string{"libgreet is needed by hello"}, "remove", "libgreet")

	// A downgrade that made a dependency explicit is undone, flag and all.
	r2 := newRoot(t)
	r2.ok("install", "hello")
	r2.ok("install", "libgreet@1.0.0")
	if got := r2.explicitFlags(); !got["libgreet"] {
		t.Fatalf("libgreet asked for by name is not explicit: %v", got)
	}
	var hist []histEntry
	r2.jsonOut(&hist, "history")
	if len(hist) != 2 || len(hist[0].Packages) != 1 || hist[0].Packages[0].Action != "downgrade" || hist[0].Packages[0].OldExplicit || !hist[0].Packages[0].NewExplicit {
		t.Errorf("history of the downgrade = %+v", hist)
	}
	r2.ok("undo")
	var info infoResult
	r2.jsonOut(&info, "info", "libgreet")
	if got := r2.explicitFlags(); got["libgreet"] || !got["hello"] || info.Version != "1.1.0" {
		t.Errorf("after undoing the downgrade: libgreet %s, flags %v; want 1.1.0 as a dependency", info.Version, got)
	}
	if _, _, code := r2.lpm("why", "libgreet"); code != 0 {
		t.Error("why libgreet fails after the undo, though hello needs it")
	}
}

func TestUndoingARemovalPutsYourEditedConfigBack(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "libgreet")
	if err := os.WriteFile(r.path("etc/greet.conf"), []byte("greeting = Howdy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.ok("remove", "libgreet")
	if got, _ := os.ReadFile(r.path("etc/greet.conf.lpmsave")); string(got) != "greeting = Howdy\n" {
		t.Fatalf(".lpmsave after remove: %q", got)
	}
	r.ok("undo")
	if got, _ := os.ReadFile(r.path("etc/greet.conf")); string(got) != "greeting = Howdy\n" {
		t.Errorf("after undoing the removal the config is %q, want your edit", got)
	}
	if _, err := os.Stat(r.path("etc/greet.conf.lpmsave")); err == nil {
		t.Error("the .lpmsave is still there after its content went back")
	}
	// The edit is again an edit of the installed package's file.
	out := r.ok("diff-config", "libgreet")
	if !strings.Contains(out, "+greeting = Howdy") {
		t.Errorf("diff-config after undo:\n%s", out)
	}
}

// dataPort writes a port "data" 1.0 whose one file holds word.
func dataPort(t *testing.T, tree string, release int, word string) {
	writePort(t, tree, "data", fmt.Sprintf(`name = "data"
version = "1.0"
release = %d
[build]
install = 'mkdir -p $DESTDIR/usr/share/data; echo %s > $DESTDIR/usr/share/data/word'
`, release, word))
}

func TestAReleaseBumpIsAnUpgrade(t *testing.T) {
	tree := t.TempDir()
	dataPort(t, tree, 1, "one")
	r := newRoot(t, tree)
	r.ok("install", "data")
	dataPort(t, tree, 2, "two")
	if out := r.ok("upgrade", "--dry-run"); !strings.Contains(out, "1.0-1 -> 1.0-2") {
		t.Errorf("upgrade plan after a release bump:\n%s", out)
	}
	var plan []stepResult
	r.jsonOut(&plan, "upgrade", "--dry-run", "data")
	if len(plan) != 2 || plan[1].Action != "upgrade" || plan[1].Port != "data" {
		t.Errorf("plan of upgrade data = %+v, want a build and an upgrade", plan)
	}
	r.ok("upgrade", "data")
	if got, _ := os.ReadFile(r.path("usr/share/data/word")); string(got) != "two\n" {
		t.Errorf("after upgrade data the file holds %q", got)
	}
	dataPort(t, tree, 3, "three")
	r.ok("upgrade")
	if got, _ := os.ReadFile(r.path("usr/share/data/word")); string(got) != "three\n" {
		t.Errorf("after upgrade the file holds %q", got)
	}
	var list []listResult
	r.jsonOut(&list, "list")
	if len(list) != 1 || list[0].Release != 3 {
		t.Errorf("list = %+v, want data release 3", list)
	}
	if out := r.ok("history"); !strings.Contains(out, "data 1.0-2 -> 1.0-3") {
		t.Errorf("history does not show the release bump:\n%s", out)
	}
	// An older release is not an upgrade, nor a newer one of a held package.
	dataPort(t, tree, 2, "two")
	r.jsonOut(&plan, "upgrade", "--dry-run")
	if len(plan) != 0 {
		t.Errorf("an older release is planned: %+v", plan)
	}
	dataPort(t, tree, 4, "four")
	r.ok("hold", "data")
	r.jsonOut(&plan, "upgrade", "--dry-run")
	if len(plan) != 0 {
		t.Errorf("a newer release of a held package is planned: %+v", plan)
	}
	r.ok("hold", "--release", "data")
	dataPort(t, tree, 3, "three")
	// Undo goes back to the release before.
	r.ok("undo")
	if got, _ := os.ReadFile(r.path("usr/share/data/word")); string(got) != "two\n" {
		t.Errorf("after undo the file holds %q", got)
	}
}

func TestInstallRebuildReinstallsTheSameRelease(t *testing.T) {
	tree := t.TempDir()
	dataPort(t, tree, 1, "one")
	r := newRoot(t, tree)
	r.ok("install", "data")
	archive := r.path("var/cache/lpm/packages/data-1.0-1.lpm")
	before, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(r.path("usr/share/data/word"))
	out := r.ok("install", "--rebuild", "data")
	if !strings.Contains(out, "reinstall") {
		t.Errorf("install --rebuild plan:\n%s", out)
	}
	var hist []histEntry
	r.jsonOut(&hist, "history")
	if len(hist) != 2 || hist[0].Command != "install --rebuild data" || hist[0].Packages[0].Action != "reinstall" {
		t.Errorf("history of install --rebuild = %+v", hist)
	}
	after, err := os.Stat(archive)
	if err != nil || os.SameFile(before, after) {
		t.Errorf("install --rebuild did not build a new archive (%v)", err)
	}
	if got, _ := os.ReadFile(r.path("usr/share/data/word")); string(got) != "one\n" {
		t.Errorf("install --rebuild did not reinstall: %q", got)
	}
	r.ok("verify")
}

// A rebuild of the same version and release replaces the archive in the
// package cache. Undo and repair put back the build the record names, or
// nothing: the cache's build is another package, whatever its name says.
func TestUndoRefusesAnArchiveThatIsAnotherBuild(t *testing.T) {
	tree := t.TempDir()
	dataPort(t, tree, 1, "one")
	r := newRoot(t, tree)
	r.ok("install", "data")
	dataPort(t, tree, 2, "two")
	r.ok("upgrade", "data")
	dataPort(t, tree, 1, "uno")
	r.ok("build", "--rebuild", "data")
	cached := r.path("var/cache/lpm/packages/data-1.0-1.lpm")
	before := r.state()
	r.fails([]string{"undo", cached, "another build of data 1.0-1", "lpm install --file " + cached}, "undo")
	r.unchanged(before)

	// A history written before lpm recorded manifest hashes cannot tell
	// builds apart: undo takes the cached archive, as it always did.
	sqlExec(t, r, "UPDATE tx_packages SET old_manifest_sha256 = ''")
	r.ok("undo")
	if got, _ := os.ReadFile(r.path("usr/share/data/word")); string(got) != "uno\n" {
		t.Errorf("undo of a history without manifest hashes put back %q, want the cached build's uno", got)
	}
	r.ok("verify")
}

func TestRepairRefusesAnArchiveThatIsAnotherBuild(t *testing.T) {
	tree := t.TempDir()
	dataPort(t, tree, 1, "one")
	r := newRoot(t, tree)
	r.ok("install", "data")
	dataPort(t, tree, 1, "uno")
	r.ok("build", "--rebuild", "data")
	cached := r.path("var/cache/lpm/packages/data-1.0-1.lpm")
	before := r.state()
	r.fails([]string{"repair data", cached, "another build of data 1.0-1", "lpm install --file " + cached}, "repair", "data")
	r.unchanged(before)

	// A record written before lpm recorded manifest hashes: repair
	// rewrites from the cached archive, as it always did.
	sqlExec(t, r, "UPDATE packages SET manifest_sha256 = ''")
	r.ok("repair", "data")
	if got, _ := os.ReadFile(r.path("usr/share/data/word")); string(got) != "uno\n" {
		t.Errorf("repair of a record without a manifest hash wrote %q, want the cached build's uno", got)
	}
}

// Each way lpm records a package from an archive records the build it
// came from: install, rebuild-db and adopt from the package cache.
func TestRecordsNameTheBuildOfTheirArchive(t *testing.T) {
	tree := t.TempDir()
	dataPort(t, tree, 1, "one")
	r := newRoot(t, tree)
	names := func(r *testRoot, how string) {
		t.Helper()
		db, err := pkgdb.OpenReadOnly(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		p, err := db.Package("data")
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		a, err := archive.Open(p.ArchivePath)
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		defer a.Close()
		if p.ManifestSHA256 != a.ManifestSHA256() {
			t.Errorf("%s recorded manifest hash %q, its archive %s has %s", how, p.ManifestSHA256, p.ArchivePath, a.ManifestSHA256())
		}
	}
	r.ok("install", "data")
	names(r, "install")
	r.ok("rebuild-db", "--force")
	names(r, "rebuild-db")

	adopted := newRoot(t, tree)
	for _, p := range []string{"usr/share/data/word", "var/cache/lpm/packages/data-1.0-1.lpm"} {
		data, err := os.ReadFile(r.path(p))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(adopted.path(p)), 0o755)
		if err := os.WriteFile(adopted.path(p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	adopted.ok("adopt", "--from", "archive", "data")
	names(adopted, "adopt")
}

// sqlExec changes the root's database behind lpm, as an older lpm left it.
func sqlExec(t *testing.T, r *testRoot, query string) {
	t.Helper()
	db, err := sql.Open("sqlite3", pkgdb.Path(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// helloTree is libgreetTree plus a hello 1.1.0 that builds against any
// libgreet from 1.0 on, so that it can be rebuilt against libgreet.so.2.
func helloTree(t *testing.T) string {
	tree := libgreetTree(t)
	data, err := os.ReadFile(filepath.Join(repo(t), "demo/ports/hello/port.toml"))
	if err != nil {
		t.Fatal(err)
	}
	writePort(t, tree, "hello/1.0.0", string(data))
	v11 := strings.Replace(string(data), `version = "1.0.0"`, `version = "1.1.0"`, 1)
	v11 = strings.ReplaceAll(v11, `"libgreet ^1.0"`, `"libgreet >=1.0"`)
	writePort(t, tree, "hello/1.1.0", v11)
	return tree
}

func (r *testRoot) helloRuns() {
	r.t.Helper()
	run := exec.Command(r.path("usr/bin/hello"))
	run.Env = []string{"LD_LIBRARY_PATH=" + r.path("usr/lib")}
	if out, err := run.CombinedOutput(); err != nil {
		r.t.Errorf("hello does not run: %v %s", err, out)
	}
}

func (r *testRoot) owner(path string) string {
	r.t.Helper()
	var owners []ownsResult
	out, _, code := r.lpm("--json", "owns", path)
	if code != 0 {
		return ""
	}
	if err := json.Unmarshal([]byte(out), &owners); err != nil || len(owners) != 1 || len(owners[0].Owners) != 1 {
		return ""
	}
	return owners[0].Owners[0]
}

func TestUndoOfAPreserveLibsUpgradeTakesTheLibraryBack(t *testing.T) {
	r := newRoot(t, libgreetTree(t))
	r.ok("install", "hello")
	v2 := strings.TrimSpace(r.ok("build", "libgreet@2.0.0"))
	r.forgetLdconfig()
	before := r.state()
	r.ok("install", "--preserve-libs", "--file", v2)
	if got := r.owner("/usr/lib/libgreet.so.1"); got != "lpm-preserved" {
		t.Fatalf("libgreet.so.1 is owned by %q after --preserve-libs", got)
	}
	r.ok("undo")
	r.forgetLdconfig()
	r.unchangedButReinstalled(before)
	if got := r.owner("/usr/lib/libgreet.so.1"); got != "libgreet" {
		t.Errorf("after undo libgreet.so.1 is owned by %q", got)
	}
	r.helloRuns()
	r.ok("verify")
}

func TestPreservedLibrariesAreListedAndReleasedOnceNothingNeedsThem(t *testing.T) {
	r := newRoot(t, helloTree(t))
	r.ok("install", "hello@1.0.0")
	v2 := strings.TrimSpace(r.ok("build", "libgreet@2.0.0"))
	_, errOut, _ := r.lpm("install", "--preserve-libs", "--file", v2)
	if !strings.Contains(errOut, "libgreet.so.1 is still kept for hello; rebuild or upgrade hello") {
		t.Errorf("install --preserve-libs does not say what needs the kept library:\n%s", errOut)
	}
	// The test root has no C library of its own: check-libs exits 1 for it.
	out, _, _ := r.lpm("check-libs")
	if want := "/usr/lib/libgreet.so.1.1.0 (lpm-preserved): libgreet.so.1 kept for /usr/bin/hello (hello); rebuild or upgrade hello"; !strings.Contains(out, want) {
		t.Errorf("check-libs lacks %q:\n%s", want, out)
	}
	var libs checkLibsResult
	jsonText, _, _ := r.lpm("--json", "check-libs")
	if err := json.Unmarshal([]byte(jsonText), &libs); err != nil || len(libs.Preserved) != 1 || len(libs.Preserved[0].NeededBy) != 1 || libs.Preserved[0].NeededBy[0].Package != "hello" {
		t.Errorf("check-libs --json = %+v (%v)", libs, err)
	}
	// hello rebuilt against libgreet.so.2 needs the old library no more.
	_, errOut, code := r.lpm("upgrade", "hello")
	if code != 0 {
		t.Fatalf("upgrade hello: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "released") {
		t.Errorf("upgrade does not say it released the preserved library:\n%s", errOut)
	}
	if _, err := os.Lstat(r.path("usr/lib/libgreet.so.1")); err == nil {
		t.Error("the preserved libgreet.so.1 is still there")
	}
	if _, ok := r.explicitFlags()["lpm-preserved"]; ok {
		t.Error("lpm-preserved is still installed with nothing to keep")
	}
	r.helloRuns()
	r.ok("verify")
	// One undo takes back the upgrade and the release together.
	r.ok("undo")
	if got := r.owner("/usr/lib/libgreet.so.1"); got != "lpm-preserved" {
		t.Errorf("after undo libgreet.so.1 is owned by %q", got)
	}
	var info infoResult
	r.jsonOut(&info, "info", "hello")
	if info.Version != "1.0.0" {
		t.Errorf("after undo hello is %s", info.Version)
	}
	r.helloRuns()
	r.ok("verify")
}

func TestRemovingPreservedLibrariesWithAnotherPackageIsUndoable(t *testing.T) {
	r := newRoot(t, libgreetTree(t))
	r.ok("install", "hello")
	v2 := strings.TrimSpace(r.ok("build", "libgreet@2.0.0"))
	r.ok("install", "--preserve-libs", "--file", v2)
	r.forgetLdconfig()
	before := r.state()
	r.ok("remove", "hello", "lpm-preserved")
	if _, err := os.Lstat(r.path("usr/lib/libgreet.so.1")); err == nil {
		t.Error("the preserved library is still there after its removal")
	}
	r.ok("undo")
	r.forgetLdconfig()
	r.unchangedButReinstalled(before)
	r.helloRuns()
	r.ok("verify")
}

func TestUndoTakesLibrariesBackFromAPreservedRecordWithoutHistory(t *testing.T) {
	r := newRoot(t, libgreetTree(t))
	r.ok("install", "hello")
	v2 := strings.TrimSpace(r.ok("build", "libgreet@2.0.0"))
	r.ok("install", "--preserve-libs", "--file", v2)
	// As an older lpm left it: no archive, no word of it in the history.
	db, err := sql.Open("sqlite3", pkgdb.Path(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"UPDATE packages SET archive_path = '' WHERE name = 'lpm-preserved'", "DELETE FROM tx_packages WHERE name = 'lpm-preserved'"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	r.ok("undo")
	if got := r.owner("/usr/lib/libgreet.so.1"); got != "libgreet" {
		t.Errorf("after undo libgreet.so.1 is owned by %q", got)
	}
	if _, ok := r.explicitFlags()["lpm-preserved"]; ok {
		t.Error("an empty lpm-preserved record is left")
	}
	r.helloRuns()
	r.ok("verify")
}

// A plan whose packages are all in the package cache installs them in
// one transaction: one journal, one pair of syncs, one run of the hooks,
// as pacman installs a set. The history's one entry has one transaction.
func TestInstallsReadyTogetherAreOneTransaction(t *testing.T) {
	tree := t.TempDir()
	for _, name := range []string{"base", "mid", "top"} {
		deps := map[string]string{"base": "", "mid": `run = ["base"]`, "top": `run = ["mid"]`}[name]
		writePort(t, tree, name, fmt.Sprintf(`name = %q
version = "1.0"
[depends]
%s
[build]
install = 'mkdir -p $DESTDIR/usr/share/%s; echo %s > $DESTDIR/usr/share/%s/word'
`, name, deps, name, name, name))
	}
	r := newRoot(t, tree)
	r.ok("build", "base", "mid", "top")
	r.ok("install", "top")
	var hist []struct {
		Command      string  `json:"command"`
		Transactions []int64 `json:"transactions"`
		Packages     []struct {
			Name string `json:"name"`
		} `json:"packages"`
	}
	r.jsonOut(&hist, "history")
	if len(hist) != 1 || len(hist[0].Transactions) != 1 || len(hist[0].Packages) != 3 {
		t.Fatalf("history of installing three cached packages = %+v, want one entry of one transaction with three packages", hist)
	}
	for _, name := range []string{"base", "mid", "top"} {
		if got, _ := os.ReadFile(r.path("usr/share/" + name + "/word")); string(got) != name+"\n" {
			t.Errorf("/usr/share/%s/word holds %q", name, got)
		}
	}
	r.ok("verify")
}
