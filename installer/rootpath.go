package installer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// resolver of paths inside a root. A package entry "lib/libz.so.1" lands in
// usr/lib when the root's lib is a symlink to usr/lib, as it is on LFS; the
// database records where the file really is. Symlinks in parent directories
// are followed as a chroot would follow them: absolute targets start at the
// root and ".." stops at it, so no path can escape.
type rootPaths struct {
	root  string
	cache map[string]string // parent dir -> resolved parent dir
}

func newRootPaths(root string) *rootPaths {
	return &rootPaths{root: root, cache: map[string]string{}}
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
	if got, ok := r.cache[dir]; ok {
		return path.Join(got, base), nil
	}
	got, err := r.resolveDir(dir)
	if err != nil {
		return "", err
	}
	r.cache[dir] = got
	return path.Join(got, base), nil
}

func (r *rootPaths) resolveDir(dir string) (string, error) {
	todo := strings.Split(dir, "/")
	cur := ""
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
		fi, err := os.Lstat(filepath.Join(r.root, next))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Nothing below a missing directory can be a link yet.
			return path.Join(append([]string{next}, todo...)...), nil
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			if hops++; hops > 40 {
				return "", fmt.Errorf("%s: too many levels of symbolic links", "/"+next)
			}
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
