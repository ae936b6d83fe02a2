package resolver

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

const rootID pkgID = 0

type pkgKind uint8

const (
	kindReal pkgKind = iota
	kindRoot
	kindAlt
)

// An altChoice is one way to satisfy a dependency: a package and the
// versions of it that do.
type altChoice struct {
	pkg   pkgID
	set   vset
	label string // the user's spelling, e.g. "libfoo ^3" or "exim4 (provides mail-transport-agent)"
}

// pkgInfo is everything the solver knows about one interned package,
// including its share of the partial solution.
type pkgInfo struct {
	name     string // a port name; for an alternative, "a ^1 | b"
	kind     pkgKind
	versions []*semver.Version // ascending; real packages only
	choices  []altChoice       // alternatives only
	// installed is the index of the installed version, or -1.
	installed int
	// labels maps a version set (vset.key) to the user's own spelling of
	// a constraint that selects exactly that set, for explanations.
	labels map[string]string

	deps [][]*incompat // per version index, once loaded
	read []*Package    // per version index, once read from the Universe
	// shared holds the dependency incompatibilities that cover several
	// versions, by depKey, so that loading another version of the run
	// finds them instead of adding them again. Lookup only.
	shared     map[string][]*incompat
	depsLoaded []bool
	build      []bool // per version index: NeedsBuild said so

	incompats []*incompat // every incompatibility that mentions this package

	// Partial solution state. positions are this package's assignments
	// (indexes into solver.assigns), oldest first; accs[k] is the
	// intersection of the first k+1 of them. The last one is what the
	// partial solution says about the package now. Intersections only
	// narrow, so once accs[k] satisfies a term every later one does: the
	// satisfier of a term is found by binary search, and backtracking
	// only truncates both lists.
	positions []int32
	accs      []term
	decided   int // decided version index, or -1
	touched   bool
	queued    bool
}

// state is the intersection of every assignment to p, and false when p
// has none.
func (p *pkgInfo) state() (term, bool) {
	if len(p.accs) == 0 {
		return term{}, false
	}
	return p.accs[len(p.accs)-1], true
}

func (p *pkgInfo) size() int {
	switch p.kind {
	case kindRoot:
		return 1
	case kindAlt:
		return len(p.choices)
	}
	return len(p.versions)
}

type assignment struct {
	t     term
	level int32
	cause *incompat // nil for a decision
}

type solver struct {
	u    Universe
	opts Options
	reqs []Request

	pkgs      []*pkgInfo
	byName    map[string]pkgID // lookup only; never iterated
	altByKey  map[string]pkgID // lookup only; never iterated
	providers map[string][]Provider

	assigns []assignment
	level   int32
	touched []pkgID
}

func newSolver(u Universe, reqs []Request, opts Options) *solver {
	s := &solver{
		u:         u,
		opts:      opts,
		reqs:      reqs,
		byName:    map[string]pkgID{},
		altByKey:  map[string]pkgID{},
		providers: map[string][]Provider{},
	}
	s.pkgs = append(s.pkgs, &pkgInfo{
		kind: kindRoot, installed: -1, decided: -1,
		deps: make([][]*incompat, 1), depsLoaded: make([]bool, 1), build: make([]bool, 1),
	})
	return s
}

// Solve chooses one version of every package needed by reqs. See the
// package documentation for the rules. An unsatisfiable request yields an
// *UnsatError whose Error() is the full explanation; any other error comes
// from the Universe.
func Solve(u Universe, reqs []Request, opts Options) (*Solution, error) {
	s := newSolver(u, reqs, opts)
	s.addIncompat(&incompat{terms: []term{{rootID, false, fullSet(1)}}, kind: causeRoot})
	if err := s.addHolds(); err != nil {
		return nil, err
	}
	next := rootID
	for {
		if err := s.propagate(next); err != nil {
			return nil, err
		}
		p, done, err := s.decide()
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		next = p
	}
	return s.solution(), nil
}

