package installer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// resolver of paths inside a root. A package entry "lib/libz.so.1" lands in
// usr/lib when the root's lib is a symlink to usr/lib, as it is on LFS; the
// database records where the file really is. Symlinks in parent directories
// are followed as a chroot would follow them: absolute targets start at the
// root and ".." stops at it, so no path can escape.
type rootPaths struct {
	root  string
	cache map[string]string // parent dir -> resolved parent dir
	// becomeDirs are non-directories on disk that the transaction turns
	// into directories: paths below them are new, never reached through
	// what is there now.
	becomeDirs map[string]bool
	// missing holds resolved directories found missing on disk: nothing
	// below one needs a look (a new package's own directories).
	missing map[string]bool
	looks   *int // counts lstat and readlink calls when set
}

// becomesDir makes paths below p resolve as below a new directory.
func (r *rootPaths) becomesDir(p string) {
	if r.becomeDirs == nil {
		r.becomeDirs = map[string]bool{}
	}
	r.becomeDirs[p] = true
	clear(r.cache)
	clear(r.missing)
}

func newRootPaths(root string) *rootPaths {
	return &rootPaths{root: root, cache: map[string]string{}, missing: map[string]bool{}}
}

// resolve returns rel (clean, relative to the root) with the symlinks of its
// parent directories resolved. The last element is kept as it is: it is
// what a package writes, replaces or removes.
func (r *rootPaths) resolve(rel string) (string, error) {
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return base, nil
	}
	got, ok := r.cache[dir]
	if !ok {
		var err error
		if got, err = r.resolveDir(dir); err != nil {
			return "", err
		}
		r.cache[dir] = got
	}
	// Most paths go through no link: rel itself then, rather than a copy
	// of it for each of a big package's entries.
	if got == dir && base != "" && len(rel) == len(dir)+1+len(base) {
		return rel, nil
	}
	return path.Join(got, base), nil
}

func (r *rootPaths) resolveDir(dir string) (string, error) {
	todo := strings.Split(dir, "/")
	cur := ""
	// A manifest lists parents before children, so the parent is usually
	// resolved already: start from it, one lstat per directory instead of
	// one per component. Not across a path becoming a directory, whose
	// resolved children do not exist on disk yet.
	if parent, base := path.Split(dir); parent != "" && len(r.becomeDirs) == 0 && !strings.Contains(dir, "..") {
		if got, ok := r.cache[strings.TrimSuffix(parent, "/")]; ok {
			if r.missing[got] {
				r.missing[path.Join(got, base)] = true
				return path.Join(got, base), nil
			}
			cur, todo = got, []string{base}
		}
	}
	for hops := 0; len(todo) > 0; {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			if cur == "." || cur == "/" {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, elem)
		if r.becomeDirs[next] {
			return path.Join(append([]string{next}, todo...)...), nil
		}
		r.look()
		fi, err := os.Lstat(filepath.Join(r.root, next))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Nothing below a missing directory can be a link yet.
			got := path.Join(append([]string{next}, todo...)...)
			r.missing[got] = true
			return got, nil
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			if hops++; hops > 40 {
				return "", fmt.Errorf("%s: too many levels of symbolic links", "/"+next)
			}
			r.look()
			target, err := os.Readlink(filepath.Join(r.root, next))
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(target, "/") {
				cur = ""
			}
			todo = append(strings.Split(target, "/"), todo...)
		case fi.IsDir():
			cur = next
		default:
			return "", fmt.Errorf("/%s is not a directory", next)
		}
	}
	return cur, nil
}

func (r *rootPaths) look() {
	if r.looks != nil {
		*r.looks++
	}
}

// clean turns a user's path (absolute inside the root, or relative to it)
// into the database's form: clean, relative, no leading slash.
func cleanRel(p string) string {
	c := path.Clean("/" + filepath.ToSlash(p))
	return strings.TrimPrefix(c, "/")
}

// ResolvePaths turns paths as seen inside the root into the form the
// database records: relative, with symlinked parent directories resolved.
// Parent directories are resolved once for all of them.
func ResolvePaths(root string, paths []string) ([]string, error) {
	r := newRootPaths(root)
	out := make([]string, len(paths))
	for i, p := range paths {
		rel, err := r.resolve(cleanRel(p))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out[i] = rel
	}
	return out, nil
}

// ResolvePath is ResolvePaths for one path.
func ResolvePath(root, p string) (string, error) {
	out, err := ResolvePaths(root, []string{p})
	if err != nil {
		return "", err
	}
	return out[0], nil
}

