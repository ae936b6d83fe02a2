package config

import (
	"os"
	"path/filepath"
	"slices"
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
	fs.StringArray("assume-installed", nil, "")
	fs.StringSlice("overwrite", nil, "")
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

func TestProvidedPackagesComeFromTheFileTheEnvironmentAndFlags(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/lpm"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/lpm/lpm.toml"), []byte(`provided = ["binutils=2.44", "gcc=14.2.0"]`), 0o644)
	c, err := Load(flagSet("--root", root, "--assume-installed", "bash=5.2.37"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Provided, " "); got != "binutils=2.44 gcc=14.2.0 bash=5.2.37" {
		t.Errorf("provided = %q", got)
	}
	t.Setenv("LPM_PROVIDED", "m4=1.4.19:make=4.4.1")
	c, err = Load(flagSet("--root", root))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Provided, " "); got != "m4=1.4.19 make=4.4.1" {
		t.Errorf("provided from LPM_PROVIDED = %q", got)
	}
	_, err = Load(flagSet("--root", root, "--assume-installed", "gcc"))
	if err == nil || !strings.Contains(err.Error(), `provided package "gcc": write NAME=VERSION`) {
		t.Errorf("a provided package without a version: %v", err)
	}
}

func TestOverwriteFlagsAddToTheFilesList(t *testing.T) {
	root := writeConfig(t, `overwrite = ["usr/**"]`)
	c, err := Load(flagSet("--root", root, "--overwrite", "etc/hosts"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Overwrite, " "); got != "usr/** etc/hosts" {
		t.Errorf("overwrite = %q, want the file's usr/** and the flag's etc/hosts", got)
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/lpm"), 0o755)
	if err := os.WriteFile(filepath.Join(root, "etc/lpm/lpm.toml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestAConfigSyntaxErrorNamesTheFileAndLine(t *testing.T) {
	root := writeConfig(t, "mirrors = []\n[build]\njobs = = 3\n")
	_, err := Load(flagSet("--root", root))
	file := filepath.Join(root, "etc/lpm/lpm.toml")
	if err == nil || !strings.Contains(err.Error(), file+":3:") || strings.Contains(err.Error(), "\n") {
		t.Errorf("syntax error: %v, want one line naming %s:3", err, file)
	}
}

func TestAnUnknownConfigKeyIsAnErrorNamingTheFileLineAndKey(t *testing.T) {
	root := writeConfig(t, "mirrors = []\n\n[build]\njobs = 2\njbos = 3\n[bootloader]\nroot = \"/dev/sda1\"\n")
	_, err := Load(flagSet("--root", root))
	file := filepath.Join(root, "etc/lpm/lpm.toml")
	if err == nil || !strings.Contains(err.Error(), file+":5: unknown key build.jbos") {
		t.Errorf("unknown key: %v, want %s:5: unknown key build.jbos", err, file)
	}
	root = writeConfig(t, "prots = [\"/usr/ports\"]\n")
	if _, err := Load(flagSet("--root", root)); err == nil || !strings.Contains(err.Error(), ":1: unknown key prots") {
		t.Errorf("unknown top-level key: %v", err)
	}
	// The [bootloader] table belongs to the hooks, which read it strictly.
	root = writeConfig(t, "[bootloader]\nroot = \"/dev/sda1\"\ncmdline = \"rw\"\n")
	if _, err := Load(flagSet("--root", root)); err != nil {
		t.Errorf("[bootloader] refused: %v", err)
	}
}

func TestLPMPortsSplitsOnColonsLikePATH(t *testing.T) {
	root := t.TempDir()
	t.Setenv("LPM_PORTS", "/a/ports:/b/my ports")
	c, err := Load(flagSet("--root", root))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Ports) != 2 || c.Ports[0] != "/a/ports" || c.Ports[1] != "/b/my ports" {
		t.Errorf("LPM_PORTS=/a/ports:/b/my ports gave %q", c.Ports)
	}
	// A flag still wins.
	c, err = Load(flagSet("--root", root, "--ports", "/c"))
	if err != nil || len(c.Ports) != 1 || c.Ports[0] != "/c" {
		t.Errorf("--ports with LPM_PORTS set: %q, %v", c.Ports, err)
	}
}

func TestPortsAreDefaultOnlyWhenNothingNamesThem(t *testing.T) {
	root := t.TempDir()
	c, err := Load(flagSet("--root", root))
	if err != nil {
		t.Fatal(err)
	}
	if !c.DefaultPorts {
		t.Error("no ports flag, variable or file: DefaultPorts is false")
	}
	if c, _ := Load(flagSet("--root", root, "--ports", "/srv/ports")); c.DefaultPorts {
		t.Error("--ports given: DefaultPorts is true")
	}
	t.Setenv("LPM_PORTS", "/srv/ports")
	if c, _ := Load(flagSet("--root", root)); c.DefaultPorts {
		t.Error("LPM_PORTS set: DefaultPorts is true")
	}
	os.Unsetenv("LPM_PORTS")
	os.MkdirAll(filepath.Join(root, "etc/lpm"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/lpm/lpm.toml"), []byte("ports = [\"/usr/ports\"]\n"), 0o644)
	if c, _ := Load(flagSet("--root", root)); c.DefaultPorts {
		t.Error("ports in lpm.toml: DefaultPorts is true")
	}
}

func TestPortsListKeepsTheShippedTreeByName(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/lpm"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/lpm/lpm.toml"), []byte("ports = [\"/srv/ports\", \"shipped\"]\n"), 0o644)
	c, err := Load(flagSet("--root", root))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Ports) != 2 || c.Ports[0] != filepath.Join(root, "srv/ports") || c.Ports[1] != ShippedPorts {
		t.Errorf("ports = %v, want [%s %s]", c.Ports, filepath.Join(root, "srv/ports"), ShippedPorts)
	}
	if c, _ := Load(flagSet("--root", root, "--ports", "shipped")); len(c.Ports) != 1 || c.Ports[0] != ShippedPorts {
		t.Errorf("--ports shipped: ports = %v", c.Ports)
	}
}

func TestRepositoriesParallelBuildsAndWhereFromAreRead(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/lpm"), 0o755)
	file := filepath.Join(root, "etc/lpm/lpm.toml")
	os.WriteFile(file, []byte(`
[build]
parallel = 3
from = "repository"
distcc_hosts = "10.0.0.2/8"
[[repository]]
name = "lan"
url = "http://builder.lan/lpm"
key = "RWQS4jxgPogSkmBDtpFHBGm9dS1Hritx8O5kTwjneQwhk16CGuRQ7QI+"
[[repository]]
url = "file:///srv/lpm"
key = "RWQ..."
`), 0o644)
	c, err := Load(flagSet("--root", root))
	if err != nil {
		t.Fatal(err)
	}
	if c.Build.Parallel != 3 || c.Build.From != "repository" || c.Build.DistccHosts != "10.0.0.2/8" {
		t.Errorf("build = %+v", c.Build)
	}
	if len(c.Repositories) != 2 || c.Repositories[0].Name != "lan" || c.Repositories[1].URL != "file:///srv/lpm" {
		t.Errorf("repositories = %+v", c.Repositories)
	}
	fs := flagSet("--root", root)
	fs.Int("jobs", 0, "")
	fs.String("build-from", "", "")
	fs.Parse([]string{"--jobs", "5", "--build-from", "source"})
	if c, err = Load(fs); err != nil || c.Build.Parallel != 5 || c.Build.From != "source" {
		t.Errorf("--jobs 5 --build-from source: %v %+v", err, c.Build)
	}

	os.WriteFile(file, []byte("[build]\nfrom = \"cloud\"\n"), 0o644)
	if _, err := Load(flagSet("--root", root)); err == nil || !strings.Contains(err.Error(), "auto, repository or source") {
		t.Errorf("a bad build.from: %v", err)
	}
	os.WriteFile(file, []byte("[[repository]]\nurl = \"http://x\"\n"), 0o644)
	if _, err := Load(flagSet("--root", root)); err == nil || !strings.Contains(err.Error(), "needs url and key") {
		t.Errorf("a repository without a key: %v", err)
	}
	os.WriteFile(file, []byte("[[repository]]\nurl = \"http://x\"\nkye = \"RWQ...\"\n"), 0o644)
	if _, err := Load(flagSet("--root", root)); err == nil || !strings.Contains(err.Error(), ":3: unknown key repository.kye; the keys of [[repository]] are name, url, key, mirrors") {
		t.Errorf("a misspelt repository key: %v", err)
	}
}

func TestParallelBuildsDefaultToCoresAndMemory(t *testing.T) {
	c, err := Load(flagSet("--root", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Build.Parallel < 1 || c.Build.Parallel > c.Build.Jobs {
		t.Errorf("default parallel = %d with %d cores", c.Build.Parallel, c.Build.Jobs)
	}
}

func TestAMistypedEnvironmentVariableIsNamedWithTheSettingItResembles(t *testing.T) {
	root := t.TempDir()
	t.Setenv("LPM_ROOT", root)
	t.Setenv("LPM_ROOOT", "/mnt/lfs")
	t.Setenv("LPM_BUILD_JOBZ", "8")
	t.Setenv("LPM_SOMETHING_ELSE_ENTIRELY", "1")
	t.Setenv("LPM_BUILD_JOBS", "3")
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"LPM_BUILD_JOBZ (LPM_BUILD_JOBS?)", "LPM_ROOOT (LPM_ROOT?)", "LPM_SOMETHING_ELSE_ENTIRELY"}
	if !slices.Equal(c.UnknownEnv, want) {
		t.Errorf("UnknownEnv = %q, want %q", c.UnknownEnv, want)
	}
}