// intern returns the id of a real package, loading its version list the
// first time the name is seen.
func (s *solver) intern(name string) (pkgID, error) {
	if id, ok := s.byName[name]; ok {
		return id, nil
	}
	vs, err := s.u.Versions(name)
	if err != nil {
		return 0, fmt.Errorf("listing versions of %s: %w", name, err)
	}
	sorted := make([]*semver.Version, 0, len(vs))
	for _, v := range vs {
		if v != nil {
			sorted = append(sorted, v)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].LessThan(sorted[j]) })
	// Duplicates would make two indexes mean the same version.
	uniq := sorted[:0]
	for _, v := range sorted {
		if len(uniq) > 0 && uniq[len(uniq)-1].Equal(v) {
			continue
		}
		uniq = append(uniq, v)
	}
	info := &pkgInfo{
		name:       name,
		kind:       kindReal,
		versions:   uniq,
		installed:  -1,
		decided:    -1,
		deps:       make([][]*incompat, len(uniq)),
		depsLoaded: make([]bool, len(uniq)),
		build:      make([]bool, len(uniq)),
	}
	if iv := s.opts.Installed[name]; iv != nil {
		info.installed = indexOf(uniq, iv)
	}
	id := pkgID(len(s.pkgs))
	s.pkgs = append(s.pkgs, info)
	s.byName[name] = id
	return id, nil
}

// indexOf finds v in the ascending list vs, or returns -1.
func indexOf(vs []*semver.Version, v *semver.Version) int {
	i := sort.Search(len(vs), func(i int) bool { return !vs[i].LessThan(v) })
	if i < len(vs) && vs[i].Equal(v) {
		return i
	}
	return -1
}

// constraintSet turns a constraint into the set of matching version
// indexes of p and remembers the user's spelling for explanations.
func (s *solver) constraintSet(p pkgID, c *semver.Constraints, label string) vset {
	info := s.pkgs[p]
	if c == nil {
		return fullSet(len(info.versions))
	}
	var set vset
	for i, v := range info.versions {
		if !c.Check(v) {
			continue
		}
		if n := len(set); n > 0 && set[n-1].hi == int32(i) {
			set[n-1].hi++
		} else {
			set = append(set, vrun{int32(i), int32(i) + 1})
		}
	}
	if !set.isEmpty() {
		if info.labels == nil {
			info.labels = map[string]string{}
		}
		if _, ok := info.labels[set.key()]; !ok {
			info.labels[set.key()] = label
		}
	}
	return set
}

func (s *solver) providersOf(virtual string) ([]Provider, error) {
	if ps, ok := s.providers[virtual]; ok {
		return ps, nil
	}
	ps, err := s.u.Providers(virtual)
	if err != nil {
		return nil, fmt.Errorf("listing providers of %s: %w", virtual, err)
	}
	ps = append([]Provider(nil), ps...)
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Name != ps[j].Name {
			return ps[i].Name < ps[j].Name
		}
		if ps[i].Version == nil || ps[j].Version == nil {
			return ps[j].Version != nil
		}
		return ps[i].Version.LessThan(ps[j].Version)
	})
	s.providers[virtual] = ps
	return ps, nil
}

// provideMatches is the provides rule: a term without a constraint is
// satisfied by any provide; a term with a constraint only by a versioned
// provide whose version matches it.
func provideMatches(p Provide, c *semver.Constraints) bool {
	if c == nil {
		return true
	}
	if p.Version == nil {
		return false
	}
	return c.Check(p.Version)
}

