// Package ports reads ports: the declarative build files that describe how to
// fetch, build and package one version of one piece of software.
//
// A port is a directory holding port.toml plus any patches and extra files it
// names. A tree is a directory of ports, either TREE/NAME/port.toml or, to keep
// several versions side by side, TREE/NAME/VERSION/port.toml. Trees are
// layered: when several trees hold a port of the same name, the earliest tree
// supplies every version of it and hides the others (a user's local tree
// overrides the shipped one wholesale, as in prt-get).
//
// Metadata is read without running any shell. Build steps are bash, kept as
// text here and run by the installer.
//
// Versions: the port's version is upstream's string, passed to builds as
// $VERSION. The solver compares semver, derived by one rule that reads
// every LFS 12.3 version as semver would (6.12 is 6.12.0, 20250123 is
// 20250123.0.0) and these shapes besides:
//
//   - numbers separated by dots, hyphens or underscores: "3-6-0" is 3.6.0;
//     a trailing word naming the tarball (source, src, orig, final,
//     release, stable) is dropped: "20240312-source" is 20240312.0.0;
//   - a trailing letter (tzdata's "2025a") or patch level ("9.9p2",
//     "1.0pl3") is the next number: 2025.1.0, 9.9.2, 1.0.3;
//   - past three numbers ("7.1.1-43", "4.2.8p18", "1.2.3.4") the rest is
//     build metadata (7.1.1+43): semver orders only three numbers, so these
//     are the same release as 7.1.1 for the solver, and lint reports two
//     versions of one port that differ only there;
//   - alpha, beta, pre and rc (also "a3", "b1" after a number) make a
//     pre-release numbered so that rc2 sorts before rc10: "2.0rc10" is
//     2.0.0-rc.10, which sorts before 2.0;
//   - decimal versions (Perl modules) read as dotted numbers: "2.089" is
//     2.89.0, which is Perl's own normal form, but "2.1" is 2.1.0 where
//     Perl reads 2.100.0; lint warns when two versions of one port sort
//     differently read the two ways, and semver = settles it.
//
// Anything else ("git-1234abc", "1.0-dev3") needs an explicit
// `semver = "X.Y.Z"` in the port, which the parser asks for. Constraints
// and requests are written in upstream's versions too ("openssh >=9.9p1",
// "tzdata@2025a"): their operands are read by the same rule.
package ports
