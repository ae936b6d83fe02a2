package ports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// A Problem is one finding of Lint.
type Problem struct {
	File    string
	Line    int
	Message string
	Warning bool // warnings do not fail lint
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s: %s: %s", loc, kind, p.Message)
}

// Lint checks every port of the trees in dirs, layered as Load layers them:
// parse errors, unknown keys, checksums, dependency names no port provides,
// constraints, and files the port names but does not have. Problems are
// sorted by file and line.
func Lint(dirs ...string) ([]Problem, error) {
	t, err := Load(dirs...)
	if err != nil {
		return nil, err
	}
	var probs []Problem
	add := func(file string, line int, warn bool, format string, args ...any) {
		probs = append(probs, Problem{File: file, Line: line, Warning: warn, Message: fmt.Sprintf(format, args...)})
	}
	for _, errs := range t.broken {
		for _, e := range errs {
			var pe *ParseError
			if errors.As(e, &pe) {
				add(pe.File, pe.Line, false, "%s", pe.Msg)
			} else {
				add("", 0, false, "%v", e)
			}
		}
	}
	for _, name := range t.Names() {
		seen := map[string]string{}
		for _, p := range t.ports[name] {
			file := filepath.Join(p.Dir, FileName)
			data, _ := os.ReadFile(file)
			if other, dup := seen[p.Ver.String()]; dup {
				add(file, lineOf(data, "version"), false, "%s %s is also defined in %s", p.Name, p.Version, other)
			}
			seen[p.Ver.String()] = file
			if dirName := filepath.Base(p.Dir); dirName != p.Name && filepath.Base(filepath.Dir(p.Dir)) != p.Name {
				add(file, lineOf(data, "name"), false, "port %s lives in directory %s; name the directory after the port", p.Name, dirName)
			}
			for _, s := range p.Sources {
				switch {
				case s.SHA256 == "" && s.MD5 == "":
					add(file, lineOf(data, s.URL), false, "source %s has no checksum; add sha256", s.URL)
				case s.SHA256 == "":
					add(file, lineOf(data, s.URL), true, "source %s is verified by md5 only (weak); add sha256", s.URL)
				}
			}
			for _, f := range append(append([]string{}, p.Patches...), p.Files...) {
				if _, err := os.Stat(filepath.Join(p.Dir, f)); err != nil && !p.Fetches(f) {
					add(file, lineOf(data, f), false, "%s is neither in the port directory nor a source", f)
				}
			}
			if p.Script("install") == "" {
				add(file, 0, false, "port %s has no install phase; set build.style or build.install", p.Name)
			}
			for _, a := range p.Depends.After {
				if len(t.ports[a]) == 0 && len(t.provides[a]) == 0 {
					add(file, lineOf(data, a), false, "after %s: no port is named or provides %s", a, a)
				}
			}
			for _, list := range [][]string{p.Depends.Build, p.Depends.Run, p.Depends.Check} {
				for _, d := range list {
					dep, _ := ParseDep(d)
					for _, term := range dep {
						if len(t.ports[term.Name]) == 0 && len(t.provides[term.Name]) == 0 {
							add(file, lineOf(data, d), false, "dependency %s: no port is named or provides %s", d, term.Name)
						}
					}
				}
			}
		}
	}
	sort.SliceStable(probs, func(i, j int) bool {
		if probs[i].File != probs[j].File {
			return probs[i].File < probs[j].File
		}
		return probs[i].Line < probs[j].Line
	})
	return probs, nil
}

// Fetches reports whether name is one of the port's downloaded sources, so
// a patch may come from a URL instead of the port directory.
func (p *Port) Fetches(name string) bool {
	for _, s := range p.Sources {
		if s.FileName() == name {
			return true
		}
	}
	return false
}