// expand lists what can satisfy t: the real package t.Name at matching
// versions, then every provider of t.Name whose provide matches. Choices
// for the same package are merged. Empty choices are dropped.
func (s *solver) expand(t Term) ([]altChoice, error) {
	id, err := s.intern(t.Name)
	if err != nil {
		return nil, err
	}
	var out []altChoice
	if set := s.constraintSet(id, t.Constraint, t.String()); !set.isEmpty() {
		out = append(out, altChoice{id, set, t.String()})
	}
	provs, err := s.providersOf(t.Name)
	if err != nil {
		return nil, err
	}
	for _, pr := range provs {
		if pr.Version == nil || !provideMatches(pr.Provide, t.Constraint) {
			continue
		}
		pid, err := s.intern(pr.Name)
		if err != nil {
			return nil, err
		}
		idx := indexOf(s.pkgs[pid].versions, pr.Version)
		if idx < 0 {
			continue // the provider's version is not available
		}
		out = mergeChoice(out, altChoice{pid, singleSet(idx), ""})
	}
	for i := range out {
		if out[i].label != "" {
			continue
		}
		info := s.pkgs[out[i].pkg]
		out[i].label = info.name + " (provides " + t.String() + ")"
		if j := out[i].set.single(); j >= 0 {
			out[i].label = info.name + " " + info.versions[j].String() + " (provides " + t.String() + ")"
		}
	}
	return out, nil
}

func mergeChoice(cs []altChoice, c altChoice) []altChoice {
	for i := range cs {
		if cs[i].pkg == c.pkg {
			cs[i].set = cs[i].set.union(c.set)
			return cs
		}
	}
	return append(cs, c)
}

// depIncompat turns one dependency of the package version in depender
// into an incompatibility. Several alternatives become one synthetic
// package with one "version" per alternative.
func (s *solver) depIncompat(depender term, dep Dep, kind, missingKind causeKind) (*incompat, error) {
	choices, display, err := s.depChoices(dep)
	if err != nil {
		return nil, err
	}
	return s.choicesIncompat(depender, dep, choices, display, kind, missingKind), nil
}

// depChoices lists what satisfies dep, and its text as the port wrote it.
func (s *solver) depChoices(dep Dep) ([]altChoice, string, error) {
	var choices []altChoice
	labels := make([]string, 0, len(dep))
	for _, t := range dep {
		cs, err := s.expand(t)
		if err != nil {
			return nil, "", err
		}
		for _, c := range cs {
			choices = mergeChoice(choices, c)
		}
		labels = append(labels, t.String())
	}
	return choices, strings.Join(labels, " | "), nil
}

// choicesIncompat is the incompatibility "depender, and none of choices".
func (s *solver) choicesIncompat(depender term, dep Dep, choices []altChoice, display string, kind, missingKind causeKind) *incompat {
	if len(dep) == 0 {
		return nil
	}
	switch len(choices) {
	case 0:
		return &incompat{terms: []term{depender}, kind: missingKind, missing: display}
	case 1:
		c := choices[0]
		if c.pkg == depender.pkg {
			// A dependency on the package itself: satisfied, or impossible.
			if depender.set.subsetOf(c.set) {
				return nil
			}
			return &incompat{terms: []term{depender}, kind: missingKind, missing: display}
		}
		label := c.label
		if len(dep) > 1 {
			label = display
		}
		return &incompat{terms: []term{depender, {c.pkg, false, c.set}}, kind: kind, label: label}
	}
	alt := s.internAlt(display, choices)
	return &incompat{terms: []term{depender, {alt, false, fullSet(len(choices))}}, kind: kind, label: display}
}

func (s *solver) internAlt(display string, choices []altChoice) pkgID {
	var b strings.Builder
	for _, c := range choices {
		b.WriteString(strconv.Itoa(int(c.pkg)))
		b.WriteByte(':')
		b.WriteString(c.set.key())
		b.WriteByte(';')
	}
	key := b.String()
	if id, ok := s.altByKey[key]; ok {
		return id
	}
	n := len(choices)
	info := &pkgInfo{
		name:       display,
		kind:       kindAlt,
		choices:    choices,
		installed:  -1,
		decided:    -1,
		deps:       make([][]*incompat, n),
		depsLoaded: make([]bool, n),
		build:      make([]bool, n),
	}
	id := pkgID(len(s.pkgs))
	s.pkgs = append(s.pkgs, info)
	s.altByKey[key] = id
	return id
}

