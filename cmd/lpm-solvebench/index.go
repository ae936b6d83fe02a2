package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"

	"github.com/Masterminds/semver/v3"

	"github.com/lfs-lpm/lpm/resolver"
)

// The index is a compact, memory-mapped cache of a Debian package list,
// so that opening a 60,000-package universe costs a system call and each
// package is decoded only when the solver asks for it.
//
// Versions are mapped onto semver order-preservingly, per name: every
// Debian version that appears for a name (as a package version, a
// provided version or a relation operand) is sorted with dpkg's rules and
// version number k becomes semver k.0.0. Names share one space with the
// virtual names they provide, so a relation on a virtual name and a
// versioned provide of it compare correctly.
//
// Layout (little endian):
//
//	"LPMIDX1\n"
//	u32 count, then count entries of (u32 nameOff, u32 nameLen, u32 recOff, u32 recLen), sorted by name: packages
//	u32 count, then the same for virtual names: provider lists
//	blob
//
// A package record is uvarint nversions, then per version: uvarint rank,
// string debianVersion, uvarint ndeps, per dep uvarint nalts and per alt
// (string name, byte op, uvarint rank); uvarint nconflicts, per conflict
// (string name, byte op, uvarint rank); uvarint nprovides, per provide
// (string name, uvarint rank, 0 if unversioned). A virtual record is
// uvarint n, then per provider (string name, uvarint rank, uvarint
// provideRank). Strings are uvarint length plus bytes.
const indexMagic = "LPMIDX1\n"

// Relation operators as stored.
const (
	opAny byte = iota
	opLT
	opLE
	opEQ
	opGE
	opGT
)

var opCodes = map[string]byte{"": opAny, "<<": opLT, "<=": opLE, "=": opEQ, ">=": opGE, ">>": opGT}

// versionRanks maps, per name, every Debian version string to its rank.
type versionRanks map[string]map[string]int

func buildRanks(pkgs []debPkg) versionRanks {
	seen := map[string]map[string]bool{}
	add := func(name, ver string) {
		if ver == "" {
			return
		}
		m := seen[name]
		if m == nil {
			m = map[string]bool{}
			seen[name] = m
		}
		m[ver] = true
	}
	for _, p := range pkgs {
		add(p.name, p.version)
		for _, d := range p.depends {
			for _, r := range d {
				add(r.name, r.ver)
			}
		}
		for _, r := range p.conflicts {
			add(r.name, r.ver)
		}
		for _, r := range p.provides {
			add(r.name, r.ver)
		}
	}
	ranks := versionRanks{}
	for name, m := range seen {
		vs := make([]string, 0, len(m))
		for v := range m {
			vs = append(vs, v)
		}
		sort.Slice(vs, func(i, j int) bool {
			if c := compareDebVersions(vs[i], vs[j]); c != 0 {
				return c < 0
			}
			return vs[i] < vs[j]
		})
		r := map[string]int{}
		rank := 0
		for i, v := range vs {
			if i == 0 || compareDebVersions(vs[i-1], v) != 0 {
				rank++
			}
			r[v] = rank
		}
		ranks[name] = r
	}
	return ranks
}

type encoder struct{ bytes.Buffer }

func (e *encoder) uvarint(x int) {
	var b [binary.MaxVarintLen64]byte
	e.Write(b[:binary.PutUvarint(b[:], uint64(x))])
}

func (e *encoder) str(s string) {
	e.uvarint(len(s))
	e.WriteString(s)
}

