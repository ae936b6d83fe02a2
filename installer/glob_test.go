package installer

import "testing"

func TestOverwriteTakesDoubleStarAndDirectoryPrefixes(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"usr/bin/foo", "usr/bin/foo", true},
		{"/usr/bin/foo", "usr/bin/foo", true},
		{"usr/bin/*", "usr/bin/foo", true},
		{"usr/bin/f?o", "usr/bin/foo", true},
		{"usr/bin/bar", "usr/bin/foo", false},
		{"usr/share/doc", "usr/share/doc/hello/README", true},
		{"usr/share/doc/", "usr/share/doc/hello/README", true},
		{"usr/share/doc/*", "usr/share/doc/hello/README", true},
		{"usr/share/doc", "usr/share/docs/README", false},
		{"usr/share/doc", "usr/share", false},
		{"**/*.la", "usr/lib/libz.la", true},
		{"**/*.la", "libz.la", true},
		{"**/*.la", "usr/lib/libz.so", false},
		{"usr/**/man1/*.1", "usr/share/man/man1/ls.1", true},
		{"usr/**/man1/*.1", "usr/man1/ls.1", true},
		{"usr/**/man1/*.1", "opt/share/man/man1/ls.1", false},
		{"usr/lib/**", "usr/lib/x/y/z.so", true},
		{"etc/[a-c]*.conf", "etc/b.conf", true},
		{"etc/[a-c]*.conf", "etc/d.conf", false},
		{`etc/\*.conf`, "etc/*.conf", true},
		{`etc/\*.conf`, "etc/x.conf", false},
	} {
		in := &Installer{Overwrite: []string{c.pattern}}
		if got := in.overwrites(c.path); got != c.want {
			t.Errorf("--overwrite %q on %q: = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}
