package resolver

import (
	"math/rand"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// fromBits builds a vset from a membership slice.
func fromBits(bits []bool) vset {
	var s vset
	for i, in := range bits {
		if !in {
			continue
		}
		if n := len(s); n > 0 && s[n-1].hi == int32(i) {
			s[n-1].hi++
		} else {
			s = append(s, vrun{int32(i), int32(i) + 1})
		}
	}
	return s
}

// wellFormed checks the vset invariant: sorted, non-empty, disjoint and
// non-adjacent runs within [0, n).
func wellFormed(s vset, n int) bool {
	for i, r := range s {
		if r.lo >= r.hi || r.lo < 0 || int(r.hi) > n {
			return false
		}
		if i > 0 && r.lo <= s[i-1].hi {
			return false
		}
	}
	return true
}

func TestVersionSetAlgebraAgreesWithMembership(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 5000; iter++ {
		n := rng.Intn(9)
		a, b := make([]bool, n), make([]bool, n)
		for i := 0; i < n; i++ {
			a[i], b[i] = rng.Intn(2) == 0, rng.Intn(2) == 0
		}
		sa, sb := fromBits(a), fromBits(b)
		ops := []struct {
			name string
			got  vset
			want func(x, y bool) bool
		}{
			{"intersect", sa.intersect(sb), func(x, y bool) bool { return x && y }},
			{"union", sa.union(sb), func(x, y bool) bool { return x || y }},
			{"minus", sa.minus(sb), func(x, y bool) bool { return x && !y }},
			{"complement", sa.complement(n), func(x, _ bool) bool { return !x }},
		}
		subset, disjoint := true, true
		for i := 0; i < n; i++ {
			if a[i] && !b[i] {
				subset = false
			}
			if a[i] && b[i] {
				disjoint = false
			}
		}
		for _, op := range ops {
			if !wellFormed(op.got, n) {
				t.Fatalf("%s of %v and %v is malformed: %v", op.name, sa, sb, op.got)
			}
			want := make([]bool, n)
			for i := range want {
				want[i] = op.want(a[i], b[i])
			}
			if !op.got.equal(fromBits(want)) {
				t.Fatalf("%s of %v and %v = %v, want %v", op.name, sa, sb, op.got, fromBits(want))
			}
		}
		if sa.subsetOf(sb) != subset {
			t.Fatalf("%v subsetOf %v = %v, want %v", sa, sb, !subset, subset)
		}
		if sa.disjoint(sb) != disjoint {
			t.Fatalf("%v disjoint %v = %v, want %v", sa, sb, !disjoint, disjoint)
		}
		for i := 0; i < n; i++ {
			if sa.contains(i) != a[i] {
				t.Fatalf("%v contains %d = %v", sa, i, !a[i])
			}
		}
	}
}

func TestVersionSetBasics(t *testing.T) {
	cases := []struct {
		name string
		got  any
		want any
	}{
		{"the full set of three versions is one run", fullSet(3).key(), "0-3"},
		{"the full set of no versions is empty", fullSet(0).isEmpty(), true},
		{"a single index is a singleton", singleSet(4).single(), 4},
		{"two runs are not a singleton", vset{{0, 1}, {2, 3}}.single(), -1},
		{"count adds run lengths", vset{{0, 2}, {3, 6}}.count(), 5},
		{"last is the highest index", vset{{0, 2}, {3, 6}}.last(), 5},
		{"the full set is recognised", vset{{0, 4}}.isFull(4), true},
		{"a prefix is not full", vset{{0, 3}}.isFull(4), false},
		{"union merges adjacent runs", vset{{0, 2}}.union(vset{{2, 4}}).key(), "0-4"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// Terms over the outcomes "absent" plus versions; check the term algebra
// against explicit outcome sets.
func TestTermAlgebraAgreesWithOutcomes(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	outcomes := func(tm term, n int) []bool { // index n is "absent"
		o := make([]bool, n+1)
		for i := 0; i < n; i++ {
			o[i] = tm.set.contains(i) == tm.pos
		}
		o[n] = !tm.pos
		return o
	}
	for iter := 0; iter < 5000; iter++ {
		n := 1 + rng.Intn(6)
		rnd := func() term {
			bits := make([]bool, n)
			for i := range bits {
				bits[i] = rng.Intn(2) == 0
			}
			return term{pkg: 1, pos: rng.Intn(2) == 0, set: fromBits(bits)}
		}
		a, b := rnd(), rnd()
		oa, ob := outcomes(a, n), outcomes(b, n)
		oi := outcomes(intersectTerms(a, b), n)
		sub, dis := true, true
		for i := 0; i <= n; i++ {
			if oi[i] != (oa[i] && ob[i]) {
				t.Fatalf("intersect %+v %+v wrong at outcome %d", a, b, i)
			}
			if oa[i] && !ob[i] {
				sub = false
			}
			if oa[i] && ob[i] {
				dis = false
			}
		}
		if satisfies(a, b) != sub {
			t.Fatalf("satisfies(%+v, %+v) = %v, want %v", a, b, !sub, sub)
		}
		if disjointTerms(a, b) != dis {
			t.Fatalf("disjointTerms(%+v, %+v) = %v, want %v", a, b, !dis, dis)
		}
	}
}

func TestRangesAreWrittenOverAvailableVersions(t *testing.T) {
	info := &pkgInfo{name: "lib"}
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0", "2.1.0", "2.2.0", "3.0.0"} {
		info.versions = append(info.versions, semver.MustParse(v))
	}
	cases := []struct {
		name string
		set  vset
		want string
	}{
		{"every 2.x version is written 2.x", vset{{2, 5}}, "2.x"},
		{"every 1.x version at the start is written 1.x", vset{{0, 2}}, "1.x"},
		{"a middle run gets both bounds", vset{{3, 5}}, ">=2.1.0, <3.0.0"},
		{"a run to the newest version has only a lower bound", vset{{1, 6}}, ">=1.1.0"},
		{"a run from the oldest version has only an upper bound", vset{{0, 3}}, "<2.1.0"},
		{"single versions are joined with ||", vset{{0, 1}, {5, 6}}, "1.0.0 || 3.0.0"},
	}
	for _, c := range cases {
		if got := rangeString(info, c.set); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
		if _, err := semver.NewConstraint(rangeString(info, c.set)); err != nil {
			t.Errorf("%s: %q is not a valid constraint: %v", c.name, rangeString(info, c.set), err)
		}
	}
}
