// Package config holds lpm's settings: defaults, the config file
// (ROOT/etc/lpm/lpm.toml unless --config says otherwise), LPM_* environment
// variables and command-line flags, in rising order of precedence (viper).
//
// Paths written in the config file are inside the root the file belongs to:
// "/usr/ports" in /mnt/lfs/etc/lpm/lpm.toml means /mnt/lfs/usr/ports when lpm
// runs on the host, and /usr/ports once inside the chroot. Paths given as
// flags or environment variables are host paths, taken as they are.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is every setting, resolved to host paths.
type Config struct {
	Root      string
	File      string   // the config file read, "" if none
	Ports     []string // trees, earliest wins
	Distfiles string   // fetched sources
	Packages  string   // built package archives
	BuildDir  string   // work and staging directories
	LogDir    string   // build logs
	Mirrors   []string
	Overwrite []string // globs of paths an install may take over
	Yes       bool
	Quiet     bool
	JSON      bool
	Verbose   bool
	Color     string // auto, always, never: ANSI colour on a terminal
	Build     Build

	// Provided lists NAME=VERSION packages the system supplies outside
	// lpm (the temporary tools of LFS chapters 5 to 7): they satisfy
	// dependencies as if installed, and lpm never builds, installs,
	// upgrades or removes them on its own. Flags add to the file's list.
	Provided []string

	// DefaultPorts is set when no flag, variable or config file names
	// the trees: then the shipped LFS tree lies under Ports, which need
	// not exist.
	DefaultPorts bool

	// Repositories are the [[repository]] tables: binary package
	// repositories tried in order before building from source.
	Repositories []Repository

	// UnknownEnv names the LPM_* environment variables that are no
	// setting, each with the closest one ("LPM_ROOOT (LPM_ROOT?)"): a
	// mistyped LPM_ROOT would otherwise send lpm to / without a word.
	UnknownEnv []string
}

// A Repository is a binary package repository: where its index is, and
// the minisign public key its index must be signed with.
type Repository struct {
	Name string `mapstructure:"name"`
	URL  string `mapstructure:"url"`
	Key  string `mapstructure:"key"`
	// Mirrors hold copies of its archives by name, tried before URL.
	Mirrors []string `mapstructure:"mirrors"`
}

// ShippedPorts in a list of ports trees stands for the LFS tree built into
// lpm, so that a list can keep it: ports = ["/usr/ports", "shipped"].
const ShippedPorts = "shipped"

// Build holds the build settings.
type Build struct {
	Jobs int // each build's make -j ($JOBS)
	// Parallel is how many ports of a plan build at once (--jobs).
	Parallel  int
	CFlags    string
	CXXFlags  string
	MakeFlags string
	Check     bool   // run the check phase
	Strip     bool   // strip ELF files in staging
	Chroot    string // auto, always, never: build inside a non-/ root
	Sandbox   bool   // private mount namespace, read-only outside work and staging
	// From says where packages come from: "auto" (a repository's archive
	// when one matches, else a build), "repository" (never build: a port
	// no repository has is an error) or "source" (always build).
	From string
	// DistccHosts, in distcc's own syntax ("10.0.0.2/8 localhost/2"),
	// makes builds compile through distcc; "" builds locally.
	DistccHosts string
}

// Defaults, relative to the root where they are paths.
var defaults = map[string]any{
	"ports":              []string{"/usr/ports"},
	"distfiles":          "/var/cache/lpm/distfiles",
	"packages":           "/var/cache/lpm/packages",
	"builddir":           "/var/tmp/lpm",
	"logdir":             "/var/log/lpm/build",
	"mirrors":            []string{},
	"overwrite":          []string{},
	"provided":           []string{},
	"color":              "auto",
	"build.jobs":         runtime.NumCPU(),
	"build.parallel":     defaultParallel(),
	"build.cflags":       "-O2 -pipe",
	"build.cxxflags":     "-O2 -pipe",
	"build.makeflags":    "",
	"build.check":        true,
	"build.strip":        true,
	"build.chroot":       "auto",
	"build.sandbox":      true,
	"build.from":         "auto",
	"build.distcc_hosts": "",
}

