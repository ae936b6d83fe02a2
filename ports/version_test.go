package ports

import (
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// Every version string of LFS 12.3 (../shared/lfs-12.3/packages.tsv) maps
// as semver reads it, without a semver = line.
var lfsVersions = []struct{ in, want string }{
	{"0.15.2", "0.15.2"},         // check
	{"0.24", "0.24.0"},           // gettext
	{"0.45.1", "0.45.1"},         // wheel
	{"0.51.0", "0.51.0"},         // intltool
	{"0.192", "0.192.0"},         // libelf
	{"1.0.8", "1.0.8"},           // bzip2
	{"1.3.1", "1.3.1"},           // zlib, mpc
	{"1.4.19", "1.4.19"},         // m4
	{"1.5.7", "1.5.7"},           // zstd
	{"1.5.8", "1.5.8"},           // libpipeline
	{"1.6.3", "1.6.3"},           // dejagnu
	{"1.7.0", "1.7.0"},           // meson
	{"1.10.0", "1.10.0"},         // lz4
	{"1.12.1", "1.12.1"},         // ninja
	{"1.13", "1.13.0"},           // gzip
	{"1.16.0", "1.16.0"},         // dbus
	{"1.17", "1.17.0"},           // automake
	{"1.23.0", "1.23.0"},         // groff
	{"1.24", "1.24.0"},           // gdbm
	{"1.35", "1.35.0"},           // tar
	{"1.47.2", "1.47.2"},         // e2fsprogs
	{"2.3.0", "2.3.0"},           // pkgconf
	{"2.3.2", "2.3.2"},           // acl
	{"2.5.2", "2.5.2"},           // attr
	{"2.5.4", "2.5.4"},           // libtool
	{"2.6", "2.6.0"},             // inetutils
	{"2.6.4", "2.6.4"},           // flex, expat
	{"2.7.0", "2.7.0"},           // sysklogd
	{"2.7.1", "2.7.1"},           // kbd
	{"2.7.6", "2.7.6"},           // patch
	{"2.12", "2.12.0"},           // grub
	{"2.13.0", "2.13.0"},         // man-db
	{"2.40.4", "2.40.4"},         // util-linux
	{"2.41", "2.41.0"},           // glibc
	{"2.44", "2.44.0"},           // binutils
	{"2.47", "2.47.0"},           // xml-parser
	{"2.72", "2.72.0"},           // autoconf
	{"2.73", "2.73.0"},           // libcap
	{"3.0.2", "3.0.2"},           // markupsafe
	{"3.1", "3.1.0"},             // gperf
	{"3.1.5", "3.1.5"},           // jinja2
	{"3.4.1", "3.4.1"},           // openssl
	{"3.4.7", "3.4.7"},           // libffi
	{"3.8.2", "3.8.2"},           // bison
	{"3.11", "3.11.0"},           // grep, diffutils
	{"3.11.0", "3.11.0"},         // flit-core
	{"3.13.2", "3.13.2"},         // python, python-docs
	{"3.14", "3.14.0"},           // sysvinit
	{"4.0.5", "4.0.5"},           // procps-ng
	{"4.2.1", "4.2.1"},           // mpfr
	{"4.4.1", "4.4.1"},           // make
	{"4.4.38", "4.4.38"},         // libxcrypt
	{"4.9", "4.9.0"},             // sed
	{"4.10.0", "4.10.0"},         // findutils
	{"4.17.3", "4.17.3"},         // shadow
	{"5.2.37", "5.2.37"},         // bash
	{"5.3.1", "5.3.1"},           // gawk
	{"5.6.4", "5.6.4"},           // xz
	{"5.40.1", "5.40.1"},         // perl
	{"5.45.4", "5.45.4"},         // expect
	{"5.46", "5.46.0"},           // file
	{"6.3.0", "6.3.0"},           // gmp
	{"6.5", "6.5.0"},             // ncurses
	{"6.12", "6.12.0"},           // man-pages
	{"6.13.0", "6.13.0"},         // iproute2
	{"6.13.4", "6.13.4"},         // linux, linux-api-headers
	{"7.0.3", "7.0.3"},           // bc
	{"7.2", "7.2.0"},             // texinfo
	{"8.2.13", "8.2.13"},         // readline
	{"8.6.16", "8.6.16"},         // tcl, tcl-docs
	{"9.1.1166", "9.1.1166"},     // vim
	{"9.6", "9.6.0"},             // coreutils
	{"14.2.0", "14.2.0"},         // gcc
	{"23.7", "23.7.0"},           // psmisc
	{"34", "34.0.0"},             // kmod
	{"75.8.1", "75.8.1"},         // setuptools
	{"257.3", "257.3.0"},         // udev, systemd, systemd-man-pages
	{"668", "668.0.0"},           // less
	{"2025a", "2025.1.0"},        // tzdata
	{"20230818", "20230818.0.0"}, // udev-lfs
	{"20240825", "20240825.0.0"}, // lfs-bootscripts
	{"20250123", "20250123.0.0"}, // iana-etc
}

func TestParseVersionReadsEveryLFSVersion(t *testing.T) {
	for _, tt := range lfsVersions {
		v, err := ParseVersion(tt.in)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tt.in, err)
			continue
		}
		if v.String() != tt.want {
			t.Errorf("ParseVersion(%q) = %s, want %s", tt.in, v, tt.want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"6.12", "6.12.0"},
		{"20250123", "20250123.0.0"},
		{"v2.1", "2.1.0"},
		// One to three numbers and a letter: the letter is the next number.
		{"2025a", "2025.1.0"},
		{"2025b", "2025.2.0"},
		{"1.2z", "1.2.26"},
		// A patch level (p2, pl3) is the next number too.
		{"9.9p2", "9.9.2"},
		{"1.0pl3", "1.0.3"},
		// Hyphens and underscores between numbers separate them.
		{"3-6-0", "3.6.0"},
		{"1_2_3", "1.2.3"},
		// A patch level after three numbers, or a fourth number, is build
		// metadata: the release is the same.
		{"7.1.1-43", "7.1.1+43"},
		{"4.2.8p18", "4.2.8+18"},
		{"1.2.3b", "1.2.3+2"},
		{"1.2.3.4", "1.2.3+4"},
		// A word naming the tarball is dropped.
		{"20240312-source", "20240312.0.0"},
		{"1.0-src", "1.0.0"},
		// Pre-releases, numbered so that rc2 < rc10.
		{"3.0.0-rc1", "3.0.0-rc.1"},
		{"2.0rc10", "2.0.0-rc.10"},
		{"1.0-beta.2", "1.0.0-beta.2"},
		{"1.2a3", "1.2.0-alpha.3"},
		{"1.2b1", "1.2.0-beta.1"},
		{"5.0-pre", "5.0.0-pre"},
		// Decimal versions read as dotted numbers: 2.089 is 2.89.0, which
		// is also Perl's normal form (lint warns where the readings differ).
		{"2.089", "2.89.0"},
	}
	for _, tt := range tests {
		v, err := ParseVersion(tt.in)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tt.in, err)
			continue
		}
		if v.String() != tt.want {
			t.Errorf("ParseVersion(%q) = %s, want %s", tt.in, v, tt.want)
		}
	}
}

