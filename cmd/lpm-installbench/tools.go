package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/pkgdb"
)

// Columns of the report, in print order.
const (
	colLpm    = "lpm"
	colBase   = "lpm base"
	colDpkg   = "dpkg"
	colUnsafe = "dpkg unsafe-io"
	colPacman = "pacman"
	colFloor  = "floor"
)

// columns are the report's figure columns, in print order; lpm base is
// there only when -lpm-base names a binary, dpkg unsafe-io unless
// -dpkg-unsafe=false.
func (b *bench) columns() []string {
	cols := []string{colLpm}
	if b.opt.base != "" {
		cols = append(cols, colBase)
	}
	cols = append(cols, colPacman, colDpkg)
	if b.opt.unsafe {
		cols = append(cols, colUnsafe)
	}
	return append(cols, colFloor)
}

// tool is a package manager under test: how to make an empty root for it
// and the command line of each measured operation. Paths given to owns are
// as seen inside the root.
type tool struct {
	name    string
	prepare func(root string) error
	install func(root string, pkgs []pkgFiles) []string
	owns    func(root string, paths []string) []string
	files   func(root, name string) []string
	remove  func(root string, names []string) []string
	// db lists the files and directories of its database in root, whose
	// sizes add up to the database's size.
	db func(root string) []string
	// ownsLine recognizes one answer line of owns naming pkg.
	ownsLine func(line, pkg string) bool
}

// lpmTool runs the lpm binary bin as the column name.
func lpmTool(name, bin string) *tool {
	g := func(root string, args ...string) []string {
		return append([]string{bin, "--root", root, "--yes"}, args...)
	}
	return &tool{
		name: name,
		// An empty directory is not a root lpm takes on without init, as
		// dpkg and pacman need their admin directories made below.
		prepare: func(root string) error {
			if err := os.MkdirAll(root, 0o755); err != nil {
				return err
			}
			if out, err := exec.Command(bin, "--root", root, "init").CombinedOutput(); err != nil {
				return fmt.Errorf("lpm init %s: %v: %s", root, err, out)
			}
			return nil
		},
		install: func(root string, pkgs []pkgFiles) []string {
			args := g(root, "install", "--file")
			for _, p := range pkgs {
				args = append(args, p.lpm)
			}
			return args
		},
		owns:     func(root string, paths []string) []string { return append(g(root, "owns"), paths...) },
		files:    func(root, name string) []string { return g(root, "files", name) },
		remove:   func(root string, names []string) []string { return append(g(root, "remove"), names...) },
		ownsLine: func(line, pkg string) bool { return strings.HasSuffix(line, " is owned by "+pkg) },
		db: func(root string) []string {
			db := pkgdb.Path(root)
			return []string{db, db + "-wal", db + "-shm"}
		},
	}
}

// dpkgTool runs dpkg against a scratch root. Its I/O mode is given on
// the command line, which dpkg reads after its configuration files: dpkg
// reads the host's /etc/dpkg/dpkg.cfg.d whatever --root says, so a host
// setting (Docker images ship force-unsafe-io there) would otherwise
// decide it. Its log goes into the root, not the host's
// /var/log/dpkg.log that /etc/dpkg/dpkg.cfg names.
func dpkgTool(unsafe bool) *tool {
	name, io := colDpkg, "--no-force-unsafe-io"
	if unsafe {
		name, io = colUnsafe, "--force-unsafe-io"
	}
	g := func(root string, args ...string) []string {
		return append([]string{"dpkg", "--root=" + root, "--log=" + filepath.Join(root, "var/log/dpkg.log"), io}, args...)
	}
	return &tool{
		name: name,
		prepare: func(root string) error {
			admin := filepath.Join(root, "var/lib/dpkg")
			for _, d := range []string{"info", "updates", "triggers"} {
				if err := os.MkdirAll(filepath.Join(admin, d), 0o755); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(filepath.Join(root, "var/log"), 0o755); err != nil {
				return err
			}
			for _, f := range []string{"status", "available"} {
				if err := os.WriteFile(filepath.Join(admin, f), nil, 0o644); err != nil {
					return err
				}
			}
			return nil
		},
		install: func(root string, pkgs []pkgFiles) []string {
			args := g(root, "-i")
			for _, p := range pkgs {
				args = append(args, p.deb)
			}
			return args
		},
		owns: func(root string, paths []string) []string {
			return append([]string{"dpkg-query", "--root=" + root, "-S"}, paths...)
		},
		files:    func(root, name string) []string { return []string{"dpkg-query", "--root=" + root, "-L", name} },
		remove:   func(root string, names []string) []string { return append(g(root, "-r"), names...) },
		ownsLine: func(line, pkg string) bool { return strings.HasPrefix(line, pkg+": /") },
		db:       func(root string) []string { return []string{filepath.Join(root, "var/lib/dpkg")} },
	}
}

// pacmanTool runs Debian's pacman-package-manager against a scratch root.
// Every path pacman would otherwise take from the host (database, log,
// cache, hooks, config) points into the root or the work dir.
func pacmanTool(conf string) *tool {
	g := func(root string, args ...string) []string {
		return append([]string{"pacman", "--root", root,
			"--dbpath", filepath.Join(root, "var/lib/pacman"),
			"--config", conf,
			"--logfile", filepath.Join(root, "var/log/pacman.log"),
			"--cachedir", filepath.Join(root, "var/cache/pacman/pkg"),
			"--hookdir", filepath.Join(root, "etc/pacman.d/hooks"),
			"--noconfirm"}, args...)
	}
	return &tool{
		name: colPacman,
		prepare: func(root string) error {
			for _, d := range []string{"var/lib/pacman", "var/log", "var/cache/pacman/pkg", "etc/pacman.d/hooks"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					return err
				}
			}
			return nil
		},
		install: func(root string, pkgs []pkgFiles) []string {
			args := g(root, "-U", "--noscriptlet", "--nodeps", "--noprogressbar")
			for _, p := range pkgs {
				args = append(args, p.pac)
			}
			return args
		},
		// pacman -Qo takes host paths, so the root is prefixed.
		owns: func(root string, paths []string) []string {
			args := g(root, "-Qo")
			for _, p := range paths {
				args = append(args, root+p)
			}
			return args
		},
		files: func(root, name string) []string { return g(root, "-Ql", name) },
		remove: func(root string, names []string) []string {
			return append(g(root, "-R", "--noscriptlet", "--nodeps"), names...)
		},
		ownsLine: func(line, pkg string) bool { return strings.Contains(line, " is owned by "+pkg+" ") },
		db:       func(root string) []string { return []string{filepath.Join(root, "var/lib/pacman/local")} },
	}
}

