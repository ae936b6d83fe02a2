package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/ports"
)

// Footprints: every build leaves the manifest of what it made beside its
// archive (PACKAGES/NAME-VERSION-RELEASE.footprint), which stays when the
// archive is cleaned away, and a ports tree may ship one per port
// (TREE/NAME/footprint, written by lpm build --update-footprint). A build
// whose paths differ from the footprint of the same version and release
// says which, as CRUX's pkgmk does: a port that suddenly installs less is
// usually a broken build, not a smaller package.

// FootprintPath is where the footprint of p's build is kept.
func (b *Builder) FootprintPath(p *ports.Port) string {
	return filepath.Join(b.Cfg.Packages, archive.FootprintName(p.ID()))
}

// ShippedFootprintPath is where a ports tree keeps p's footprint.
func ShippedFootprintPath(p *ports.Port) string { return filepath.Join(p.Dir, "footprint") }

// Footprint returns the footprint of exactly p's version and release, from
// the package cache or else from the ports tree, and the file it came
// from; nil when there is none. A shipped footprint of another version
// or release is stale and ignored.
func (b *Builder) Footprint(p *ports.Port) (*archive.Manifest, string, error) {
	for _, file := range []string{b.FootprintPath(p), ShippedFootprintPath(p)} {
		m, err := archive.ReadFootprint(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if m.Name != p.Name || m.Version != p.Version || m.Release != p.Release {
			continue
		}
		return m, file, nil
	}
	return nil, "", nil
}

// recordFootprint compares a fresh build's manifest with the footprint
// of the same version and release, says how they differ, and keeps the
// new one beside the archive.
func (b *Builder) recordFootprint(p *ports.Port, m *archive.Manifest) {
	if old, file, err := b.Footprint(p); err != nil {
		b.Out.Printf("warning: %s: %v", p.ID(), err)
	} else if old != nil {
		added, missing := archive.FootprintDiff(old, m)
		if len(added)+len(missing) > 0 {
			b.Out.Printf("warning: %s: the build's files differ from its footprint %s: new %s; missing %s",
				p.ID(), file, pathList(added), pathList(missing))
		}
	}
	if err := archive.WriteFootprint(b.FootprintPath(p), m); err != nil {
		b.Out.Printf("warning: %s: keeping its footprint: %v", p.ID(), err)
	}
}

// pathList shows a list of paths briefly.
func pathList(paths []string) string {
	if len(paths) == 0 {
		return "none"
	}
	const shown = 10
	var s []string
	for _, p := range paths[:min(shown, len(paths))] {
		s = append(s, "/"+p)
	}
	more := ""
	if len(paths) > shown {
		more = fmt.Sprintf(" and %d more", len(paths)-shown)
	}
	return strings.Join(s, ", ") + more
}
