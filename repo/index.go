// Package repo owns binary package repositories: a directory of .lpm
// archives with a signed index, served by any static HTTP server (or read
// through file://); nothing lpm-specific runs on the server.
//
// The index (index.json) lists, per archive, what a client needs to decide
// whether it may stand in for a build: name, version, release, the build
// hash (builder.BuildHash), run dependencies, provides, sonames, size and
// sha256. It carries a serial number and an expiry. Its signature
// (index.json.minisig) is minisign's format, made with aead.dev/minisign,
// so that `minisign -Vm index.json -p lpm.pub` verifies it too.
//
// A client trusts nothing of a repository before the index's signature
// verified with the key lpm.toml lists for it; it refuses an index older
// than the newest it has seen from that repository (a replayed index), or
// past its expiry (a frozen one): the two attacks of TUF's list that
// pacman and apk leave open. Archives are then taken only at the sha256
// the index gives, and refused when their manifest disagrees with it.
//
// TUF itself (go-tuf) is left out: its four roles, key rotation and
// delegations need a metadata tree and tooling on the publishing side
// that a few machines sharing builds do not need; one key per repository,
// a serial and an expiry stop the same rollback and freeze attacks.
package repo

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"aead.dev/minisign"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/atomicfile"
)

// IndexName and SignatureName are the index's files in a repository.
const (
	IndexName     = "index.json"
	SignatureName = "index.json.minisig"
)

// FormatVersion is the only index format this package reads and writes.
const FormatVersion = 1

// An Index lists a repository's archives.
type Index struct {
	Format  int       `json:"format"`
	Serial  uint64    `json:"serial"`  // rises with every new index
	Created time.Time `json:"created"` // when it was made
	Expires time.Time `json:"expires"` // clients refuse it after this
	Entries []Entry   `json:"packages"`
}

// An Entry is one archive of a repository.
type Entry struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Release   int      `json:"release"`
	BuildHash string   `json:"build_hash"`
	Depends   []string `json:"depends,omitempty"`
	Provides  []string `json:"provides,omitempty"`
	Sonames   []string `json:"sonames,omitempty"`
	File      string   `json:"file"` // the archive's name, beside the index
	Size      int64    `json:"size"`
	SHA256    string   `json:"sha256"`
}

// ID is the archive's package cache name, NAME-VERSION-RELEASE.
func (e Entry) ID() string { return fmt.Sprintf("%s-%s-%d", e.Name, e.Version, e.Release) }

// entryOf describes an archive from its manifest and its bytes.
func entryOf(file string) (Entry, error) {
	m, err := archive.ReadManifest(file)
	if err != nil {
		return Entry{}, err
	}
	f, err := os.Open(file)
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return Entry{}, fmt.Errorf("reading %s: %w", file, err)
	}
	e := Entry{
		Name: m.Name, Version: m.Version, Release: m.Release, BuildHash: m.BuildHash,
		Depends: m.Depends, Provides: m.Provides, File: filepath.Base(file),
		Size: size, SHA256: hex.EncodeToString(h.Sum(nil)),
	}
	for _, en := range m.Entries {
		if en.Soname != "" {
			e.Sonames = append(e.Sonames, en.Soname)
		}
	}
	sort.Strings(e.Sonames)
	return e, nil
}