// addHolds pins every held, installed package to its installed version.
func (s *solver) addHolds() error {
	names := make([]string, 0, len(s.opts.Held))
	for name, held := range s.opts.Held {
		if held && s.opts.Installed[name] != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		id, err := s.intern(name)
		if err != nil {
			return err
		}
		info := s.pkgs[id]
		n := len(info.versions)
		text := s.opts.Installed[name].String()
		if info.installed < 0 {
			if n > 0 {
				s.addIncompat(&incompat{terms: []term{{id, true, fullSet(n)}}, kind: causeHeldMissing, held: text})
			}
			continue
		}
		if other := singleSet(info.installed).complement(n); !other.isEmpty() {
			s.addIncompat(&incompat{terms: []term{{id, true, other}}, kind: causeHeld, held: text})
		}
	}
	return nil
}

// loadDeps returns the incompatibilities for one version of p, reading
// the package from the Universe the first time.
func (s *solver) loadDeps(p pkgID, idx int) ([]*incompat, error) {
	info := s.pkgs[p]
	if info.depsLoaded[idx] {
		return info.deps[idx], nil
	}
	self := term{p, true, singleSet(idx)}
	var out, fresh []*incompat
	add := func(dep Dep, kind, missingKind causeKind) error {
		inc, err := s.depIncompat(self, dep, kind, missingKind)
		if err != nil {
			return err
		}
		if inc != nil {
			out = append(out, inc)
			fresh = append(fresh, inc)
		}
		return nil
	}
	addShared := func(dep Dep, build bool) error {
		inc, isNew, err := s.sharedDepIncompat(p, idx, dep, build)
		if err != nil {
			return err
		}
		if inc != nil {
			out = append(out, inc)
			if isNew {
				fresh = append(fresh, inc)
			}
		}
		return nil
	}
	switch info.kind {
	case kindRoot:
		for _, r := range s.reqs {
			kind := causeRequest
			if r.Installed {
				kind = causeKeep
			}
			if err := add(Dep{{Name: r.Name, Constraint: r.Constraint}}, kind, causeRequestMissing); err != nil {
				return nil, err
			}
		}
	case kindAlt:
		c := info.choices[idx]
		inc := &incompat{terms: []term{self, {c.pkg, false, c.set}}, kind: causeAlt}
		out = append(out, inc)
		fresh = append(fresh, inc)
	case kindReal:
		pkg, err := s.readPackage(p, idx)
		if err != nil {
			return nil, err
		}
		for _, d := range pkg.Run {
			if err := addShared(d, false); err != nil {
				return nil, err
			}
		}
		if s.needsBuild(info, idx) {
			info.build[idx] = true
			for _, d := range pkg.buildDeps(s.opts) {
				if err := addShared(d, true); err != nil {
					return nil, err
				}
			}
		}
		for _, c := range pkg.Conflicts {
			cs, err := s.expand(c)
			if err != nil {
				return nil, err
			}
			for _, ch := range cs {
				if ch.pkg == p {
					continue // a package never conflicts with itself
				}
				inc := &incompat{terms: []term{self, {ch.pkg, true, ch.set}}, kind: causeConflict, label: ch.label}
				out = append(out, inc)
				fresh = append(fresh, inc)
			}
		}
	}
	for _, inc := range fresh {
		s.addIncompat(inc)
	}
	info.deps[idx] = out
	info.depsLoaded[idx] = true
	return out, nil
}

