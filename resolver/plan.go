package resolver

import (
	"container/heap"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// A Step is one line of an install plan.
type Step struct {
	// Action is "build", "install", "upgrade", "downgrade", "reinstall",
	// "provided" (the system's copy serves, nothing is done) or "keep"
	// (only with Options.KeepSteps).
	Action string
	Name   string
	// Old is the installed version (nil if none); New the chosen one.
	Old, New *semver.Version
	// Reason is "explicit", "installed" (kept for being installed), "run
	// dep of NAME" or "build dep of NAME":
	// the first path (breadth-first, in request and dependency order)
	// by which the package entered the solution.
	Reason string
	// Waits are the indices, in the plan, of the earlier steps this one
	// must follow: a build waits for the installs of its build
	// dependencies, their run closures, its run dependencies and After;
	// an install for its build and its run dependencies' installs. The
	// plan's order honours them all; a runner that builds in parallel
	// reads them to know what may run at once.
	Waits []int
}

// solutionGraph is a solution with each dependency resolved to the
// selected package that satisfies it.
type solutionGraph struct {
	s         *Solution
	u         Universe
	chosen    map[string]int // name -> index in s.Selected; lookup only
	runDeps   [][]string
	buildDeps [][]string
	checkDeps [][]string // when checks run; a build prefers to wait for them
	afterDeps [][]string // selected packages named in After
	// runHeld[i][j]: the installed system already satisfies runDeps[i][j]
	// (the installed version of a real package matches the dependency).
	runHeld [][]bool
}

func newSolutionGraph(u Universe, s *Solution, opts Options) (*solutionGraph, error) {
	g := &solutionGraph{s: s, u: u, chosen: map[string]int{}}
	for i, sel := range s.Selected {
		g.chosen[sel.Name] = i
	}
	n := len(s.Selected)
	g.runDeps = make([][]string, n)
	g.buildDeps = make([][]string, n)
	g.checkDeps = make([][]string, n)
	g.afterDeps = make([][]string, n)
	g.runHeld = make([][]bool, n)
	for i, sel := range s.Selected {
		p, err := u.Package(sel.Name, sel.Version)
		if err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", sel.Name, sel.Version, err)
		}
		if p == nil {
			return nil, fmt.Errorf("reading %s %s: not in the universe", sel.Name, sel.Version)
		}
		if g.runDeps[i], err = g.resolveDeps(sel, p.Run, "run"); err != nil {
			return nil, err
		}
		for _, d := range p.Run {
			if len(d) > 0 {
				g.runHeld[i] = append(g.runHeld[i], installedSatisfies(d, opts.Installed))
			}
		}
		if sel.Build {
			if g.buildDeps[i], err = g.resolveDeps(sel, p.Build, "build"); err != nil {
				return nil, err
			}
			if opts.Check {
				if g.checkDeps[i], err = g.resolveDeps(sel, p.Check, "check"); err != nil {
					return nil, err
				}
			}
		}
		for _, a := range p.After {
			name, err := g.resolveTerm(Term{Name: a})
			if err != nil {
				return nil, err
			}
			if name != "" {
				g.afterDeps[i] = append(g.afterDeps[i], name)
			}
		}
	}
	return g, nil
}

// installedSatisfies reports whether an installed version of a real
// package satisfies the dependency.
func installedSatisfies(d Dep, installed map[string]*semver.Version) bool {
	for _, t := range d {
		if v := installed[t.Name]; v != nil && (t.Constraint == nil || t.Constraint.Check(v)) {
			return true
		}
	}
	return false
}

// resolveTerm names the selected package that satisfies t: the real
// package first, then the provider with the smallest name; "" if none.
func (g *solutionGraph) resolveTerm(t Term) (string, error) {
	if i, ok := g.chosen[t.Name]; ok {
		if t.Constraint == nil || t.Constraint.Check(g.s.Selected[i].Version) {
			return t.Name, nil
		}
	}
	provs, err := g.u.Providers(t.Name)
	if err != nil {
		return "", fmt.Errorf("listing providers of %s: %w", t.Name, err)
	}
	best := ""
	for _, p := range provs {
		if i, ok := g.chosen[p.Name]; ok && g.s.Selected[i].Version.Equal(p.Version) && provideMatches(p.Provide, t.Constraint) {
			if best == "" || p.Name < best {
				best = p.Name
			}
		}
	}
	return best, nil
}

