package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/installer"
	_ "github.com/mattn/go-sqlite3"

	"github.com/lfs-lpm/lpm/pkgdb"
)

// run says how to start lpm for a test: without --yes, with an answer on
// standard input, as another user, with more environment.
type run struct {
	stdin *string  // nil: /dev/null
	yes   bool     // pass --yes
	uid   int      // run as this user when non-zero (needs root)
	env   []string // added to the environment
}

// answer is a piped standard input.
func answer(s string) *string { return &s }

// lpmWith runs the binary against the root as run says, within a minute.
func (r *testRoot) lpmWith(o run, args ...string) (string, string, int) {
	r.t.Helper()
	full := []string{"--root", r.dir}
	if o.yes {
		full = append(full, "--yes")
	}
	for _, p := range r.ports {
		full = append(full, "--ports", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lpmBin, append(full, args...)...)
	cmd.Env = append(append(os.Environ(), "LPM_CONFIG="), o.env...)
	if o.stdin != nil {
		cmd.Stdin = strings.NewReader(*o.stdin)
	}
	if o.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.uid)}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		r.t.Fatalf("lpm %s: still running after a minute\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// nobody is the unprivileged user the non-root tests run as. The root's
// parent directory and the test binary's are opened to it.
const nobody = 65534

func asNobody(t *testing.T, r *testRoot) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run lpm as another user")
	}
	for _, d := range []string{filepath.Dir(r.dir), r.dir, filepath.Dir(lpmBin)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChangingCommandsRefuseOnAnythingButYes(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "libgreet@1.0.0", "mkbanner")
	archive := strings.TrimSpace(r.ok("build", "libgreet@1.1.0"))
	before := r.state()
	for _, c := range []struct {
		stdin *string
		args  []string
	}{
		{answer("n\n"), []string{"install", "libgreet@1.1.0"}},
		{answer("no\n"), []string{"upgrade"}},
		{nil, []string{"remove", "mkbanner"}},
		{answer("\n"), []string{"remove", "mkbanner"}},
		{answer("yess\n"), []string{"undo"}},
		{answer(""), []string{"install", "--file", archive}},
		{nil, []string{"repair", "mkbanner"}},
		{answer("n\n"), []string{"rebuild-db", "--force"}},
	} {
		_, errOut, code := r.lpmWith(run{stdin: c.stdin}, c.args...)
		if code != 1 || !strings.Contains(errOut, "cancelled; nothing was changed") {
			t.Errorf("lpm %s with stdin %q: exit %d, want 1 and a cancellation\n%s", strings.Join(c.args, " "), derefOr(c.stdin, "</dev/null"), code, errOut)
		}
		r.unchanged(before)
	}
	// A yes is heard too.
	if _, errOut, code := r.lpmWith(run{stdin: answer("yes\n")}, "remove", "mkbanner"); code != 0 {
		t.Fatalf("remove with yes piped: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(r.path("usr/bin/mkbanner")); err == nil {
		t.Error("remove with yes piped did not remove mkbanner")
	}
}

func derefOr(s *string, or string) string {
	if s == nil {
		return or
	}
	return *s
}

func TestAMistypedRootIsRefusedUntilInitialised(t *testing.T) {
	base := t.TempDir()
	missing := &testRoot{t: t, dir: filepath.Join(base, "lsf"), ports: newRoot(t).ports}
	for _, args := range [][]string{{"install", "hello"}, {"build", "mkbanner"}, {"list"}, {"install", "--dry-run", "hello"}} {
		line := missing.fails([]string{missing.dir, "does not exist", "lpm --root " + missing.dir + " init"}, args...)
		if strings.Contains(line, "\n") {
			t.Errorf("not one line: %q", line)
		}
		if _, err := os.Lstat(missing.dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("lpm %s created the mistyped root", strings.Join(args, " "))
		}
	}
	// A directory with neither a database nor usr/ or etc/ is not a system.
	empty := &testRoot{t: t, dir: filepath.Join(base, "empty"), ports: missing.ports}
	os.Mkdir(empty.dir, 0o755)
	for _, args := range [][]string{{"install", "hello"}, {"remove", "hello"}, {"list"}} {
		empty.fails([]string{empty.dir, "no lpm database", "lpm --root " + empty.dir + " init"}, args...)
		if entries, _ := os.ReadDir(empty.dir); len(entries) != 0 {
			t.Fatalf("lpm %s wrote into the refused root: %v", strings.Join(args, " "), entries)
		}
	}
	// init makes the state directories and an empty database; then the root
	// is lpm's.
	empty.ok("init")
	if _, err := os.Stat(pkgdb.Path(empty.dir)); err != nil {
		t.Fatalf("init made no database: %v", err)
	}
	if out := empty.ok("list"); out != "" {
		t.Errorf("list after init: %q", out)
	}
	empty.ok("init") // again: nothing to do, no error
	// init does not make a root that does not exist either: a typo there
	// would be as bad.
	missing.fails([]string{"does not exist", "mkdir"}, "init")
}

func TestReadOnlyCommandsCreateNothingAndDoNotWait(t *testing.T) {
	r := newRoot(t)
	before := r.state()
	out := r.ok("install", "--dry-run", "hello")
	if !strings.Contains(out, "install  hello") {
		t.Errorf("dry-run plan: %q", out)
	}
	for _, args := range [][]string{{"list"}, {"history"}, {"verify"}, {"search", "greet"}, {"upgrade", "--dry-run"}, {"check-libs"}} {
		r.ok(args...)
	}
	for _, p := range []string{pkgdb.Path(r.dir), installer.LockPath(r.dir), filepath.Dir(pkgdb.Path(r.dir))} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a read-only command made %s", p)
		}
	}
	r.unchanged(before)

	// A dry run of archives installs nothing either.
	r.ok("install", "libgreet@1.0.0")
	archive := strings.TrimSpace(r.ok("build", "libgreet@1.1.0"))
	before = r.state()
	if out := r.ok("install", "--dry-run", "--file", archive); !strings.Contains(out, "upgrade  libgreet  1.0.0 -> 1.1.0  archive "+archive) {
		t.Errorf("install --dry-run --file: %q", out)
	}
	r.unchanged(before)

	// With an install running (its lock held), a plan is shown at once.
	lock, err := installer.AcquireLock(r.dir, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	// (A dry run that waited would say so, and lpmWith gives up after a
	// minute.)
	out, errOut, code := r.lpmWith(run{}, "install", "--dry-run", "hello")
	if code != 0 || !strings.Contains(out, "install  hello") || strings.Contains(errOut, "waiting") {
		t.Errorf("dry-run while locked: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestAUserWhoMayNotWriteTheRootSeesPlansAndAOneLineRefusal(t *testing.T) {
	r := newRoot(t)
	asNobody(t, r)
	r.ok("install", "libgreet@1.0.0")
	before := r.state()
	out, errOut, code := r.lpmWith(run{uid: nobody}, "install", "--dry-run", "hello")
	if code != 0 || !strings.Contains(out, "install  hello") {
		t.Errorf("dry-run as nobody: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := r.lpmWith(run{uid: nobody}, "list"); code != 0 || !strings.Contains(out, "libgreet") {
		t.Errorf("list as nobody: exit %d\n%s\n%s", code, out, errOut)
	}
	want := "lpm: the root " + r.dir + " is not writable by you: run as root (or use --root on a tree you own)"
	for _, args := range [][]string{{"install", "hello"}, {"remove", "libgreet"}, {"build", "mkbanner"}, {"hold", "libgreet"}} {
		_, errOut, code := r.lpmWith(run{uid: nobody, yes: true}, args...)
		if code != 1 || strings.TrimSpace(errOut) != want {
			t.Errorf("lpm %s as nobody: exit %d, stderr %q, want %q", strings.Join(args, " "), code, errOut, want)
		}
	}
	r.unchanged(before)
	// A mistyped archive path is the error to give, before the root's.
	nosuch := filepath.Join(t.TempDir(), "nosuch.lpm")
	if _, errOut, code := r.lpmWith(run{uid: nobody, yes: true}, "install", "--file", nosuch); code != 1 || !strings.Contains(errOut, nosuch+": no such file") {
		t.Errorf("install --file of a missing archive as nobody: exit %d, stderr %q; want the missing file named", code, errOut)
	}

	// A user who owns lpm's state but not usr/ gets the same line when the
	// install reaches usr/.
	mine := newRoot(t)
	asNobody(t, mine)
	for _, d := range []string{"etc", "var"} {
		if out, err := exec.Command("chown", "-R", "nobody:", mine.path(d)).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	_, errOut, code = mine.lpmWith(run{uid: nobody, yes: true, env: []string{"LPM_BUILD_SANDBOX=false"}}, "install", "mkbanner")
	last := strings.Split(strings.TrimSpace(errOut), "\n")
	if want := "lpm: the root " + mine.dir + " is not writable by you: run as root (or use --root on a tree you own)"; code != 1 || last[len(last)-1] != want {
		t.Errorf("install as nobody into a root whose usr/ is root's: exit %d\n%s\nwant %q", code, errOut, want)
	}
}

func TestInfoShowsAPortThatIsNotInstalledAndSuggestsCloseNames(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "libgreet")
	out := r.ok("info", "hello")
	if !strings.Contains(out, "Name           : hello") || !strings.Contains(out, "not installed") {
		t.Errorf("info of a port not installed:\n%s", out)
	}
	var info infoResult
	r.jsonOut(&info, "info", "hello")
	if info.Name != "hello" || info.Installed || info.Version != "1.0.0" {
		t.Errorf("info --json of a port not installed = %+v", info)
	}
	r.jsonOut(&info, "info", "libgreet")
	if info.Name != "libgreet" || !info.Installed {
		t.Errorf("info --json of an installed package = %+v", info)
	}
	r.fails([]string{"helo", "no port or installed package", "did you mean hello?"}, "info", "helo")
	r.fails([]string{"libgret", "did you mean libgreet?"}, "--json", "info", "libgret")
	r.fails([]string{"zzzzzz", "no port or installed package"}, "info", "zzzzzz")
}

func TestVersionComesFromTheBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "lpm")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=9.8.7-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "--version").Output(); err != nil || string(out) != "lpm 9.8.7-test\n" {
		t.Errorf("lpm --version built with a version: %q, %v", out, err)
	}
	// Without one, Go's build information gives at least "devel".
	if out, err := exec.Command(lpmBin, "--version").Output(); err != nil || !strings.HasPrefix(string(out), "lpm ") || len(strings.TrimSpace(string(out))) <= len("lpm ") {
		t.Errorf("lpm --version: %q, %v", out, err)
	}
}

