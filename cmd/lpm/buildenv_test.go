package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// GNU packages ship gnulib's maint.mk, which takes VERSION from a RELEASE
// variable ("make RELEASE='X.Y stable' release"). A RELEASE in the build
// environment made gzip's zgrep say "zgrep (gzip) 1" and autoconf say
// "GNU Autoconf 1". The port here does what maint.mk does.
func TestBuildsDoNotHandGNUMakefilesARelease(t *testing.T) {
	tree := t.TempDir()
	port := `name = "maintmk"
version = "2.72"
release = 3
description = "a Makefile that reads RELEASE as gnulib's maint.mk does"
license = "MIT"

[build]
style = "custom"
strip = []
install = '''
printf 'VERSION = 2.72\nifneq ($(RELEASE),)\n  VERSION := $(word 1, $(RELEASE))\nendif\nall:\n\t@mkdir -p "$(DESTDIR)/usr/share"\n\t@echo $(VERSION) > "$(DESTDIR)/usr/share/maintmk-version"\n' > GNUmakefile
make
'''
`
	if err := os.MkdirAll(filepath.Join(tree, "maintmk"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "maintmk/port.toml"), []byte(port), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRoot(t, tree)
	r.ok("install", "maintmk")
	got, err := os.ReadFile(r.path("usr/share/maintmk-version"))
	if err != nil || strings.TrimSpace(string(got)) != "2.72" {
		t.Errorf("the Makefile's version became %q (%v), want 2.72", got, err)
	}
}

// The book names doc directories after the version
// (--docdir=/usr/share/doc/readline-8.2.13). A port that spells the version
// out in configure_flags and writes $VERSION in its install phase splits
// its docs, or fails, as soon as the version changes (readline's install
// of its HTML docs into a docdir configure never made); $NAME and $VERSION
// in configure_flags follow the port.
func TestConfigureFlagsFollowThePortsVersion(t *testing.T) {
	tree := t.TempDir()
	port := `name = "docdir"
version = "8.2"
description = "a configure that records its arguments"
license = "MIT"

[build]
style = "autotools"
strip = []
configure_flags = "--disable-static --docdir=/usr/share/doc/$NAME-$VERSION --htmldir=/usr/share/doc/${NAME}-${VERSION}/html --with-x=$VERSIONS"
prepare = '''
printf '#!/bin/sh\nprintf "%%s\\n" "$@" > args\n' > configure
chmod +x configure
'''
build = 'true'
check = ''
install = 'install -Dm644 args "$DESTDIR/usr/share/doc/docdir-$VERSION/args"'
`
	writePort(t, tree, "docdir", port)
	r := newRoot(t, tree)
	r.ok("install", "docdir")
	got, err := os.ReadFile(r.path("usr/share/doc/docdir-8.2/args"))
	want := "--prefix=/usr\n--disable-static\n--docdir=/usr/share/doc/docdir-8.2\n--htmldir=/usr/share/doc/docdir-8.2/html\n--with-x=$VERSIONS\n"
	if err != nil || string(got) != want {
		t.Errorf("configure was given %q (%v), want %q", got, err, want)
	}
}