func (g *solutionGraph) resolveDeps(owner Selected, deps []Dep, kind string) ([]string, error) {
	var out []string
	for _, d := range deps {
		found := ""
		for _, t := range d {
			name, err := g.resolveTerm(t)
			if err != nil {
				return nil, err
			}
			if name != "" {
				found = name
				break
			}
		}
		if found == "" && len(d) > 0 {
			return nil, fmt.Errorf("plan: the %s dependency %s of %s %s is not satisfied by the solution; solve again", kind, depString(d), owner.Name, owner.Version)
		}
		if found != "" {
			out = append(out, found)
		}
	}
	return out, nil
}

// reasons walks breadth-first from the requests and records, for every
// selected package, the first edge that reached it (as a Step.Reason)
// and the package it came from (-1 for explicit ones and unreached ones).
func (g *solutionGraph) reasons(reqs []Request) ([]string, []int) {
	reasons := make([]string, len(g.s.Selected))
	parent := make([]int, len(g.s.Selected))
	for i := range parent {
		parent[i] = -1
	}
	var queue []int
	for _, r := range reqs {
		name, err := g.resolveTerm(Term{Name: r.Name, Constraint: r.Constraint})
		if err != nil || name == "" {
			continue
		}
		if i := g.chosen[name]; reasons[i] == "" {
			reasons[i] = "explicit"
			if r.Installed {
				reasons[i] = "installed"
			}
			queue = append(queue, i)
		}
	}
	for head := 0; head < len(queue); head++ {
		i := queue[head]
		visit := func(names []string, why string) {
			for _, d := range names {
				if j := g.chosen[d]; reasons[j] == "" {
					reasons[j] = why + " of " + g.s.Selected[i].Name
					parent[j] = i
					queue = append(queue, j)
				}
			}
		}
		visit(g.runDeps[i], "run dep")
		visit(g.buildDeps[i], "build dep")
		visit(g.checkDeps[i], "check dep")
	}
	return reasons, parent
}

// A WhyLink is one package in the chain that Why returns.
type WhyLink struct {
	Name    string
	Version *semver.Version
	// Reason is "explicit", "run dep of NAME" or "build dep of NAME".
	Reason string
}

// Why explains why name is in the solution: the chain of packages from an
// explicit request to it, shortest first-found path, each step with the
// Step.Reason that pulled it in. It is what `lpm why PORT` prints. A
// package that is not selected, or that no request reaches, is an error.
func Why(u Universe, s *Solution, reqs []Request, name string) ([]WhyLink, error) {
	g, err := newSolutionGraph(u, s, Options{})
	if err != nil {
		return nil, err
	}
	i, ok := g.chosen[name]
	if !ok {
		return nil, fmt.Errorf("%s is not part of the solution", name)
	}
	reasons, parent := g.reasons(reqs)
	if reasons[i] == "" {
		return nil, fmt.Errorf("%s is selected but no explicit request needs it", name)
	}
	var chain []WhyLink
	for j := i; j >= 0; j = parent[j] {
		sel := s.Selected[j]
		chain = append(chain, WhyLink{Name: sel.Name, Version: sel.Version, Reason: reasons[j]})
	}
	for l, r := 0, len(chain)-1; l < r; l, r = l+1, r-1 {
		chain[l], chain[r] = chain[r], chain[l]
	}
	return chain, nil
}

// A BuildCycleError says that some packages each need another of them
// installed before they can be built, so no build order exists. Runtime
// cycles are not errors; Plan breaks them.
type BuildCycleError struct {
	// Cycles is sorted by its first member.
	Cycles []BuildCycle
}

// A BuildCycle is one set of packages that wait for each other.
type BuildCycle struct {
	Members []string // sorted by name
	// Edges are the waits of one shortest cycle among them, in order, as
	// sentences ("gcc builds with glibc"), and then how many other waits
	// there are between members.
	Edges []string
}

