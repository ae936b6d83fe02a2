package ports

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// The LFS 12.3 tree ships inside lpm (the lfs directory beside this file),
// so that a new system has ports with no download and no configuration.
// Builds read a port's patches and files from its directory, so the tree is
// written out once per content version and then loaded like any other tree.
//
//go:embed all:lfs
var shippedFS embed.FS

// ShippedDir is where Shipped writes the tree, inside the root: one
// directory lfs-HASH per version of the tree, HASH from its content.
const ShippedDir = "var/cache/lpm/ports"

var shippedHash = sync.OnceValue(func() string {
	h := sha256.New()
	fs.WalkDir(shippedFS, "lfs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := shippedFS.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
})

// ShippedName is the directory name of this lpm's copy of the shipped tree.
func ShippedName() string { return "lfs-" + shippedHash() }

// Shipped returns the directory of the shipped tree, writing it under
// ROOT/var/cache/lpm/ports the first time this version of the tree is asked
// for. The copy is read-only (files mode 0444), made in a temporary
// directory and renamed into place, and reached only through real
// directories: a symlink on the way is an error, not followed. When the
// root cannot be written (a query by an ordinary user), the copy goes to the
// user's cache directory instead, and for a user with no home it can write
// (nobody's is /nonexistent) to a directory of its own in the temporary
// directory: a query must not fail because the root is not the user's.
func Shipped(root string) (string, error) {
	dir, err := writeShipped(root, ShippedDir)
	if err == nil || !notWritable(err) {
		return dir, err
	}
	tried := []string{filepath.Join(root, ShippedDir)}
	if cache, cerr := os.UserCacheDir(); cerr == nil {
		tried = append(tried, filepath.Join(cache, "lpm/ports"))
		if os.MkdirAll(cache, 0o700) == nil {
			if dir, cerr := writeShipped(cache, "lpm/ports"); cerr == nil {
				return dir, nil
			}
		}
	}
	own := filepath.Join(os.TempDir(), fmt.Sprintf("lpm-%d", os.Geteuid()))
	tried = append(tried, filepath.Join(own, "ports"))
	if cerr := ownTempDir(own); cerr != nil {
		return "", cerr
	}
	if dir, cerr := writeShipped(own, "ports"); cerr == nil {
		return dir, nil
	}
	return "", fmt.Errorf("shipped ports: no place to write their copy (tried %s): %v; run lpm once as root to write it into the root, or name a ports tree with --ports", strings.Join(tried, ", "), err)
}

// notWritable: the error is a write refused (permissions, a read-only
// mount), so another place may do.
func notWritable(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
}

// ownTempDir makes dir, a directory in the shared temporary directory
// for this user only, or checks that the one there is this user's: a
// directory, not a symlink, owned by this user and writable by nobody
// else, so that no other user can plant a ports tree in it.
func ownTempDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("shipped ports: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("shipped ports: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("shipped ports: %s is not a directory of yours that only you may write; remove it (another user may have made it) and retry", dir)
	}
	return nil
}

// writeShipped writes the tree to base/rel/lfs-HASH unless it is there.
func writeShipped(base, rel string) (string, error) {
	parent, err := realDirs(base, rel)
	if err != nil {
		return "", err
	}
	final := filepath.Join(parent, ShippedName())
	if ok, err := isRealDir(final); ok || err != nil {
		return final, err
	}
	tmp, err := os.MkdirTemp(parent, "."+ShippedName()+"-")
	if err != nil {
		return "", fmt.Errorf("shipped ports: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	err = fs.WalkDir(shippedFS, "lfs", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		to := filepath.Join(tmp, strings.TrimPrefix(strings.TrimPrefix(p, "lfs"), "/"))
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		data, err := shippedFS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o444)
	})
	if err != nil {
		return "", fmt.Errorf("shipped ports: writing %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("shipped ports: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another lpm may have written the same version first.
		if ok, _ := isRealDir(final); ok {
			return final, nil
		}
		return "", fmt.Errorf("shipped ports: %w", err)
	}
	return final, nil
}

// realDirs makes base/rel, a directory at a time, and refuses a symlink or
// a file anywhere below base.
func realDirs(base, rel string) (string, error) {
	dir := base
	for _, part := range strings.Split(filepath.Clean(rel), string(filepath.Separator)) {
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("shipped ports: %w", err)
		}
		if ok, err := isRealDir(dir); !ok {
			if err == nil {
				err = fmt.Errorf("shipped ports: %s is missing", dir)
			}
			return "", err
		}
	}
	return dir, nil
}

// isRealDir reports whether p is a directory and not a symlink; anything
// else at p is an error naming it.
func isRealDir(p string) (bool, error) {
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("shipped ports: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, fmt.Errorf("shipped ports: %s is a symlink; lpm writes its ports tree only through real directories: replace it with a directory", p)
	case !fi.IsDir():
		return false, fmt.Errorf("shipped ports: %s is not a directory; remove it", p)
	}
	return true, nil
}
