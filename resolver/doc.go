// Package resolver decides which version of every package to install and
// in which order to build and install them.
//
// It owns version selection, the explanation of failures, and the plan.
// It must never touch files, the network or the database: it reads
// packages only through the Universe interface, so the ports tree, the
// installed set and a test universe are interchangeable (in the spirit of
// cmd/go's mvs.Reqs). Versions and constraints arrive already parsed
// (Masterminds semver); the solver parses no strings.
//
// # Algorithm
//
// Solve is PubGrub (Natalie Weizenbaum's algorithm for Dart pub, see pub's
// doc/solver.md), written from scratch:
//
//   - A package's versions are read once, sorted ascending, and referred
//     to by index. Every version range is a set of index runs (vset), so
//     range algebra is integer arithmetic. A constraint is evaluated
//     against each version once, when a dependency is first read.
//   - A term says "p is selected at a version in S" or its negation;
//     "not selected" satisfies every negative term.
//   - An incompatibility is a set of terms that must not all hold. The
//     user's requests are the dependencies of a root package; a run or
//     build dependency of p v is {p v, not q S}; a conflict is {p v, q S};
//     a hold is {p other than the held version}.
//   - The partial solution is a list of decisions and derivations with
//     decision levels. Unit propagation derives the negation of the last
//     undecided term of an incompatibility; when an incompatibility is
//     fully satisfied, conflict resolution combines it with the causes of
//     its satisfiers into a learned incompatibility and backjumps.
//   - Decision making takes the undecided package with a positive
//     derivation and the fewest allowed versions (ties: first seen), picks
//     a version and only then reads that version's dependencies (lazy
//     loading).
//   - No map is iterated inside the solver: the same input gives the same
//     answer and the same explanation.
//
// When no solution exists, the learned incompatibilities form a proof that
// is printed as numbered sentences (pub's error reporting algorithm). Each
// dependency and conflict is quoted as the port spelled it; derived ranges
// are written over the available versions ("2.x", ">=1.2.0, <1.4.0").
//
// # Version preference
//
// A package installed at a version the Universe still lists keeps that
// version unless Options.Upgrade names it (or UpgradeAll is set); otherwise
// the newest allowed version is chosen. An installed version the Universe
// does not list is not a candidate: the solver never selects what it cannot
// read. A held package (Options.Held, `lpm hold`) may only be selected at
// its installed version; if that version is no longer listed, the held
// package cannot be selected at all and the explanation says so. Holds do
// not force a package into the solution; callers that want installed
// packages to stay consistent pass them as requests.
//
// # Alternatives and provides
//
// A Dep with several terms ("a | b") is satisfied by any one of them; the
// solver models it as a synthetic package whose versions are the
// alternatives, and prefers an alternative that is already selected, then
// one already required, then one that is installed, then the first one
// that is not ruled out.
//
// A term "name C" is satisfied by the real package name at a version
// matching C, or by a provider of name whose provide matches C:
//
//   - a term without a constraint is satisfied by every provide of name,
//     versioned or not;
//   - a term with a constraint is satisfied only by a versioned provide
//     whose version matches C; an unversioned provide never satisfies a
//     constrained term (Debian's rule).
//
// The real package is tried before providers; providers in name order.
// Conflicts use the same rule, and a package never conflicts with itself
// (a port may provide and conflict with the same virtual name, so that
// only one provider is installed).
//
// # Build and run dependencies
//
// Run dependencies always join the solution. Build dependencies join only
// for versions that Options.NeedsBuild says must be built, and never for a
// package kept at its installed version unless Options.Reinstall names it.
//
// # Plans
//
// Plan turns a solution into ordered steps: a "build" step for each
// package that must be built, after the installs of its build
// dependencies (and check dependencies, when Options.Check says the check
// phase runs) and of their whole runtime closure, so that gcc's build
// dependents wait for gmp, mpfr and mpc; then an install, upgrade,
// downgrade or reinstall step for each package not already installed at
// its chosen version, after its build and its run dependencies. What is
// in place already serves a build: a kept package needs nothing the
// installed system satisfies, a provided one (Options.Provided) needs
// nothing at all and is never waited for, and a port that builds with
// itself (binutils) uses its installed version. Package.After adds waits
// between packages of the same plan and pulls nothing in. Provided
// packages the solution uses appear as "provided" steps, which do nothing.
// Ties are broken by name. A cycle made only of runtime edges is legal and
// is broken at the smallest name whose other prerequisites are met. A
// cycle through a build step (gcc needs glibc installed to build, glibc
// needs gcc) is a *BuildCycleError naming every member and the waits of
// one shortest cycle; ports break it with a bootstrap port (gcc-pass1)
// that builds without the others, or by listing one as provided.
package resolver
