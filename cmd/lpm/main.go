// Command lpm is a source package manager for Linux From Scratch systems.
//
// Each subcommand lives in its own file, named after it.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/builder"
	"github.com/lfs-lpm/lpm/config"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
	"github.com/lfs-lpm/lpm/progress"
	"github.com/lfs-lpm/lpm/resolver"
)

func main() {
	builder.SandboxMain()
	root := newRootCmd()
	err := root.Execute()
	stopIfInterrupted()
	stopProfile()
	if err == nil {
		return
	}
	var ex exitError
	var unsat *resolver.UnsatError
	var conflict *installer.ConflictError
	verbose, _ := root.PersistentFlags().GetBool("verbose")
	color := colorForErrors(root)
	if verbose && errors.As(err, &conflict) {
		for _, c := range conflict.Conflicts {
			fmt.Fprintln(os.Stderr, "conflict: "+c)
		}
	}
	switch {
	case strings.HasPrefix(err.Error(), "unknown command "):
		fmt.Fprintln(os.Stderr, errorLine(color, unknownCommand(err.Error())))
	case errors.As(err, &ex) && ex.msg == "":
		// Already reported.
	case !verbose && notYours(err) != "":
		fmt.Fprintln(os.Stderr, errorLine(color, notYours(err)))
	case errors.As(err, &unsat) || verbose:
		// An explanation is the answer: print it whole, its conclusion
		// last as the one-line error.
		lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
		for _, l := range lines[:len(lines)-1] {
			fmt.Fprintln(os.Stderr, l)
		}
		fmt.Fprintln(os.Stderr, errorLine(color, lines[len(lines)-1]))
	default:
		fmt.Fprintln(os.Stderr, errorLine(color, oneLine(err.Error())))
	}
	os.Exit(1)
}

// loadedRoot is the root of the command, once its settings are loaded.
var loadedRoot string

// notYours is, for a user other than root, the one line that says what is
// needed when an error is a write refused inside the root ("" otherwise):
// the raw "open ...: permission denied" is behind -v.
func notYours(err error) string {
	var pe *fs.PathError
	if os.Geteuid() == 0 || loadedRoot == "" || !errors.Is(err, fs.ErrPermission) || !errors.As(err, &pe) {
		return ""
	}
	rel, rerr := filepath.Rel(loadedRoot, pe.Path)
	if rerr != nil || strings.HasPrefix(rel, "..") || mayWrite(filepath.Dir(pe.Path)) && mayWrite(pe.Path) {
		return ""
	}
	return errNotWritable(loadedRoot).Error()
}

// exitError ends lpm with status 1; its message was already printed when
// msg is empty (verify's list of differences, lint's problems).
type exitError struct{ msg string }

func (e exitError) Error() string { return e.msg }

// oneLine keeps a message to one line; details belong behind -v.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (more with -v)"
	}
	return s
}

// unknownCommand turns cobra's several lines (the command, then "Did you
// mean this?" and the suggestions, one a line) into one.
func unknownCommand(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	first := strings.TrimSuffix(lines[0], ` for "lpm"`)
	var close []string
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "\t") {
			close = append(close, strings.TrimSpace(l))
		}
	}
	if len(close) > 0 {
		return first + "; did you mean " + strings.Join(close, " or ") + "?"
	}
	return first + "; lpm --help lists the commands"
}

