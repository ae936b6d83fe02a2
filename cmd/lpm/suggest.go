package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
)

// unknownName is the error for a name that is neither a port nor an
// installed package, with the close names a typo could have meant.
func unknownName(name string, tree *ports.Tree, db *pkgdb.DB) error {
	names := tree.Names()
	if pkgs, err := db.Packages(); err == nil {
		for _, p := range pkgs {
			names = append(names, p.Name)
		}
	}
	msg := fmt.Sprintf("no port or installed package is named %s", name)
	if close := closeNames(name, names); len(close) > 0 {
		msg += "; did you mean " + strings.Join(close, " or ") + "?"
	} else {
		msg += "; lpm search TEXT finds ports"
	}
	return fmt.Errorf("%s", msg)
}

// closeNames returns the candidates within a few edits of name (a third
// of its length, at least one), nearest first, at most three.
func closeNames(name string, candidates []string) []string {
	limit := max(1, len(name)/3)
	type near struct {
		name string
		d    int
	}
	var found []near
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		if d := editDistance(name, c); d <= limit {
			found = append(found, near{c, d})
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].d != found[j].d {
			return found[i].d < found[j].d
		}
		return found[i].name < found[j].name
	})
	var out []string
	for i := 0; i < len(found) && i < 3; i++ {
		out = append(out, found[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