// readPackage reads one version of a real package from the Universe, once.
func (s *solver) readPackage(p pkgID, idx int) (*Package, error) {
	info := s.pkgs[p]
	if info.read == nil {
		info.read = make([]*Package, len(info.versions))
	}
	if pkg := info.read[idx]; pkg != nil {
		return pkg, nil
	}
	v := info.versions[idx]
	pkg, err := s.u.Package(info.name, v)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", info.name, v, err)
	}
	if pkg == nil {
		return nil, fmt.Errorf("reading %s %s: the universe lists this version but has no package for it", info.name, v)
	}
	info.read[idx] = pkg
	return pkg, nil
}

// sharedDepIncompat is the incompatibility for one dependency of p at idx,
// stated for every neighbouring version that declares the same
// dependency, as pub does: "every version of lib9 depends on lib0 <2"
// rather than one incompatibility per version. A conflict learned from one
// version then rules out the whole run at once, where per-version
// incompatibilities make the solver try the versions one by one (the
// version chain of cmd/lpm-solvebench takes a conflict per version of
// every package in the chain). The run is the longest stretch of
// consecutive versions around idx with an equal dependency (same terms,
// same constraint text) of the same kind; for build dependencies, every
// version in it must also need a build. A dependency on p itself stays per
// version. isNew is false when an earlier version already added the same
// incompatibility.
func (s *solver) sharedDepIncompat(p pkgID, idx int, dep Dep, build bool) (inc *incompat, isNew bool, err error) {
	kind, missingKind := causeDep, causeDepMissing
	if build {
		kind, missingKind = causeBuildDep, causeBuildDepMissing
	}
	info := s.pkgs[p]
	key := depKey(dep, build)
	for _, inc := range info.shared[key] {
		if inc.terms[0].set.contains(idx) {
			return inc, false, nil
		}
	}
	choices, display, err := s.depChoices(dep)
	if err != nil {
		return nil, false, err
	}
	set := singleSet(idx)
	self := false
	for _, c := range choices {
		self = self || c.pkg == p
	}
	if !self {
		lo, hi := idx, idx+1
		for lo > 0 {
			same, err := s.declares(p, lo-1, key, build)
			if err != nil {
				return nil, false, err
			}
			if !same {
				break
			}
			lo--
		}
		for hi < len(info.versions) {
			same, err := s.declares(p, hi, key, build)
			if err != nil {
				return nil, false, err
			}
			if !same {
				break
			}
			hi++
		}
		set = vset{{int32(lo), int32(hi)}}
	}
	inc = s.choicesIncompat(term{p, true, set}, dep, choices, display, kind, missingKind)
	if inc == nil {
		return nil, false, nil
	}
	if set.single() < 0 {
		if info.shared == nil {
			info.shared = map[string][]*incompat{}
		}
		info.shared[key] = append(info.shared[key], inc)
	}
	return inc, true, nil
}

// declares reports whether version idx of p has the dependency with key
// (depKey), and for a build dependency, also needs a build.
func (s *solver) declares(p pkgID, idx int, key string, build bool) (bool, error) {
	info := s.pkgs[p]
	if build && !s.needsBuild(info, idx) {
		return false, nil
	}
	pkg, err := s.readPackage(p, idx)
	if err != nil {
		return false, err
	}
	deps := pkg.Run
	if build {
		deps = pkg.buildDeps(s.opts)
	}
	for _, d := range deps {
		if depKey(d, build) == key {
			return true, nil
		}
	}
	return false, nil
}

// depKey identifies a dependency by its text and kind.
func depKey(dep Dep, build bool) string {
	var b strings.Builder
	if build {
		b.WriteString("build:")
	}
	for i, t := range dep {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(t.String())
	}
	return b.String()
}

// needsBuild applies Options.NeedsBuild, except that a package kept at its
// installed version is never built.
func (s *solver) needsBuild(info *pkgInfo, idx int) bool {
	if s.opts.NeedsBuild == nil {
		return false
	}
	if idx == info.installed && !s.opts.Reinstall[info.name] {
		return false
	}
	return s.opts.NeedsBuild(info.name, info.versions[idx])
}