func TestUsageErrorsAreOneLineNamingWhatIsMissing(t *testing.T) {
	r := newRoot(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"instal", "hello"}, `lpm: unknown command "instal"; did you mean install?`},
		{[]string{"info"}, "lpm: info: missing PORT (usage: lpm info PORT)"},
		{[]string{"install"}, "lpm: install: missing PORT (usage: lpm install PORT[@CONSTRAINT]... | --file ARCHIVE...)"},
		{[]string{"owns"}, "lpm: owns: missing PATH (usage: lpm owns PATH...)"},
		{[]string{"list", "hello"}, "lpm: list takes no arguments, but was given hello (usage: lpm list)"},
		{[]string{"undo", "1", "2"}, "lpm: undo: too many arguments: 2 (usage: lpm undo [ID])"},
		{[]string{"install", "--dryrun", "hello"}, "lpm: unknown flag: --dryrun (lpm install --help lists the flags)"},
	} {
		_, errOut, code := r.lpm(c.args...)
		if code != 1 || strings.TrimSpace(errOut) != c.want {
			t.Errorf("lpm %s: exit %d, stderr %q, want %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
}

func TestMessagesListNamesWithoutGoSyntax(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "mkbanner", "libgreet")
	_, errOut, code := r.lpm("repair", "mkbanner", "libgreet")
	if code != 0 || !strings.Contains(errOut, "repaired mkbanner, libgreet (") {
		t.Errorf("repair: exit %d\n%s", code, errOut)
	}
	tree := t.TempDir()
	writePort(t, tree, "broken", "name = \"broken\"\nversion = \n")
	_, errOut, _ = r.lpm("lint", tree)
	if !strings.Contains(errOut, "lpm: lint: 1 error(s) in "+tree+"\n") {
		t.Errorf("lint summary: %q", errOut)
	}
	if strings.Contains(errOut, "[") {
		t.Errorf("Go slice syntax in %q", errOut)
	}
}

func TestSearchWarnsNamingEachPortThatDoesNotParse(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "greetless", "name = \"greetless\"\nversion = \n")
	writePort(t, tree, "greetmore", "name = \"greetmore\"\nversoin = \"1.0\"\n")
	r := newRoot(t, tree)
	out, errOut, code := r.lpm("search", "greet")
	if code != 0 || !strings.Contains(out, "libgreet") {
		t.Fatalf("search: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, name := range []string{"greetless", "greetmore"} {
		if !strings.Contains(errOut, "lpm: warning: port "+name+" does not parse") {
			t.Errorf("search said nothing of the broken port %s:\n%s", name, errOut)
		}
	}
	// The warnings go to standard error, so JSON on standard output stays
	// clean.
	var found []searchResult
	r.jsonOut(&found, "search", "greet")
}

// onTerminal runs lpm with standard output and error on a new
// pseudo-terminal and returns what it printed there.
func (r *testRoot) onTerminal(env []string, args ...string) string {
	r.t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		r.t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		r.t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		r.t.Fatal(err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	full := []string{"--root", r.dir}
	for _, p := range r.ports {
		full = append(full, "--ports", p)
	}
	cmd := exec.Command(lpmBin, append(full, args...)...)
	cmd.Env = append(append(os.Environ(), "LPM_CONFIG=", "NO_COLOR="), env...)
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, master); close(done) }() // ends with EIO once lpm is gone
	cmd.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.t.Fatal("reading the terminal did not end")
	}
	return out.String()
}

