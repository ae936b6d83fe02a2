package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lfs-lpm/lpm/ports"
)

// buildHashVersion changes when what BuildHash covers changes, so that old
// hashes match nothing rather than the wrong thing.
const buildHashVersion = "lpm build hash 1"

// BuildHash names what an archive of p is built from: sha256 over every
// file of the port's directory (path, mode and content, or a link's
// target) but its footprint and the settings that change what a build produces (cflags,
// cxxflags, makeflags when set, strip). A repository's archive stands in
// for a build of p only when its hash is this one, as Portage matches a
// binary package by its USE flags and CFLAGS. Jobs, the sandbox, chroot
// and distcc are left out: they change how a build runs, not what it
// makes. The versions of build dependencies are left out too: the index
// lists the run dependencies the solver checks.
func (b *Builder) BuildHash(p *ports.Port) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", buildHashVersion)
	err := filepath.WalkDir(p.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(p.Dir, path)
		if path == ShippedFootprintPath(p) {
			return nil // a record of what a build made, not of what it is made from
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			fmt.Fprintf(h, "dir %q\n", rel)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "link %q %q\n", rel, target)
		case info.Mode().IsRegular():
			fmt.Fprintf(h, "file %q %o %d\n", rel, info.Mode().Perm(), info.Size())
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing port %s in %s: %w", p.ID(), p.Dir, err)
	}
	c := b.Cfg.Build
	fmt.Fprintf(h, "cflags %q\ncxxflags %q\nstrip %v\n", c.CFlags, c.CXXFlags, c.Strip)
	if c.MakeFlags != fmt.Sprintf("-j%d", c.Jobs) {
		fmt.Fprintf(h, "makeflags %q\n", c.MakeFlags)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
