// Package builder turns ports into package archives: it fetches and unpacks
// sources, runs a port's phases in the build sandbox with the install going
// into a staging directory, strips ELF files there, and packs the result into
// the package cache. It never writes to the live root; transactions onto the
// root are installer's.
package builder

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/config"
	"github.com/lfs-lpm/lpm/fetch"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/ports"
	"github.com/lfs-lpm/lpm/progress"
	"github.com/lfs-lpm/lpm/tarball"
)

// A Builder turns ports into package archives. It writes only to its work
// directory, the staging directory, the package cache, the distfiles cache
// and the build log; never to the live root.
type Builder struct {
	Cfg     *config.Config
	Out     *progress.Printer
	Rebuild bool // build even when the package cache has the archive

	// Builds of a plan run in parallel: mu guards what they share.
	mu          sync.Mutex
	saidHost    bool // "building on the host" is said once a run
	saidSandbox bool // and so is "building without the sandbox"
	distccN     int  // distcc's job count: 0 unknown yet, -1 unusable
}

// A BuildError says which phase of which port failed, with the end of its
// log.
type BuildError struct {
	Port  string
	Phase string
	Log   string   // the full log's path
	Tail  []string // its last lines
	Err   error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("building %s: phase %s failed (%v); full log: %s", e.Port, e.Phase, e.Err, e.Log)
}

func (e *BuildError) Unwrap() error { return e.Err }

// ArchivePath is where the package archive of p lives in the cache.
func (b *Builder) ArchivePath(p *ports.Port) string {
	return filepath.Join(b.Cfg.Packages, p.ID()+".lpm")
}

// Cached reports whether p's archive is in the package cache and will be
// reused.
func (b *Builder) Cached(p *ports.Port) bool {
	if b.Rebuild {
		return false
	}
	_, err := archive.ReadManifest(b.ArchivePath(p))
	return err == nil
}