// Error is one line per cycle; the first says how many there are, since
// the command line shows only the first without -v.
func (e *BuildCycleError) Error() string {
	lines := make([]string, len(e.Cycles))
	for i, c := range e.Cycles {
		head := "build cycle"
		if len(e.Cycles) > 1 {
			head = fmt.Sprintf("build cycle %d of %d", i+1, len(e.Cycles))
		}
		if len(c.Members) == 1 {
			lines[i] = fmt.Sprintf("%s: %s needs itself installed before it can be built (%s); give it a bootstrap port, or list it as provided",
				head, c.Members[0], strings.Join(c.Edges, "; "))
			continue
		}
		lines[i] = fmt.Sprintf("%s: %s each need another of them installed before they can be built (%s); give one of them a bootstrap port that builds without the others, or list one as provided",
			head, strings.Join(c.Members, ", "), strings.Join(c.Edges, "; "))
	}
	return strings.Join(lines, "\n")
}

type edgeKind uint8

const (
	edgeStruct   edgeKind = iota // install(X) after build(X)
	edgeBuildDep                 // build(X) after install(D): D is a build dep
	edgeClosure                  // build(X) after install(R): R is in the run closure of a build dep
	edgeAfter                    // X's first step after install(A): X lists A in After
	edgeRun                      // install(X) after install(R): R is a run dep (breakable)
	edgeBuildRun                 // build(X) after install(R): R is a run dep (breakable)
	edgeCheck                    // build(X) after install(C) and C's run closure: C is a check dep (breakable)
)

// breakable edges are waits a cycle may skip. A check dependency is one:
// the book runs each test suite with whatever is installed by then
// (autoconf's tests want automake, which needs autoconf to build), so a
// build waits for its check deps when it can and goes ahead when only
// they close a cycle.
func (k edgeKind) breakable() bool { return k == edgeRun || k == edgeBuildRun || k == edgeCheck }

type planEdge struct {
	to   int // prerequisite node
	kind edgeKind
	via  string // edgeClosure: the build dependency whose closure holds to
}

type planNode struct {
	name    string
	build   bool // a build node; otherwise an install node
	step    Step
	prereqs []planEdge
}