func TestParseVersionRejectsWhatItCannotRead(t *testing.T) {
	for _, in := range []string{"abc", "", "git-1234abc", "1.0-dev3", "1.2x5", "1.2.3+build5", "99999999999999999999"} {
		if _, err := ParseVersion(in); err == nil || !strings.Contains(err.Error(), "semver =") {
			t.Errorf("ParseVersion(%q): %v, want an error asking for semver =", in, err)
		}
	}
}

func TestParseVersionKeepsOrder(t *testing.T) {
	// Each list is ascending as its upstream orders it.
	for _, order := range [][]string{
		{"2024b", "2025a", "2025b", "2025.3.1", "20250123"},
		{"9.9", "9.9p1", "9.9p2", "9.10", "9.10p1"},
		{"7.1.0-rc1", "7.1.0", "7.1.1-43", "7.1.2"},
		{"3-5-9", "3-6-0", "3-6-1", "3.10.0"},
		{"2.0rc2", "2.0rc10", "2.0", "2.0.1"},
		{"1.2a1", "1.2b1", "1.2rc1", "1.2", "1.2a"},
		{"20240101-source", "20240312-source", "20250101"},
		{"6.2", "6.9", "6.12", "6.13.4"},
	} {
		for i := 1; i < len(order); i++ {
			a, err1 := ParseVersion(order[i-1])
			b, err2 := ParseVersion(order[i])
			if err1 != nil || err2 != nil {
				t.Fatalf("%v %v", err1, err2)
			}
			if !a.LessThan(b) {
				t.Errorf("%s (%s) should sort before %s (%s)", order[i-1], a, order[i], b)
			}
		}
	}
}

func TestPatchLevelsAfterThreeNumbersAreTheSameRelease(t *testing.T) {
	a, _ := ParseVersion("7.1.1-42")
	b, _ := ParseVersion("7.1.1-43")
	c, _ := ParseVersion("7.1.1")
	if !SameRelease(a, b) || !SameRelease(a, c) {
		t.Errorf("7.1.1-42, 7.1.1-43 and 7.1.1 should be the same release: %s %s %s", a, b, c)
	}
	d, _ := ParseVersion("7.1.2")
	if SameRelease(a, d) {
		t.Error("7.1.1-42 and 7.1.2 are different releases")
	}
}

func TestConstraintsSpeakUpstreamVersions(t *testing.T) {
	tests := []struct {
		term, version string
		want          bool
	}{
		{"openssh 9.9p2", "9.9p2", true},
		{"openssh >=9.9p1", "9.9p2", true},
		{"openssh >=9.9p3", "9.9p2", false},
		{"tzdata 2025a", "2025a", true},
		{"tzdata >2025a", "2025b", true},
		{"tzdata <2025a", "2025b", false},
		{"imagemagick ^7.1", "7.1.1-43", true},
		{"imagemagick >=7.1.1-40, <7.2", "7.1.1-43", true},
		{"lm-sensors >=3-6-0", "3-6-0", true},
		{"lm-sensors ~3.5", "3-6-0", false},
		{"x ~1.2", "1.2.9", true},
		{"x ~1.2", "1.3.0", false},
		{"x 1.2.3 - 1.4", "1.4.0", true},
		{"x >=3.0.0-rc1", "3.0.0-rc2", true},
	}
	for _, tt := range tests {
		term, err := ParseTerm(tt.term)
		if err != nil {
			t.Errorf("ParseTerm(%q): %v", tt.term, err)
			continue
		}
		v, err := ParseVersion(tt.version)
		if err != nil {
			t.Fatal(err)
		}
		if got := term.Constraint.Check(v); got != tt.want {
			t.Errorf("%q matches %s (%s): %v, want %v", tt.term, tt.version, v, got, tt.want)
		}
	}
	if r, err := ParseRequest("openssh@9.9p2"); err != nil || r.Name != "openssh" || !r.Constraint.Check(semverOf(t, "9.9p2")) {
		t.Errorf("ParseRequest(openssh@9.9p2) = %+v, %v", r, err)
	}
}

func semverOf(t *testing.T, s string) *semver.Version {
	t.Helper()
	v, err := ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