func (s *solver) addIncompat(inc *incompat) {
	for _, t := range inc.terms {
		info := s.pkgs[t.pkg]
		info.incompats = append(info.incompats, inc)
	}
	inc.fresh = true
}

// --- partial solution ---

func (s *solver) assign(t term, cause *incompat) {
	info := s.pkgs[t.pkg]
	if !info.touched {
		info.touched = true
		s.touched = append(s.touched, t.pkg)
	}
	acc := t
	if prev, ok := info.state(); ok {
		acc = intersectTerms(prev, t)
	}
	info.positions = append(info.positions, int32(len(s.assigns)))
	info.accs = append(info.accs, acc)
	s.assigns = append(s.assigns, assignment{t, s.level, cause})
	if cause == nil {
		info.decided = t.set.single()
	}
}

func (s *solver) decideVersion(p pkgID, idx int) {
	s.level++
	s.assign(term{p, true, singleSet(idx)}, nil)
}

func (s *solver) backtrack(level int32) {
	for len(s.assigns) > 0 && s.assigns[len(s.assigns)-1].level > level {
		a := s.assigns[len(s.assigns)-1]
		s.assigns = s.assigns[:len(s.assigns)-1]
		info := s.pkgs[a.t.pkg]
		info.positions = info.positions[:len(info.positions)-1]
		info.accs = info.accs[:len(info.accs)-1]
		if a.cause == nil {
			info.decided = -1 // a package is decided once, so this was it
		}
	}
	s.level = level
}

// relation compares the partial solution with t.
func (s *solver) relation(t term) relation {
	acc, ok := s.pkgs[t.pkg].state()
	if !ok {
		// Nothing is known: every outcome is still possible.
		if t.isEmpty() {
			return relContradicted
		}
		if !t.pos && t.set.isEmpty() {
			return relSatisfied
		}
		return relInconclusive
	}
	if satisfies(acc, t) {
		return relSatisfied
	}
	if disjointTerms(acc, t) {
		return relContradicted
	}
	return relInconclusive
}

// satisfier is the index of the earliest assignment at which the
// partial solution satisfies t.
func (s *solver) satisfier(t term) (int, error) {
	info := s.pkgs[t.pkg]
	k := sort.Search(len(info.accs), func(k int) bool { return satisfies(info.accs[k], t) })
	if k == len(info.accs) {
		return -1, fmt.Errorf("resolver bug: no assignment satisfies a term about %s", info.name)
	}
	return int(info.positions[k]), nil
}

// --- the algorithm ---

type checkResult uint8

const (
	checkNone checkResult = iota
	checkAlmost
	checkConflict
)

// check tells whether inc is satisfied (a conflict), almost satisfied
// (all terms but one; that one is returned) or neither.
func (s *solver) check(inc *incompat) (checkResult, term) {
	unsat := -1
	for i, t := range inc.terms {
		switch s.relation(t) {
		case relContradicted:
			return checkNone, term{}
		case relInconclusive:
			if unsat >= 0 {
				return checkNone, term{}
			}
			unsat = i
		}
	}
	if unsat < 0 {
		return checkConflict, term{}
	}
	return checkAlmost, inc.terms[unsat]
}

