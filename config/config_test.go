package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func flagSet(args ...string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("lpm", pflag.ContinueOnError)
	fs.String("root", "/", "")
	fs.String("config", "", "")
	fs.StringSlice("ports", nil, "")
	fs.Bool("yes", false, "")
	if err := fs.Parse(args); err != nil {
		panic(err)
	}
	return fs
}

func TestDefaultsLiveInsideTheRoot(t *testing.T) {
	root := t.TempDir()
	c, err := Load(flagSet("--root", root))
	if err != nil {
		t.Fatal(err)
	}
	if c.Distfiles != filepath.Join(root, "var/cache/lpm/distfiles") || c.Ports[0] != filepath.Join(root, "usr/ports") {
		t.Errorf("distfiles %s ports %v", c.Distfiles, c.Ports)
	}
	if c.File != "" || !c.Build.Check || c.Build.Chroot != "auto" {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

func TestConfigFilePathsAreInTheRootAndFlagsAreNot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/lpm"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/lpm/lpm.toml"), []byte(`
ports = ["/srv/ports"]
distfiles = "/srv/distfiles"
mirrors = ["file:///mirror"]
[build]
jobs = 3
check = false
chroot = "never"
`), 0o644)
	c, err := Load(flagSet("--root", root, "--ports", "/host/tree"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Ports[0] != "/host/tree" {
		t.Errorf("ports = %v, want the flag's host path", c.Ports)
	}
	if c.Distfiles != filepath.Join(root, "srv/distfiles") {
		t.Errorf("distfiles = %s, want inside root", c.Distfiles)
	}
	if c.Build.Jobs != 3 || c.Build.Check || c.Build.MakeFlags != "-j3" || c.Build.Chroot != "never" || c.Mirrors[0] != "file:///mirror" {
		t.Errorf("build = %+v mirrors %v", c.Build, c.Mirrors)
	}
}

func TestEnvironmentOverridesTheFile(t *testing.T) {
	root := t.TempDir()
	t.Setenv("LPM_ROOT", root)
	t.Setenv("LPM_BUILD_JOBS", "7")
	c, err := Load(flagSet())
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != root || c.Build.Jobs != 7 {
		t.Errorf("root %s jobs %d", c.Root, c.Build.Jobs)
	}
}

func TestBadConfigNamesTheFile(t *testing.T) {
	root := t.TempDir()
	f := filepath.Join(root, "bad.toml")
	os.WriteFile(f, []byte("[build]\nchroot = \"sometimes\"\n"), 0o644)
	_, err := Load(flagSet("--root", root, "--config", f))
	if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "auto, always or never") {
		t.Errorf("error = %v", err)
	}
	_, err = Load(flagSet("--root", root, "--config", filepath.Join(root, "missing.toml")))
	if err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("an explicit missing config should fail naming it: %v", err)
	}
}
