package lfsproof

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lfs-lpm/lpm/ports"
)

// The boot test's overrides may change a shipped port's version and
// sources, and drop the book's patches; everything that says how the port
// builds and what it needs must be the shipped port's.
func TestBootOverridesChangeOnlyVersionAndSources(t *testing.T) {
	repoDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	shared := sharedDir(t, repoDir)
	debian := debianFiles(t, filepath.Join(shared, "lfs-12.3", "debian-sources.tsv"))
	n := 0
	for _, b := range bootPorts {
		if b.debian == nil {
			continue
		}
		n++
		dir := filepath.Join(repoDir, "ports/lfs", b.name)
		if b.name == "linux" {
			dir = filepath.Join(dir, "6.13.4")
		}
		text, err := overrideSources(filepath.Join(dir, ports.FileName), b.debian, b.patches, debian)
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		out := filepath.Join(t.TempDir(), b.name, ports.FileName)
		write(t, out, text)
		got, errs := ports.ParseFile(out)
		if len(errs) > 0 {
			t.Fatalf("the override of %s does not parse: %v\n%s", b.name, errs, text)
		}
		want, _ := ports.ParseFile(filepath.Join(dir, ports.FileName))
		if got.Version != debian[b.debian[0]].version {
			t.Errorf("%s: version %s, want Debian's %s", b.name, got.Version, debian[b.debian[0]].version)
		}
		if len(got.Sources) != len(b.debian) || !reflect.DeepEqual(got.Patches, b.patches) {
			t.Errorf("%s: %d sources and patches %v, want the %d Debian files and patches %v", b.name, len(got.Sources), got.Patches, len(b.debian), b.patches)
		}
		for _, patch := range b.patches {
			if _, err := os.Stat(filepath.Join("../testdata/lfsboot/patches", patch)); err != nil {
				t.Errorf("%s: the test's patch %s: %v", b.name, patch, err)
			}
		}
		for i, s := range got.Sources {
			if s.FileName() != b.debian[i] || s.SHA256 != debian[b.debian[i]].sha256 || s.MD5 != "" {
				t.Errorf("%s: source %d is %+v, want %s with Debian's sha256", b.name, i, s, b.debian[i])
			}
		}
		if !reflect.DeepEqual(got.Build, want.Build) || !reflect.DeepEqual(got.Depends, want.Depends) ||
			!reflect.DeepEqual(got.Files, want.Files) || !reflect.DeepEqual(got.Backup, want.Backup) ||
			got.Name != want.Name || got.Release != want.Release || got.Slot != want.Slot {
			t.Errorf("%s: the override changes more than version and sources:\n%s", b.name, text)
		}
	}
	if n == 0 {
		t.Fatal("no override checked")
	}
}

// Every test port of the boot test parses, and the ones the image needs
// are in its list.
func TestBootTestPortsParse(t *testing.T) {
	dirs, err := filepath.Glob("../testdata/lfsboot/ports/*/" + ports.FileName)
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no test ports: %v", err)
	}
	inImage := map[string]bool{}
	for _, b := range bootPorts {
		inImage[b.name] = true
	}
	for _, f := range dirs {
		p, errs := ports.ParseFile(f)
		if len(errs) > 0 {
			t.Errorf("%s: %v", f, errs)
			continue
		}
		for _, name := range p.Files {
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), name)); err != nil && !(p.Name == "lpm" && name == "lpm") {
				t.Errorf("%s: file %s is missing", f, name)
			}
		}
		if p.Name != "lfs-hello" && !inImage[p.Name] {
			t.Errorf("%s: test port %s is not in bootPorts", f, p.Name)
		}
		if strings.Contains(p.Name, "bootscripts") {
			t.Errorf("%s: the stand-in must not take the shipped lfs-bootscripts' name", f)
		}
	}
}
