package installer

import (
	"path"
	"strings"
)

// matchOverwrite reports whether an --overwrite pattern takes path p (in
// database form, "usr/share/doc/x"). A pattern is a path.Match glob per
// component, with two additions users of pacman and rsync expect: a "**"
// component matches any number of components, none included, and a
// pattern that matches a directory takes everything below it, so
// "usr/share/doc" and "usr/share/doc/*" both take the whole tree. A
// leading "/" is optional.
func matchOverwrite(pattern, p string) bool {
	pat := strings.Split(strings.Trim(pattern, "/"), "/")
	parts := strings.Split(p, "/")
	for n := len(parts); n > 0; n-- {
		if matchParts(pat, parts[:n]) {
			return true
		}
	}
	return false
}

func matchParts(pat, parts []string) bool {
	if len(pat) == 0 {
		return len(parts) == 0
	}
	if pat[0] == "**" {
		for k := 0; k <= len(parts); k++ {
			if matchParts(pat[1:], parts[k:]) {
				return true
			}
		}
		return false
	}
	if len(parts) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], parts[0])
	return ok && err == nil && matchParts(pat[1:], parts[1:])
}