// pacmanConf is a configuration without signature checks or disk-space
// checks: the packages are unsigned and built here.
const pacmanConf = `[options]
Architecture = auto
SigLevel = Never
LocalFileSigLevel = Never
`

// runTimed runs argv and returns its wall-clock time from start to exit,
// which includes process start-up: that is what a user waits for.
func runTimed(ctx context.Context, argv []string) (time.Duration, string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, stdout.String(), fmt.Errorf("%s: %w\n%s", shortCmd(argv), err, tail(stderr.String()+stdout.String(), 20))
	}
	return d, stdout.String(), nil
}

// peakRSS runs argv under GNU time and returns the largest resident set
// of the process or of any child it waited for, in bytes. The rusage of a
// child this Go program starts would not do: Go starts it sharing its own
// memory (vfork), and exec keeps that high-water mark as the child's.
func peakRSS(ctx context.Context, argv []string) (int64, error) {
	out, err := os.CreateTemp("", "lpm-installbench-rss-")
	if err != nil {
		return 0, err
	}
	out.Close()
	defer os.Remove(out.Name())
	if _, _, err := runTimed(ctx, append([]string{"time", "-f", "%M", "-o", out.Name()}, argv...)); err != nil {
		return 0, err
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		return 0, err
	}
	// The last line: time writes a "Command exited" line before it only
	// on failure, which runTimed already reported.
	lines := strings.Fields(strings.TrimSpace(string(data)))
	if len(lines) == 0 {
		return 0, fmt.Errorf("time -f %%M wrote nothing for %s", shortCmd(argv))
	}
	kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("time -f %%M for %s: %q is not a number of KiB", shortCmd(argv), data)
	}
	return kib << 10, nil
}

// diskBytes adds up the sizes of paths and everything below them; a path
// that does not exist adds nothing (a WAL checkpointed away).
func diskBytes(paths []string) (int64, error) {
	var total int64
	for _, p := range paths {
		err := filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.Type().IsRegular() {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				total += fi.Size()
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("size of database %s: %w", p, err)
		}
	}
	return total, nil
}

// shortCmd renders a command line without its long list of paths.
func shortCmd(argv []string) string {
	if len(argv) > 12 {
		return strings.Join(argv[:12], " ") + fmt.Sprintf(" ... (%d more arguments)", len(argv)-12)
	}
	return strings.Join(argv, " ")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// syncTimed flushes the filesystem holding dir with syncfs(2) and returns
// how long that took: after a tool exits, this is the data it left
// unflushed; for the floor it is the "sync" of "tar -x && sync".
func syncTimed(dir string) (time.Duration, error) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return 0, fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return time.Since(start), nil
}

// checkTree verifies that every file and symlink of t is in root with the
// right type and size, so a tool that "succeeded" without writing fails
// the bench instead of winning it.
func checkTree(root string, t *tree) error {
	for _, nd := range t.nodes {
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(nd.path)))
		if err != nil {
			return fmt.Errorf("after install: %w", err)
		}
		switch {
		case nd.kind == kindDir && !fi.IsDir(),
			nd.kind == kindSymlink && fi.Mode()&os.ModeSymlink == 0,
			nd.kind == kindFile && (!fi.Mode().IsRegular() || fi.Size() != nd.size):
			return fmt.Errorf("after install: %s in %s is %v size %d, want the generated entry (size %d)", nd.path, root, fi.Mode(), fi.Size(), nd.size)
		}
	}
	return nil
}

// checkGone verifies that none of paths (inside root) exists any more.
func checkGone(root string, paths []string) error {
	for _, p := range paths {
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
			return fmt.Errorf("%s is still in %s", p, root)
		}
	}
	return nil
}
