package resolver

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// An UnsatError says that no set of package versions satisfies the
// request. Error() is the whole explanation: numbered where a later line
// refers back to an earlier one, one sentence per line.
type UnsatError struct {
	// Explanation is the human-readable chain of causes, one line per
	// derivation, without a trailing newline.
	Explanation string
	// Hint is one line on what the user can do: release a hold, ask for
	// a version that exists, add or change a port.
	Hint string
}

func (e *UnsatError) Error() string {
	if e.Hint == "" {
		return e.Explanation
	}
	return e.Explanation + "\n" + e.Hint
}

// hint collects, from the external causes of the failure, what the user
// can change, as one line that ends the explanation.
func (s *solver) hint(root *incompat) string {
	var todo []string
	seenTodo := map[string]bool{}
	add := func(format string, args ...any) {
		if t := fmt.Sprintf(format, args...); !seenTodo[t] {
			seenTodo[t] = true
			todo = append(todo, t)
		}
	}
	seen := map[*incompat]bool{}
	var walk func(inc *incompat)
	walk = func(inc *incompat) {
		if seen[inc] {
			return
		}
		seen[inc] = true
		if inc.isDerived() {
			walk(inc.cause1)
			walk(inc.cause2)
			return
		}
		switch inc.kind {
		case causeHeld, causeHeldMissing:
			name := s.heldName(inc)
			add("release the hold on %s (lpm hold --release %s)", name, name)
		case causeRequestMissing:
			for _, name := range missingNames(inc.missing) {
				if have := s.versionList(name); have != "" {
					add("ask for a version of %s that exists (%s)", name, have)
				} else {
					add("add a port named %s or check the name (lpm search %s)", name, name)
				}
			}
		case causeDepMissing, causeBuildDepMissing:
			owner := s.pkgs[inc.terms[0].pkg].name
			for _, name := range missingNames(inc.missing) {
				if have := s.versionList(name); have != "" {
					add("change %s's port, which needs %s (%s has %s)", owner, inc.missing, name, have)
				} else {
					add("add a port that is or provides %s, or change %s's port", name, owner)
				}
			}
		case causeKeep:
			name := s.pkgs[inc.terms[1].pkg].name
			add("upgrade or remove the installed %s along with it", name)
		case causeConflict:
			add("ask for only one of %s and %s", s.pkgs[inc.terms[0].pkg].name, s.pkgs[inc.terms[1].pkg].name)
		case causeRequest:
			// Only a request that named versions can name others.
			t := inc.terms[1]
			if info := s.pkgs[t.pkg]; info.kind == kindReal && !t.set.isFull(len(info.versions)) {
				if have := s.versionList(info.name); have != "" {
					add("ask for another version of %s (%s)", info.name, have)
				}
			}
		}
	}
	walk(root)
	if len(todo) == 0 {
		return "your request cannot be satisfied: change the request or the ports named above"
	}
	return "your request cannot be satisfied: " + strings.Join(todo, ", or ")
}

