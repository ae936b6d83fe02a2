package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"aead.dev/minisign"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/atomicfile"
	"github.com/lfs-lpm/lpm/fetch"
	"github.com/lfs-lpm/lpm/installer"
)

// A Repository is one [[repository]] table of lpm.toml.
type Repository struct {
	Name string // how messages name it; its URL if unset
	URL  string // the directory holding index.json, http(s):// or file://
	Key  string // its public key: minisign's base64 line (RWQ...)
	// Mirrors hold copies of its archives by file name, tried before URL
	// as source mirrors are; the index comes from URL only.
	Mirrors []string
}

func (r Repository) label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.URL
}

// maxIndexSize bounds what a hostile server can make lpm read before the
// signature is checked.
const maxIndexSize = 64 << 20

// A Client reads the repositories of one root.
type Client struct {
	Root    string // the root whose state records the serials seen
	Fetcher *fetch.Fetcher
	Now     func() time.Time // nil: time.Now
	// ReadOnly checks against the serials seen but records none: a
	// --dry-run plan writes nothing, and may run without the lock.
	ReadOnly bool
}

// A Set is the verified indexes of the repositories, in the order tried.
type Set struct {
	remotes []remote
}

type remote struct {
	repo  Repository
	index *Index
}

// SerialsPath is where lpm records the newest index serial seen from
// each repository, by URL.
func SerialsPath(root string) string { return filepath.Join(root, "var/lib/lpm/repositories.json") }

// Open fetches and verifies the index of every repository. A repository
// that cannot be reached is skipped with a warning (its ports build from
// source); one whose index fails a check is an error naming it, since
// that is what an attack looks like. The newest serials are recorded.
func (c *Client) Open(ctx context.Context, repos []Repository) (*Set, error) {
	seen, err := readSerials(c.Root)
	if err != nil {
		return nil, err
	}
	set := &Set{}
	changed := false
	for _, r := range repos {
		ix, err := c.openOne(ctx, r, seen[r.URL])
		var down *unreachableError
		if errors.As(err, &down) {
			c.Fetcher.Progress.Printf("warning: repository %s: %v; building from source what only it has", r.label(), down.err)
			continue
		}
		if err != nil {
			return nil, err
		}
		if ix.Serial > seen[r.URL] {
			seen[r.URL] = ix.Serial
			changed = true
		}
		set.remotes = append(set.remotes, remote{repo: r, index: ix})
	}
	if changed && !c.ReadOnly {
		if err := writeSerials(c.Root, seen); err != nil {
			return nil, err
		}
	}
	return set, nil
}

type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }

func (c *Client) openOne(ctx context.Context, r Repository, seenSerial uint64) (*Index, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("repository %s: %s: %s; refused, nothing was installed", r.label(), IndexName, fmt.Sprintf(format, args...))
	}
	var pub minisign.PublicKey
	if err := pub.UnmarshalText([]byte(r.Key)); err != nil {
		return nil, fmt.Errorf("repository %s: its key in lpm.toml is not a minisign public key (%v); copy the second line of the repository's .pub file", r.label(), err)
	}
	base := strings.TrimRight(r.URL, "/")
	data, err := c.Fetcher.Get(ctx, base+"/"+IndexName, maxIndexSize)
	switch {
	case errors.Is(err, fetch.ErrTooLarge):
		return nil, fail("%v", err)
	case err != nil:
		return nil, &unreachableError{err}
	}
	sigText, err := c.Fetcher.Get(ctx, base+"/"+SignatureName, 64<<10)
	if errors.Is(err, fetch.ErrNotFound) {
		return nil, fail("it has no signature (%s)", SignatureName)
	}
	if err != nil {
		return nil, &unreachableError{err}
	}
	var sig minisign.Signature
	if err := sig.UnmarshalText(sigText); err != nil {
		return nil, fail("its signature %s is not minisign's format (%v)", SignatureName, err)
	}
	if sig.KeyID != pub.ID() {
		return nil, fail("it is signed by key %X, not by the key lpm.toml lists for the repository (%X)", sig.KeyID, pub.ID())
	}
	v := minisign.NewReader(bytes.NewReader(data))
	if _, err := io.Copy(io.Discard, v); err != nil {
		return nil, err
	}
	if !v.Verify(pub, sigText) {
		return nil, fail("the signature does not match its content (tampered with, or signed with another key of the same ID)")
	}
	var ix Index
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ix); err != nil {
		return nil, fail("not an lpm index (%v)", err)
	}
	if ix.Format != FormatVersion {
		return nil, fail("format %d, this lpm reads format %d", ix.Format, FormatVersion)
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	if !now.Before(ix.Expires) {
		return nil, fail("it expired at %s (a frozen or stale repository); its owner must make it again with lpm repo create", ix.Expires.Format(time.RFC3339))
	}
	if ix.Serial < seenSerial {
		return nil, fail("its serial %d is older than serial %d seen before from it (a replayed index)", ix.Serial, seenSerial)
	}
	for _, e := range ix.Entries {
		if e.File == "" || strings.ContainsAny(e.File, "/\\") || e.File == "." || e.File == ".." || len(e.SHA256) != 64 {
			return nil, fail("its entry %s names the file %q with sha256 %q; refused", e.ID(), e.File, e.SHA256)
		}
	}
	return &ix, nil
}

// Find returns the first repository's entry for the port's name, version,
// release and build hash.
func (s *Set) Find(name, version string, release int, buildHash string) (Repository, Entry, bool) {
	if s == nil {
		return Repository{}, Entry{}, false
	}
	for _, r := range s.remotes {
		for _, e := range r.index.Entries {
			if e.Name == name && e.Version == version && e.Release == release && e.BuildHash == buildHash {
				return r.repo, e, true
			}
		}
	}
	return Repository{}, Entry{}, false
}

// Download fetches an entry's archive to dest (in the package cache),
// through the fetcher: it lands under its name only once its sha256 is the
// index's, and it is removed again if its manifest is not the package the
// index lists.
func (c *Client) Download(ctx context.Context, r Repository, e Entry, dest string) error {
	fail := func(err error) error {
		return fmt.Errorf("repository %s: archive %s: %v; refused, nothing was installed", r.label(), e.File, err)
	}
	if err := installer.CheckStatePath(c.Root, dest); err != nil {
		return fail(err)
	}
	f := *c.Fetcher
	f.Distfiles = filepath.Dir(dest)
	f.Mirrors = r.Mirrors // the sources' mirrors hold sources, not archives
	src := fetch.Source{URL: strings.TrimRight(r.URL, "/") + "/" + url.PathEscape(e.File), SHA256: e.SHA256, Name: filepath.Base(dest)}
	if _, err := f.Fetch(ctx, src); err != nil {
		return fail(err)
	}
	m, err := archive.ReadManifest(dest)
	if err == nil {
		err = e.Matches(m)
	}
	if err != nil {
		os.Remove(dest)
		return fail(err)
	}
	return nil
}

func readSerials(root string) (map[string]uint64, error) {
	path := SerialsPath(root)
	if err := installer.CheckStatePath(root, path); err != nil {
		return nil, err
	}
	seen := map[string]uint64{}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return seen, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &seen)
	}
	if err != nil {
		return nil, fmt.Errorf("repository serials %s: %w; it records the newest index seen from each repository, remove it only if you trust them all", path, err)
	}
	return seen, nil
}

func writeSerials(root string, seen map[string]uint64) error {
	path := SerialsPath(root)
	if err := installer.MakeStateDir(root, filepath.Dir(path)); err != nil {
		return err
	}
	data, err := json.MarshalIndent(seen, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}
