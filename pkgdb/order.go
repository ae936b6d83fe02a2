package pkgdb

import (
	"slices"
	"strings"
)

// pathOrder returns the order in which to read n paths to have them
// sorted bytewise. path(i) is the i-th path as splitPath splits it, and
// the paths come in the order a package's records are stored: grouped by
// directory ("usr/bin/" and its entries together), each group sorted by
// base name. Bytewise order is not that order: "a/b" comes after "a-b"
// but before "a/c", so a directory's entries take turns with its
// subdirectories' trees. pathOrder merges them, walking the tree of
// directories once: sorting compared each path with twenty others (a
// third of lpm files of a 20,000-file package), this compares each base
// name with a few others. Paths in any other order are sorted.
func pathOrder(n int, path func(i int) (dir, name string)) []int {
	type node struct {
		dir        string
		first, end int // the group's entries are first to end-1
		children   []*node
	}
	nodes := make(map[string]*node, n/8)
	var slab []node // nodes, allocated together
	var get func(dir string) *node
	get = func(dir string) *node {
		if n := nodes[dir]; n != nil {
			return n
		}
		if len(slab) == cap(slab) {
			slab = make([]node, 0, 64+cap(slab))
		}
		slab = append(slab, node{dir: dir})
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
		g := get(dir)
		if g.end > g.first {
			return sortedOrder(n, path) // a directory in two places
		}
		g.first, g.end = i, j
		i = j
	}
	for _, n := range nodes {
		slices.SortFunc(n.children, func(a, b *node) int { return strings.Compare(a.dir, b.dir) })
	}

	order := make([]int, 0, n)
	var walk func(n *node)
	walk = func(n *node) {
		// A base name has no slash and a child's key ("lib/") ends in
		// one, so comparing the two puts the name before or after every
		// path of the child's tree.
		i, c := n.first, 0
		before := func(i int, child *node) bool {
			_, name := path(i)
			return name < child.dir[len(n.dir):]
		}
		for i < n.end || c < len(n.children) {
			if c < len(n.children) && (i == n.end || !before(i, n.children[c])) {
				walk(n.children[c])
				c++
				continue
			}
			order = append(order, i)
			i++
		}
	}
	walk(root)
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
