package resolver

import (
	"github.com/Masterminds/semver/v3"
)

// A Universe supplies packages to the solver.
type Universe interface {
	// Versions lists every available version of name, in any order.
	// An unknown name yields an empty list, not an error.
	Versions(name string) ([]*semver.Version, error)
	// Package returns one version's metadata. The solver calls it only
	// for versions it is considering, so implementations may load lazily.
	Package(name string, v *semver.Version) (*Package, error)
	// Providers lists the packages (name and version) whose provides
	// include the virtual name. Real package names are not virtual.
	Providers(virtual string) ([]Provider, error)
}

// A Package is one version of a port, as the solver sees it.
type Package struct {
	Name    string
	Version *semver.Version
	Run     []Dep // needed wherever the package is installed
	Build   []Dep // needed only to build the package from source
	// Check is needed to build only when the check phase runs
	// (Options.Check); then it counts as Build.
	Check []Dep
	// After names packages that, when they are in the same plan, are
	// installed before this one is built (or installed, when it is not
	// built). It is ordering only: it never pulls a package in.
	After     []string
	Provides  []Provide
	Conflicts []Term // packages that cannot be installed alongside
}

// A Dep is satisfied by any one of its alternatives ("a | b").
type Dep []Term

// A Term is a package name and a version constraint. A nil Constraint
// means any version.
type Term struct {
	Name       string
	Constraint *semver.Constraints
}

// String renders the term as the user wrote it.
func (t Term) String() string {
	if t.Constraint == nil {
		return t.Name
	}
	return t.Name + " " + t.Constraint.String()
}

// A Provide is a virtual name offered by a package. A nil Version means an
// unversioned provide.
type Provide struct {
	Name    string
	Version *semver.Version
}

// A Provider is a package version that provides a virtual name.
type Provider struct {
	Name    string
	Version *semver.Version
	Provide Provide
}

// Options describe the system the request is solved against.
type Options struct {
	// Installed maps package name to installed version. The solver
	// prefers these (minimal change) unless Upgrade names the package.
	Installed map[string]*semver.Version
	// Held packages must stay at their installed version.
	Held map[string]bool
	// Upgrade prefers the newest version of these packages (all
	// installed packages when UpgradeAll is set) within holds.
	Upgrade    map[string]bool
	UpgradeAll bool
	// Reinstall names packages to install again even when the chosen
	// version is the installed one (and to build again if NeedsBuild
	// says so). Without it a kept package is never built.
	Reinstall map[string]bool
	// KeepSteps makes Plan list packages already installed at the
	// chosen version as "keep" steps instead of omitting them.
	KeepSteps bool
	// NeedsBuild reports whether a chosen version must be built from
	// source; if so its Build deps join the solution. Nil means never.
	NeedsBuild func(name string, v *semver.Version) bool
	// Check says builds run their check phase, so Package.Check deps
	// join the build deps.
	Check bool
	// Provided names packages the system supplies outside lpm (Portage's
	// package.provided, pacman's --assume-installed). The caller lists
	// their versions in Installed when no real package of the name is
	// installed. A provided package is never upgraded by UpgradeAll, and
	// in a plan a build never waits for the install of a provided build
	// dependency, nor for what that one needs: the provided copy serves
	// the build.
	Provided map[string]bool
}

// buildDeps is what a build of p needs: Build, and Check when checks run.
func (p *Package) buildDeps(opts Options) []Dep {
	if !opts.Check || len(p.Check) == 0 {
		return p.Build
	}
	return append(append([]Dep(nil), p.Build...), p.Check...)
}

// A Request asks for one package; an explicit request of the user.
type Request struct {
	Name       string
	Constraint *semver.Constraints // nil: any version
	// Installed marks a request that keeps an installed package rather
	// than one the user made; explanations say "you have installed".
	Installed bool
}

// A Solution is the set of chosen versions.
type Solution struct {
	// Selected is sorted by name.
	Selected []Selected
}

// Selected is one chosen package version.
type Selected struct {
	Name    string
	Version *semver.Version
	Build   bool // must be built from source (NeedsBuild said so)
}
