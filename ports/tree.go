package ports

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/lfs-lpm/lpm/resolver"
)

// A Tree is the union of one or more port directories, earliest first.
//
// A tree from Load has read every port. A tree from Open reads ports
// through the index (index.go) as they are asked for; the maps below are
// then filled lazily and only for the names asked about.
type Tree struct {
	Dirs []string
	// ports maps a name to its versions, newest first.
	ports map[string][]*Port
	// broken maps a port name (its directory name) to why it did not parse.
	broken   map[string][]error
	provides map[string][]resolver.Provider

	layers  []*index             // Open only: one index per dir
	won     map[string][]portRow // Open only: a name's rows in the layer it comes from, newest first
	byFile  map[string]*Port     // Open only: parsed ports by file
	listed  bool                 // Open only: won holds every name
	allRead bool                 // Open only: broken holds every broken port
	parsed  int                  // Open only: port files parsed for their full contents, for tests
	// allProvides says provides holds every virtual name (Open, small trees).
	allProvides bool
}

// ErrNoPort is wrapped by lookups of a name no tree holds.
var ErrNoPort = errors.New("no such port")

// Load reads every port in dirs. Ports that do not parse are remembered and
// reported when asked for (and by lint), so one broken port does not stop
// work on the others.
func Load(dirs ...string) (*Tree, error) {
	t := &Tree{Dirs: dirs, ports: map[string][]*Port{}, broken: map[string][]error{}, provides: map[string][]resolver.Provider{}}
	for _, dir := range dirs {
		files, links, err := portFiles(dir)
		if err != nil {
			return nil, err
		}
		for name, e := range links {
			if _, hidden := t.ports[name]; !hidden {
				if _, seen := t.broken[name]; !seen {
					t.broken[name] = []error{e}
				}
			}
		}
		layer := map[string][]*Port{}
		for _, file := range files {
			key := treeName(dir, file)
			if _, hidden := t.ports[key]; hidden {
				continue
			}
			p, errs := ParseFile(file)
			if len(errs) > 0 {
				if _, seen := t.broken[key]; !seen {
					t.broken[key] = errs
				}
				continue
			}
			layer[p.Name] = append(layer[p.Name], p)
		}
		for name, versions := range layer {
			if _, hidden := t.ports[name]; hidden {
				continue
			}
			sort.SliceStable(versions, func(i, j int) bool { return versions[j].Ver.LessThan(versions[i].Ver) })
			t.ports[name] = versions
		}
	}
	for _, name := range t.Names() {
		for _, p := range t.ports[name] {
			for _, s := range p.Provides {
				pr, _ := ParseProvide(s)
				t.provides[pr.Name] = append(t.provides[pr.Name], resolver.Provider{Name: p.Name, Version: p.Ver, Provide: pr})
			}
		}
	}
	return t, nil
}

// portFiles lists TREE/NAME/port.toml and TREE/NAME/VERSION/port.toml.
// A port directory that is a symbolic link is not read (it could lead
// anywhere, and --update-footprint would write there) but reported, so
// that asking for it, or lint, names it instead of finding no port.
func portFiles(dir string) ([]string, map[string]error, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading ports tree %s: %w", dir, err)
	}
	var files []string
	links := map[string]error{}
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 && !strings.HasPrefix(e.Name(), ".") {
			top := filepath.Join(dir, e.Name())
			target, _ := os.Readlink(top)
			links[e.Name()] = &ParseError{File: top, Msg: fmt.Sprintf("a symbolic link (to %s); a port must be a real directory of its tree: copy it here, or add the tree it is in with --ports", target)}
			continue
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		top := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(top, FileName)); err == nil {
			files = append(files, filepath.Join(top, FileName))
			continue
		}
		subs, err := os.ReadDir(top)
		if err != nil {
			return nil, nil, fmt.Errorf("reading port directory %s: %w", top, err)
		}
		for _, s := range subs {
			f := filepath.Join(top, s.Name(), FileName)
			if _, err := os.Stat(f); s.IsDir() && err == nil {
				files = append(files, f)
			}
		}
	}
	return files, links, nil
}

// treeName is the port name a file's location implies: its first directory
// below the tree.
func treeName(dir, file string) string {
	rel, _ := filepath.Rel(dir, file)
	return strings.Split(filepath.ToSlash(rel), "/")[0]
}