// missingNames are the package names of a dependency as the port wrote
// it ("a >=1 | b").
func missingNames(display string) []string {
	var names []string
	for _, alt := range strings.Split(display, " | ") {
		if f := strings.Fields(alt); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// versionList names the newest available versions of a package, "" when
// there are none.
func (s *solver) versionList(name string) string {
	id, ok := s.byName[name]
	if !ok {
		return ""
	}
	vs := s.pkgs[id].versions
	var out []string
	for i := len(vs) - 1; i >= 0 && len(out) < 5; i-- {
		out = append(out, s.versionName(name, vs[i]))
	}
	if len(out) == 0 {
		return ""
	}
	text := strings.Join(out, ", ")
	if len(vs) > len(out) {
		text += fmt.Sprintf(" and %d older", len(vs)-len(out))
	}
	return text
}

// explain renders the derivation graph of the failure incompatibility,
// following the error reporting algorithm of Dart pub's solver.md.
func (s *solver) explain(root *incompat) string {
	r := &reporter{s: s, root: root, derivations: map[*incompat]int{}, lineNumbers: map[*incompat]int{}}
	if !root.isDerived() {
		return "Because " + s.incString(root) + ", " + s.incString(&incompat{kind: causeDerived}) + "."
	}
	r.count(root)
	r.visit(root, false)
	width := 0
	if n := len(r.lineNumbers); n > 0 {
		width = len(fmt.Sprintf("(%d) ", n))
	}
	var b strings.Builder
	lastEmpty := false
	for _, l := range r.lines {
		if l.msg == "" {
			if !lastEmpty && b.Len() > 0 {
				b.WriteString("\n")
			}
			lastEmpty = true
			continue
		}
		lastEmpty = false
		prefix := strings.Repeat(" ", width)
		if l.num > 0 {
			p := fmt.Sprintf("(%d) ", l.num)
			prefix = p + strings.Repeat(" ", width-len(p))
		}
		b.WriteString(prefix)
		b.WriteString(l.msg)
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

type reportLine struct {
	msg string
	num int
}

type reporter struct {
	s           *solver
	root        *incompat
	derivations map[*incompat]int // lookup only
	lineNumbers map[*incompat]int // lookup only
	lines       []reportLine
}

func (r *reporter) count(inc *incompat) {
	if _, ok := r.derivations[inc]; ok {
		r.derivations[inc]++
		return
	}
	r.derivations[inc] = 1
	if inc.isDerived() {
		r.count(inc.cause1)
		r.count(inc.cause2)
	}
}

func (r *reporter) write(inc *incompat, msg string, numbered bool) {
	if numbered {
		n := len(r.lineNumbers) + 1
		r.lineNumbers[inc] = n
		r.lines = append(r.lines, reportLine{msg, n})
		return
	}
	r.lines = append(r.lines, reportLine{msg, 0})
}

func isSingleLine(inc *incompat) bool {
	return !inc.cause1.isDerived() && !inc.cause2.isDerived()
}

func (r *reporter) isCollapsible(inc *incompat) bool {
	if r.derivations[inc] > 1 {
		return false
	}
	c1, c2 := inc.cause1, inc.cause2
	if c1.isDerived() == c2.isDerived() {
		return false
	}
	complex := c1
	if !c1.isDerived() {
		complex = c2
	}
	_, numbered := r.lineNumbers[complex]
	return !numbered
}

func (r *reporter) visit(inc *incompat, conclusion bool) {
	s := r.s
	numbered := conclusion || r.derivations[inc] > 1
	conjunction := "And"
	if conclusion || inc == r.root {
		conjunction = "So,"
	}
	text := s.incString(inc)
	c1, c2 := inc.cause1, inc.cause2
	switch {
	case c1.isDerived() && c2.isDerived():
		l1, ok1 := r.lineNumbers[c1]
		l2, ok2 := r.lineNumbers[c2]
		switch {
		case ok1 && ok2:
			r.write(inc, "Because "+s.andString(c1, c2, l1, l2)+", "+text+".", numbered)
		case ok1 || ok2:
			with, without, line := c1, c2, l1
			if !ok1 {
				with, without, line = c2, c1, l2
			}
			r.visit(without, false)
			r.write(inc, fmt.Sprintf("%s because %s (%d), %s.", conjunction, s.incString(with), line, text), numbered)
		default:
			single1, single2 := isSingleLine(c1), isSingleLine(c2)
			if single1 || single2 {
				first, second := c1, c2
				if !single2 {
					first, second = c2, c1
				}
				r.visit(first, false)
				r.visit(second, false)
				r.write(inc, "Thus, "+text+".", numbered)
			} else {
				r.visit(c1, true)
				r.lines = append(r.lines, reportLine{})
				r.visit(c2, false)
				r.write(inc, fmt.Sprintf("%s because %s (%d), %s.", conjunction, s.incString(c1), r.lineNumbers[c1], text), numbered)
			}
		}
	case c1.isDerived() || c2.isDerived():
		derived, ext := c1, c2
		if !c1.isDerived() {
			derived, ext = c2, c1
		}
		if line, ok := r.lineNumbers[derived]; ok {
			r.write(inc, "Because "+s.andString(ext, derived, 0, line)+", "+text+".", numbered)
		} else if r.isCollapsible(derived) {
			pd, pe := derived.cause1, derived.cause2
			if !pd.isDerived() {
				pd, pe = pe, pd
			}
			r.visit(pd, false)
			r.write(inc, conjunction+" because "+s.andString(pe, ext, 0, 0)+", "+text+".", numbered)
		} else {
			r.visit(derived, false)
			r.write(inc, conjunction+" because "+s.incString(ext)+", "+text+".", numbered)
		}
	default:
		r.write(inc, "Because "+s.andString(c1, c2, 0, 0)+", "+text+".", numbered)
	}
}

// terse renders a term in the user's words, ignoring its polarity (the
// sentence around it carries that).
func (s *solver) terse(t term, allowEvery bool) string {
	info := s.pkgs[t.pkg]
	switch info.kind {
	case kindRoot:
		return "you"
	case kindAlt:
		if t.set.isFull(len(info.choices)) {
			return info.name
		}
		var picked []string
		for _, r := range t.set {
			for i := r.lo; i < r.hi; i++ {
				picked = append(picked, info.choices[i].label)
			}
		}
		return info.name + " (using " + strings.Join(picked, " or ") + ")"
	}
	n := len(info.versions)
	full := t.set.isFull(n)
	if full && allowEvery && n > 1 {
		return "every version of " + info.name
	}
	if label, ok := info.labels[t.set.key()]; ok && !(full && allowEvery) {
		return label
	}
	if i := t.set.single(); i >= 0 {
		if i == info.installed {
			return "the installed " + info.name + " " + s.versionName(info.name, info.versions[i])
		}
		return info.name + " " + s.versionName(info.name, info.versions[i])
	}
	if full {
		return info.name
	}
	return info.name + " " + rangeStringNamed(info, t.set, func(v *semver.Version) string { return s.versionName(info.name, v) })
}

// A VersionNamer is a Universe that knows how its users write versions
// ("9.9p2" where the solver compares 9.9.2). Explanations use it when the
// Universe has it.
type VersionNamer interface {
	VersionName(name string, v *semver.Version) string
}

func (s *solver) versionName(name string, v *semver.Version) string {
	if vn, ok := s.u.(VersionNamer); ok {
		return vn.VersionName(name, v)
	}
	return v.String()
}

// heldVersion is the version a hold keeps, as the user knows it.
func (s *solver) heldVersion(inc *incompat) string {
	name := s.heldName(inc)
	if v := s.opts.Installed[name]; v != nil {
		return s.versionName(name, v)
	}
	return inc.held
}

// rangeString writes a version set as a constraint over the available
// versions, preferring "2.x" and "2.4.x" where the set is exactly that.
func rangeString(info *pkgInfo, set vset) string {
	return rangeStringNamed(info, set, (*semver.Version).String)
}

// rangeStringNamed is rangeString with versions written by name.
func rangeStringNamed(info *pkgInfo, set vset, name func(*semver.Version) string) string {
	vs := info.versions
	n := int32(len(vs))
	parts := make([]string, 0, len(set))
	for _, r := range set {
		first, last := vs[r.lo], vs[r.hi-1]
		sameMajor := func(i int32) bool { return vs[i].Major() == first.Major() }
		sameMinor := func(i int32) bool { return sameMajor(i) && vs[i].Minor() == first.Minor() }
		switch {
		case r.hi == r.lo+1:
			parts = append(parts, name(first))
		case first.Major() == last.Major() && (r.lo == 0 || !sameMajor(r.lo-1)) && (r.hi == n || !sameMajor(r.hi)):
			parts = append(parts, fmt.Sprintf("%d.x", first.Major()))
		case first.Major() == last.Major() && first.Minor() == last.Minor() &&
			(r.lo == 0 || !sameMinor(r.lo-1)) && (r.hi == n || !sameMinor(r.hi)):
			parts = append(parts, fmt.Sprintf("%d.%d.x", first.Major(), first.Minor()))
		case r.lo == 0:
			parts = append(parts, "<"+name(vs[r.hi]))
		case r.hi == n:
			parts = append(parts, ">="+name(first))
		default:
			parts = append(parts, ">="+name(first)+", <"+name(vs[r.hi]))
		}
	}
	return strings.Join(parts, " || ")
}

func (s *solver) heldName(inc *incompat) string {
	return s.pkgs[inc.terms[0].pkg].name
}

// incString is one incompatibility as a clause of a sentence.
func (s *solver) incString(inc *incompat) string {
	if inc.kind != causeRoot && s.isFailure(inc) && inc.kind != causeRequestMissing {
		return "your request cannot be satisfied"
	}
	switch inc.kind {
	case causeRequest, causeKeep, causeDep, causeBuildDep, causeAlt:
		return s.terse(inc.terms[0], true) + " " + inc.verb() + " " + s.termText(inc, inc.terms[1])
	case causeRequestMissing:
		return "you asked for " + inc.missing + ", which matches no available package"
	case causeDepMissing:
		return s.terse(inc.terms[0], true) + " depends on " + inc.missing + ", which matches no available package"
	case causeBuildDepMissing:
		return s.terse(inc.terms[0], true) + " build-depends on " + inc.missing + ", which matches no available package"
	case causeConflict:
		return s.terse(inc.terms[0], true) + " conflicts with " + s.termText(inc, inc.terms[1])
	case causeHeld:
		return s.heldName(inc) + " is held at " + s.heldVersion(inc)
	case causeHeldMissing:
		return s.heldName(inc) + " is held at " + s.heldVersion(inc) + ", which is no longer available"
	case causeNoVersions:
		return "no version of " + s.terse(inc.terms[0], false) + " is available"
	case causeRoot:
		return "the request must be solved"
	}
	terms := inc.terms
	if len(terms) == 1 {
		t := terms[0]
		if t.pos {
			return s.terse(t, true) + " is forbidden"
		}
		return s.terse(t, false) + " is required"
	}
	if len(terms) == 2 && terms[0].pos == terms[1].pos {
		if terms[0].pos {
			return s.terse(terms[0], true) + " is incompatible with " + s.terse(terms[1], false)
		}
		return "either " + s.terse(terms[0], false) + " or " + s.terse(terms[1], false) + " is required"
	}
	var pos, neg []string
	var firstPos term
	for _, t := range terms {
		if t.pos {
			if len(pos) == 0 {
				firstPos = t
			}
			pos = append(pos, s.terse(t, false))
		} else {
			neg = append(neg, s.terse(t, false))
		}
	}
	switch {
	case len(pos) == 1 && len(neg) > 0:
		return s.terse(firstPos, true) + " requires " + strings.Join(neg, " or ")
	case len(pos) > 0 && len(neg) > 0:
		return "if " + strings.Join(pos, " and ") + " then " + strings.Join(neg, " or ")
	case len(pos) > 0:
		return "one of " + strings.Join(pos, " or ") + " must be false"
	}
	return "one of " + strings.Join(neg, " or ") + " must be true"
}

// andString joins two incompatibilities into "a and b", using the
// shorter forms "x depends on both a and b", "x depends on a which
// depends on b" and "x depends on a which is forbidden" where they fit.
func (s *solver) andString(a, b *incompat, aLine, bLine int) string {
	if str, ok := s.requiresBoth(a, b, aLine, bLine); ok {
		return str
	}
	if str, ok := s.requiresThrough(a, b, aLine, bLine); ok {
		return str
	}
	if str, ok := s.requiresForbidden(a, b, aLine, bLine); ok {
		return str
	}
	return s.incString(a) + lineRef(aLine) + " and " + s.incString(b) + lineRef(bLine)
}

func lineRef(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d)", n)
}

// singleTerm returns the only term with the given polarity.
func singleTerm(inc *incompat, pos bool) (term, bool) {
	var found term
	n := 0
	for _, t := range inc.terms {
		if t.pos == pos {
			found = t
			n++
		}
	}
	return found, n == 1
}

func (s *solver) negatives(inc *incompat) string {
	var out []string
	for _, t := range inc.terms {
		if !t.pos {
			out = append(out, s.termText(inc, t))
		}
	}
	return strings.Join(out, " or ")
}

// termText is terse(t), except that the target of a dependency or
// conflict is written exactly as its port wrote it.
func (s *solver) termText(inc *incompat, t term) string {
	if !inc.isDerived() && inc.label != "" && len(inc.terms) == 2 && t.pkg == inc.terms[1].pkg {
		return inc.label
	}
	return s.terse(t, false)
}

func (s *solver) requiresBoth(a, b *incompat, aLine, bLine int) (string, bool) {
	if len(a.terms) == 1 || len(b.terms) == 1 {
		return "", false
	}
	ap, ok1 := singleTerm(a, true)
	bp, ok2 := singleTerm(b, true)
	if !ok1 || !ok2 || ap.pkg != bp.pkg || !ap.set.equal(bp.set) {
		return "", false
	}
	an, bn := s.negatives(a), s.negatives(b)
	if an == "" || bn == "" {
		return "", false
	}
	verb := "requires"
	if a.isDependencyLike() && a.kind == b.kind {
		verb = a.verb()
	}
	return s.terse(ap, true) + " " + verb + " both " + an + lineRef(aLine) + " and " + bn + lineRef(bLine), true
}

func (s *solver) requiresThrough(a, b *incompat, aLine, bLine int) (string, bool) {
	if len(a.terms) == 1 || len(b.terms) == 1 {
		return "", false
	}
	an, aHasNeg := singleTerm(a, false)
	bn, bHasNeg := singleTerm(b, false)
	ap, aHasPos := singleTerm(a, true)
	bp, bHasPos := singleTerm(b, true)
	var prior, latter *incompat
	var priorNeg term
	var priorLine, latterLine int
	switch {
	case aHasNeg && bHasPos && an.pkg == bp.pkg && satisfies(an.negate(), bp):
		prior, priorNeg, priorLine, latter, latterLine = a, an, aLine, b, bLine
	case bHasNeg && aHasPos && bn.pkg == ap.pkg && satisfies(bn.negate(), ap):
		prior, priorNeg, priorLine, latter, latterLine = b, bn, bLine, a, aLine
	default:
		return "", false
	}
	ln := s.negatives(latter)
	if ln == "" {
		return "", false
	}
	var b2 strings.Builder
	b2.WriteString(s.subject(prior))
	b2.WriteString(s.termText(prior, priorNeg) + lineRef(priorLine))
	b2.WriteString(" which " + latterVerb(latter) + " " + ln + lineRef(latterLine))
	return b2.String(), true
}

// subject opens a sentence about inc's requirement: "app 1.0.0 depends
// on ", "if a and b then ", or "you need ".
func (s *solver) subject(inc *incompat) string {
	var pos []term
	for _, t := range inc.terms {
		if t.pos {
			pos = append(pos, t)
		}
	}
	switch len(pos) {
	case 0:
		return "you need "
	case 1:
		return s.terse(pos[0], true) + " " + inc.verb() + " "
	}
	parts := make([]string, len(pos))
	for i, t := range pos {
		parts[i] = s.terse(t, false)
	}
	return "if " + strings.Join(parts, " and ") + " then "
}

// latterVerb is the verb in "... which depends on x".
func latterVerb(inc *incompat) string {
	switch inc.kind {
	case causeDep, causeBuildDep, causeAlt:
		return inc.verb()
	}
	return "requires"
}

func (s *solver) requiresForbidden(a, b *incompat, aLine, bLine int) (string, bool) {
	if len(a.terms) != 1 && len(b.terms) != 1 {
		return "", false
	}
	prior, latter, priorLine, latterLine := a, b, aLine, bLine
	if len(a.terms) == 1 {
		prior, latter, priorLine, latterLine = b, a, bLine, aLine
	}
	// The forbidden term must be about the package prior requires: "app
	// depends on libmid, which is forbidden" only if libmid is.
	neg, ok := singleTerm(prior, false)
	if !ok || neg.pkg != latter.terms[0].pkg || !satisfies(neg.negate(), latter.terms[0]) {
		return "", false
	}
	var b2 strings.Builder
	b2.WriteString(s.subject(prior))
	b2.WriteString(s.termText(prior, neg) + lineRef(priorLine))
	switch latter.kind {
	case causeNoVersions:
		b2.WriteString(", which matches no available version")
	case causeHeld:
		b2.WriteString(", but " + s.heldName(latter) + " is held at " + s.heldVersion(latter))
	case causeHeldMissing:
		b2.WriteString(", but " + s.heldName(latter) + " is held at " + s.heldVersion(latter) + ", which is no longer available")
	case causeDepMissing:
		b2.WriteString(" which depends on " + latter.missing + ", which matches no available package")
	case causeBuildDepMissing:
		b2.WriteString(" which build-depends on " + latter.missing + ", which matches no available package")
	default:
		b2.WriteString(" which is forbidden" + lineRef(latterLine))
	}
	return b2.String(), true
}
