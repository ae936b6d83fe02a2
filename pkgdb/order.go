package pkgdb

import (
	"slices"
	"strings"
)

// pathOrder returns the order in which to read paths to have them sorted
// bytewise, for paths in the order a package's records are stored:
// grouped by directory ("usr/bin/" and its entries together), each group
// sorted by base name. Bytewise order is not that order: "a/b" comes
// after "a-b" but before "a/c", so a directory's entries take turns with
// its subdirectories' trees. pathOrder merges them, walking the tree of
// directories once: sorting compared each path with twenty others (a
// third of lpm files of a 20,000-file package), this compares each base
// name with a few others.
func pathOrder(paths []string) []int {
	type node struct {
		dir        string
		first, end int // the group's entries are paths[first:end]
		children   []*node
	}
	nodes := map[string]*node{}
	var get func(dir string) *node
	get = func(dir string) *node {
		if n := nodes[dir]; n != nil {
			return n
		}
		n := &node{dir: dir}
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
	for i := 0; i < len(paths); {
		dir, _ := splitPath(paths[i])
		j := i + 1
		for j < len(paths) && strings.HasPrefix(paths[j], dir) && strings.IndexByte(paths[j][len(dir):], '/') < 0 {
			j++
		}
		n := get(dir)
		if n.end > n.first {
			// A directory in two places: not the stored order after all.
			order := make([]int, len(paths))
			for i := range order {
				order[i] = i
			}
			slices.SortFunc(order, func(a, b int) int { return strings.Compare(paths[a], paths[b]) })
			return order
		}
		n.first, n.end = i, j
		i = j
	}
	for _, n := range nodes {
		slices.SortFunc(n.children, func(a, b *node) int { return strings.Compare(a.dir, b.dir) })
	}

	order := make([]int, 0, len(paths))
	var walk func(n *node)
	walk = func(n *node) {
		// A base name has no slash and a child's key ("lib/") ends in
		// one, so comparing the two puts the name before or after every
		// path of the child's tree.
		i, c := n.first, 0
		for i < n.end || c < len(n.children) {
			if c == len(n.children) || i < n.end && paths[i][len(n.dir):] < n.children[c].dir[len(n.dir):] {
				order = append(order, i)
				i++
				continue
			}
			walk(n.children[c])
			c++
		}
	}
	walk(root)
	return order
}
