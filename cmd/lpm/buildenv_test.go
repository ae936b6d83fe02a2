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
