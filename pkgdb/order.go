package pkgdb

import (
	"slices"
	"sort"
	"strings"
)

// A dirGroup is one directory's entries among a package's records, first
// to end-1: records are stored grouped by directory ("usr/bin/" and its
// entries together), each group sorted by base name.
type dirGroup struct {
	dir        string // as splitPath gives it: "usr/bin/", "" for the root
	first, end int
}

// inPathOrder calls run with ranges of entries that, in the order of the
// calls, take every entry in bytewise path order. groups are a package's
// records as stored, each sorted by base name, and name(i) is entry i's.
// Bytewise order is not the stored order: "a/b" comes after "a-b" but
// before "a/c", so a directory's entries take turns with its
// subdirectories' trees. inPathOrder merges them, walking the tree of
// directories once and finding where each subdirectory goes among its
// parent's names by binary search, so it compares a few names per
// directory, not per entry. It reports false, without calling run, when a
// directory has two groups: the entries are not as stored.
func inPathOrder(groups []dirGroup, name func(i int) string, run func(first, end int)) bool {
	type node struct {
		dirGroup
		children []*node
	}
	nodes := make(map[string]*node, len(groups))
	slab := make([]node, 0, len(groups)) // nodes, allocated together
	var get func(dir string) *node
	get = func(dir string) *node {
		if n := nodes[dir]; n != nil {
			return n
		}
		if len(slab) == cap(slab) {
			slab = make([]node, 0, 64) // directories with no entries of their own
		}
		slab = append(slab, node{dirGroup: dirGroup{dir: dir}})
		n := &slab[len(slab)-1]
		nodes[dir] = n
		if dir != "" {
			// The parent is the directory without its last component;
			// it may have no entries of its own.
			parent := get(dir[:strings.LastIndexByte(dir[:len(dir)-1], '/')+1])
			parent.children = append(parent.children, n)
		}
		return n
	}
	root := get("")
	for _, g := range groups {
		n := get(g.dir)
		if n.end > n.first {
			return false // a directory in two places
		}
		n.first, n.end = g.first, g.end
	}

	var walk func(n *node)
	walk = func(n *node) {
		slices.SortFunc(n.children, func(a, b *node) int { return strings.Compare(a.dir, b.dir) })
		i := n.first
		for _, c := range n.children {
			// A base name has no slash and a child's key ("lib/") ends
			// in one, so comparing the two puts the name before or after
			// every path of the child's tree.
			key := c.dir[len(n.dir):]
			j := i + sort.Search(n.end-i, func(k int) bool { return name(i+k) > key })
			if j > i {
				run(i, j)
			}
			i = j
			walk(c)
		}
		if i < n.end {
			run(i, n.end)
		}
	}
	walk(root)
	return true
}

// pathOrder returns the order in which to read n paths to have them
// sorted bytewise. path(i) is the i-th path as splitPath splits it, and
// the paths come in the order a package's records are stored (see
// inPathOrder). Paths in any other order are sorted.
func pathOrder(n int, path func(i int) (dir, name string)) []int {
	var groups []dirGroup
	for i := 0; i < n; {
		dir, name := path(i)
		j := i + 1
		for ; j < n; j++ {
			d, next := path(j)
			if d != dir {
				break
			}
			if next <= name {
				return sortedOrder(n, path) // not as stored after all
			}
			name = next
		}
		groups = append(groups, dirGroup{dir, i, j})
		i = j
	}
	order := make([]int, 0, n)
	name := func(i int) string { _, name := path(i); return name }
	ok := inPathOrder(groups, name, func(first, end int) {
		for i := first; i < end; i++ {
			order = append(order, i)
		}
	})
	if !ok {
		return sortedOrder(n, path)
	}
	return order
}

// sortedOrder is pathOrder's answer for paths in no particular order.
func sortedOrder(n int, path func(i int) (dir, name string)) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		da, na := path(a)
		db, nb := path(b)
		return strings.Compare(da+na, db+nb)
	})
	return order
}
