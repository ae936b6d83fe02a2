package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A Lock is held by the one lpm that may change a root. The kernel drops it
// when the process dies, so a crashed lpm never leaves a stale lock.
type Lock struct{ f *os.File }

// LockPath is where the writer lock of root lives.
func LockPath(root string) string { return filepath.Join(root, "var/lib/lpm/lock") }

// ErrLocked is returned by AcquireLock with wait=false when another lpm
// holds the lock.
var ErrLocked = errors.New("another lpm is changing this root")

// AcquireLock takes the writer lock of root. With wait, it blocks (calling
// waiting once first so the user knows why); without, it fails at once.
func AcquireLock(root string, wait bool, waiting func()) (*Lock, error) {
	p := LockPath(root)
	if err := MakeStateDir(root, filepath.Dir(p)); err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	// Every command that changes the root comes here first: a link planted
	// at lpm's state (by a package an older lpm let through) stops it
	// before anything is written through it.
	if err := CheckStateDirs(root); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		if !wait {
			f.Close()
			return nil, fmt.Errorf("%w (lock %s); retry later or drop --no-wait", ErrLocked, p)
		}
		if waiting != nil {
			waiting()
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error { return l.f.Close() }

// WriterActive reports whether an lpm holds root's writer lock now. It
// opens the lock read-only, so it works on a read-only root and for any
// user who may read it.
func WriterActive(root string) bool {
	f, err := os.Open(LockPath(root))
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
}
