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
// $VERSION. The solver compares semver, derived by this rule:
//
//  1. a string semver accepts in its lax form maps as semver reads it:
//     "6.12" is 6.12.0, "20250123" is 20250123.0.0, "3.0.0-rc1" stays a
//     pre-release of 3.0.0;
//  2. one to three numbers followed by a single lower-case letter take the
//     letter's place in the alphabet as the next number: "2025a" is
//     2025.1.0, "1.2.3b" is not allowed (four parts);
//  3. anything else needs an explicit `semver = "X.Y.Z"` in the port, which
//     lint asks for.
package ports
