package archive

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// A footprint is the manifest of a build kept on its own: every path the
// package installs with its type, mode, owner, link and hash, without the
// content. lpm keeps one beside each archive it builds
// (NAME-VERSION-RELEASE.footprint), so it outlives the archive, and a ports
// tree may ship one per port; lpm adopt reads the file list from it
// instead of building the port again. The file is the manifest's JSON,
// validated as strictly as an archive's.

// WriteFootprint writes m's manifest to path the safe way: a temp name
// beside it, synced, then renamed.
func WriteFootprint(path string, m *Manifest) error {
	data, err := encodeManifest(m)
	if err != nil {
		return fmt.Errorf("footprint %s: %w", path, err)
	}
	err = writeAtomically(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("footprint %s: %w", path, err)
	}
	return nil
}

// ReadFootprint reads and validates the footprint at path.
func ReadFootprint(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("footprint %s: %w", path, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxManifestSize+1)); err != nil {
		return nil, fmt.Errorf("footprint %s: %w", path, err)
	}
	if buf.Len() > maxManifestSize {
		return nil, fmt.Errorf("footprint %s is larger than %d MiB; it is not a footprint lpm wrote", path, maxManifestSize>>20)
	}
	m, err := decodeManifest(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("footprint %s: %w; %w, delete it or rebuild the port", path, err, ErrCorrupt)
	}
	return m, nil
}

// FootprintDiff lists the paths of now that were not in before (added)
// and those of before that now lacks (missing), as CRUX's pkgmk reports a
// build that does not match its footprint.
func FootprintDiff(before, now *Manifest) (added, missing []string) {
	had := map[string]bool{}
	for _, e := range before.Entries {
		had[e.Path] = true
	}
	has := map[string]bool{}
	for _, e := range now.Entries {
		has[e.Path] = true
		if !had[e.Path] {
			added = append(added, e.Path)
		}
	}
	for _, e := range before.Entries {
		if !has[e.Path] {
			missing = append(missing, e.Path)
		}
	}
	slices.Sort(added)
	slices.Sort(missing)
	return added, missing
}

// FootprintName is the file name of the footprint of NAME-VERSION-RELEASE.
func FootprintName(id string) string { return filepath.Base(id) + ".footprint" }
