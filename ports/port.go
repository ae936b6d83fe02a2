package ports

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/pelletier/go-toml/v2"

	"github.com/lfs-lpm/lpm/resolver"
)

// FileName is the name of a port's metadata file inside its directory.
const FileName = "port.toml"

// A Port is one version of one piece of software, as its port.toml says.
type Port struct {
	Name        string   `toml:"name"`
	Version     string   `toml:"version"` // upstream's string, $VERSION in builds
	SemVer      string   `toml:"semver"`  // explicit semver when Version does not map
	Release     int      `toml:"release"` // bumped when the port changes, not upstream
	Description string   `toml:"description"`
	License     string   `toml:"license"`
	Homepage    string   `toml:"homepage"`
	Provides    []string `toml:"provides"`  // "name" or "name=version"
	Conflicts   []string `toml:"conflicts"` // "name" or "name constraint"
	Backup      []string `toml:"backup"`    // config files, relative to the root
	Slot        bool     `toml:"slot"`      // versions install side by side (kernels)
	Patches     []string `toml:"patches"`   // applied with patch -Np1, in order
	Files       []string `toml:"files"`     // extra files from the port directory
	Sources     []Source `toml:"source"`
	Depends     Depends  `toml:"depends"`
	Build       Build    `toml:"build"`

	// Filled in by Parse, not read from TOML.
	Dir string          `toml:"-"` // the port's directory
	Ver *semver.Version `toml:"-"` // the version compared by the solver
}

// A Source is one file to fetch. Archives are unpacked into the work
// directory; other files are copied there.
type Source struct {
	URL    string `toml:"url"`
	SHA256 string `toml:"sha256"`
	MD5    string `toml:"md5"`  // accepted, reported as weak
	Name   string `toml:"name"` // file name to store as; default from the URL
}

// FileName is the name the source is stored under in the distfiles cache.
func (s Source) FileName() string {
	if s.Name != "" {
		return s.Name
	}
	u := s.URL
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u[strings.LastIndex(u, "/")+1:]
}

// Depends splits dependencies by when they are needed.
type Depends struct {
	Build []string `toml:"build"` // only to build the port from source
	Run   []string `toml:"run"`   // wherever the package is installed
	// Check is needed to build only when the check phase runs
	// (build.check): test suites' tools, such as dejagnu.
	Check []string `toml:"check"`
	// After names ports that, when they are in the same plan, are
	// installed before this one is built: ordering only, nothing is
	// pulled in (the book's "must be installed before").
	After []string `toml:"after"`
}

// Build says how to build the port. A style supplies default phases;
// phases written in the port replace the style's.
type Build struct {
	Style          string            `toml:"style"` // autotools, make, meson, cmake, custom
	ConfigureFlags string            `toml:"configure_flags"`
	Env            map[string]string `toml:"env"`
	// Strip lists globs (relative to the root) of staged files to strip.
	// Absent means every ELF file when the config enables stripping; an
	// empty list means none.
	Strip     *[]string `toml:"strip"`
	Prepare   *string   `toml:"prepare"`
	Configure *string   `toml:"configure"`
	Make      *string   `toml:"build"`
	Check     *string   `toml:"check"`
	Install   *string   `toml:"install"`

	// CheckAdvisory: a failing check phase is a warning naming the log,
	// not the end of the build (test suites the book expects to fail in
	// places).
	CheckAdvisory bool `toml:"check_advisory"`

	// Distcc = false builds the port with the local compiler even when
	// build.distcc_hosts is set, for a build known to break under distcc.
	Distcc *bool `toml:"distcc"`
}

// Phases lists the build phases in the order they run.
var Phases = []string{"prepare", "configure", "build", "check", "install"}

var styles = map[string]map[string]string{
	"autotools": {
		"configure": `./configure --prefix=/usr $CONFIGURE_FLAGS`,
		"build":     `make`,
		"check":     `make check`,
		"install":   `make DESTDIR="$DESTDIR" install`,
	},
	"make": {
		"build":   `make PREFIX=/usr`,
		"check":   `make check`,
		"install": `make PREFIX=/usr DESTDIR="$DESTDIR" install`,
	},
	"meson": {
		"configure": `meson setup --prefix=/usr --buildtype=release build $CONFIGURE_FLAGS`,
		"build":     `ninja -C build`,
		"check":     `ninja -C build test`,
		"install":   `DESTDIR="$DESTDIR" ninja -C build install`,
	},
	"cmake": {
		"configure": `cmake -B build -D CMAKE_INSTALL_PREFIX=/usr -D CMAKE_BUILD_TYPE=Release $CONFIGURE_FLAGS`,
		"build":     `make -C build`,
		"check":     `make -C build test`,
		"install":   `make -C build DESTDIR="$DESTDIR" install`,
	},
	"custom": {},
}

