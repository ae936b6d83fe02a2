package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/ports"
)

// lock takes the build lock of one port, waiting (and saying so) while
// another lpm builds it. Two builds of one port would share its work
// directory and its log, one deleting what the other is packing; a lock
// per port, as Portage keeps one per package build directory, rather than
// a private work directory per build: the log keeps its documented name,
// and a build that waited finds the archive the other made and reuses it.
// Builds of different ports still run side by side. The kernel drops the
// lock when lpm dies.
func (b *Builder) lock(p *ports.Port) (func(), error) {
	path := filepath.Join(b.Cfg.BuildDir, p.ID()+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("build lock %s: %w", path, err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		b.Out.Printf("%s: waiting for another lpm building it (lock %s)", p.ID(), path)
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("build lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
