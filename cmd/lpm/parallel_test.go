package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lfs-lpm/lpm/archive"
)

// sleepyPorts writes n independent ports whose builds each take a second
// and write when they started and ended into their build log.
func sleepyPorts(t *testing.T, n int) (string, []string) {
	t.Helper()
	tree := t.TempDir()
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("nap%d", i)
		names = append(names, name)
		writePort(t, tree, name, fmt.Sprintf(`name = "%s"
version = "1.0"
[build]
build = '''
echo "started $(date +%%s%%N)"
sleep 1
echo "ended $(date +%%s%%N)"
'''
install = '''
mkdir -p "$DESTDIR/usr/share/%s"
echo "%s" > "$DESTDIR/usr/share/%s/README"
ln -s README "$DESTDIR/usr/share/%s/LIESMICH"
'''
`, name, name, name, name, name))
	}
	return tree, names
}

// buildTimes reads the start and end a build wrote into its log.
func buildTimes(t *testing.T, r *testRoot, name string) (time.Time, time.Time) {
	t.Helper()
	data, err := os.ReadFile(r.path("var/log/lpm/build/" + name + "-1.0.log"))
	if err != nil {
		t.Fatal(err)
	}
	var start, end time.Time
	for _, line := range strings.Split(string(data), "\n") {
		word, ns, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			continue
		}
		switch word {
		case "started":
			start = time.Unix(0, n)
		case "ended":
			end = time.Unix(0, n)
		}
	}
	if start.IsZero() || end.IsZero() {
		t.Fatalf("the log of %s lacks its times:\n%s", name, data)
	}
	return start, end
}

// manifestWithoutDate is an archive's manifest as JSON with its build date
// left out: the one field two builds of the same port must differ in.
func manifestWithoutDate(t *testing.T, file string) string {
	t.Helper()
	m, err := archive.ReadManifest(file)
	if err != nil {
		t.Fatal(err)
	}
	m.BuildDate = time.Time{}
	return fmt.Sprintf("%+v", *m)
}

func TestIndependentPortsBuildAtOnceIntoTheSameArchivesAsOneByOne(t *testing.T) {
	tree, names := sleepyPorts(t, 3)
	parallel := newRoot(t, tree)
	start := time.Now()
	parallel.ok(append([]string{"install", "--jobs", "3"}, names...)...)
	wall := time.Since(start)

	// Every build started before any ended: they ran at once.
	var lastStart, firstEnd time.Time
	var sum time.Duration
	for _, n := range names {
		s, e := buildTimes(t, parallel, n)
		sum += e.Sub(s)
		if s.After(lastStart) {
			lastStart = s
		}
		if firstEnd.IsZero() || e.Before(firstEnd) {
			firstEnd = e
		}
	}
	if !lastStart.Before(firstEnd) {
		t.Errorf("the builds did not overlap: the last started at %v, the first ended at %v", lastStart, firstEnd)
	}
	t.Logf("--jobs 3: wall time %v for builds summing to %v", wall.Round(time.Millisecond), sum.Round(time.Millisecond))

	serial := newRoot(t, tree)
	serial.ok(append([]string{"install", "--jobs", "1"}, names...)...)
	prevEnd := time.Time{}
	for _, n := range names {
		s, e := buildTimes(t, serial, n)
		if s.Before(prevEnd) {
			t.Errorf("with --jobs 1, %s started before the previous build ended", n)
		}
		prevEnd = e
		a := manifestWithoutDate(t, parallel.path("var/cache/lpm/packages/"+n+"-1.0-1.lpm"))
		b := manifestWithoutDate(t, serial.path("var/cache/lpm/packages/"+n+"-1.0-1.lpm"))
		if a != b {
			t.Errorf("%s: the parallel build's manifest differs from the serial one:\n%s\n%s", n, a, b)
		}
	}
	if got, want := parallel.state(), serial.state(); diffOutsideTimes(got, want) != "" {
		t.Errorf("the roots differ after parallel and serial installs:\n%s", diffOutsideTimes(got, want))
	}
	out := parallel.ok("history")
	if strings.Count(out, "install") != 1 {
		t.Errorf("a parallel install should be one history entry:\n%s", out)
	}
}

// diffOutsideTimes compares two root states but for the lines of the
// packages themselves, which name their archive's path, hash and date.
func diffOutsideTimes(a, b string) string {
	strip := func(s string) string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(l, "db {Name:") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n")
	}
	if strip(a) == strip(b) {
		return ""
	}
	return diffLines(strip(a), strip(b))
}

func TestAFailedBuildLetsTheRunningOnesFinishAndStartsNoMore(t *testing.T) {
	tree, _ := sleepyPorts(t, 2)
	writePort(t, tree, "broken", `name = "broken"
version = "1.0"
[build]
build = 'echo "this port cannot build" >&2; exit 3'
install = 'true'
`)
	writePort(t, tree, "later", `name = "later"
version = "1.0"
[depends]
build = ["broken"]
[build]
install = 'mkdir -p "$DESTDIR/usr/share/later"; echo > "$DESTDIR/usr/share/later/x"'
`)
	r := newRoot(t, tree)
	r.fails([]string{"broken", "phase build failed"}, "install", "--jobs", "3", "broken", "later", "nap1", "nap2")
	for _, n := range []string{"nap1", "nap2"} {
		if _, err := os.Stat(r.path("var/cache/lpm/packages/" + n + "-1.0-1.lpm")); err != nil {
			t.Errorf("the build of %s, running when broken failed, should have finished into the cache: %v", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(r.path("var/log/lpm/build"), "later-1.0.log")); err == nil {
		t.Errorf("later waits for broken's install and should never have started")
	}

	// Two builds failing side by side are both reported.
	writePort(t, tree, "broken2", `name = "broken2"
version = "1.0"
[build]
build = 'sleep 0.3; exit 4'
install = 'true'
`)
	_, errOut, code := r.lpm("install", "--jobs", "3", "broken", "broken2")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.Contains(errOut, "lpm: building broken-1.0-1: phase build failed") || !strings.Contains(last, "2 steps of the plan failed") || !strings.Contains(last, "broken2-1.0-1") {
		t.Errorf("exit %d; both failures should be reported, the last in the last line:\n%s", code, errOut)
	}
}