func TestColourOnATerminalUnlessNoColorOrNever(t *testing.T) {
	tree := t.TempDir()
	writePort(t, tree, "greetless", "name = \"greetless\"\nversion = \n")
	r := newRoot(t, tree)
	const red, green, yellow = "\033[1;31mlpm:\033[0m", "\033[1;32minstall\033[0m", "\033[1;33mwarning:\033[0m"
	plan := r.onTerminal(nil, "install", "--dry-run", "hello")
	if !strings.Contains(plan, green) || !strings.Contains(plan, "\033[1mACTION") {
		t.Errorf("a plan on a terminal has no colour: %q", plan)
	}
	if got := r.onTerminal(nil, "info", "helo"); !strings.Contains(got, red+" no port") {
		t.Errorf("an error on a terminal is not red: %q", got)
	}
	if got := r.onTerminal(nil, "search", "greet"); !strings.Contains(got, "lpm: "+yellow+" port greetless") {
		t.Errorf("a warning on a terminal is not yellow: %q", got)
	}
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{[]string{"NO_COLOR=1"}, []string{"install", "--dry-run", "hello"}},
		{[]string{"NO_COLOR=1"}, []string{"info", "helo"}},
		{nil, []string{"--color=never", "install", "--dry-run", "hello"}},
		{nil, []string{"--color", "never", "search", "greet"}},
		{[]string{"LPM_COLOR=never"}, []string{"info", "helo"}},
	} {
		if got := r.onTerminal(c.env, c.args...); strings.Contains(got, "\033[") {
			t.Errorf("lpm %s with %v: colour: %q", strings.Join(c.args, " "), c.env, got)
		}
	}
	// Not a terminal: no colour, unless asked for.
	out, errOut, _ := r.lpm("install", "--dry-run", "hello")
	if strings.Contains(out+errOut, "\033[") {
		t.Errorf("colour into a pipe: %q", out)
	}
	out, _, _ = r.lpm("--color=always", "install", "--dry-run", "hello")
	if !strings.Contains(out, green) {
		t.Errorf("--color=always into a pipe: %q", out)
	}
	if _, errOut, _ := r.lpm("--color=sometimes", "list"); !strings.Contains(errOut, "use auto, always or never") {
		t.Errorf("--color=sometimes: %q", errOut)
	}
}

