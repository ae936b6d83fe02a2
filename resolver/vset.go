package resolver

import (
	"strconv"
	"strings"
)

// A vrun is the half-open interval [lo, hi) of version indexes.
type vrun struct{ lo, hi int32 }

// A vset is a set of version indexes of one package: sorted, disjoint,
// non-adjacent runs. Inside the solver every version range is a vset, so
// range algebra is integer arithmetic and never re-parses a constraint.
// The nil vset is empty. Operations never modify their operands.
type vset []vrun

// fullSet is every index of a package with n versions.
func fullSet(n int) vset {
	if n <= 0 {
		return nil
	}
	return vset{{0, int32(n)}}
}

// singleSet is the one index i.
func singleSet(i int) vset { return vset{{int32(i), int32(i) + 1}} }

func (s vset) isEmpty() bool { return len(s) == 0 }

// isFull reports whether s holds every index of a package with n versions.
func (s vset) isFull(n int) bool {
	return n > 0 && len(s) == 1 && s[0].lo == 0 && int(s[0].hi) == n
}

func (s vset) contains(i int) bool {
	for _, r := range s {
		if int32(i) < r.lo {
			return false
		}
		if int32(i) < r.hi {
			return true
		}
	}
	return false
}

// count is the number of indexes in s.
func (s vset) count() int {
	c := 0
	for _, r := range s {
		c += int(r.hi - r.lo)
	}
	return c
}

// single returns the only index of s, or -1 if s is not a singleton.
func (s vset) single() int {
	if len(s) == 1 && s[0].hi == s[0].lo+1 {
		return int(s[0].lo)
	}
	return -1
}

// last is the highest index in s, or -1 when s is empty.
func (s vset) last() int {
	if len(s) == 0 {
		return -1
	}
	return int(s[len(s)-1].hi) - 1
}

func (s vset) equal(t vset) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

func (s vset) intersect(t vset) vset {
	var out vset
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo := max(s[i].lo, t[j].lo)
		hi := min(s[i].hi, t[j].hi)
		if lo < hi {
			out = append(out, vrun{lo, hi})
		}
		if s[i].hi < t[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

func (s vset) union(t vset) vset {
	if len(s) == 0 {
		return t
	}
	if len(t) == 0 {
		return s
	}
	out := make(vset, 0, len(s)+len(t))
	i, j := 0, 0
	for i < len(s) || j < len(t) {
		var r vrun
		if j >= len(t) || (i < len(s) && s[i].lo <= t[j].lo) {
			r = s[i]
			i++
		} else {
			r = t[j]
			j++
		}
		if n := len(out); n > 0 && r.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// complement is every index of [0, n) not in s.
func (s vset) complement(n int) vset {
	var out vset
	prev := int32(0)
	for _, r := range s {
		if r.lo > prev {
			out = append(out, vrun{prev, r.lo})
		}
		prev = r.hi
	}
	if int32(n) > prev {
		out = append(out, vrun{prev, int32(n)})
	}
	return out
}

// minus is s without the indexes in t.
func (s vset) minus(t vset) vset {
	if len(t) == 0 || len(s) == 0 {
		return s
	}
	var out vset
	j := 0
	for _, r := range s {
		lo := r.lo
		for j < len(t) && t[j].hi <= lo {
			j++
		}
		k := j
		for k < len(t) && t[k].lo < r.hi {
			if t[k].lo > lo {
				out = append(out, vrun{lo, t[k].lo})
			}
			lo = max(lo, t[k].hi)
			k++
		}
		if lo < r.hi {
			out = append(out, vrun{lo, r.hi})
		}
	}
	return out
}

// subsetOf reports s ⊆ t without building s \ t: the runs of t are
// disjoint and non-adjacent, so each run of s must lie inside one of them.
func (s vset) subsetOf(t vset) bool {
	j := 0
	for _, r := range s {
		for j < len(t) && t[j].hi <= r.lo {
			j++
		}
		if j == len(t) || t[j].lo > r.lo || t[j].hi < r.hi {
			return false
		}
	}
	return true
}

func (s vset) disjoint(t vset) bool {
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		if max(s[i].lo, t[j].lo) < min(s[i].hi, t[j].hi) {
			return false
		}
		if s[i].hi < t[j].hi {
			i++
		} else {
			j++
		}
	}
	return true
}

// key is a compact text form of s, used to look up labels and to
// deduplicate alternatives.
func (s vset) key() string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(r.lo)))
		b.WriteByte('-')
		b.WriteString(strconv.Itoa(int(r.hi)))
	}
	return b.String()
}