// writeIndex writes the index for pkgs to path (atomically).
func writeIndex(path string, pkgs []debPkg) error {
	ranks := buildRanks(pkgs)
	byName := map[string][]debPkg{}
	type providerRec struct {
		name              string
		rank, provideRank int
	}
	virtuals := map[string][]providerRec{}
	for _, p := range pkgs {
		dup := false
		for _, q := range byName[p.name] {
			if ranks[p.name][q.version] == ranks[p.name][p.version] {
				dup = true // the same version in two lists
			}
		}
		if dup {
			continue
		}
		byName[p.name] = append(byName[p.name], p)
		for _, pr := range p.provides {
			virtuals[pr.name] = append(virtuals[pr.name], providerRec{p.name, ranks[p.name][p.version], ranks[pr.name][pr.ver]})
		}
	}
	var blob encoder
	nameEntry := func(name string) (int, int) {
		off := blob.Len()
		blob.WriteString(name)
		return off, len(name)
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	type tableEntry struct{ nameOff, nameLen, recOff, recLen int }
	var pkgTable, virtTable []tableEntry
	for _, n := range names {
		no, nl := nameEntry(n)
		var rec encoder
		list := byName[n]
		rec.uvarint(len(list))
		for _, p := range list {
			rec.uvarint(ranks[n][p.version])
			rec.str(p.version)
			rec.uvarint(len(p.depends))
			for _, d := range p.depends {
				rec.uvarint(len(d))
				for _, r := range d {
					rec.str(r.name)
					rec.WriteByte(opCodes[r.op])
					rec.uvarint(ranks[r.name][r.ver])
				}
			}
			rec.uvarint(len(p.conflicts))
			for _, r := range p.conflicts {
				rec.str(r.name)
				rec.WriteByte(opCodes[r.op])
				rec.uvarint(ranks[r.name][r.ver])
			}
			rec.uvarint(len(p.provides))
			for _, r := range p.provides {
				rec.str(r.name)
				rec.uvarint(ranks[r.name][r.ver])
			}
		}
		ro := blob.Len()
		blob.Write(rec.Bytes())
		pkgTable = append(pkgTable, tableEntry{no, nl, ro, rec.Len()})
	}
	vnames := make([]string, 0, len(virtuals))
	for n := range virtuals {
		vnames = append(vnames, n)
	}
	sort.Strings(vnames)
	for _, n := range vnames {
		no, nl := nameEntry(n)
		var rec encoder
		provs := virtuals[n]
		sort.Slice(provs, func(i, j int) bool {
			if provs[i].name != provs[j].name {
				return provs[i].name < provs[j].name
			}
			return provs[i].rank < provs[j].rank
		})
		rec.uvarint(len(provs))
		for _, p := range provs {
			rec.str(p.name)
			rec.uvarint(p.rank)
			rec.uvarint(p.provideRank)
		}
		ro := blob.Len()
		blob.Write(rec.Bytes())
		virtTable = append(virtTable, tableEntry{no, nl, ro, rec.Len()})
	}
	var out bytes.Buffer
	out.WriteString(indexMagic)
	header := len(indexMagic) + 8 + 16*(len(pkgTable)+len(virtTable))
	writeTable := func(t []tableEntry) {
		binary.Write(&out, binary.LittleEndian, uint32(len(t)))
		for _, e := range t {
			binary.Write(&out, binary.LittleEndian, [4]uint32{uint32(header + e.nameOff), uint32(e.nameLen), uint32(header + e.recOff), uint32(e.recLen)})
		}
	}
	writeTable(pkgTable)
	writeTable(virtTable)
	out.Write(blob.Bytes())
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing index %s: %w", tmp, err)
	}
	return os.Rename(tmp, path)
}

// debUniverse is a resolver.Universe over a memory-mapped index.
type debUniverse struct {
	data        []byte
	pkgTable    []byte // 16-byte entries
	virtTable   []byte
	cache       map[string]*debRecord // decoded records; lookup only
	constraints map[string]*semver.Constraints
	versions    map[int]*semver.Version
}

type debRecord struct {
	versions []*semver.Version
	debVers  []string
	pkgs     []*resolver.Package
}

// openIndex maps the index file into memory.
func openIndex(path string) (*debUniverse, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	closer := func() error { return syscall.Munmap(data) }
	u, err := newDebUniverse(data)
	if err != nil {
		closer()
		return nil, nil, fmt.Errorf("index %s: %w; delete it to rebuild", path, err)
	}
	return u, closer, nil
}

func newDebUniverse(data []byte) (*debUniverse, error) {
	if len(data) < len(indexMagic)+8 || string(data[:len(indexMagic)]) != indexMagic {
		return nil, errors.New("not an lpm-solvebench index")
	}
	p := len(indexMagic)
	n := int(binary.LittleEndian.Uint32(data[p:]))
	p += 4
	if p+16*n+4 > len(data) {
		return nil, errors.New("truncated package table")
	}
	u := &debUniverse{data: data, pkgTable: data[p : p+16*n]}
	p += 16 * n
	m := int(binary.LittleEndian.Uint32(data[p:]))
	p += 4
	if p+16*m > len(data) {
		return nil, errors.New("truncated virtual table")
	}
	u.virtTable = data[p : p+16*m]
	u.cache = map[string]*debRecord{}
	u.constraints = map[string]*semver.Constraints{}
	u.versions = map[int]*semver.Version{}
	return u, nil
}

func (u *debUniverse) entryName(table []byte, i int) []byte {
	off := binary.LittleEndian.Uint32(table[16*i:])
	n := binary.LittleEndian.Uint32(table[16*i+4:])
	return u.data[off : off+n]
}

// lookup binary-searches a table for name and returns its record.
func (u *debUniverse) lookup(table []byte, name string) []byte {
	n := len(table) / 16
	key := []byte(name)
	i := sort.Search(n, func(i int) bool { return bytes.Compare(u.entryName(table, i), key) >= 0 })
	if i == n || !bytes.Equal(u.entryName(table, i), key) {
		return nil
	}
	off := binary.LittleEndian.Uint32(table[16*i+8:])
	ln := binary.LittleEndian.Uint32(table[16*i+12:])
	return u.data[off : off+ln]
}