func TestAUserWhoMayNotWriteIsToldADatabaseWithoutItsShmNeedsAWriter(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "mkbanner")
	// A copy of the database without its -shm, taken while committed
	// pages are still only in the WAL (lpm leaves it unfolded as it
	// closes): nothing was interrupted, but SQLite must make the -shm
	// to read it.
	db, err := sql.Open("sqlite3", "file:"+pkgdb.Path(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"PRAGMA wal_autocheckpoint = 0", "UPDATE packages SET description = 'changed in the WAL'"} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	crashed := newRoot(t)
	asNobody(t, crashed)
	os.MkdirAll(filepath.Dir(pkgdb.Path(crashed.dir)), 0o755)
	for _, f := range []string{"", "-wal"} {
		data, err := os.ReadFile(pkgdb.Path(r.dir) + f)
		if err != nil {
			t.Fatal(err)
		}
		if f == "-wal" && len(data) == 0 {
			t.Fatal("the WAL is empty: nothing to recover")
		}
		if err := os.WriteFile(pkgdb.Path(crashed.dir)+f, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := "lpm: the database " + pkgdb.Path(crashed.dir) + " cannot be read: its lpm.db-wal holds data but lpm.db-shm is missing beside it, and SQLite cannot make it without write access to " + filepath.Dir(pkgdb.Path(crashed.dir)) + ": copy lpm.db, lpm.db-wal and lpm.db-shm together, or run any lpm command as root once (lpm list)"
	if _, errOut, code := crashed.lpmWith(run{uid: nobody}, "list"); code != 1 || strings.TrimSpace(errOut) != want {
		t.Errorf("list as nobody on a database without its -shm: exit %d\n%q\nwant %q", code, errOut, want)
	}
	// A run by root makes the -shm, and then anyone may read it.
	if out := crashed.ok("info", "mkbanner"); !strings.Contains(out, "changed in the WAL") {
		t.Errorf("after recovery: %s", out)
	}
	if out, errOut, code := crashed.lpmWith(run{uid: nobody}, "list"); code != 0 || !strings.Contains(out, "mkbanner") {
		t.Errorf("list as nobody after recovery: exit %d\n%s%s", code, out, errOut)
	}
}

// A copy of a root's database without its -shm, on a read-only mount:
// the error says what is missing and how to mend it, not that an lpm was
// interrupted.
func TestAReadOnlyCopyWithoutTheShmSaysWhatIsMissing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	r := newRoot(t)
	r.ok("install", "mkbanner")
	if fi, err := os.Stat(pkgdb.Path(r.dir) + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the WAL after an install is empty or missing (%v): nothing to test", err)
	}
	copied := newRoot(t)
	sh(t, "", "cp", "-a", r.path("var/lib/lpm"), copied.path("var/lib/lpm"))
	if err := os.Remove(copied.path("var/lib/lpm/lpm.db-shm")); err != nil {
		t.Fatal(err)
	}
	mountReadOnly(t, copied.dir)
	dbDir := copied.path("var/lib/lpm")
	want := "lpm: the database " + dbDir + "/lpm.db cannot be read: its lpm.db-wal holds data but lpm.db-shm is missing beside it, and SQLite cannot make it without write access to " + dbDir + ": copy lpm.db, lpm.db-wal and lpm.db-shm together, or remount it read-write and run any lpm command (lpm list)"
	for _, args := range [][]string{{"list"}, {"info", "mkbanner"}} {
		if _, errOut, code := copied.lpm(args...); code != 1 || strings.TrimSpace(errOut) != want {
			t.Errorf("lpm %s on a read-only copy without lpm.db-shm: exit %d\n%q\nwant %q", strings.Join(args, " "), code, errOut, want)
		}
	}
}

// An older lpm's database on a read-only mount is named as such, with the
// mount, not as one a crash left for recovery (as it was when its WAL held
// data, as lpm leaves it: the sqlite3 connection here folds the WAL as it
// closes, so that case was tried by hand, with a schema-9 lpm's root).
func TestAnOlderSchemaOnAReadOnlyMountIsNamedAsSuch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	r := newRoot(t)
	r.ok("install", "mkbanner")
	db, err := sql.Open("sqlite3", pkgdb.Path(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	// An older lpm's schema, as its number says.
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", version-1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mountReadOnly(t, r.dir)
	_, errOut, code := r.lpm("list")
	if want := fmt.Sprintf("has schema %d, this lpm needs %d", version-1, version); code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "read-only mount: remount it read-write") || strings.Contains(errOut, "interrupted") {
		t.Errorf("lpm list of an older schema on a read-only mount: exit %d\n%s\nwant %q and the read-only mount named, not a crash", code, errOut, want)
	}
}

// A database whose WAL was folded and its -wal and -shm files taken away
// (the sqlite3 shell does that as it closes)
// is read on a read-only mount, where SQLite may not make them again.
func TestAFoldedDatabaseOnAReadOnlyMountIsRead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	r := newRoot(t)
	r.ok("install", "mkbanner")
	db, err := sql.Open("sqlite3", pkgdb.Path(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, f := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(pkgdb.Path(r.dir) + f); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("lpm.db%s is still there after the sqlite3 connection closed (%v): nothing to test", f, err)
		}
	}
	mountReadOnly(t, r.dir)
	if out, errOut, code := r.lpm("list"); code != 0 || !strings.Contains(out, "mkbanner") {
		t.Errorf("lpm list of a folded database on a read-only mount: exit %d\n%s%s", code, out, errOut)
	}
}

