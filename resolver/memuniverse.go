package resolver

import (
	"sort"

	"github.com/Masterminds/semver/v3"
)

// MemUniverse is a Universe held in memory: tests, and callers that have
// already read their packages, fill it with Add.
type MemUniverse struct {
	byName   map[string][]*Package // lookup only
	provides map[string][]Provider // lookup only
}

// NewMemUniverse returns an empty universe.
func NewMemUniverse() *MemUniverse {
	return &MemUniverse{byName: map[string][]*Package{}, provides: map[string][]Provider{}}
}

// Add puts one package version into the universe, replacing an earlier
// package with the same name and version.
func (m *MemUniverse) Add(p *Package) {
	list := m.byName[p.Name]
	for i, q := range list {
		if q.Version.Equal(p.Version) {
			list[i] = p
			m.rebuildProvides()
			return
		}
	}
	m.byName[p.Name] = append(list, p)
	for _, pr := range p.Provides {
		m.provides[pr.Name] = append(m.provides[pr.Name], Provider{Name: p.Name, Version: p.Version, Provide: pr})
	}
}

func (m *MemUniverse) rebuildProvides() {
	names := make([]string, 0, len(m.byName))
	for n := range m.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	m.provides = map[string][]Provider{}
	for _, n := range names {
		for _, p := range m.byName[n] {
			for _, pr := range p.Provides {
				m.provides[pr.Name] = append(m.provides[pr.Name], Provider{Name: p.Name, Version: p.Version, Provide: pr})
			}
		}
	}
}

// Versions implements Universe.
func (m *MemUniverse) Versions(name string) ([]*semver.Version, error) {
	list := m.byName[name]
	out := make([]*semver.Version, len(list))
	for i, p := range list {
		out[i] = p.Version
	}
	return out, nil
}

// Package implements Universe. An unknown version yields nil.
func (m *MemUniverse) Package(name string, v *semver.Version) (*Package, error) {
	for _, p := range m.byName[name] {
		if p.Version.Equal(v) {
			return p, nil
		}
	}
	return nil, nil
}

// Providers implements Universe.
func (m *MemUniverse) Providers(virtual string) ([]Provider, error) {
	return append([]Provider(nil), m.provides[virtual]...), nil
}
