package resolver

import "testing"

func TestOperatingSystemFeatures(t *testing.T) {
	runSolveCases(t, []solveCase{
		{
			name: "every constraint operator selects the expected version",
			universe: `
				a 1.0.0
				a 1.1.0
				a 1.2.0
				a 2.0.0
				a 3.0.0
				u 1.0.0: a != 3.0.0, a < 3, a <= 2.0.0, a > 1.0.0, a >= 1.1.0, a ~1.1 || ^2, a 1.0.0 - 2.5.0`,
			request: "u",
			want:    "a 2.0.0, u 1.0.0",
		},
		{
			name: "an unversioned provide satisfies an unconstrained dependency",
			universe: `
				mta-user 1.0.0: mail-transport-agent
				exim 4.9.0; provides: mail-transport-agent`,
			request: "mta-user",
			want:    "exim 4.9.0, mta-user 1.0.0",
		},
		{
			name: "an unversioned provide does not satisfy a constrained dependency",
			universe: `
				app 1.0.0: awk >=1
				mawk 1.3.4; provides: awk`,
			request: "app",
			wantErr: `
Because you asked for app which depends on awk >=1, which matches no available package, your request cannot be satisfied.`,
		},
		{
			name: "a versioned provide satisfies a matching constraint",
			universe: `
				app 1.0.0: libjpeg ^8
				libjpeg-turbo 3.0.0; provides: libjpeg 8.4.0
				libjpeg 9.0.0`,
			request: "app",
			want:    "app 1.0.0, libjpeg-turbo 3.0.0",
		},
		{
			name: "the real package is preferred over providers of its name",
			universe: `
				app 1.0.0: libjpeg
				libjpeg-turbo 3.0.0; provides: libjpeg 8.4.0
				libjpeg 9.0.0`,
			request: "app",
			want:    "app 1.0.0, libjpeg 9.0.0",
		},
		{
			name: "the first alternative is preferred",
			universe: `
				app 1.0.0: mawk | gawk
				mawk 1.3.4
				gawk 5.3.0`,
			request: "app",
			want:    "app 1.0.0, mawk 1.3.4",
		},
		{
			name: "an installed alternative is preferred over the first one",
			universe: `
				app 1.0.0: mawk | gawk
				mawk 1.3.4
				gawk 5.3.0`,
			request:   "app",
			installed: "gawk 5.3.0",
			want:      "app 1.0.0, gawk 5.3.0",
		},
		{
			name: "an alternative already chosen for another reason is reused",
			universe: `
				app 1.0.0: mawk | gawk, tool
				tool 1.0.0: gawk
				mawk 1.3.4
				gawk 5.3.0`,
			request: "tool, app",
			want:    "app 1.0.0, gawk 5.3.0, tool 1.0.0",
		},
		{
			name: "the second alternative is used when the first conflicts",
			universe: `
				app 1.0.0: mawk | gawk
				mawk 1.3.4; conflicts: busybox
				gawk 5.3.0
				busybox 1.36.0`,
			request: "app, busybox",
			want:    "app 1.0.0, busybox 1.36.0, gawk 5.3.0",
		},
		{
			name: "a conflict forces an older version",
			universe: `
				libfoo 3.0.0; conflicts: bar 1.2.0
				libfoo 2.0.0
				bar 1.2.0`,
			request: "libfoo, bar",
			want:    "bar 1.2.0, libfoo 2.0.0",
		},
		{
			name: "a conflict with a virtual name covers its providers but never the package itself",
			universe: `
				exim 4.9.0; provides: mail-transport-agent; conflicts: mail-transport-agent
				postfix 3.9.0; provides: mail-transport-agent; conflicts: mail-transport-agent`,
			request: "exim, postfix",
			wantErr: `
Because exim 4.9.0 conflicts with postfix 3.9.0 (provides mail-transport-agent) and you asked for exim, postfix 3.9.0 is forbidden.
So, because you asked for postfix, your request cannot be satisfied.`,
		},
		{
			name: "the explanation names the installed package in a conflict",
			universe: `
				app 2.0.0: libfoo ^3
				app 2.1.0: libfoo ^3
				libfoo 3.0.0; conflicts: bar 1.2.0
				libfoo 3.1.0; conflicts: bar 1.2.0
				bar 1.2.0`,
			request:   "app >=2, bar",
			installed: "bar 1.2.0",
			wantErr: `
Because libfoo 3.0.0 conflicts with bar 1.2.0 and libfoo 3.1.0 conflicts with bar 1.2.0, the installed bar 1.2.0 is incompatible with libfoo ^3.
And because every version of app depends on libfoo ^3, every version of app is incompatible with bar 1.2.0.
So, because you asked for both app >=2 and bar, your request cannot be satisfied.`,
		},
		{
			name: "installed versions are kept when nothing asks for more",
			universe: `
				zlib 1.2.0
				zlib 1.3.0
				app 1.0.0: zlib`,
			request:   "app",
			installed: "zlib 1.2.0",
			want:      "app 1.0.0, zlib 1.2.0",
		},
		{
			name: "upgrade prefers the newest version",
			universe: `
				zlib 1.2.0
				zlib 1.3.0
				app 1.0.0: zlib`,
			request:   "app",
			installed: "zlib 1.2.0",
			upgrade:   "*",
			want:      "app 1.0.0, zlib 1.3.0",
		},
		{
			name: "upgrade stays within a hold",
			universe: `
				zlib 1.2.0
				zlib 1.3.0
				app 1.0.0
				app 2.0.0`,
			request:   "app, zlib",
			installed: "zlib 1.2.0, app 1.0.0",
			held:      "zlib",
			upgrade:   "*",
			want:      "app 2.0.0, zlib 1.2.0",
		},
		{
			name: "a hold is explained when it blocks a request",
			universe: `
				gcc 13.2.0
				gcc 14.2.0
				app 1.0.0: gcc ^14`,
			request:   "app",
			installed: "gcc 13.2.0",
			held:      "gcc",
			wantErr: `
Because app 1.0.0 depends on gcc ^14, but gcc is held at 13.2.0, app 1.0.0 is forbidden.
So, because you asked for app, your request cannot be satisfied.`,
		},
		{
			name: "a held version that left the tree can no longer be selected",
			universe: `
				gcc 14.2.0`,
			request:   "gcc",
			installed: "gcc 13.2.0",
			held:      "gcc",
			wantErr: `
Because you asked for gcc, but gcc is held at 13.2.0, which is no longer available, your request cannot be satisfied.`,
		},
		{
			name: "an installed version missing from the tree is not a candidate",
			universe: `
				gcc 14.2.0`,
			request:   "gcc",
			installed: "gcc 13.2.0",
			want:      "gcc 14.2.0",
		},
		{
			name: "build dependencies join only for packages that are built",
			universe: `
				app 1.0.0: libfoo; build: cmake
				libfoo 1.0.0; build: meson
				cmake 3.30.0
				meson 1.5.0`,
			request: "app",
			build:   "app",
			want:    "app 1.0.0 (build), cmake 3.30.0, libfoo 1.0.0",
		},
		{
			name: "a kept package is never built",
			universe: `
				app 1.0.0: libfoo; build: cmake
				libfoo 1.0.0; build: meson
				cmake 3.30.0
				meson 1.5.0`,
			request:   "app",
			build:     "*",
			installed: "libfoo 1.0.0",
			want:      "app 1.0.0 (build), cmake 3.30.0 (build), libfoo 1.0.0",
		},
		{
			name: "a missing build dependency is explained",
			universe: `
				app 1.0.0; build: cmake >=4`,
			request: "app",
			build:   "*",
			wantErr: `
Because you asked for app which build-depends on cmake >=4, which matches no available package, your request cannot be satisfied.`,
		},
		{
			name: "an unknown request is explained",
			universe: `
				app 1.0.0`,
			request: "ap",
			wantErr: `
Because you asked for ap, which matches no available package, your request cannot be satisfied.`,
		},
		{
			name: "runtime cycles are solved",
			universe: `
				perl 5.40.0: perl-xml
				perl-xml 2.0.0: perl ^5`,
			request: "perl",
			want:    "perl 5.40.0, perl-xml 2.0.0",
		},
		{
			name: "all alternatives failing is explained",
			universe: `
				app 1.0.0: mawk | gawk
				mawk 1.3.4; conflicts: busybox
				gawk 5.3.0; conflicts: busybox
				busybox 1.36.0`,
			request: "app, busybox",
			wantErr: `
Because app 1.0.0 depends on mawk | gawk and mawk | gawk (using gawk) needs gawk 5.3.0, app 1.0.0 requires gawk 5.3.0 or mawk | gawk (using mawk).
And because gawk 5.3.0 conflicts with busybox, if app 1.0.0 and busybox 1.36.0 then mawk | gawk (using mawk).
And because mawk | gawk (using mawk) needs mawk 1.3.4 and mawk 1.3.4 conflicts with busybox, app 1.0.0 is incompatible with busybox 1.36.0.
So, because you asked for both app and busybox, your request cannot be satisfied.`,
		},
	})
}