// Build makes the package archive of p and returns its path.
func (b *Builder) Build(ctx context.Context, p *ports.Port) (string, error) {
	out := b.ArchivePath(p)
	if b.Cached(p) {
		b.Out.Printf("%s: using cached %s", p.ID(), out)
		return out, nil
	}
	chroot, err := b.useChroot()
	if err != nil {
		return "", fmt.Errorf("building %s: %w", p.ID(), err)
	}
	work := filepath.Join(b.Cfg.BuildDir, p.ID())
	if chroot && !inside(b.Cfg.Root, work) {
		return "", fmt.Errorf("building %s in %s: the build directory %s must be inside the root; set builddir", p.ID(), b.Cfg.Root, b.Cfg.BuildDir)
	}
	for _, dir := range []string{b.Cfg.BuildDir, b.Cfg.LogDir, b.Cfg.Packages, b.Cfg.Distfiles} {
		if err := installer.MakeStateDir(b.Cfg.Root, dir); err != nil {
			return "", fmt.Errorf("building %s: %w", p.ID(), err)
		}
	}
	unlock, err := b.lock(p)
	if err != nil {
		return "", err
	}
	defer unlock()
	if b.Cached(p) {
		b.Out.Printf("%s: using %s, which another lpm just built", p.ID(), out)
		return out, nil
	}
	logPath := filepath.Join(b.Cfg.LogDir, p.Name+"-"+p.Version+".log")
	for _, file := range []string{work, logPath} {
		if err := installer.CheckStatePath(b.Cfg.Root, file); err != nil {
			return "", fmt.Errorf("building %s: %w", p.ID(), err)
		}
	}
	if err := os.RemoveAll(work); err != nil {
		return "", fmt.Errorf("cleaning %s: %w", work, err)
	}
	dirs := map[string]string{}
	for _, d := range []string{"src", "files", "stage", "tmp", "home"} {
		dirs[d] = filepath.Join(work, d)
		if err := installer.MakeStateDir(b.Cfg.Root, dirs[d]); err != nil {
			return "", fmt.Errorf("building %s: %w", p.ID(), err)
		}
	}
	srcTop, err := b.unpack(ctx, p, dirs["src"], dirs["files"])
	if err != nil {
		// Nothing of a refused or missing source stays behind, hostile
		// symlinks included: the error says all there is to know. (A
		// failed phase keeps its work directory for a look.)
		os.RemoveAll(work)
		return "", fmt.Errorf("building %s: %w", p.ID(), err)
	}

	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return "", fmt.Errorf("build log %s: %w", logPath, err)
	}
	defer logFile.Close()

	// Inside a chroot the build sees paths relative to the root.
	view := func(host string) string {
		if !chroot {
			return host
		}
		rel, _ := filepath.Rel(b.Cfg.Root, host)
		return filepath.Join("/", rel)
	}
	env := b.environment(p, chroot, map[string]string{
		"SRC": view(srcTop), "SRCDIR": view(dirs["src"]), "FILES": view(dirs["files"]),
		"ROOT": view(b.Cfg.Root), "DESTDIR": view(dirs["stage"]), "WORK": view(work), "TMPDIR": view(dirs["tmp"]), "HOME": view(dirs["home"]),
	})
	run := func(phase, script string) error {
		if strings.TrimSpace(script) == "" {
			return nil
		}
		fmt.Fprintf(logFile, "==> %s: %s\n", p.ID(), phase)
		shown := b.Out.StartPhase(fmt.Sprintf("%s: %s", p.ID(), phase))
		err := b.runScript(ctx, chroot, view(srcTop), env, "set -e\n"+script, []string{work}, logFile, shown)
		shown.Finish(err)
		if err != nil {
			logFile.Sync()
			return &BuildError{Port: p.ID(), Phase: phase, Log: logPath, Tail: tail(logPath, 20), Err: err}
		}
		return nil
	}
	for _, phase := range ports.Phases {
		script := p.Script(phase)
		if phase == "prepare" {
			script = patchScript(p) + script
		}
		if phase == "check" && !b.Cfg.Build.Check {
			fmt.Fprintf(logFile, "==> %s: check skipped (build.check = false)\n", p.ID())
			continue
		}
		err := run(phase, script)
		var be *BuildError
		if phase == "check" && p.Build.CheckAdvisory && errors.As(err, &be) {
			// The port says its test suite fails in known places (as the
			// book says of several packages): the build goes on, and the
			// log keeps what failed.
			fmt.Fprintf(logFile, "==> %s: check failed (%v); going on, the port's checks are advisory\n", p.ID(), be.Err)
			b.Out.Printf("warning: %s: the check phase failed (%v); going on, as the port's checks are advisory; see %s", p.ID(), be.Err, logPath)
			continue
		}
		if err != nil {
			return "", err
		}
	}
	if err := tidyStage(dirs["stage"]); err != nil {
		return "", fmt.Errorf("building %s: %w", p.ID(), err)
	}
	if b.Cfg.Build.Strip {
		files, err := stripTargets(dirs["stage"], p.Build.Strip)
		if err != nil {
			return "", fmt.Errorf("building %s: %w", p.ID(), err)
		}
		if len(files) > 0 {
			var s strings.Builder
			for _, f := range files {
				// Stripping happens in staging only, never on the live root.
				fmt.Fprintf(&s, "strip --strip-unneeded %q || true\n", view(filepath.Join(dirs["stage"], f)))
			}
			if err := run("strip", s.String()); err != nil {
				return "", err
			}
		}
	}
	if empty, _ := isEmptyDir(dirs["stage"]); empty {
		return "", fmt.Errorf("building %s: the install phase put nothing in $DESTDIR; check the port's install step (log %s)", p.ID(), logPath)
	}
	m := archive.Manifest{
		Name: p.Name, Version: p.Version, SemVer: p.Ver.String(), Release: p.Release,
		Description: p.Description, License: p.License, Homepage: p.Homepage,
		Depends: p.Depends.Run, Provides: p.Provides, Conflicts: p.Conflicts, Backup: p.Backup, Slot: p.Slot,
		BuildDate: time.Now().UTC().Truncate(time.Second),
	}
	if m.BuildHash, err = b.BuildHash(p); err != nil {
		return "", fmt.Errorf("building %s: %w", p.ID(), err)
	}
	// Create writes beside out, syncs and renames: the cache holds the
	// old archive or the complete new one, never part of one.
	made, err := archive.Create(out, dirs["stage"], m)
	if err != nil {
		return "", fmt.Errorf("packaging %s: %w", p.ID(), err)
	}
	b.recordFootprint(p, made)
	os.RemoveAll(work)
	b.Out.Printf("%s: built %s", p.ID(), out)
	return out, nil
}