var pathKeys = []string{"distfiles", "packages", "builddir", "logdir"}

// Load resolves the settings. flags are the command line's (may be nil);
// a flag named like a key ("root", "ports", "yes") overrides it.
func Load(flags *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	v.SetDefault("root", "/")
	v.SetEnvPrefix("LPM")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if flags != nil {
		for _, name := range []string{"root", "ports", "yes", "quiet", "json", "verbose", "color"} {
			if f := flags.Lookup(name); f != nil {
				if err := v.BindPFlag(name, f); err != nil {
					return nil, err
				}
			}
		}
	}
	root, err := filepath.Abs(v.GetString("root"))
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", v.GetString("root"), err)
	}
	c := &Config{Root: root, UnknownEnv: unknownEnv(os.Environ())}

	file, explicit := "", false
	if flags != nil {
		if f := flags.Lookup("config"); f != nil && f.Changed {
			file, explicit = f.Value.String(), true
		}
	}
	if env := os.Getenv("LPM_CONFIG"); file == "" && env != "" {
		file, explicit = env, true
	}
	if file == "" {
		file = filepath.Join(root, "etc/lpm/lpm.toml")
	}
	v.SetConfigType("toml")
	switch data, err := os.ReadFile(file); {
	case err == nil:
		if err := checkFile(file, data); err != nil {
			return nil, err
		}
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
		c.File = file
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		return nil, fmt.Errorf("config %s: %w", file, err)
	}

	// Where a path came from decides whether it is inside the root.
	fromHost := func(key string) bool {
		if flagChanged(flags, key) {
			return true
		}
		_, env := os.LookupEnv("LPM_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_")))
		return env
	}
	inRoot := func(key, p string) string {
		if fromHost(key) {
			abs, _ := filepath.Abs(p)
			return abs
		}
		return filepath.Join(root, p)
	}
	c.DefaultPorts = !fromHost("ports") && !v.InConfig("ports")
	portsList := v.GetStringSlice("ports")
	if env, ok := os.LookupEnv("LPM_PORTS"); ok && !flagChanged(flags, "ports") {
		// A list of directories in one variable splits as PATH does.
		portsList = nil
		for _, p := range filepath.SplitList(env) {
			if p != "" {
				portsList = append(portsList, p)
			}
		}
	}
	for _, p := range portsList {
		if p == ShippedPorts {
			c.Ports = append(c.Ports, p)
			continue
		}
		c.Ports = append(c.Ports, inRoot("ports", p))
	}
	for _, key := range pathKeys {
		dst := map[string]*string{"distfiles": &c.Distfiles, "packages": &c.Packages, "builddir": &c.BuildDir, "logdir": &c.LogDir}[key]
		*dst = inRoot(key, v.GetString(key))
	}
	c.Mirrors = v.GetStringSlice("mirrors")
	// --overwrite adds to the file's list, as --assume-installed does: the
	// chapter-8 profile's usr/** must not vanish because one command
	// takes over one more path.
	c.Overwrite = v.GetStringSlice("overwrite")
	if flags != nil {
		if f := flags.Lookup("overwrite"); f != nil && f.Changed {
			more, err := flags.GetStringSlice("overwrite")
			if err != nil {
				return nil, err
			}
			c.Overwrite = append(c.Overwrite, more...)
		}
	}
	// LPM_PROVIDED separates entries with ':' as PATH does; viper would
	// split an environment list on spaces.
	if env, ok := os.LookupEnv("LPM_PROVIDED"); ok {
		c.Provided = strings.FieldsFunc(env, func(r rune) bool { return r == ':' })
	} else {
		c.Provided = v.GetStringSlice("provided")
	}
	if flags != nil {
		if f := flags.Lookup("assume-installed"); f != nil && f.Changed {
			more, err := flags.GetStringArray("assume-installed")
			if err != nil {
				return nil, err
			}
			c.Provided = append(c.Provided, more...)
		}
	}
	for _, p := range c.Provided {
		if name, ver, ok := strings.Cut(p, "="); !ok || name == "" || ver == "" {
			return nil, fmt.Errorf("config %s: provided package %q: write NAME=VERSION, e.g. gcc=14.2.0", file, p)
		}
	}
	c.Yes, c.Quiet, c.JSON, c.Verbose = v.GetBool("yes"), v.GetBool("quiet"), v.GetBool("json"), v.GetBool("verbose")
	c.Color = v.GetString("color")
	switch c.Color {
	case "auto", "always", "never":
	default:
		return nil, fmt.Errorf("color is %q (in %s, LPM_COLOR or --color); use auto, always or never", c.Color, file)
	}
	c.Build = Build{
		Jobs:        v.GetInt("build.jobs"),
		Parallel:    v.GetInt("build.parallel"),
		CFlags:      v.GetString("build.cflags"),
		CXXFlags:    v.GetString("build.cxxflags"),
		MakeFlags:   v.GetString("build.makeflags"),
		Check:       v.GetBool("build.check"),
		Strip:       v.GetBool("build.strip"),
		Chroot:      v.GetString("build.chroot"),
		Sandbox:     v.GetBool("build.sandbox"),
		From:        v.GetString("build.from"),
		DistccHosts: v.GetString("build.distcc_hosts"),
	}
	if flags != nil {
		if f := flags.Lookup("build-from"); f != nil && f.Changed {
			c.Build.From = f.Value.String()
		}
	}
	switch c.Build.From {
	case "auto", "repository", "source":
	default:
		return nil, fmt.Errorf("config %s: build.from is %q; use auto, repository or source", file, c.Build.From)
	}
	if err := v.UnmarshalKey("repository", &c.Repositories); err != nil {
		return nil, fmt.Errorf("config %s: [[repository]]: %w", file, err)
	}
	for i, r := range c.Repositories {
		if r.URL == "" || r.Key == "" {
			return nil, fmt.Errorf("config %s: [[repository]] %d needs url and key (the minisign public key, RWQ...)", file, i+1)
		}
	}
	if c.Build.Jobs < 1 {
		c.Build.Jobs = 1
	}
	if flags != nil {
		if f := flags.Lookup("jobs"); f != nil && f.Changed {
			n, err := flags.GetInt("jobs")
			if err != nil {
				return nil, err
			}
			c.Build.Parallel = n
		}
	}
	if c.Build.Parallel < 1 {
		c.Build.Parallel = 1
	}
	if c.Build.MakeFlags == "" {
		c.Build.MakeFlags = fmt.Sprintf("-j%d", c.Build.Jobs)
	}
	switch c.Build.Chroot {
	case "auto", "always", "never":
	default:
		return nil, fmt.Errorf("config %s: build.chroot is %q; use auto, always or never", file, c.Build.Chroot)
	}
	return c, nil
}

