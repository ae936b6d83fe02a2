package archive

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// FormatVersion is the only manifest format this package reads and writes.
const FormatVersion = 1

// manifestName is the first tar entry of every archive.
const manifestName = ".MANIFEST"

// maxManifestSize bounds how much a hostile archive can make us buffer
// before we have validated anything.
const maxManifestSize = 64 << 20

// Entry types.
const (
	TypeDir      = "dir"
	TypeFile     = "file"
	TypeSymlink  = "symlink"
	TypeHardlink = "hardlink"
)

// ErrCorrupt is wrapped by every error about an archive that breaks the
// format, so callers can tell a bad package from an I/O problem.
var ErrCorrupt = errors.New("the archive is corrupt or hostile")

// Manifest describes one built package. It is stored as JSON in the
// archive's first entry; see the package documentation for the rules.
type Manifest struct {
	Format      int      `json:"format"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	SemVer      string   `json:"semver,omitempty"` // the version the solver compares
	Release     int      `json:"release"`
	Description string   `json:"description,omitempty"`
	License     string   `json:"license,omitempty"`
	Homepage    string   `json:"homepage,omitempty"`
	Depends     []string `json:"depends,omitempty"`
	Provides    []string `json:"provides,omitempty"`
	Conflicts   []string `json:"conflicts,omitempty"`
	Backup      []string `json:"backup,omitempty"`
	// Slot: every version installs beside the others, as its own package
	// NAME+VERSION (kernels).
	Slot bool `json:"slot,omitempty"`
	// BuildHash names what the package was built from (the port's files
	// and the build settings that change its output; builder.BuildHash):
	// a repository's archive stands in for a build only when it matches.
	BuildHash string    `json:"build_hash,omitempty"`
	BuildDate time.Time `json:"build_date"`
	Entries   []Entry   `json:"entries"`
}

// InstalledName is the name the package is installed under: its name, or
// NAME+VERSION for a slotted package.
func (m *Manifest) InstalledName() string {
	if m.Slot {
		return m.Name + "+" + m.Version
	}
	return m.Name
}

// Entry is one path the package installs.
type Entry struct {
	Path   string   `json:"path"`
	Type   string   `json:"type"`
	Mode   uint32   `json:"mode"`
	UID    int      `json:"uid"`
	GID    int      `json:"gid"`
	Size   int64    `json:"size,omitempty"`
	SHA256 string   `json:"sha256,omitempty"`
	Link   string   `json:"link,omitempty"`
	Soname string   `json:"soname,omitempty"`
	Needed []string `json:"needed,omitempty"`
}

// entryProblem is a validation failure tied to one path; the caller adds
// which archive or staging dir it came from and what to do.
type entryProblem struct {
	path string
	msg  string
}

func (p *entryProblem) Error() string {
	return fmt.Sprintf("entry %q %s", p.path, p.msg)
}

func problem(p string, format string, args ...any) error {
	return &entryProblem{path: p, msg: fmt.Sprintf(format, args...)}
}

// corrupt wraps a validation problem found in an archive file.
func corrupt(archivePath string, err error) error {
	return fmt.Errorf("archive %s: %w; %w, rebuild it", archivePath, err, ErrCorrupt)
}

// encodeManifest renders m deterministically: struct field order, two-space
// indent, and no HTML escaping so "zlib >=1.3" stays readable.
func encodeManifest(m *Manifest) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeManifest parses and validates manifest bytes.
func decodeManifest(data []byte) (*Manifest, error) {
	return decodeManifestFrom(bytes.NewReader(data))
}

// decodeManifestFrom parses and validates a manifest as it streams in.
// The entries, nearly all of a big package's manifest, are decoded one at
// a time, so that neither the JSON text nor a decoder buffer of its whole
// size is ever held (20,000 entries are about 5 MiB of text); the other
// fields, a few hundred bytes, are gathered and decoded as one object.
// The result is what encoding/json gives for the whole object: keys match
// case-insensitively, unknown keys are ignored, a repeated key wins last.
func decodeManifestFrom(r io.Reader) (*Manifest, error) {
	bad := func(err error) error { return fmt.Errorf("%s is not valid JSON: %v", manifestName, err) }
	s := newJSONStream(r)
	if c, ok := s.peek(); !ok {
		return nil, bad(s.readErr())
	} else if c != '{' {
		raw, err := s.value()
		if err == nil {
			err = json.Unmarshal(raw, new(any))
		}
		if err != nil {
			return nil, bad(err)
		}
		return nil, fmt.Errorf("%s is not a JSON object", manifestName)
	}
	s.off++
	var m Manifest
	others := []byte{'{'}
	for first := true; ; first = false {
		c, ok := s.peek()
		if !ok {
			return nil, bad(s.readErr())
		}
		if c == '}' && first {
			s.off++
			break
		}
		raw, err := s.value()
		if err != nil {
			return nil, bad(err)
		}
		var key string
		if len(raw) == 0 || raw[0] != '"' { // null would unmarshal as ""
			return nil, bad(fmt.Errorf("an object key is %q, not a string", raw))
		}
		if err := json.Unmarshal(raw, &key); err != nil {
			return nil, bad(fmt.Errorf("an object key: %v", err))
		}
		if err := s.expect(':'); err != nil {
			return nil, bad(err)
		}
		if strings.EqualFold(key, "entries") {
			if m.Entries, err = decodeEntriesFast(s); err != nil {
				return nil, bad(err)
			}
		} else {
			value, err := s.value()
			if err != nil {
				return nil, bad(err)
			}
			if len(others) > 1 {
				others = append(others, ',')
			}
			quoted, _ := json.Marshal(key)
			others = append(append(append(others, quoted...), ':'), value...)
		}
		c, ok = s.peek()
		if !ok {
			return nil, bad(s.readErr())
		}
		s.off++
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, bad(syntaxError(c, ','))
		}
	}
	if _, ok := s.peek(); ok {
		return nil, fmt.Errorf("%s has data after the JSON object", manifestName)
	}
	if s.err != io.EOF {
		return nil, bad(s.err)
	}
	entries := m.Entries
	if err := json.Unmarshal(append(others, '}'), &m); err != nil {
		return nil, bad(err)
	}
	m.Entries = entries
	m.BuildDate = m.BuildDate.UTC()
	if err := validateManifest(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// comparePaths orders two paths as the format orders entries: bytewise,
// but with "/" before every other byte (so a directory's entries come
// right after it): -1, 0 or +1.
func comparePaths(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		// NUL is forbidden in paths, so it can stand in for "/".
		if ca == '/' {
			ca = 0
		}
		if cb == '/' {
			cb = 0
		}
		return cmp.Compare(ca, cb)
	}
	return cmp.Compare(len(a), len(b))
}

// Find returns the index in Entries of the entry for path p: the entries
// are in the format's order, so a lookup needs no map of them.
func (m *Manifest) Find(p string) (int, bool) {
	i := sort.Search(len(m.Entries), func(i int) bool { return comparePaths(m.Entries[i].Path, p) >= 0 })
	return i, i < len(m.Entries) && m.Entries[i].Path == p
}

// validateManifest enforces every rule of the format on m. It is used on
// archives being read and, in Create, on the manifest about to be written.
func validateManifest(m *Manifest) error {
	if m.Format != FormatVersion {
		return fmt.Errorf("has manifest format %d, this lpm reads only format %d (upgrade lpm if the archive is newer)", m.Format, FormatVersion)
	}
	if !validName(m.Name) {
		return fmt.Errorf("has invalid package name %q", m.Name)
	}
	if m.Version == "" || strings.ContainsFunc(m.Version, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '/'
	}) {
		return fmt.Errorf("has invalid version %q", m.Version)
	}
	if m.Release < 0 {
		return fmt.Errorf("has negative release %d", m.Release)
	}
	relations := []struct {
		field string
		list  []string
	}{{"depends", m.Depends}, {"provides", m.Provides}, {"conflicts", m.Conflicts}}
	for _, rel := range relations {
		for _, s := range rel.list {
			if strings.TrimSpace(s) == "" || strings.ContainsFunc(s, isControl) {
				return fmt.Errorf("has invalid %s item %q", rel.field, s)
			}
		}
	}

	seen := make(map[string]*Entry, len(m.Entries))
	for i := range m.Entries {
		e := &m.Entries[i]
		if err := validateEntry(e, seen); err != nil {
			return err
		}
		if i > 0 && comparePaths(e.Path, m.Entries[i-1].Path) <= 0 {
			return problem(e.Path, "is out of order (it must sort after %q)", m.Entries[i-1].Path)
		}
		seen[e.Path] = e
	}

	backups := make(map[string]bool, len(m.Backup))
	for _, b := range m.Backup {
		if err := checkPath(b); err != nil {
			return problem(b, "in backup: %v", err)
		}
		if backups[b] {
			return problem(b, "is listed twice in backup")
		}
		backups[b] = true
		e := seen[b]
		if e == nil || (e.Type != TypeFile && e.Type != TypeHardlink) {
			return problem(b, "is listed in backup but is not a file entry of the package")
		}
	}
	return nil
}

func validateEntry(e *Entry, seen map[string]*Entry) error {
	if err := checkPath(e.Path); err != nil {
		return problem(e.Path, "%v", err)
	}
	if err := CheckReserved(e.Path, e.Type); err != nil {
		return err
	}
	if seen[e.Path] != nil {
		return problem(e.Path, "is listed twice")
	}
	if parent := path.Dir(e.Path); parent != "." {
		pe := seen[parent]
		switch {
		case pe == nil:
			return problem(e.Path, "has no parent directory entry %q before it", parent)
		case pe.Type == TypeSymlink:
			return problem(e.Path, "lies under symlink %q (writing through links is refused)", parent)
		case pe.Type != TypeDir:
			return problem(e.Path, "lies under %q, which is a %s, not a dir", parent, pe.Type)
		}
	}
	if e.Mode&^0o7777 != 0 {
		return problem(e.Path, "has mode %#o with bits outside 07777", e.Mode)
	}
	if e.UID < 0 || e.GID < 0 {
		return problem(e.Path, "has negative owner %d:%d", e.UID, e.GID)
	}
	if e.Size < 0 {
		return problem(e.Path, "has negative size %d", e.Size)
	}
	if e.Type != TypeFile {
		if e.Size != 0 || e.SHA256 != "" {
			return problem(e.Path, "is a %s but carries a size or sha256", e.Type)
		}
		if e.Soname != "" || len(e.Needed) > 0 {
			return problem(e.Path, "is a %s but carries ELF soname or needed", e.Type)
		}
	}
	if e.Type != TypeSymlink && e.Type != TypeHardlink && e.Link != "" {
		return problem(e.Path, "is a %s but carries a link target", e.Type)
	}
	if strings.ContainsRune(e.Soname, 0) {
		return problem(e.Path, "has a NUL byte in its soname")
	}
	for _, n := range e.Needed {
		if n == "" || strings.ContainsRune(n, 0) {
			return problem(e.Path, "has an invalid needed library %q", n)
		}
	}

	switch e.Type {
	case TypeDir:
	case TypeFile:
		if !validSHA256(e.SHA256) {
			return problem(e.Path, "has malformed sha256 %q (want 64 lowercase hex digits)", e.SHA256)
		}
	case TypeSymlink:
		if e.Link == "" || strings.ContainsRune(e.Link, 0) {
			return problem(e.Path, "is a symlink with an empty or NUL-containing target")
		}
	case TypeHardlink:
		target := seen[e.Link]
		if target == nil || target.Type != TypeFile {
			return problem(e.Path, "is a hardlink to %q, which is not an earlier file entry", e.Link)
		}
		if target.Mode != e.Mode || target.UID != e.UID || target.GID != e.GID {
			return problem(e.Path, "is a hardlink whose mode or owner differs from its target %q", e.Link)
		}
	default:
		return problem(e.Path, "has unknown type %q", e.Type)
	}
	return nil
}

// checkPath enforces the path rules; its messages complete the sentence
// "entry X ...".
func checkPath(p string) error {
	switch {
	case p == "" || p == ".":
		return errors.New("is an empty path")
	case strings.ContainsRune(p, 0):
		return errors.New("contains a NUL byte")
	case strings.HasPrefix(p, "/"):
		return errors.New("is absolute")
	case p == manifestName:
		return errors.New("uses the reserved name " + manifestName)
	}
	for rest, more := p, true; more; { // strings.Split made a list per entry
		var c string
		c, rest, more = strings.Cut(rest, "/")
		if c == ".." {
			return errors.New("escapes the root")
		}
	}
	if path.Clean(p) != p {
		return fmt.Errorf("is not a clean path (clean form %q)", path.Clean(p))
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i == 0 && !alnum {
			return false
		}
		if !alnum && !strings.ContainsRune("+._-", r) {
			return false
		}
	}
	return true
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// below reports whether p lies below dir; dir+"/" would allocate, for
// every entry of every package.
func below(p, dir string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}

// StateDirs are lpm's own directories inside a root: the database, lock
// and pristine config copies; the caches; the build logs; the build work
// directories. lpm writes there itself, so a package shipping a path there
// (above all a symlink) could steer those writes anywhere.
var StateDirs = []string{"var/lib/lpm", "var/cache/lpm", "var/log/lpm", "var/tmp/lpm"}

// CheckReserved refuses a package path (clean, relative to the root) of
// the given entry type that lies in one of lpm's state directories, or
// that is something other than a directory on the way to one (a "var/tmp"
// symlink would redirect var/tmp/lpm).
func CheckReserved(p, typ string) error {
	for _, d := range StateDirs {
		if p == d || below(p, d) {
			return problem(p, "lies in /%s, which is lpm's own state; no package may ship it", d)
		}
		if typ != TypeDir && below(d, p) {
			return problem(p, "is a %s on the way to /%s, lpm's own state; only a directory may be there", typ, d)
		}
	}
	return nil
}