// Plan orders the work needed to reach the solution s: dependencies
// first, ties broken by name (a build before its install). Packages that
// NeedsBuild marked get a "build" step after the installs of their build
// dependencies and of everything those need at run time, and after their
// own run dependencies where no runtime cycle forbids it; every selected
// package not installed at its chosen version gets an install, upgrade,
// downgrade or reinstall step. Package.After adds waits between packages
// of the plan. Runtime cycles are broken deterministically by name; a
// build cycle is a *BuildCycleError naming every member and wait.
func Plan(u Universe, s *Solution, reqs []Request, opts Options) ([]Step, error) {
	g, err := newSolutionGraph(u, s, opts)
	if err != nil {
		return nil, err
	}
	chosen, runDeps, buildDeps := g.chosen, g.runDeps, g.buildDeps
	n := len(s.Selected)

	reasons, _ := g.reasons(reqs)

	// Nodes: install node of Selected[i] is i; build nodes follow.
	nodes := make([]planNode, n)
	buildNode := make([]int, n)
	for i, sel := range s.Selected {
		old := opts.Installed[sel.Name]
		action, reason := installAction(old, sel, opts), reasons[i]
		if action == "provided" {
			reason += ", provided by the system"
		}
		nodes[i] = planNode{name: sel.Name, step: Step{
			Action: action, Name: sel.Name, Old: old, New: sel.Version, Reason: reason,
		}}
		buildNode[i] = -1
		if sel.Build {
			buildNode[i] = len(nodes)
			nodes = append(nodes, planNode{name: sel.Name, build: true, step: Step{
				Action: "build", Name: sel.Name, Old: old, New: sel.Version, Reason: reasons[i],
			}})
		}
	}
	inPlace := func(name string) bool { return done(nodes[chosen[name]].step.Action) }
	closures := map[string][]string{}
	for i := range s.Selected {
		if done(nodes[i].step.Action) {
			continue // already there; it waits for nothing
		}
		first := i
		if b := buildNode[i]; b >= 0 {
			first = b
			nodes[i].prereqs = append(nodes[i].prereqs, planEdge{to: b, kind: edgeStruct})
			for _, d := range buildDeps[i] {
				if opts.Provided[d] {
					continue // the system's copy serves the build
				}
				if d == s.Selected[i].Name && opts.Installed[d] != nil {
					continue // the installed one builds its successor (binutils)
				}
				nodes[b].prereqs = append(nodes[b].prereqs, planEdge{to: chosen[d], kind: edgeBuildDep})
				if _, ok := closures[d]; !ok {
					closures[d] = g.runClosure(d, inPlace, opts.Provided)
				}
				for _, r := range closures[d] {
					nodes[b].prereqs = append(nodes[b].prereqs, planEdge{to: chosen[r], kind: edgeClosure, via: d})
				}
			}
			for _, r := range runDeps[i] {
				if r != s.Selected[i].Name {
					nodes[b].prereqs = append(nodes[b].prereqs, planEdge{to: chosen[r], kind: edgeBuildRun})
				}
			}
			for _, c := range g.checkDeps[i] {
				if opts.Provided[c] || c == s.Selected[i].Name {
					continue
				}
				nodes[b].prereqs = append(nodes[b].prereqs, planEdge{to: chosen[c], kind: edgeCheck})
				if _, ok := closures[c]; !ok {
					closures[c] = g.runClosure(c, inPlace, opts.Provided)
				}
				for _, r := range closures[c] {
					nodes[b].prereqs = append(nodes[b].prereqs, planEdge{to: chosen[r], kind: edgeCheck, via: c})
				}
			}
		}
		for _, r := range runDeps[i] {
			if r != s.Selected[i].Name {
				nodes[i].prereqs = append(nodes[i].prereqs, planEdge{to: chosen[r], kind: edgeRun})
			}
		}
		for _, a := range g.afterDeps[i] {
			if a != s.Selected[i].Name && !done(nodes[chosen[a]].step.Action) {
				nodes[first].prereqs = append(nodes[first].prereqs, planEdge{to: chosen[a], kind: edgeAfter})
			}
		}
	}
	if err := findBuildCycles(nodes); err != nil {
		return nil, err
	}
	order := orderNodes(nodes)
	var steps []Step
	stepOf := make([]int, len(nodes)) // node -> index in steps, -1 if left out
	for i := range stepOf {
		stepOf[i] = -1
	}
	for _, i := range order {
		if nodes[i].step.Action == "keep" && !opts.KeepSteps {
			continue
		}
		stepOf[i] = len(steps)
		steps = append(steps, nodes[i].step)
	}
	for _, i := range order {
		k := stepOf[i]
		if k < 0 {
			continue
		}
		seen := map[int]bool{}
		for _, e := range nodes[i].prereqs {
			// A wait on a kept package is met already; one on a later step
			// is a runtime edge the order broke in a cycle.
			if w := stepOf[e.to]; w >= 0 && w < k && !seen[w] {
				seen[w] = true
				steps[k].Waits = append(steps[k].Waits, w)
			}
		}
		sort.Ints(steps[k].Waits)
	}
	return steps, nil
}

// runClosure lists what d needs installed at run time, transitively. A
// package in place (kept or provided) needs nothing the installed system
// already satisfies, and a provided one nothing at all: the walk ends
// there.
func (g *solutionGraph) runClosure(d string, inPlace func(string) bool, provided map[string]bool) []string {
	seen := map[string]bool{d: true}
	queue := []string{d}
	for head := 0; head < len(queue); head++ {
		q := g.chosen[queue[head]]
		for j, r := range g.runDeps[q] {
			if seen[r] || provided[r] || inPlace(queue[head]) && g.runHeld[q][j] {
				continue
			}
			seen[r] = true
			queue = append(queue, r)
		}
	}
	return queue[1:]
}

