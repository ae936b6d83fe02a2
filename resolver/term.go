package resolver

// pkgID is an interned package: a real port, the root (the user's
// request) or a synthetic "one of these alternatives" package.
type pkgID int32

// A term is a statement about one package. A positive term "p in S" is
// true when p is selected at a version in S. A negative term "not p in
// S" is true when p is not selected at all or selected outside S. The
// possible outcomes of a package are thus its versions plus "absent", and
// a negative term always contains "absent".
type term struct {
	pkg pkgID
	pos bool
	set vset
}

func (t term) negate() term { return term{t.pkg, !t.pos, t.set} }

// isEmpty reports whether no outcome satisfies t. Only a positive term
// over the empty set is empty: a negative one still allows "absent".
func (t term) isEmpty() bool { return t.pos && t.set.isEmpty() }

// intersectTerms is a ∩ b for two terms about the same package.
func intersectTerms(a, b term) term {
	switch {
	case a.pos && b.pos:
		return term{a.pkg, true, a.set.intersect(b.set)}
	case a.pos:
		return term{a.pkg, true, a.set.minus(b.set)}
	case b.pos:
		return term{a.pkg, true, b.set.minus(a.set)}
	default:
		return term{a.pkg, false, a.set.union(b.set)}
	}
}

// differenceTerms is a \ b.
func differenceTerms(a, b term) term { return intersectTerms(a, b.negate()) }

// satisfies reports a ⊆ b: whenever a holds, b holds.
func satisfies(a, b term) bool {
	switch {
	case a.pos && b.pos:
		return a.set.subsetOf(b.set)
	case a.pos:
		return a.set.disjoint(b.set)
	case b.pos:
		return false // a allows "absent", b does not
	default:
		return b.set.subsetOf(a.set)
	}
}

// disjointTerms reports a ∩ b = ∅: a and b can never hold together.
func disjointTerms(a, b term) bool {
	switch {
	case a.pos && b.pos:
		return a.set.disjoint(b.set)
	case a.pos:
		return a.set.subsetOf(b.set)
	case b.pos:
		return b.set.subsetOf(a.set)
	default:
		return false // both allow "absent"
	}
}

type relation uint8

const (
	relInconclusive relation = iota
	relSatisfied
	relContradicted
)

// causeKind says where an incompatibility comes from; it decides the
// sentence used to explain it.
type causeKind uint8

const (
	causeRoot            causeKind = iota // {not root}: the request must be solved
	causeRequest                          // {root, not target}: the user asked for target
	causeKeep                             // {root, not target}: target is installed and stays
	causeRequestMissing                   // {root}: the user asked for something that does not exist
	causeDep                              // {p v, not target}: run dependency
	causeBuildDep                         // {p v, not target}: build dependency
	causeDepMissing                       // {p v}: run dependency on nothing available
	causeBuildDepMissing                  // {p v}: build dependency on nothing available
	causeAlt                              // {alt i, not target}: choosing alternative i means installing it
	causeConflict                         // {p v, q S}: declared conflict
	causeHeld                             // {p other than held}: lpm hold
	causeHeldMissing                      // {p}: held version no longer available
	causeNoVersions                       // {p S}: nothing in S can be chosen
	causeDerived                          // learned from cause1 and cause2
)

// An incompatibility is a set of terms that must not all be true.
type incompat struct {
	terms          []term
	kind           causeKind
	cause1, cause2 *incompat // causeDerived only
	// missing is the user's spelling of a dependency that matches
	// nothing (causeRequestMissing, causeDepMissing, causeBuildDepMissing).
	missing string
	// held is the held version's text (causeHeld, causeHeldMissing).
	held string
	// label is the user's spelling of the second term of an external
	// two-term incompatibility (the dependency or the conflict).
	label string
	// fresh marks an incompatibility propagation has not looked at whole
	// since it was added (see solver.propagate).
	fresh bool
}

func (inc *incompat) isDerived() bool { return inc.kind == causeDerived }

// termOf is inc's term about p; inc must mention p (each package appears
// in at most one term of an incompatibility).
func (inc *incompat) termOf(p pkgID) term {
	for _, t := range inc.terms {
		if t.pkg == p {
			return t
		}
	}
	panic("resolver bug: an incompatibility is listed under a package it does not mention")
}

// isDependencyLike reports whether inc reads as "X <verb> Y".
func (inc *incompat) isDependencyLike() bool {
	switch inc.kind {
	case causeRequest, causeKeep, causeDep, causeBuildDep, causeAlt:
		return true
	}
	return false
}

// verb is how a dependency-like incompatibility joins its two terms.
func (inc *incompat) verb() string {
	switch inc.kind {
	case causeRequest:
		return "asked for"
	case causeKeep:
		return "have installed"
	case causeDep:
		return "depends on"
	case causeBuildDep:
		return "build-depends on"
	case causeAlt:
		return "needs"
	}
	return "requires"
}