// Names lists every port name, sorted.
func (t *Tree) Names() []string {
	if t.layers != nil {
		names, err := t.listAll()
		if err != nil {
			t.indexFailed(err)
			return t.Names()
		}
		return names
	}
	names := make([]string, 0, len(t.ports))
	for n := range t.ports {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// All returns every version of the named port, newest first.
func (t *Tree) All(name string) []*Port {
	if t.layers != nil {
		ps, err := t.indexedAll(name)
		if err != nil {
			t.indexFailed(err)
			return t.All(name)
		}
		return ps
	}
	return t.ports[name]
}

// Summary returns the newest version of name and its description without
// reading the port file when the index has them.
func (t *Tree) Summary(name string) (version, description string, ok bool) {
	if t.layers != nil {
		rows, err := t.winners(name)
		if err != nil {
			t.indexFailed(err)
			return t.Summary(name)
		}
		if len(rows) == 0 {
			return "", "", false
		}
		return rows[0].version, rows[0].description, true
	}
	if ps := t.ports[name]; len(ps) > 0 {
		return ps[0].Version, ps[0].Description, true
	}
	return "", "", false
}

// Broken returns the parse errors of every port that failed to load,
// sorted by port directory name.
func (t *Tree) Broken() map[string][]error {
	if t.layers != nil && !t.allRead {
		if err := t.readAllBroken(); err != nil {
			t.indexFailed(err)
		}
	}
	return t.broken
}

// brokenErrs returns why the port directory name does not parse, if it
// does not.
func (t *Tree) brokenErrs(name string) ([]error, bool) {
	if t.layers != nil && !t.allRead {
		if _, seen := t.broken[name]; !seen {
			errs, err := t.indexedBroken(name)
			if err != nil {
				t.indexFailed(err)
				return t.brokenErrs(name)
			}
			if len(errs) == 0 {
				return nil, false
			}
			t.broken[name] = errs
		}
	}
	errs, ok := t.broken[name]
	return errs, ok
}

// Lookup returns the newest version of name that satisfies constraint
// (nil: any).
func (t *Tree) Lookup(name string, constraint *semver.Constraints) (*Port, error) {
	versions := t.All(name)
	if len(versions) == 0 {
		if errs, ok := t.brokenErrs(name); ok {
			return nil, fmt.Errorf("port %s does not parse: %w", name, errors.Join(errs...))
		}
		return nil, fmt.Errorf("port %s: %w in %s; check the name or add a ports tree with --ports", name, ErrNoPort, strings.Join(t.Dirs, ", "))
	}
	for _, p := range versions {
		if constraint == nil || constraint.Check(p.Ver) {
			return p, nil
		}
	}
	var have []string
	for _, p := range versions {
		have = append(have, p.Version)
	}
	return nil, fmt.Errorf("port %s: no version matches %s (the tree has %s)", name, constraint, strings.Join(have, ", "))
}

// Port returns the exact version v of name, or nil.
func (t *Tree) Port(name string, v *semver.Version) *Port {
	if t.layers != nil {
		p, err := t.indexedPort(name, v)
		if err != nil {
			t.indexFailed(err)
			return t.Port(name, v)
		}
		return p
	}
	for _, p := range t.All(name) {
		if p.Ver.Equal(v) {
			return p
		}
	}
	return nil
}

// ParseRequest reads the command-line form NAME or NAME@CONSTRAINT.
func ParseRequest(s string) (resolver.Request, error) {
	name, cons, _ := strings.Cut(s, "@")
	term, err := ParseTerm(name + " " + cons)
	if err != nil {
		return resolver.Request{}, fmt.Errorf("request %s: %v; write NAME or NAME@CONSTRAINT, e.g. zlib@^1.3", s, err)
	}
	return resolver.Request{Name: term.Name, Constraint: term.Constraint}, nil
}

// The Tree is a solver universe.
var _ resolver.Universe = (*Tree)(nil)

// Versions implements resolver.Universe. A port that does not parse is an
// error naming its file and line, not a missing package.
func (t *Tree) Versions(name string) ([]*semver.Version, error) {
	var vs []*semver.Version
	if t.layers != nil {
		rows, err := t.winners(name)
		if err != nil {
			t.indexFailed(err)
			return t.Versions(name)
		}
		for _, r := range rows {
			vs = append(vs, r.v)
		}
	} else {
		for _, p := range t.ports[name] {
			vs = append(vs, p.Ver)
		}
	}
	if len(vs) == 0 {
		if errs, ok := t.brokenErrs(name); ok {
			return nil, fmt.Errorf("port %s does not parse: %w", name, errors.Join(errs...))
		}
	}
	return vs, nil
}

// Package implements resolver.Universe.
func (t *Tree) Package(name string, v *semver.Version) (*resolver.Package, error) {
	p := t.Port(name, v)
	if p == nil {
		return nil, fmt.Errorf("port %s %s: %w", name, v, ErrNoPort)
	}
	return p.Package(), nil
}

// Providers implements resolver.Universe.
func (t *Tree) Providers(virtual string) ([]resolver.Provider, error) {
	if t.layers != nil {
		if provs, ok := t.provides[virtual]; ok || t.allProvides {
			return provs, nil
		}
		provs, err := t.indexedProviders(virtual)
		if err != nil {
			t.indexFailed(err)
			return t.Providers(virtual)
		}
		t.provides[virtual] = provs
		return provs, nil
	}
	return t.provides[virtual], nil
}

// VersionName implements resolver.VersionNamer: the port's own version
// string ("9.9p2"), or semver's when no port has v.
func (t *Tree) VersionName(name string, v *semver.Version) string {
	if p := t.Port(name, v); p != nil {
		return p.Version
	}
	return v.String()
}
