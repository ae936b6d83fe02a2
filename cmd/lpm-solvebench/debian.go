package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// A debRel is one Debian relation: "name (op version)". Op is "", "<<",
// "<=", "=", ">=" or ">>"; the obsolete "<" and ">" are read as "<=" and
// ">=", as dpkg does.
type debRel struct {
	name, op, ver string
}

// A debPkg is one stanza of a Packages file, reduced to what solving
// needs: Pre-Depends and Depends are run dependencies; Conflicts and
// Breaks are conflicts. Recommends are ignored (the benchmark runs apt
// with --no-install-recommends to match).
type debPkg struct {
	name, version string
	description   string // the synopsis: the first line of Description
	depends       [][]debRel
	conflicts     []debRel
	provides      []debRel
}

// readPackagesFile reads a Packages index. Compressed lists (apt keeps
// them as .lz4, .gz, .xz) are read through apt's own decompressor,
// apt-helper cat-file.
func readPackagesFile(path string) ([]debPkg, error) {
	var r io.Reader
	if strings.HasSuffix(path, ".lz4") || strings.HasSuffix(path, ".gz") || strings.HasSuffix(path, ".xz") || strings.HasSuffix(path, ".zst") {
		out, err := exec.Command("/usr/lib/apt/apt-helper", "cat-file", path).Output()
		if err != nil {
			return nil, fmt.Errorf("decompressing %s with apt-helper cat-file: %w (is apt installed?)", path, err)
		}
		r = bytes.NewReader(out)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	pkgs, err := parsePackages(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return pkgs, nil
}

// parsePackages parses deb822 stanzas.
func parsePackages(r io.Reader) ([]debPkg, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var out []debPkg
	var cur debPkg
	var field string
	fields := map[string]string{}
	flush := func() error {
		if len(fields) == 0 {
			return nil
		}
		cur = debPkg{name: fields["Package"], version: fields["Version"], description: fields["Description"]}
		if cur.name == "" || cur.version == "" {
			fields = map[string]string{}
			return nil
		}
		var err error
		for _, f := range []string{"Pre-Depends", "Depends"} {
			if v := fields[f]; v != "" {
				deps, e := parseRelations(v)
				if e != nil {
					err = fmt.Errorf("package %s: %s: %w", cur.name, f, e)
				}
				cur.depends = append(cur.depends, deps...)
			}
		}
		for _, f := range []string{"Conflicts", "Breaks"} {
			if v := fields[f]; v != "" {
				deps, e := parseRelations(v)
				if e != nil {
					err = fmt.Errorf("package %s: %s: %w", cur.name, f, e)
				}
				for _, d := range deps {
					cur.conflicts = append(cur.conflicts, d...)
				}
			}
		}
		if v := fields["Provides"]; v != "" {
			deps, e := parseRelations(v)
			if e != nil {
				err = fmt.Errorf("package %s: Provides: %w", cur.name, e)
			}
			for _, d := range deps {
				cur.provides = append(cur.provides, d...)
			}
		}
		out = append(out, cur)
		fields = map[string]string{}
		return err
	}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if field != "" {
				fields[field] += " " + strings.TrimSpace(line)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "Package", "Version", "Depends", "Pre-Depends", "Conflicts", "Breaks", "Provides":
			field = k
			fields[k] = strings.TrimSpace(v)
		case "Description":
			field = "" // the synopsis only; continuation lines are the long text
			fields[k] = strings.TrimSpace(v)
		default:
			field = ""
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseRelations parses "a (>= 1) | b, c:any [amd64] <!nocheck>".
// Architecture qualifiers are dropped: the benchmark is single-arch.
func parseRelations(s string) ([][]debRel, error) {
	var out [][]debRel
	for _, group := range strings.Split(s, ",") {
		group = strings.TrimSpace(group)
		if group == "" {
			continue
		}
		var alts []debRel
		for _, alt := range strings.Split(group, "|") {
			alt = strings.TrimSpace(alt)
			if i := strings.IndexAny(alt, "[<"); i >= 0 && !strings.Contains(alt[:i], "(") {
				alt = strings.TrimSpace(alt[:i])
			}
			rel := debRel{}
			name := alt
			if i := strings.IndexByte(alt, '('); i >= 0 {
				j := strings.IndexByte(alt, ')')
				if j < i {
					return nil, fmt.Errorf("unclosed parenthesis in %q", alt)
				}
				name = strings.TrimSpace(alt[:i])
				inner := strings.TrimSpace(alt[i+1 : j])
				op := ""
				for _, o := range []string{"<<", "<=", ">=", ">>", "=", "<", ">"} {
					if strings.HasPrefix(inner, o) {
						op = o
						break
					}
				}
				if op == "" {
					return nil, fmt.Errorf("no operator in %q", alt)
				}
				rel.ver = strings.TrimSpace(inner[len(op):])
				switch op {
				case "<":
					op = "<="
				case ">":
					op = ">="
				}
				rel.op = op
			}
			if k := strings.IndexByte(name, ':'); k >= 0 {
				name = name[:k]
			}
			rel.name = name
			if rel.name == "" {
				return nil, fmt.Errorf("empty name in %q", group)
			}
			alts = append(alts, rel)
		}
		out = append(out, alts)
	}
	return out, nil
}

// compareDebVersions orders Debian versions as dpkg does:
// epoch, then upstream version, then revision, each compared with the
// "non-digits then digits" rule where "~" sorts before everything.
func compareDebVersions(a, b string) int {
	ea, ua, ra := splitDebVersion(a)
	eb, ub, rb := splitDebVersion(b)
	if c := compareNumeric(ea, eb); c != 0 {
		return c
	}
	if c := compareDebPart(ua, ub); c != 0 {
		return c
	}
	return compareDebPart(ra, rb)
}

func splitDebVersion(v string) (epoch, upstream, revision string) {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		epoch, v = v[:i], v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

func compareNumeric(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// debOrder is dpkg's character weight in the non-digit parts.
func debOrder(c byte) int {
	switch {
	case c == '~':
		return -1
	case isDigit(c):
		return 0
	case c == 0:
		return 0
	case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		return int(c)
	}
	return int(c) + 256
}

func compareDebPart(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			var ca, cb byte
			if i < len(a) && !isDigit(a[i]) {
				ca = a[i]
			}
			if j < len(b) && !isDigit(b[j]) {
				cb = b[j]
			}
			if oa, ob := debOrder(ca), debOrder(cb); oa != ob {
				if oa < ob {
					return -1
				}
				return 1
			}
			if i < len(a) && !isDigit(a[i]) {
				i++
			}
			if j < len(b) && !isDigit(b[j]) {
				j++
			}
		}
		si := i
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		sj := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := compareNumeric(a[si:i], b[sj:j]); c != 0 {
			return c
		}
	}
	return 0
}