// version is set by the build (make lpm: -ldflags "-X main.version=...");
// without it, Go's own build information says what was built.
var version string

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", ""
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = "-" + s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	return "devel" + rev + dirty
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "lpm",
		Short: "A source package manager for Linux From Scratch",
		Long: `lpm builds ports into packages and installs them onto a root, tracking
every file in a database so it can be queried, verified, upgraded and removed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetVersionTemplate("lpm {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%v (%s --help lists the flags)", err, cmd.CommandPath())
	})
	f := root.PersistentFlags()
	f.String("root", "/", "the system to manage (env LPM_ROOT)")
	f.String("config", "", "config file (default ROOT/etc/lpm/lpm.toml)")
	f.StringSlice("ports", nil, "ports tree, repeatable, earliest wins (default ROOT/usr/ports)")
	f.BoolP("yes", "y", false, "do not ask for confirmation")
	f.BoolP("quiet", "q", false, "print only errors and results")
	f.Bool("json", false, "print results as JSON")
	f.BoolP("verbose", "v", false, "print details of errors")
	f.StringArray("assume-installed", nil, "NAME=VERSION is provided by the system, repeatable (adds to provided in lpm.toml)")
	f.String("color", "auto", "colour on a terminal: auto, always or never (env NO_COLOR turns auto off)")
	addProfileFlag(root)
	root.AddCommand(
		newBuildCmd(), newInstallCmd(), newRemoveCmd(), newUpgradeCmd(),
		newOwnsCmd(), newFilesCmd(), newListCmd(), newInfoCmd(), newSearchCmd(),
		newVerifyCmd(), newLintCmd(), newManCmd(), newImageCmd(), newHistoryCmd(), newUndoCmd(), newWhyCmd(), newHoldCmd(), newCheckLibsCmd(), newRepairCmd(), newDiffConfigCmd(), newInitCmd(), newRebuildDBCmd(),
		newAdoptCmd(), newUnownedCmd(),
		newRepoCmd(), newKeyCmd(),
	)
	return root
}

// An env is what every command works with, opened as needed.
type env struct {
	cmd *cobra.Command
	cfg *config.Config
	out *progress.Printer
	// bin is what the binary repositories offer (binaries.go).
	bin *binaries
	// installed is what the last plan was solved against (plan.go).
	installed map[string]pkgdb.Package
}

// newEnv loads the settings and refuses a root that is not a system lpm
// may manage (see checkRoot).
func newEnv(cmd *cobra.Command) (*env, error) {
	e, err := loadEnv(cmd)
	if err != nil {
		return nil, err
	}
	if err := checkRoot(e.cfg.Root); err != nil {
		return nil, err
	}
	return e, nil
}

// loadEnv loads the settings and checks nothing of the root.
func loadEnv(cmd *cobra.Command) (*env, error) {
	cfg, err := config.Load(cmd.Flags())
	if err != nil {
		return nil, err
	}
	color := colorFor(cfg.Color, os.Stderr)
	errColor = &color
	loadedRoot = cfg.Root
	out := &progress.Printer{Out: os.Stderr, Quiet: cfg.Quiet || cfg.JSON, Color: color}
	e := &env{cmd: cmd, cfg: cfg, out: out}
	for _, name := range cfg.UnknownEnv {
		e.warn("the environment variable %s names no lpm setting and is ignored (a setting is LPM_ and its lpm.toml key: LPM_ROOT, LPM_BUILD_JOBS)", name)
	}
	return e, nil
}

// checkRoot refuses what a mistyped --root looks like: a directory that
// does not exist, or one with no lpm database and neither usr/ nor etc/.
// lpm init takes an empty directory on. Nothing is created here.
func checkRoot(root string) error {
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the root %s does not exist: check --root, or make it (mkdir -p %s) and run lpm --root %s init", root, root, root)
	case err != nil:
		return fmt.Errorf("the root %s: %w", root, err)
	case !fi.IsDir():
		return fmt.Errorf("the root %s is not a directory: check --root", root)
	}
	if _, err := os.Lstat(pkgdb.Path(root)); err == nil {
		return nil
	}
	for _, d := range []string{"usr", "etc"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err == nil && fi.IsDir() {
			return nil
		}
	}
	return fmt.Errorf("the root %s has no lpm database and no usr/ or etc/, so it does not look like a system: check --root, or run lpm --root %s init to manage it", root, root)
}

// errNotWritable is the one line a user gets when they may not change the
// root, whatever file told us first.
func errNotWritable(root string) error {
	if readOnlyFS(root) {
		return fmt.Errorf("the root %s is on a read-only filesystem: remount it read-write to change it (mount -o remount,rw)", root)
	}
	if os.Geteuid() == 0 {
		return fmt.Errorf("the root %s is not writable, even by root: check its mount options and attributes (lsattr)", root)
	}
	return fmt.Errorf("the root %s is not writable by you: run as root (or use --root on a tree you own)", root)
}

// readOnlyFS reports whether p is on a filesystem mounted read-only.
func readOnlyFS(p string) bool {
	var st unix.Statfs_t
	return unix.Statfs(p, &st) == nil && st.Flags&unix.ST_RDONLY != 0
}

// mayWrite reports whether this user may change p, or make it: the
// nearest existing directory at or above p must be writable.
func mayWrite(p string) bool {
	for {
		err := unix.Access(p, unix.W_OK)
		if !errors.Is(err, unix.ENOENT) {
			return err == nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false
		}
		p = parent
	}
}

// tree opens the ports trees through their indexes in the root's cache
// (ROOT/var/cache/lpm/ports-index), so that a command reads only the
// ports it needs. The index is lpm's state like the package cache: never
// reached through a symlink. A root where it cannot be made (read-only,
// another user's) gets the trees read in full instead.
func (e *env) tree() (*ports.Tree, error) {
	dirs, err := e.portDirs()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.cfg.Root, "var/cache/lpm/ports-index")
	var link *installer.StateSymlinkError
	switch err := installer.MakeStateDir(e.cfg.Root, dir); {
	case errors.As(err, &link):
		return nil, err
	case err != nil:
		return ports.Load(dirs...)
	}
	return ports.Open(dir, dirs...)
}

// portDirs lists the trees to load, earliest first, with "shipped" as the
// directory of the shipped LFS tree. With no ports setting, ROOT/usr/ports
// (when it exists) lies over the shipped tree.
func (e *env) portDirs() ([]string, error) {
	var dirs []string
	for _, d := range e.cfg.Ports {
		if e.cfg.DefaultPorts {
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
				continue
			}
		}
		dirs = append(dirs, d)
	}
	if e.cfg.DefaultPorts {
		dirs = append(dirs, config.ShippedPorts)
	}
	for i, d := range dirs {
		if d == config.ShippedPorts {
			shipped, err := ports.Shipped(e.cfg.Root)
			if err != nil {
				return nil, err
			}
			dirs[i] = shipped
		}
	}
	return dirs, nil
}

// readDB opens the database for a query; it never blocks on a writer and
// creates nothing: a root without a database has nothing installed, and
// gets an empty one in memory.
//
// A transaction a crash left open is closed first, when no writer holds
// the root and this user may write it, so that the query sees a root that
// matches its database. A database a killed writer left with a hot WAL
// cannot be opened read-only (SQLite must recover it first): then too it
// is opened once for writing, under the lock, which recovers it; a user
// who may not write is told what is needed.
func (e *env) readDB() (*pkgdb.DB, error) {
	// SQLite makes its -shm file beside the database even for reading.
	if err := installer.CheckStateDirs(e.cfg.Root); err != nil {
		return nil, err
	}
	dbDir := filepath.Dir(pkgdb.Path(e.cfg.Root))
	db, err := pkgdb.OpenReadOnly(e.cfg.Root)
	switch {
	case errors.Is(err, pkgdb.ErrNoDatabase):
		return pkgdb.OpenEmpty()
	case err == nil:
		needs, err := installer.NeedsRecovery(e.cfg.Root, db)
		if err != nil || !needs {
			return db, err
		}
		if !mayWrite(dbDir) {
			e.warnUnrecovered(db, dbDir)
			return db, nil
		}
		db.Close()
	case !mayWrite(dbDir):
		file := pkgdb.Path(e.cfg.Root)
		fix := "run any lpm command as root once (lpm list)"
		if readOnlyFS(dbDir) {
			fix = "remount it read-write and run any lpm command (lpm list)"
		}
		if errors.Is(err, pkgdb.ErrOldSchema) {
			// An older lpm's database, which says how to update it; that
			// its WAL holds data is no sign of a crash.
			if readOnlyFS(dbDir) {
				return nil, fmt.Errorf("%w; %s is on a read-only mount: remount it read-write first", err, dbDir)
			}
			return nil, err
		}
		if wal, werr := os.Stat(file + "-wal"); werr == nil && wal.Size() > 0 {
			// lpm leaves its WAL unfolded when it closes, so a WAL that
			// holds data is no sign of a crash. Without its -shm beside
			// it (a copy that left the -shm out), SQLite must make one to
			// read the WAL, and may not here.
			if _, serr := os.Lstat(file + "-shm"); errors.Is(serr, fs.ErrNotExist) {
				return nil, fmt.Errorf("the database %s cannot be read: its lpm.db-wal holds data but lpm.db-shm is missing beside it, and SQLite cannot make it without write access to %s: copy lpm.db, lpm.db-wal and lpm.db-shm together, or %s", file, dbDir, fix)
			}
			return nil, fmt.Errorf("the database %s needs recovering after an interrupted lpm, which needs write access to %s: %s", file, dbDir, fix)
		}
		return nil, err
	}
	if lock, lerr := installer.AcquireLock(e.cfg.Root, false, nil); lerr == nil {
		if wdb, werr := pkgdb.Open(e.cfg.Root); werr == nil {
			release := holdSignals()
			installer.Recover(e.cfg.Root, wdb, e.out)
			release()
			wdb.Close()
		}
		lock.Release()
	} else if errors.Is(err, pkgdb.ErrOldSchema) {
		// Another lpm holds the root: it migrated the schema as it
		// opened the database, or is migrating it now. Opening for
		// writing waits for SQLite's lock and migrates what is left;
		// recovering stays the lock holder's.
		if wdb, werr := pkgdb.Open(e.cfg.Root); werr == nil {
			wdb.Close()
		}
	}
	db, err = pkgdb.OpenReadOnly(e.cfg.Root)
	if err != nil {
		return nil, err
	}
	e.warnUnrecovered(db, dbDir)
	return db, nil
}

// warnUnrecovered says, in one line, that a crashed transaction is still
// open with no writer at work (a read-only root, a user who may not write
// it): the answer may not match the disk.
func (e *env) warnUnrecovered(db *pkgdb.DB, dbDir string) {
	open, _ := installer.Unrecovered(e.cfg.Root, db)
	if len(open) == 0 {
		return
	}
	fix := "run lpm as a user who may write " + dbDir + " (any command, lpm list will do) to recover it"
	if readOnlyFS(dbDir) {
		fix = "remount it read-write and run any lpm command (lpm list) to recover it"
	}
	fmt.Fprintln(os.Stderr, "lpm: "+installer.UnrecoveredWarning(e.cfg.Root, open)+"; "+fix)
}

// writer takes the root's lock and opens the database for changes.
func (e *env) writer() (*pkgdb.DB, func(), error) {
	if !mayWrite(filepath.Dir(pkgdb.Path(e.cfg.Root))) {
		return nil, nil, errNotWritable(e.cfg.Root)
	}
	noWait, _ := e.cmd.Flags().GetBool("no-wait")
	lock, err := installer.AcquireLock(e.cfg.Root, !noWait, func() {
		fmt.Fprintf(os.Stderr, "lpm: waiting for another lpm to finish with %s\n", e.cfg.Root)
	})
	if errors.Is(err, fs.ErrPermission) {
		return nil, nil, errNotWritable(e.cfg.Root)
	}
	if err != nil {
		return nil, nil, err
	}
	db, err := pkgdb.Open(e.cfg.Root)
	if errors.Is(err, fs.ErrPermission) {
		err = errNotWritable(e.cfg.Root)
	}
	if err != nil {
		lock.Release()
		return nil, nil, err
	}
	release := holdSignals()
	err = installer.Recover(e.cfg.Root, db, e.out)
	release()
	if err != nil {
		db.Close()
		lock.Release()
		return nil, nil, fmt.Errorf("recovering an interrupted transaction: %w", err)
	}
	// Whatever transactions this command makes are one history entry.
	db.SetCommand(commandLine(e.cmd))
	return db, func() { db.Close(); lock.Release() }, nil
}

// planDB opens the database for a plan: read-only for a dry run, which
// must neither wait for a writer nor need write access, and under the
// writer lock otherwise, so that the plan is still true when it runs.
func (e *env) planDB(dry bool) (*pkgdb.DB, func(), error) {
	if !dry {
		return e.writer()
	}
	db, err := e.readDB()
	if err != nil {
		return nil, nil, err
	}
	return db, func() { db.Close() }, nil
}

// forQuery opens what a query needs: the settings and the database,
// read-only.
func forQuery(cmd *cobra.Command) (*env, *pkgdb.DB, error) {
	e, err := newEnv(cmd)
	if err != nil {
		return nil, nil, err
	}
	db, err := e.readDB()
	return e, db, err
}

// forChange opens what a command that changes the root needs: the
// settings, the writer lock and the database; done releases them.
func forChange(cmd *cobra.Command) (*env, *pkgdb.DB, func(), error) {
	e, err := newEnv(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	db, done, err := e.writer()
	return e, db, done, err
}

// warn prints a warning on standard error, in quiet and JSON modes too:
// a warning is for the person, not for the output.
func (e *env) warn(format string, args ...any) {
	fmt.Fprintln(os.Stderr, warningLine(colorFor(e.cfg.Color, os.Stderr), oneLine(fmt.Sprintf(format, args...))))
}

// printJSON writes v as indented JSON to standard output.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "a -> b", not "a -\u003e b"
	return enc.Encode(v)
}

// confirm asks before a change, unless --yes. The answer is read from
// standard input whatever it is, a terminal or a pipe: only y or yes goes
// on; anything else, an empty line or no answer at all (end of input)
// refuses, so that "echo n | lpm remove X" and a script without --yes
// change nothing.
func (e *env) confirm(question string) bool {
	if e.cfg.Yes {
		return true
	}
	fmt.Fprintf(os.Stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	answer := strings.TrimSpace(line)
	if !isatty.IsTerminal(os.Stdin.Fd()) {
		// Nothing echoed the piped answer: show it, so that a log reads
		// as a conversation.
		fmt.Fprint(os.Stderr, answer)
	}
	if err != nil && line == "" {
		fmt.Fprintln(os.Stderr, "(end of input)")
		return false
	}
	if !isatty.IsTerminal(os.Stdin.Fd()) {
		fmt.Fprintln(os.Stderr)
	}
	return strings.EqualFold(answer, "y") || strings.EqualFold(answer, "yes")
}

func addWriterFlags(cmd *cobra.Command) {
	cmd.Flags().Bool("no-wait", false, "fail at once if another lpm holds the root's lock")
	cmd.Flags().Bool("preserve-libs", false, "keep a shared library still needed by installed files instead of refusing")
}

// addBuildFlags adds the flags of commands that run a plan's builds.
func addBuildFlags(cmd *cobra.Command) {
	cmd.Flags().Int("jobs", 0, "how many ports build at once (build.parallel; default from cores and memory); each build's make -j is build.jobs")
	cmd.Flags().String("build-from", "", "where packages come from: auto (a repository's archive when one matches, else a build), repository (never build) or source (build.from)")
}

// installer is the Installer for the root, with the command's flags.
func (e *env) installer(db *pkgdb.DB) *installer.Installer {
	preserve, _ := e.cmd.Flags().GetBool("preserve-libs")
	in := &installer.Installer{Root: e.cfg.Root, DB: db, Out: e.out, Overwrite: e.cfg.Overwrite, PreserveLibs: preserve, RunningKernel: runningKernel(e.cfg.Root), Hold: holdSignals}
	if timings, _ := e.cmd.Flags().GetBool("timings"); timings {
		in.Timings = os.Stderr
	}
	return in
}

// runningKernel is the release of the kernel running the root, when the
// root is the running system ("" otherwise). LPM_RUNNING_KERNEL overrides
// it, for a root booted elsewhere and for tests.
func runningKernel(root string) string {
	if k, ok := os.LookupEnv("LPM_RUNNING_KERNEL"); ok {
		return k
	}
	if root != "/" {
		return ""
	}
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// installedName turns NAME or NAME@CONSTRAINT into the name of one
// installed package: NAME itself, or one slot NAME+VERSION whose version
// the constraint accepts.
func installedName(db *pkgdb.DB, arg string) (string, error) {
	pkgs, err := db.Packages()
	if err != nil {
		return "", err
	}
	return installedNameIn(pkgs, arg)
}

// installedNameIn is installedName against the installed packages pkgs,
// read once by a command that names many (lpm remove of 300 packages
// read the whole list 300 times).
func installedNameIn(pkgs []pkgdb.Package, arg string) (string, error) {
	// NAME@VERSION as the port spells it ("ntp@4.2.8p18") names that
	// package whatever semver it declared; other constraints are checked.
	name, cons, _ := strings.Cut(arg, "@")
	exact := strings.TrimPrefix(strings.TrimSpace(cons), "=")
	req, perr := ports.ParseRequest(arg)
	var matches, versions []string
	for _, p := range pkgs {
		if p.Name != name && !strings.HasPrefix(p.Name, name+"+") {
			continue
		}
		if cons != "" && exact != p.Version {
			if perr != nil {
				continue
			}
			v, err := installer.Version(p)
			if err != nil || !req.Constraint.Check(v) {
				continue
			}
		}
		matches = append(matches, p.Name)
		versions = append(versions, p.Version)
	}
	if len(matches) == 0 && perr != nil {
		return "", perr
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%s: %w", arg, pkgdb.ErrNotInstalled)
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("%s %w (%s): name one, e.g. %s@%s", name, errSeveralVersions, strings.Join(versions, ", "), name, versions[0])
}

// errSeveralVersions: a name matches several installed slots.
var errSeveralVersions = errors.New("is installed in several versions")