func TestARootOnAReadOnlyFilesystemIsRefusedInOneLine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	r := newRoot(t)
	r.ok("install", "mkbanner")
	mountReadOnly(t, r.dir)
	want := "lpm: the root " + r.dir + " is on a read-only filesystem: remount it read-write to change it (mount -o remount,rw)"
	for _, args := range [][]string{{"remove", "mkbanner"}, {"install", "hello"}, {"build", "libgreet"}} {
		if _, errOut, code := r.lpm(args...); code != 1 || strings.TrimSpace(errOut) != want {
			t.Errorf("lpm %s on a read-only root: exit %d, %q, want %q", strings.Join(args, " "), code, errOut, want)
		}
	}
	if out := r.ok("list"); !strings.Contains(out, "mkbanner") {
		t.Errorf("list on a read-only root: %q", out)
	}
}

// A query started while another lpm holds the root, on a database an
// lpm upgrade left at an older schema, migrates it (SQLite's lock keeps
// two migrations apart) instead of saying the schema is old: two
// commands run together right after upgrading lpm both answer.
func TestAQueryBesideAnotherLpmMigratesAnOldSchema(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "mkbanner")
	// Steps 11, 9 and 8 undone by hand (10 rebuilds needed, which it can
	// do again): the database an lpm of schema 7 left.
	db, err := sql.Open("sqlite3", "file:"+pkgdb.Path(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DROP TABLE journal_chunks",
		"DROP TABLE listings",
		"ALTER TABLE packages ADD COLUMN archive_sha256 TEXT NOT NULL DEFAULT ''",
		"ALTER TABLE packages DROP COLUMN manifest_sha256",
		"ALTER TABLE tx_packages DROP COLUMN old_manifest_sha256",
		"PRAGMA user_version = 7",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	lock, err := installer.AcquireLock(r.dir, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	out, errOut, code := r.lpm("list")
	if code != 0 || !strings.Contains(out, "mkbanner") {
		t.Errorf("lpm list beside a lock holder on schema 7: exit %d\n%s%s", code, out, errOut)
	}
}

// mountReadOnly bind-mounts dir onto itself read-only until the test
// ends; it skips the test where bind mounts cannot be made.
func mountReadOnly(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		t.Skipf("cannot bind-mount here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
}