// propagate is unit propagation starting from one changed package.
//
// An incompatibility can become almost satisfied, or satisfied, only when
// one of its terms becomes satisfied: so when a package changes, only the
// incompatibilities whose term about it is now satisfied are looked at
// (what watched literals buy a SAT solver), and those not looked at since
// they were added (a version's dependencies, a learned one: fresh).
// Everything else that could derive something did so when it last
// changed.
func (s *solver) propagate(start pkgID) error {
	queue := []pkgID{start}
	s.pkgs[start].queued = true
	for head := 0; head < len(queue); head++ {
		p := queue[head]
		s.pkgs[p].queued = false
		incs := s.pkgs[p].incompats
		for i := len(incs) - 1; i >= 0; i-- {
			inc := incs[i]
			if !inc.fresh && s.relation(inc.termOf(p)) != relSatisfied {
				continue
			}
			inc.fresh = false
			res, t := s.check(inc)
			if res == checkNone {
				continue
			}
			if res == checkConflict {
				root, err := s.resolveConflict(inc)
				if err != nil {
					return err
				}
				res2, t2 := s.check(root)
				if res2 != checkAlmost {
					return errors.New("resolver bug: a learned incompatibility is not almost satisfied after backjumping")
				}
				s.assign(t2.negate(), root)
				for _, q := range queue[head+1:] {
					s.pkgs[q].queued = false
				}
				queue = append(queue[:head+1], t2.pkg)
				s.pkgs[t2.pkg].queued = true
				break
			}
			s.assign(t.negate(), inc)
			if !s.pkgs[t.pkg].queued {
				s.pkgs[t.pkg].queued = true
				queue = append(queue, t.pkg)
			}
		}
	}
	return nil
}

func (s *solver) isFailure(inc *incompat) bool {
	return len(inc.terms) == 0 || (len(inc.terms) == 1 && inc.terms[0].pkg == rootID && inc.terms[0].pos)
}

// resolveConflict learns the root cause of a satisfied incompatibility
// and backjumps; it returns an incompatibility that is then almost
// satisfied, or an *UnsatError.
func (s *solver) resolveConflict(inc *incompat) (*incompat, error) {
	learned := false
	for !s.isFailure(inc) {
		mostRecent := -1
		var mostRecentTerm term
		var difference term
		hasDifference := false
		prevLevel := int32(1)
		for _, t := range inc.terms {
			sat, err := s.satisfier(t)
			if err != nil {
				return nil, err
			}
			switch {
			case mostRecent < 0:
				mostRecent, mostRecentTerm = sat, t
			case mostRecent < sat:
				prevLevel = max(prevLevel, s.assigns[mostRecent].level)
				mostRecent, mostRecentTerm = sat, t
				hasDifference = false
			default:
				prevLevel = max(prevLevel, s.assigns[sat].level)
			}
			if mostRecentTerm.pkg == t.pkg && mostRecent == sat {
				d := differenceTerms(s.assigns[mostRecent].t, mostRecentTerm)
				hasDifference = !d.isEmpty()
				if hasDifference {
					difference = d
					ds, err := s.satisfier(d.negate())
					if err != nil {
						return nil, err
					}
					prevLevel = max(prevLevel, s.assigns[ds].level)
				}
			}
		}
		sat := s.assigns[mostRecent]
		if sat.cause == nil || prevLevel < sat.level {
			if learned {
				s.addIncompat(inc)
			}
			s.backtrack(prevLevel)
			return inc, nil
		}
		var terms []term
		for _, t := range inc.terms {
			if t.pkg != sat.t.pkg {
				terms = append(terms, t)
			}
		}
		for _, t := range sat.cause.terms {
			if t.pkg != sat.t.pkg {
				terms = append(terms, t)
			}
		}
		if hasDifference {
			terms = append(terms, difference.negate())
		}
		inc = s.derived(terms, inc, sat.cause)
		learned = true
	}
	return nil, &UnsatError{Explanation: s.explain(inc), Hint: s.hint(inc)}
}

// derived builds a learned incompatibility: terms about the same package
// are intersected, and the root's positive term is dropped because it is
// always true.
func (s *solver) derived(terms []term, cause1, cause2 *incompat) *incompat {
	if len(terms) != 1 {
		kept := terms[:0:0]
		for _, t := range terms {
			if !(t.pkg == rootID && t.pos) {
				kept = append(kept, t)
			}
		}
		terms = kept
	}
	var merged []term
outer:
	for _, t := range terms {
		for i := range merged {
			if merged[i].pkg == t.pkg {
				merged[i] = intersectTerms(merged[i], t)
				continue outer
			}
		}
		merged = append(merged, t)
	}
	return &incompat{terms: merged, kind: causeDerived, cause1: cause1, cause2: cause2}
}