// Matches reports whether an archive's manifest is the one the index
// entry describes: a repository cannot list one package and serve another.
// The error names each field that differs.
func (e Entry) Matches(m *archive.Manifest) error {
	var sonames []string
	for _, en := range m.Entries {
		if en.Soname != "" {
			sonames = append(sonames, en.Soname)
		}
	}
	sort.Strings(sonames)
	fields := []struct {
		name      string
		got, want any
	}{
		{"name", m.Name, e.Name},
		{"version", m.Version, e.Version},
		{"release", m.Release, e.Release},
		{"build hash", m.BuildHash, e.BuildHash},
		{"depends", m.Depends, e.Depends},
		{"provides", m.Provides, e.Provides},
		{"sonames", sonames, e.Sonames},
	}
	var diffs []string
	for _, f := range fields {
		a, _ := json.Marshal(f.got)
		b, _ := json.Marshal(f.want)
		if !bytes.Equal(a, b) {
			diffs = append(diffs, fmt.Sprintf("%s %s where the index says %s", f.name, a, b))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("its manifest has %s", strings.Join(diffs, ", "))
	}
	return nil
}

// Create writes a signed index of the .lpm archives in dir: serial is the
// previous index's serial plus one (or the time, if larger, so that a
// repository made afresh still moves forward), and the index expires
// after validFor. Archives without a build hash (made by an lpm before
// build hashes) are left out and listed in skipped: no client could
// match them.
func Create(dir string, key minisign.PrivateKey, validFor time.Duration, now time.Time) (ix *Index, skipped []string, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.lpm"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(files)
	ix = &Index{Format: FormatVersion, Created: now.UTC().Truncate(time.Second), Expires: now.Add(validFor).UTC().Truncate(time.Second)}
	for _, f := range files {
		e, err := entryOf(f)
		if err != nil {
			return nil, nil, fmt.Errorf("repository %s: %w", dir, err)
		}
		if e.BuildHash == "" {
			skipped = append(skipped, e.File)
			continue
		}
		ix.Entries = append(ix.Entries, e)
	}
	ix.Serial = uint64(now.Unix())
	if old, err := os.ReadFile(filepath.Join(dir, IndexName)); err == nil {
		var prev Index
		if json.Unmarshal(old, &prev) == nil && prev.Serial >= ix.Serial {
			ix.Serial = prev.Serial + 1
		}
	}
	if err := WriteIndex(dir, ix, key); err != nil {
		return nil, nil, err
	}
	return ix, skipped, nil
}

// WriteIndex signs ix and writes it and its signature into dir.
func WriteIndex(dir string, ix *Index, key minisign.PrivateKey) error {
	data, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	sig := minisign.NewReader(bytes.NewReader(data))
	if _, err := io.Copy(io.Discard, sig); err != nil {
		return err
	}
	comment := fmt.Sprintf("lpm repository index serial %d", ix.Serial)
	signature := sig.SignWithComments(key, comment, "signature from lpm key "+strings.ToUpper(fmt.Sprintf("%X", key.ID())))
	// The signature goes first: a client that reads the new index with the
	// old signature (or the other way round) refuses both, and retries.
	if err := atomicfile.Write(filepath.Join(dir, SignatureName), signature, 0o644); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, IndexName), data, 0o644)
}

// GenerateKey writes a new key pair: the secret key to file (mode 0600,
// not encrypted with a password: keep it on the build machine only) and
// the public key to file.pub, both in minisign's formats.
func GenerateKey(file string) (minisign.PublicKey, error) {
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		return pub, err
	}
	if _, err := os.Stat(file); err == nil {
		return pub, fmt.Errorf("key %s exists already; remove it or name another file", file)
	}
	privText, err := priv.MarshalText()
	if err != nil {
		return pub, err
	}
	pubText, err := pub.MarshalText()
	if err != nil {
		return pub, err
	}
	if err := atomicfile.Write(file, privText, 0o600); err != nil {
		return pub, err
	}
	return pub, atomicfile.Write(file+".pub", append(pubText, '\n'), 0o644)
}

// ReadKey reads a secret key made by GenerateKey (or by `minisign -G -W`).
func ReadKey(file string) (minisign.PrivateKey, error) {
	var key minisign.PrivateKey
	data, err := os.ReadFile(file)
	if err != nil {
		return key, fmt.Errorf("signing key: %w", err)
	}
	if minisign.IsEncrypted(data) {
		pw, ok := os.LookupEnv("LPM_KEY_PASSWORD")
		if !ok {
			return key, fmt.Errorf("signing key %s is encrypted; set LPM_KEY_PASSWORD", file)
		}
		key, err = minisign.DecryptKey(pw, data)
	} else {
		err = key.UnmarshalText(data)
	}
	if err != nil {
		return key, fmt.Errorf("signing key %s: %w", file, err)
	}
	return key, nil
}