func flagChanged(flags *pflag.FlagSet, name string) bool {
	if flags == nil {
		return false
	}
	f := flags.Lookup(name)
	return f != nil && f.Changed
}

// arrayTables are the arrays of tables of lpm.toml ([[repository]]), with
// the keys each table may have.
var arrayTables = map[string][]string{"repository": {"name", "url", "key", "mirrors"}}

// ownTables are tables of lpm.toml that other packages read, strictly,
// themselves: [bootloader] is the hooks'.
var ownTables = map[string]bool{"bootloader": true}

// checkFile refuses a config file that does not parse, naming its line,
// and one with a key lpm does not know, naming the key and its line: a
// misspelt setting silently ignored is a setting the user thinks is on.
func checkFile(file string, data []byte) error {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return fmt.Errorf("%s:%d:%d: %s", file, row, col, strings.TrimPrefix(de.Error(), "toml: "))
		}
		return fmt.Errorf("config %s: %w", file, err)
	}
	var unknown []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, val := range m {
			key := prefix + k
			if prefix == "" && ownTables[k] {
				continue
			}
			if sub, ok := val.(map[string]any); ok {
				walk(key+".", sub)
				continue
			}
			if tables, ok := val.([]any); ok && prefix == "" && arrayTables[k] != nil {
				for _, t := range tables {
					sub, _ := t.(map[string]any)
					for leaf := range sub {
						if !slices.Contains(arrayTables[k], leaf) {
							unknown = append(unknown, key+"."+leaf)
						}
					}
				}
				continue
			}
			if _, known := defaults[key]; !known {
				unknown = append(unknown, key)
			}
		}
	}
	walk("", doc)
	if len(unknown) == 0 {
		return nil
	}
	sort.Slice(unknown, func(i, j int) bool { return keyLine(data, unknown[i]) < keyLine(data, unknown[j]) })
	key := unknown[0]
	table, _, nested := strings.Cut(key, ".")
	var known []string
	for k := range defaults {
		t, leaf, sub := strings.Cut(k, ".")
		switch {
		case nested && sub && t == table:
			known = append(known, leaf)
		case !nested && !sub:
			known = append(known, k)
		}
	}
	sort.Strings(known)
	where := "the top-level keys are"
	if nested {
		where = "the keys of [" + table + "] are"
	}
	if keys, ok := arrayTables[table]; ok && nested {
		where, known = "the keys of [["+table+"]] are", keys
	}
	if len(known) == 0 {
		where, known = "there is no table", []string{"[" + table + "]"}
	}
	return fmt.Errorf("%s:%d: unknown key %s; %s %s", file, keyLine(data, key), key, where, strings.Join(known, ", "))
}

