package resolver

import (
	"errors"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

func TestExplanationsBlameThePackageThatNeedsTheMissingOne(t *testing.T) {
	runSolveCases(t, []solveCase{
		{
			name: "a missing package three steps down is blamed on the one that needs it",
			universe: `
				app 1.0.0: libmid
				libmid 1.0.0: libdeep
				libdeep 1.0.0: libgone >=1`,
			request: "app",
			wantErr: `
Because app 1.0.0 depends on libmid which depends on libdeep, app 1.0.0 requires libdeep 1.0.0.
So, because libdeep 1.0.0 depends on libgone >=1, which matches no available package and you asked for app, your request cannot be satisfied.`,
		},
	})
}

// namedUniverse names versions as a ports tree does.
type namedUniverse struct {
	*MemUniverse
	names map[string]string // "name semver" -> the port's version
}

func (u namedUniverse) VersionName(name string, v *semver.Version) string {
	if n, ok := u.names[name+" "+v.String()]; ok {
		return n
	}
	return v.String()
}

func TestExplanationsWriteVersionsAsThePortsDo(t *testing.T) {
	u := namedUniverse{parseUniverse(t, `
		openssh 9.9.2
		openssh 10.0.1
		app 1.0.0: openssh >=10`), map[string]string{"openssh 9.9.2": "9.9p2", "openssh 10.0.1": "10.0p1"}}
	reqs := parseRequests(t, "app")
	opts := solveCase{installed: "openssh 9.9.2", held: "openssh"}.options(t)
	_, err := Solve(u, reqs, opts)
	var ue *UnsatError
	if !errors.As(err, &ue) {
		t.Fatalf("want an explanation, got %v", err)
	}
	want := "Because app 1.0.0 depends on openssh >=10, but openssh is held at 9.9p2, app 1.0.0 is forbidden."
	if !strings.HasPrefix(ue.Explanation, want) {
		t.Errorf("explanation:\n%s\nwant it to start with:\n%s", ue.Explanation, want)
	}
	if strings.Contains(ue.Explanation, "9.9.2") {
		t.Errorf("explanation shows the solver's version 9.9.2:\n%s", ue.Explanation)
	}
}

func TestExplanationsEndWithWhatTheUserCanDo(t *testing.T) {
	cases := []struct {
		name, universe, request, installed, held, want string
	}{
		{
			name: "a hold",
			universe: `
				zlib 1.3.0
				zlib 1.3.1`,
			request: "zlib >=1.3.1", installed: "zlib 1.3.0", held: "zlib",
			want: "your request cannot be satisfied: release the hold on zlib (lpm hold --release zlib), or ask for another version of zlib (1.3.1, 1.3.0)",
		},
		{
			name:     "a version that does not exist",
			universe: `zlib 1.3.1`,
			request:  "zlib >=2",
			want:     "your request cannot be satisfied: ask for a version of zlib that exists (1.3.1)",
		},
		{
			name:     "a name that does not exist",
			universe: `zlib 1.3.1`,
			request:  "zlip",
			want:     "your request cannot be satisfied: add a port named zlip or check the name (lpm search zlip)",
		},
		{
			name: "a dependency nothing satisfies",
			universe: `
				app 1.0.0: gtk3 >=3.30
				gtk3 3.24.0`,
			request: "app",
			want:    "your request cannot be satisfied: change app's port, which needs gtk3 >=3.30 (gtk3 has 3.24.0)",
		},
		{
			name: "a dependency on a missing port",
			universe: `
				app 1.0.0: libgone`,
			request: "app",
			want:    "your request cannot be satisfied: add a port that is or provides libgone, or change app's port",
		},
		{
			name: "a conflict",
			universe: `
				a 1.0.0; conflicts: b
				b 1.0.0`,
			request: "a, b",
			want:    "your request cannot be satisfied: ask for only one of a and b",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := parseUniverse(t, c.universe)
			opts := solveCase{installed: c.installed, held: c.held}.options(t)
			_, err := Solve(u, parseRequests(t, c.request), opts)
			var ue *UnsatError
			if !errors.As(err, &ue) {
				t.Fatalf("want an explanation, got %v", err)
			}
			if ue.Hint != c.want {
				t.Errorf("hint:\n%s\nwant:\n%s\n(explanation:\n%s)", ue.Hint, c.want, ue.Explanation)
			}
			if !strings.HasSuffix(err.Error(), "\n"+c.want) {
				t.Errorf("Error() does not end with the hint:\n%s", err)
			}
		})
	}
}