// names lists every real package name, in order.
func (u *debUniverse) names() []string {
	n := len(u.pkgTable) / 16
	out := make([]string, n)
	for i := range out {
		out[i] = string(u.entryName(u.pkgTable, i))
	}
	return out
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() int {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("corrupt record")
		return 0
	}
	d.b = d.b[n:]
	return int(x)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > len(d.b) {
		d.err = errors.New("corrupt record")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errors.New("corrupt record")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (u *debUniverse) version(rank int) *semver.Version {
	v, ok := u.versions[rank]
	if !ok {
		v = semver.New(uint64(rank), 0, 0, "", "")
		u.versions[rank] = v
	}
	return v
}

func (u *debUniverse) constraint(op byte, rank int) (*semver.Constraints, error) {
	if op == opAny {
		return nil, nil
	}
	key := string(rune('0'+op)) + strconv.Itoa(rank)
	if c, ok := u.constraints[key]; ok {
		return c, nil
	}
	prefix := [...]string{"", "<", "<=", "=", ">=", ">"}[op]
	c, err := semver.NewConstraint(prefix + strconv.Itoa(rank) + ".0.0")
	if err != nil {
		return nil, err
	}
	u.constraints[key] = c
	return c, nil
}

func (u *debUniverse) record(name string) (*debRecord, error) {
	if r, ok := u.cache[name]; ok {
		return r, nil
	}
	raw := u.lookup(u.pkgTable, name)
	rec := &debRecord{}
	if raw != nil {
		d := &decoder{b: raw}
		n := d.uvarint()
		for i := 0; i < n && d.err == nil; i++ {
			v := u.version(d.uvarint())
			p := &resolver.Package{Name: name, Version: v}
			rec.versions = append(rec.versions, v)
			rec.debVers = append(rec.debVers, d.str())
			nd := d.uvarint()
			for j := 0; j < nd && d.err == nil; j++ {
				na := d.uvarint()
				dep := make(resolver.Dep, 0, na)
				for k := 0; k < na && d.err == nil; k++ {
					t, err := u.term(d)
					if err != nil {
						return nil, err
					}
					dep = append(dep, t)
				}
				p.Run = append(p.Run, dep)
			}
			nc := d.uvarint()
			for j := 0; j < nc && d.err == nil; j++ {
				t, err := u.term(d)
				if err != nil {
					return nil, err
				}
				p.Conflicts = append(p.Conflicts, t)
			}
			np := d.uvarint()
			for j := 0; j < np && d.err == nil; j++ {
				pr := resolver.Provide{Name: d.str()}
				if r := d.uvarint(); r > 0 {
					pr.Version = u.version(r)
				}
				p.Provides = append(p.Provides, pr)
			}
			rec.pkgs = append(rec.pkgs, p)
		}
		if d.err != nil {
			return nil, fmt.Errorf("package %s: %w", name, d.err)
		}
	}
	u.cache[name] = rec
	return rec, nil
}

func (u *debUniverse) term(d *decoder) (resolver.Term, error) {
	name := d.str()
	op := d.byte()
	rank := d.uvarint()
	c, err := u.constraint(op, rank)
	if err != nil {
		return resolver.Term{}, fmt.Errorf("relation on %s: %w", name, err)
	}
	return resolver.Term{Name: name, Constraint: c}, nil
}

// Versions implements resolver.Universe.
func (u *debUniverse) Versions(name string) ([]*semver.Version, error) {
	r, err := u.record(name)
	if err != nil {
		return nil, err
	}
	return r.versions, nil
}

// Package implements resolver.Universe.
func (u *debUniverse) Package(name string, v *semver.Version) (*resolver.Package, error) {
	r, err := u.record(name)
	if err != nil {
		return nil, err
	}
	for _, p := range r.pkgs {
		if p.Version.Equal(v) {
			return p, nil
		}
	}
	return nil, nil
}

// Providers implements resolver.Universe.
func (u *debUniverse) Providers(virtual string) ([]resolver.Provider, error) {
	raw := u.lookup(u.virtTable, virtual)
	if raw == nil {
		return nil, nil
	}
	d := &decoder{b: raw}
	n := d.uvarint()
	out := make([]resolver.Provider, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		p := resolver.Provider{Name: d.str(), Version: u.version(d.uvarint())}
		p.Provide = resolver.Provide{Name: virtual}
		if r := d.uvarint(); r > 0 {
			p.Provide.Version = u.version(r)
		}
		out = append(out, p)
	}
	if d.err != nil {
		return nil, fmt.Errorf("providers of %s: %w", virtual, d.err)
	}
	return out, nil
}

// debVersion gives the Debian spelling of a mapped version, for reports.
func (u *debUniverse) debVersion(name string, v *semver.Version) string {
	r, err := u.record(name)
	if err != nil {
		return v.String()
	}
	for i, x := range r.versions {
		if x.Equal(v) {
			return r.debVers[i]
		}
	}
	return v.String()
}