func depString(d Dep) string {
	parts := make([]string, len(d))
	for i, t := range d {
		parts[i] = t.String()
	}
	return strings.Join(parts, " | ")
}

// done reports whether a step's package is already in place.
func done(action string) bool { return action == "keep" || action == "provided" }

func installAction(old *semver.Version, sel Selected, opts Options) string {
	switch {
	case opts.Provided[sel.Name] && old != nil && old.Equal(sel.Version) && !opts.Reinstall[sel.Name]:
		return "provided"
	case old == nil:
		return "install"
	case sel.Version.GreaterThan(old):
		return "upgrade"
	case sel.Version.LessThan(old):
		return "downgrade"
	case sel.Build || opts.Reinstall[sel.Name]:
		return "reinstall"
	}
	return "keep"
}

// findBuildCycles reports cycles along the waits no order can skip: a
// build after its build dependencies and their run closures, an install
// after its build, and After.
func findBuildCycles(nodes []planNode) error {
	succ := func(v int, f func(int)) {
		for _, e := range nodes[v].prereqs {
			if !e.kind.breakable() {
				f(e.to)
			}
		}
	}
	comp := tarjan(len(nodes), succ)
	members := map[int][]int{}
	for v, c := range comp {
		members[c] = append(members[c], v)
	}
	var cycles []BuildCycle
	seen := map[int]bool{}
	for v := range nodes {
		c := comp[v]
		if seen[c] {
			continue
		}
		seen[c] = true
		selfWait := false
		for _, e := range nodes[v].prereqs {
			selfWait = selfWait || (!e.kind.breakable() && e.to == v)
		}
		if len(members[c]) < 2 && !selfWait {
			continue
		}
		var names []string
		for _, w := range members[c] {
			names = append(names, nodes[w].name)
		}
		edges, total := cycleEdges(nodes, comp, c, members[c])
		switch more := total - len(edges); {
		case more == 1:
			edges = append(edges, "and 1 more wait among them")
		case more > 1:
			edges = append(edges, fmt.Sprintf("and %d more waits among them", more))
		}
		sort.Strings(names)
		cycles = append(cycles, BuildCycle{Members: dedupSorted(names), Edges: edges})
	}
	if len(cycles) == 0 {
		return nil
	}
	sort.Slice(cycles, func(i, j int) bool { return cycles[i].Members[0] < cycles[j].Members[0] })
	return &BuildCycleError{Cycles: cycles}
}

// cycleEdges describes the waits of one shortest cycle through a build in
// component c (from the build with the smallest name), and counts the
// distinct waits between different packages of the component.
func cycleEdges(nodes []planNode, comp []int, c int, members []int) ([]string, int) {
	describe := func(from int, e planEdge) string {
		a, b := nodes[from].name, nodes[e.to].name
		switch e.kind {
		case edgeBuildDep:
			return a + " builds with " + b
		case edgeClosure:
			if e.via == b {
				return a + " builds with " + b
			}
			return a + " builds with " + e.via + ", which needs " + b + " at run time"
		case edgeAfter:
			return a + " comes after " + b
		}
		return "" // an install after its own build
	}
	all := map[string]bool{}
	start := -1
	for _, w := range members {
		if nodes[w].build && (start < 0 || nodes[w].name < nodes[start].name) {
			start = w
		}
		for _, e := range nodes[w].prereqs {
			if !e.kind.breakable() && comp[e.to] == c {
				if d := describe(w, e); d != "" {
					all[d] = true
				}
			}
		}
	}
	if start < 0 {
		start = members[0]
	}
	// Breadth-first from start back to start, along waits inside c.
	type hop struct {
		from int
		edge planEdge
	}
	prev := map[int]hop{}
	queue := []int{start}
	found := false
	for head := 0; head < len(queue) && !found; head++ {
		v := queue[head]
		for _, e := range nodes[v].prereqs {
			if e.kind.breakable() || comp[e.to] != c {
				continue
			}
			if e.to == start {
				prev[start] = hop{v, e}
				found = true
				break
			}
			if _, seen := prev[e.to]; !seen {
				prev[e.to] = hop{v, e}
				queue = append(queue, e.to)
			}
		}
	}
	var path []string
	for v := start; found; {
		h := prev[v]
		if d := describe(h.from, h.edge); d != "" {
			path = append(path, d)
		}
		v = h.from
		if v == start {
			break
		}
	}
	for l, r := 0, len(path)-1; l < r; l, r = l+1, r-1 {
		path[l], path[r] = path[r], path[l]
	}
	return path, len(all)
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// tarjan labels the strongly connected components of a graph of n nodes.
func tarjan(n int, succ func(int, func(int))) []int {
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	comp := make([]int, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, ncomp := 0, 0
	var strong func(v int)
	strong = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		succ(v, func(w int) {
			if index[w] < 0 {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		})
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp[w] = ncomp
				if w == v {
					break
				}
			}
			ncomp++
		}
	}
	for v := 0; v < n; v++ {
		if index[v] < 0 {
			strong(v)
		}
	}
	return comp
}