// Script returns the bash text of one phase, "" when the phase does nothing.
func (p *Port) Script(phase string) string {
	var own *string
	switch phase {
	case "prepare":
		own = p.Build.Prepare
	case "configure":
		own = p.Build.Configure
	case "build":
		own = p.Build.Make
	case "check":
		own = p.Build.Check
	case "install":
		own = p.Build.Install
	}
	if own != nil {
		return *own
	}
	return styles[p.style()][phase]
}

func (p *Port) style() string {
	if p.Build.Style == "" {
		return "custom"
	}
	return p.Build.Style
}

// ID is NAME-VERSION-RELEASE, the name of the port's package archive.
func (p *Port) ID() string {
	return fmt.Sprintf("%s-%s-%d", p.Name, p.Version, p.Release)
}

// String is NAME VERSION, as users see it.
func (p *Port) String() string { return p.Name + " " + p.Version }

// A ParseError names the file and line of a problem in a port file.
type ParseError struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ParseFile reads and checks one port file. The returned errors are all
// *ParseError; the port is nil if any of them is fatal.
func ParseFile(file string) (*Port, []error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, []error{&ParseError{File: file, Msg: err.Error()}}
	}
	return Parse(file, data)
}

// Parse reads port metadata from data; file names it in errors.
func Parse(file string, data []byte) (*Port, []error) {
	p := &Port{Dir: filepath.Dir(file)}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, tomlErrors(file, err)
	}
	errs := p.check(file, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

func tomlErrors(file string, err error) []error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, e := range strict.Errors {
			line, _ := e.Position()
			errs = append(errs, &ParseError{File: file, Line: line,
				Msg: fmt.Sprintf("unknown key %q", strings.Join(e.Key(), "."))})
		}
		return errs
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		return []error{&ParseError{File: file, Line: line, Msg: de.Error()}}
	}
	return []error{&ParseError{File: file, Msg: err.Error()}}
}

var (
	validName = regexp.MustCompile(`^[a-z0-9][a-z0-9+._-]*$`)
	validHex  = regexp.MustCompile(`^[0-9a-f]+$`)
)

// check validates what TOML cannot: names, versions, constraints, sources.
func (p *Port) check(file string, data []byte) []error {
	var errs []error
	bad := func(needle, format string, args ...any) {
		errs = append(errs, &ParseError{File: file, Line: lineOf(data, needle), Msg: fmt.Sprintf(format, args...)})
	}
	if !validName.MatchString(p.Name) {
		bad("name", "name %q is missing or invalid: use lower-case letters, digits and + . _ -", p.Name)
	}
	switch {
	case p.Version == "":
		bad("version", "version is missing")
	case p.SemVer != "":
		v, err := semver.StrictNewVersion(p.SemVer)
		if err != nil {
			bad("semver", "semver %q is not X.Y.Z: %v", p.SemVer, err)
		}
		p.Ver = v
	default:
		v, err := ParseVersion(p.Version)
		if err != nil {
			bad("version", "%v", err)
		}
		p.Ver = v
	}
	if p.Release < 0 {
		bad("release", "release must be 0 or more")
	}
	if p.Release == 0 {
		p.Release = 1
	}
	if _, ok := styles[p.style()]; !ok {
		bad("style", "unknown build style %q: use autotools, make, meson, cmake or custom", p.Build.Style)
	}
	for _, s := range p.Sources {
		switch {
		case s.URL == "":
			bad("[[source]]", "a source has no url")
			continue
		case !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") && !strings.HasPrefix(s.URL, "file://"):
			bad(s.URL, "source %s: only http, https and file URLs are fetched", s.URL)
		}
		if name := s.FileName(); name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
			bad(s.URL, "source %s has no usable file name; add name = \"...\"", s.URL)
		}
		if s.SHA256 != "" && (len(s.SHA256) != 64 || !validHex.MatchString(s.SHA256)) {
			bad(s.SHA256, "source %s: sha256 must be 64 lower-case hex digits", s.URL)
		}
		if s.MD5 != "" && (len(s.MD5) != 32 || !validHex.MatchString(s.MD5)) {
			bad(s.MD5, "source %s: md5 must be 32 lower-case hex digits", s.URL)
		}
	}
	for _, list := range [][]string{p.Depends.Build, p.Depends.Run, p.Depends.Check} {
		for _, d := range list {
			if _, err := ParseDep(d); err != nil {
				bad(d, "%v", err)
			}
		}
	}
	for _, a := range p.Depends.After {
		if !validName.MatchString(a) {
			bad(a, "after %q: write a port name, without a version", a)
		}
	}
	for _, c := range p.Conflicts {
		if _, err := ParseTerm(c); err != nil {
			bad(c, "conflict %v", err)
		}
	}
	for _, pr := range p.Provides {
		if _, err := ParseProvide(pr); err != nil {
			bad(pr, "%v", err)
		}
	}
	for _, f := range append(append([]string{}, p.Patches...), p.Files...) {
		if f == "" || strings.Contains(f, "/") || f == "." || f == ".." {
			bad(f, "file %q must be a plain file name in the port directory", f)
		}
	}
	for _, b := range p.Backup {
		if c := filepath.Clean(strings.TrimPrefix(b, "/")); c != strings.TrimPrefix(b, "/") || strings.HasPrefix(c, "..") || c == "." {
			bad(b, "backup path %q must be a clean path inside the root", b)
		}
	}
	return errs
}