// keyLine is the line where key ("build.jobs") is set in a TOML file, 0
// when it cannot be found.
func keyLine(data []byte, key string) int {
	table := ""
	for i, line := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") {
			if end := strings.Index(l, "]"); end > 0 {
				table = strings.TrimSpace(strings.Trim(l[:end], "["))
			}
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if !ok || strings.HasPrefix(l, "#") {
			continue
		}
		full := strings.Trim(strings.TrimSpace(k), `"'`)
		if table != "" {
			full = table + "." + full
		}
		if full == key {
			return i + 1
		}
	}
	return 0
}

// defaultParallel is how many builds run at once unless build.parallel or
// --jobs says otherwise: one per core, but no more than one per 2 GiB of
// memory, since a C++ build at make -j$(nproc) can take that much alone.
func defaultParallel() int {
	n := runtime.NumCPU()
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 1
	}
	var kib int64
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			fmt.Sscan(rest, &kib)
		}
	}
	if byMem := int(kib / (2 << 20)); byMem < n {
		n = byMem
	}
	return max(n, 1)
}

// otherEnv are the LPM_* variables that are not settings but are read:
// by lpm itself, and by its own test suites.
var otherEnv = []string{
	"LPM_CONFIG", "LPM_KEY_PASSWORD", "LPM_RUNNING_KERNEL", "LPM_SANDBOX_SPEC", "LPM_TEST_CRASH",
	"LPM_TEST_CACHE", "LPM_SLOW", "LPM_LFS_BOOT", "LPM_LFS_ALL", "LPM_TEST_GRUB_ROOT",
	"LPM_CRASH_TRIALS", "LPM_BOOT_CACHE",
}

// unknownEnv returns the LPM_* names in environ that lpm does not read.
func unknownEnv(environ []string) []string {
	known := slices.Clone(otherEnv)
	for _, k := range append(slices.Collect(maps.Keys(defaults)), "root", "yes", "quiet", "json", "verbose", "repository") {
		known = append(known, "LPM_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_")))
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "LPM_") || slices.Contains(known, name) {
			continue
		}
		best, bestDist := "", 3 // further than two edits is no typo
		for _, k := range known {
			if d := editDistance(name, k); d < bestDist {
				best, bestDist = k, d
			}
		}
		if best != "" {
			name += " (" + best + "?)"
		}
		unknown = append(unknown, name)
	}
	sort.Strings(unknown)
	return unknown
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