// nodeHeap orders ready nodes by name, a build before its install.
type nodeHeap struct {
	ids   []int
	nodes []planNode
}

func (h *nodeHeap) Len() int { return len(h.ids) }
func (h *nodeHeap) Less(i, j int) bool {
	a, b := h.nodes[h.ids[i]], h.nodes[h.ids[j]]
	if a.name != b.name {
		return a.name < b.name
	}
	return a.build && !b.build
}
func (h *nodeHeap) Swap(i, j int) { h.ids[i], h.ids[j] = h.ids[j], h.ids[i] }
func (h *nodeHeap) Push(x any)    { h.ids = append(h.ids, x.(int)) }
func (h *nodeHeap) Pop() any {
	x := h.ids[len(h.ids)-1]
	h.ids = h.ids[:len(h.ids)-1]
	return x
}

// orderNodes is Kahn's algorithm with a name-ordered ready queue. When
// only cycles remain, it picks the smallest node whose prerequisites
// outside its cycle are all done and whose unmet prerequisites inside it
// are all breakable (runtime) edges.
func orderNodes(nodes []planNode) []int {
	n := len(nodes)
	comp := tarjan(n, func(v int, f func(int)) {
		for _, e := range nodes[v].prereqs {
			f(e.to)
		}
	})
	pending := make([]int, n)    // unmet prerequisites
	pendingExt := make([]int, n) // unmet prerequisites in another component
	users := make([][]int, n)    // reverse edges
	for v := range nodes {
		for _, e := range nodes[v].prereqs {
			pending[v]++
			if comp[e.to] != comp[v] {
				pendingExt[v]++
			}
			users[e.to] = append(users[e.to], v)
		}
	}
	done := make([]bool, n)
	queued := make([]bool, n)
	h := &nodeHeap{nodes: nodes}
	for v := 0; v < n; v++ {
		if pending[v] == 0 {
			heap.Push(h, v)
			queued[v] = true
		}
	}
	var order []int
	for len(order) < n {
		if h.Len() == 0 {
			v := breakCycle(nodes, done, queued, pendingExt)
			if v < 0 {
				break // cannot happen once findBuildCycles passed
			}
			heap.Push(h, v)
			queued[v] = true
		}
		v := heap.Pop(h).(int)
		done[v] = true
		order = append(order, v)
		for _, w := range users[v] {
			pending[w]--
			if comp[w] != comp[v] {
				pendingExt[w]--
			}
			if pending[w] == 0 && !queued[w] {
				heap.Push(h, w)
				queued[w] = true
			}
		}
	}
	return order
}

func breakCycle(nodes []planNode, done, queued []bool, pendingExt []int) int {
	best := -1
	for v := range nodes {
		if done[v] || queued[v] || pendingExt[v] > 0 {
			continue
		}
		ok := true
		for _, e := range nodes[v].prereqs {
			if !done[e.to] && !e.kind.breakable() {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if best < 0 || nodes[v].name < nodes[best].name || (nodes[v].name == nodes[best].name && nodes[v].build) {
			best = v
		}
	}
	return best
}