// useChroot decides where builds for a non-/ root run (config build.chroot).
func (b *Builder) useChroot() (bool, error) {
	root := b.Cfg.Root
	if root == "/" {
		return false, nil
	}
	has := hasToolchain(root)
	switch b.Cfg.Build.Chroot {
	case "never":
		return false, nil
	case "always":
		if !has {
			return false, fmt.Errorf("build.chroot = always but %s has no bash, make and cc; build them first or set build.chroot = auto", root)
		}
		return true, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !has && !b.saidHost {
		b.Out.Printf("building on the host: %s has no toolchain of its own (bash, make, cc)", root)
		b.saidHost = true
	}
	return has, nil
}

func hasToolchain(root string) bool {
	for _, alts := range [][]string{{"usr/bin/bash", "bin/bash"}, {"usr/bin/make"}, {"usr/bin/cc", "usr/bin/gcc"}} {
		found := false
		for _, a := range alts {
			if installer.RegularInRoot(root, a) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// unpack fetches every source into the distfiles cache, unpacks archives
// into src and copies other files there, and copies the port's own patches
// and files into files. It returns the directory builds start in.
func (b *Builder) unpack(ctx context.Context, p *ports.Port, src, files string) (string, error) {
	f := &fetch.Fetcher{Distfiles: b.Cfg.Distfiles, Mirrors: b.Cfg.Mirrors, Progress: b.Out}
	top := ""
	for _, s := range p.Sources {
		local, err := f.Fetch(ctx, fetch.Source{URL: s.URL, SHA256: s.SHA256, MD5: s.MD5, Name: s.FileName()})
		if err != nil {
			return "", err
		}
		if !isArchiveName(s.FileName()) {
			if err := copyFile(local, filepath.Join(src, s.FileName()), 0o644); err != nil {
				return "", err
			}
			continue
		}
		// Each archive unpacks on its own first so its top directory is
		// known, then joins the others.
		into, err := os.MkdirTemp(src, ".unpack-")
		if err != nil {
			return "", err
		}
		if err := tarball.Extract(local, into, nil); err != nil {
			return "", err
		}
		entries, err := os.ReadDir(into)
		if err != nil {
			return "", err
		}
		if err := mergeInto(into, src); err != nil {
			return "", fmt.Errorf("unpacking %s: %w", s.FileName(), err)
		}
		os.Remove(into)
		if top == "" {
			top = filepath.Join(src, entries[0].Name())
			if len(entries) != 1 || !entries[0].IsDir() {
				top = src
			}
		}
	}
	for _, name := range append(append([]string{}, p.Patches...), p.Files...) {
		from := filepath.Join(p.Dir, name)
		if _, err := os.Stat(from); err != nil && p.Fetches(name) {
			from = filepath.Join(src, name)
		}
		if err := copyPortFile(from, filepath.Join(files, name), filepath.Dir(p.Dir)); err != nil {
			return "", fmt.Errorf("port %s: %w", p.Name, err)
		}
	}
	if top == "" {
		top = src
	}
	return top, nil
}

// mergeInto moves every entry of from into to. A directory both hold is
// merged (tcl's documentation tarball unpacks into the source's own top
// directory, as the book's --strip-components does); any other name both
// hold is an error. It descends only through real directories, so a link
// one source ships cannot lead another source's files out of the tree.
func mergeInto(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		src, dst := filepath.Join(from, e.Name()), filepath.Join(to, e.Name())
		have, err := os.Lstat(dst)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Rename(src, dst); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if !have.IsDir() || !e.IsDir() {
			return fmt.Errorf("%s is in two sources", e.Name())
		}
		if err := mergeInto(src, dst); err != nil {
			return fmt.Errorf("%s/%w", e.Name(), err)
		}
		os.Remove(src)
	}
	return nil
}

func isArchiveName(name string) bool {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tar.zst", ".tzst"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func patchScript(p *ports.Port) string {
	var s strings.Builder
	for _, name := range p.Patches {
		fmt.Fprintf(&s, "patch -Np1 -i \"$FILES/%s\"\n", name)
	}
	return s.String()
}

// environment is the whole environment of a build: nothing leaks in from
// the caller but what is listed here. No RELEASE: gnulib's maint.mk, in
// many GNU tarballs, takes VERSION from it.
func (b *Builder) environment(p *ports.Port, chroot bool, dirs map[string]string) []string {
	vars := map[string]string{
		"PATH":            "/usr/bin:/usr/sbin:/bin:/sbin",
		"LC_ALL":          "POSIX",
		"NAME":            p.Name,
		"VERSION":         p.Version,
		"JOBS":            fmt.Sprint(b.Cfg.Build.Jobs),
		"CFLAGS":          b.Cfg.Build.CFlags,
		"CXXFLAGS":        b.Cfg.Build.CXXFlags,
		"MAKEFLAGS":       b.Cfg.Build.MakeFlags,
		"CONFIGURE_FLAGS": expandPortNames(p.Build.ConfigureFlags, p),
	}
	if jobs := b.distccJobs(p, chroot); jobs > 0 {
		// distcc's own masquerade: the compiler runs as "distcc cc", on
		// the hosts of build.distcc_hosts, with as many jobs as they take.
		vars["CC"], vars["CXX"] = "distcc cc", "distcc c++"
		vars["DISTCC_HOSTS"] = b.Cfg.Build.DistccHosts
		vars["JOBS"] = fmt.Sprint(max(jobs, b.Cfg.Build.Jobs))
		if b.Cfg.Build.MakeFlags == fmt.Sprintf("-j%d", b.Cfg.Build.Jobs) {
			vars["MAKEFLAGS"] = "-j" + vars["JOBS"]
		}
	}
	for k, v := range dirs {
		vars[k] = v
	}
	for k, v := range p.Build.Env {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// portName is $NAME or $VERSION, bare or braced, and no longer name.
var portName = regexp.MustCompile(`\$(\{(NAME|VERSION)\}|(NAME|VERSION)\b)`)

// expandPortNames puts the port's name and version into configure_flags.
// The styles' `./configure $CONFIGURE_FLAGS` splits the flags into words
// but expands nothing inside them, so without this a port had to spell
// its version out again (the book's --docdir=/usr/share/doc/NAME-VERSION),
// and a port whose version changed, with $VERSION in its own phases,
// installed into a directory configure never made. Nothing else in the
// flags is expanded: they are passed as written, as before.
func expandPortNames(flags string, p *ports.Port) string {
	return portName.ReplaceAllStringFunc(flags, func(m string) string {
		if strings.Contains(m, "NAME") {
			return p.Name
		}
		return p.Version
	})
}

// runScript runs one phase with bash, in the sandbox when it can, with
// output into the log; the latest line is shown as the phase's progress.
func (b *Builder) runScript(ctx context.Context, chroot bool, dir string, env []string, script string, writable []string, log io.Writer, shown *progress.Phase) error {
	argv := []string{"/bin/bash", "--noprofile", "--norc", "-c", script}
	sandbox := b.Cfg.Build.Sandbox && canSandbox()
	b.mu.Lock()
	if b.Cfg.Build.Sandbox && !sandbox && !b.saidSandbox {
		b.Out.Printf("warning: building without the sandbox: it needs root (for a private mount namespace) and lpm runs as uid %d, so a \"make install\" that ignores DESTDIR can write outside staging; run lpm as root, or set build.sandbox = false to build unsandboxed without this warning", os.Geteuid())
		b.saidSandbox = true
	}
	b.mu.Unlock()
	var cmd *exec.Cmd
	var prepare func(distccHosts string)
	switch {
	case sandbox:
		spec := sandboxSpec{Writable: writable, Dir: dir, Argv: argv}
		if chroot {
			spec.Chroot = b.Cfg.Root
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cmd = exec.CommandContext(ctx, self)
		prepare = func(distccHosts string) {
			spec.Env = env
			if distccHosts != "" {
				spec.Env = withVar(env, "DISTCC_HOSTS", distccHosts)
			}
			raw, _ := json.Marshal(spec)
			cmd.Env = []string{sandboxEnv + "=" + string(raw)}
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	default:
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = env
		cmd.Dir = dir // inside the chroot, when there is one: Go chroots first
		if chroot {
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: b.Cfg.Root}
		}
	}
	// The phase runs in a process group of its own, so that what it left
	// running in the background (a test suite's stray daemon, `sleep &`)
	// is killed when it ends instead of holding its output open and lpm
	// with it, or writing into staging after the phase is over.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.WaitDelay = 2 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.Stdin = nil
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
			shown.Line(sc.Text())
		}
		io.Copy(log, pr)
	}()
	var err error
	if prepare != nil {
		var stop func()
		if stop, err = startIsolated(cmd, varOf(env, "DISTCC_HOSTS"), prepare); err == nil {
			err = cmd.Wait()
			stop()
		}
	} else {
		err = cmd.Run()
	}
	if cmd.Process != nil {
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// The phase itself ended well; only its leftovers were cut off.
		fmt.Fprintln(log, "lpm: the phase left processes running in the background; they were killed")
		err = nil
	}
	pw.Close()
	<-done
	// Go makes / private in the sandbox's new mount namespace, which
	// fails with EINVAL when / is no mount point: lpm in a chroot of a
	// plain directory.
	var pathErr *os.PathError
	if sandbox && errors.As(err, &pathErr) && errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("%w: the build sandbox needs / to be a mount point (in a chroot, mount --bind the root onto itself before entering it, as a mounted $LFS partition is), or set build.sandbox = false", err)
	}
	return err
}

// varOf is the value of a variable in an environment list.
func varOf(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// withVar is env with name set to value.
func withVar(env []string, name, value string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// tidyStage drops files no package should own: the info directory index,
// which every GNU package would otherwise fight over (a hook rebuilds it).
func tidyStage(stage string) error {
	err := os.Remove(filepath.Join(stage, "usr/share/info/dir"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// stripTargets lists staged ELF files to strip: all of them, or those
// matching the port's globs.
func stripTargets(stage string, globs *[]string) ([]string, error) {
	var files []string
	err := filepath.Walk(stage, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(stage, p)
		if globs != nil && !matchAny(*globs, rel) {
			return nil
		}
		if isELF(p) {
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}

func matchAny(globs []string, rel string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(strings.TrimPrefix(g, "/"), rel); ok {
			return true
		}
	}
	return false
}

func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	return err == nil && string(magic) == "\x7fELF"
}

func isEmptyDir(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	return len(entries) == 0, err
}

func inside(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// tail returns the last n lines of a file.
func tail(file string, n int) []string {
	data, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// copyPortFile copies a patch or file of a port into $FILES. It must be a
// regular file in the ports tree (tree: the directory holding the port's
// own): a link out of it could read the host's files (which a chroot build
// could not) and a device or FIFO could fill the disk or hang, so neither
// is opened. A link to another port's file (a shared kernel fragment) is
// fine.
func copyPortFile(from, to, tree string) error {
	if fi, err := os.Lstat(from); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(from)
		if err != nil {
			return err
		}
		within, err := filepath.EvalSymlinks(tree)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(target, within+string(filepath.Separator)) {
			return fmt.Errorf("%s links out of the ports tree, to %s; put the file itself in the port", from, target)
		}
		from = target
	}
	in, err := os.OpenFile(from, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%v); put the file itself in the port", from, fi.Mode().Type())
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