// decide picks the undecided package with a positive derivation and the
// fewest allowed versions, chooses a version and adds its dependencies.
func (s *solver) decide() (pkgID, bool, error) {
	best := pkgID(-1)
	bestCount := 0
	for _, p := range s.touched {
		info := s.pkgs[p]
		acc, ok := info.state()
		if info.decided >= 0 || !ok || !acc.pos {
			continue
		}
		c := acc.set.count()
		if best < 0 || c < bestCount || (c == bestCount && p < best) {
			best, bestCount = p, c
		}
	}
	if best < 0 {
		return 0, true, nil
	}
	info := s.pkgs[best]
	acc, _ := info.state()
	allowed := acc.set
	if allowed.isEmpty() {
		s.addIncompat(&incompat{terms: []term{acc}, kind: causeNoVersions})
		return best, false, nil
	}
	idx := s.pickVersion(best, allowed)
	incs, err := s.loadDeps(best, idx)
	if err != nil {
		return 0, false, err
	}
	conflict := false
	for _, inc := range incs {
		all := true
		for _, t := range inc.terms {
			if t.pkg != best && s.relation(t) != relSatisfied {
				all = false
				break
			}
		}
		if all {
			// Propagation derives that best cannot be idx from it; it may
			// have been loaded long ago, so it is looked at again.
			conflict = true
			inc.fresh = true
			break
		}
	}
	if !conflict {
		s.decideVersion(best, idx)
	}
	return best, false, nil
}

// pickVersion is the preference order: for a port, the installed version
// unless it is being upgraded, else the newest allowed; for alternatives,
// one that is already chosen, then one already required, then one that is
// installed, then the first one not ruled out.
func (s *solver) pickVersion(p pkgID, allowed vset) int {
	info := s.pkgs[p]
	switch info.kind {
	case kindRoot:
		return 0
	case kindReal:
		if info.installed >= 0 && allowed.contains(info.installed) && !s.upgrading(info.name) {
			return info.installed
		}
		return allowed.last()
	}
	var idxs []int
	for _, r := range allowed {
		for i := r.lo; i < r.hi; i++ {
			idxs = append(idxs, int(i))
		}
	}
	for _, i := range idxs {
		if s.relation(term{info.choices[i].pkg, true, info.choices[i].set}) == relSatisfied {
			return i
		}
	}
	for _, i := range idxs {
		c := info.choices[i]
		if acc, ok := s.pkgs[c.pkg].state(); ok && acc.pos && !acc.set.disjoint(c.set) {
			return i
		}
	}
	for _, i := range idxs {
		c := info.choices[i]
		if ci := s.pkgs[c.pkg]; ci.installed >= 0 && c.set.contains(ci.installed) &&
			s.relation(term{c.pkg, true, c.set}) != relContradicted {
			return i
		}
	}
	for _, i := range idxs {
		c := info.choices[i]
		if s.relation(term{c.pkg, true, c.set}) != relContradicted {
			return i
		}
	}
	return idxs[0]
}

func (s *solver) upgrading(name string) bool {
	return s.opts.Upgrade[name] || s.opts.UpgradeAll && !s.opts.Provided[name]
}

func (s *solver) solution() *Solution {
	sol := &Solution{}
	for _, p := range s.touched {
		info := s.pkgs[p]
		if info.kind != kindReal || info.decided < 0 {
			continue
		}
		sol.Selected = append(sol.Selected, Selected{
			Name:    info.name,
			Version: info.versions[info.decided],
			Build:   info.build[info.decided],
		})
	}
	sort.Slice(sol.Selected, func(i, j int) bool { return sol.Selected[i].Name < sol.Selected[j].Name })
	return sol
}