// lineOf returns the first line of data mentioning needle, 0 if none: a
// good enough pointer for errors TOML cannot place.
func lineOf(data []byte, needle string) int {
	if needle == "" {
		return 0
	}
	i := bytes.Index(data, []byte(needle))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// ParseTerm reads "name" or "name constraint", e.g. "zlib >=1.3".
func ParseTerm(s string) (resolver.Term, error) {
	s = strings.TrimSpace(s)
	name, cons, _ := strings.Cut(s, " ")
	// Allow "name>=1.2" without the space, as pacman does.
	if i := strings.IndexAny(name, "<>=!~^"); i > 0 {
		name, cons = name[:i], name[i:]+" "+cons
	}
	cons = strings.TrimSpace(cons)
	if !validName.MatchString(name) {
		return resolver.Term{}, fmt.Errorf("%q: bad package name %q", s, name)
	}
	t := resolver.Term{Name: name}
	if cons != "" {
		c, err := semver.NewConstraint(mapConstraint(cons))
		if err != nil {
			return resolver.Term{}, fmt.Errorf("%q: bad version constraint %q: %v", s, cons, err)
		}
		t.Constraint = c
	}
	return t, nil
}

var (
	constraintOperand = regexp.MustCompile(`[^\s,|<>=!~^]+`)
	// plainOperand is what semver reads as the user means it, including
	// partial versions, whose missing parts matter to ~ and ^.
	plainOperand = regexp.MustCompile(`^[vV]?[0-9]+(\.([0-9]+|[xX*])){0,2}$|^[xX*-]$`)
)

// mapConstraint rewrites the versions of a constraint that semver would
// misread ("9.9p2", "7.1.1-43", "2025a") by the version rule, so that users
// and ports write constraints in upstream's versions. An operand the rule
// cannot read is left for semver to reject.
func mapConstraint(cons string) string {
	return constraintOperand.ReplaceAllStringFunc(cons, func(op string) string {
		if plainOperand.MatchString(op) {
			return op
		}
		if v, err := ParseVersion(op); err == nil {
			return v.String()
		}
		return op
	})
}

// ParseDep reads a dependency: terms separated by a single "|" are
// alternatives ("awk | gawk >=5"); "||" stays inside a constraint.
func ParseDep(s string) (resolver.Dep, error) {
	const hold = "\x00"
	var dep resolver.Dep
	for _, alt := range strings.Split(strings.ReplaceAll(s, "||", hold), "|") {
		t, err := ParseTerm(strings.ReplaceAll(alt, hold, "||"))
		if err != nil {
			return nil, fmt.Errorf("dependency %v", err)
		}
		dep = append(dep, t)
	}
	return dep, nil
}

// ParseProvide reads "name" or "name=version".
func ParseProvide(s string) (resolver.Provide, error) {
	name, ver, versioned := strings.Cut(strings.TrimSpace(s), "=")
	if !validName.MatchString(name) {
		return resolver.Provide{}, fmt.Errorf("provide %q: bad name %q", s, name)
	}
	p := resolver.Provide{Name: name}
	if versioned {
		v, err := ParseVersion(ver)
		if err != nil {
			return resolver.Provide{}, fmt.Errorf("provide %q: %v", s, err)
		}
		p.Version = v
	}
	return p, nil
}

// Package converts the port to what the solver reads. The port was checked
// by Parse, so the dependency strings parse.
func (p *Port) Package() *resolver.Package {
	rp := &resolver.Package{Name: p.Name, Version: p.Ver}
	for _, d := range p.Depends.Run {
		dep, _ := ParseDep(d)
		rp.Run = append(rp.Run, dep)
	}
	for _, d := range p.Depends.Build {
		dep, _ := ParseDep(d)
		rp.Build = append(rp.Build, dep)
	}
	for _, d := range p.Depends.Check {
		dep, _ := ParseDep(d)
		rp.Check = append(rp.Check, dep)
	}
	rp.After = append(rp.After, p.Depends.After...)
	for _, s := range p.Provides {
		pr, _ := ParseProvide(s)
		rp.Provides = append(rp.Provides, pr)
	}
	for _, c := range p.Conflicts {
		t, _ := ParseTerm(c)
		rp.Conflicts = append(rp.Conflicts, t)
	}
	return rp
}