// RegularInRoot reports whether rel is a regular file in root, following
// symlinks as a chroot would: Debian's usr/bin/cc -> /etc/alternatives/cc
// means the root's alternatives, never the host's.
func RegularInRoot(root, rel string) bool {
	paths := newRootPaths(root)
	for hops := 0; hops < 40; hops++ {
		dir, base := path.Split(cleanRel(rel))
		real, err := paths.resolveDir(strings.TrimSuffix(dir, "/"))
		if err != nil {
			return false
		}
		p := path.Join(real, base)
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			return false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return fi.Mode().IsRegular()
		}
		target, err := os.Readlink(filepath.Join(root, p))
		if err != nil {
			return false
		}
		if !path.IsAbs(target) {
			target = path.Join(real, target)
		}
		rel = target // cleanRel clamps ".." at the root
	}
	return false
}

// lpm's own state (the database, the lock, pristine config copies, build
// work directories, logs and caches) is never reached through a symlink
// below the root. A package could once ship var/tmp/lpm -> / and have the
// next build RemoveAll its "work directory" on the host; so every
// component between the root and a state path must be a real directory,
// walked one at a time with O_NOFOLLOW as tarball does. Paths outside the
// root (given as flags or LPM_* variables) are the user's own choice and
// are used as they are.

// MakeStateDir creates dir, a host path, and its missing parents for lpm's
// own state, refusing when a component below root is a symlink or not a
// directory.
func MakeStateDir(root, dir string) error {
	return walkState(root, dir, true, true)
}

// CheckStatePath refuses when p (a host path of lpm's state, which need
// not exist yet) or a directory between root and p is a symlink.
func CheckStatePath(root, p string) error {
	return walkState(root, p, false, false)
}

// CheckStateDirs refuses when the database's directory, the lock, the
// database files or the pristine copies of config files are reached
// through a symlink.
func CheckStateDirs(root string) error {
	// The walk to pristine checks var, lib and lpm on the way; the files
	// beside it need only their own name checked, not the walk again
	// (every query starts here).
	if err := CheckStatePath(root, filepath.Join(root, "var/lib/lpm/pristine")); err != nil {
		return err
	}
	for _, name := range []string{"lock", "lpm.db", "lpm.db-wal", "lpm.db-shm"} {
		p := filepath.Join(root, "var/lib/lpm", name)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			return &StateSymlinkError{Path: p, Target: target}
		}
	}
	return nil
}

// StateSymlinkError says a state path of lpm is, or passes through, a
// symlink.
type StateSymlinkError struct {
	Path   string // host path of the symlink
	Target string
}

func (e *StateSymlinkError) Error() string {
	return fmt.Sprintf("%s is a symlink (to %s): lpm never reaches its own state through a link; remove it (a package may have installed it) and retry", e.Path, e.Target)
}

func walkState(root, p string, create, wantDir bool) error {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		// Outside the root: the user's own path.
		if create {
			return os.MkdirAll(p, 0o755)
		}
		return nil
	}
	if rel == "." {
		return nil
	}
	cur, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT && !create {
		return nil // no root, so nothing in it is a link
	}
	if err == unix.ENOENT {
		// Whether a missing root may be made is the caller's decision.
		if err = os.MkdirAll(root, 0o755); err == nil {
			cur, err = unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("opening the root %s: %w", root, err)
	}
	defer func() { unix.Close(cur) }()
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		here := filepath.Join(root, filepath.Join(parts[:i+1]...))
		last := i == len(parts)-1
		next, err := unix.Openat(cur, part, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT && create {
			if err = unix.Mkdirat(cur, part, 0o755); err == nil || err == unix.EEXIST {
				next, err = unix.Openat(cur, part, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		if err == unix.ENOENT {
			return nil // nothing there yet, so no link either
		}
		if err != nil {
			var st unix.Stat_t
			if unix.Fstatat(cur, part, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				if st.Mode&unix.S_IFMT == unix.S_IFLNK {
					target, _ := os.Readlink(here)
					return &StateSymlinkError{Path: here, Target: target}
				}
				if last && !wantDir {
					return nil // the state file itself, not a link
				}
				return fmt.Errorf("%s is not a directory; lpm keeps its state there", here)
			}
			return fmt.Errorf("opening %s: %w", here, err)
		}
		unix.Close(cur)
		cur = next
	}
	return nil
}
