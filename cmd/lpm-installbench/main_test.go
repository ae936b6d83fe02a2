package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var lpmBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if lpmBuild.dir != "" {
		os.RemoveAll(lpmBuild.dir)
	}
	os.Exit(code)
}

// buildLpm compiles the lpm command once per test run, with the tags of
// make lpm so the build cache is shared.
func buildLpm(t *testing.T) string {
	t.Helper()
	lpmBuild.once.Do(func() {
		if lpmBuild.dir, lpmBuild.err = os.MkdirTemp("", "lpm-installbench-test-"); lpmBuild.err != nil {
			return
		}
		lpmBuild.bin = filepath.Join(lpmBuild.dir, "lpm")
		cmd := exec.Command("go", "build", "-tags", "osusergo netgo sqlite_omit_load_extension", "-o", lpmBuild.bin, "github.com/lfs-lpm/lpm/cmd/lpm")
		if out, err := cmd.CombinedOutput(); err != nil {
			lpmBuild.err = fmt.Errorf("building lpm: %v\n%s", err, out)
		}
	})
	if lpmBuild.err != nil {
		t.Fatal(lpmBuild.err)
	}
	return lpmBuild.bin
}

func TestTheWholeBenchRunsOnSmallPackagesAndPrintsTheTable(t *testing.T) {
	lpm := buildLpm(t)
	dir := t.TempDir()
	var out, log bytes.Buffer
	args := []string{"-sizes", "50", "-reps", "1", "-dir", dir, "-lpm", lpm, "-apt=false",
		"-owners-pkgs", "10", "-owners-files", "200"}
	if err := run(context.Background(), args, &out, &log); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	report := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^ *operation +size +lpm +dpkg +pacman +pacman\+sync +floor +lpm/pacman`),
		regexp.MustCompile(`(?m)^ *install +50 +\d+\.\d`),
		regexp.MustCompile(`(?m)^ *upgrade \(20% changed\) +50 +\d+\.\d`),
		regexp.MustCompile(`(?m)^ *file list +50 +\d+\.\d`),
		regexp.MustCompile(`(?m)^ *remove +50 +\d+\.\d`),
		regexp.MustCompile(`(?m)^ *owns, 1 path +10 pkgs +\d+\.\d`),
		regexp.MustCompile(`(?m)^ *owns, \d+ paths in 1 call +10 pkgs +\d+\.\d`),
		regexp.MustCompile(`(?m)^targets at 50 files`),
	} {
		if !want.MatchString(report) {
			t.Errorf("report lacks %s:\n%s", want, report)
		}
	}
	if have("pacman") && os.Geteuid() == 0 && !regexp.MustCompile(`(?m)^ *install +50( +\d+\.\d){4}`).MatchString(report) {
		t.Errorf("pacman is installed but the install row has no pacman figure:\n%s", report)
	}
	// Nothing may stay behind: the image is unmounted and removed.
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("work dir still holds %v after the run", left)
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	if strings.Contains(string(mounts), dir) {
		t.Errorf("%s is still mounted", dir)
	}
}

func TestAGeneratedPackageInstalledByLpmIsOwnedByIt(t *testing.T) {
	lpm := buildLpm(t)
	work := t.TempDir()
	tr := genTree(60, 7, "", 1024)
	stage := filepath.Join(work, "stage")
	if err := tr.write(stage); err != nil {
		t.Fatal(err)
	}
	_, _, _, size := tr.counts()
	p := &packer{ctx: context.Background()}
	files, err := p.pack(work, stage, "bench", "1.0", size)
	if err != nil {
		t.Fatal(err)
	}
	tl := lpmTool(lpm)
	root := filepath.Join(work, "root")
	if err := tl.prepare(root); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runTimed(context.Background(), tl.install(root, []pkgFiles{files})); err != nil {
		t.Fatal(err)
	}
	if err := checkTree(root, tr); err != nil {
		t.Fatal(err)
	}
	paths := tr.paths()
	_, out, err := runTimed(context.Background(), tl.owns(root, paths))
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{}
	for _, p := range paths {
		owner[p] = "bench"
	}
	if err := checkOwners(out, paths, owner, tl.ownsLine); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runTimed(context.Background(), tl.remove(root, "bench")); err != nil {
		t.Fatal(err)
	}
	if err := checkGone(root, paths); err != nil {
		t.Fatal(err)
	}
}

func TestGeneratedTrees(t *testing.T) {
	tests := []struct {
		name  string
		files int
	}{
		{"a small tree keeps its shape", 50},
		{"a mid-sized tree keeps its shape", 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t1 := genTree(tc.files, 1, "", bytesPerEntry)
			dirs, files, links, size := t1.counts()
			if files+links != tc.files {
				t.Errorf("%d files and %d links, want %d together", files, links, tc.files)
			}
			if dirs == 0 || links == 0 && tc.files >= 100 {
				t.Errorf("%d dirs and %d links: want a mix", dirs, links)
			}
			if want := int64(tc.files * bytesPerEntry); size < want*9/10 || size > want*11/10 {
				t.Errorf("%d bytes, want about %d", size, want)
			}
			again := genTree(tc.files, 1, "", bytesPerEntry)
			if len(again.nodes) != len(t1.nodes) || again.nodes[len(again.nodes)-1] != t1.nodes[len(t1.nodes)-1] {
				t.Error("the same seed gave a different tree")
			}

			t2, written := t1.upgraded(1)
			old := map[string]node{}
			for _, nd := range t1.nodes {
				old[nd.path] = nd
			}
			var changed, added, kept int
			for _, nd := range t2.nodes {
				o, ok := old[nd.path]
				switch {
				case !ok:
					added++
				case o.gen != nd.gen:
					changed++
				case nd.kind != kindDir:
					kept++
				}
			}
			removed := tc.files - changed - kept
			if changed != tc.files/10 || added != tc.files/20 || removed != tc.files/20 {
				t.Errorf("changed %d, added %d, removed %d of %d; want 10%%, 5%%, 5%%", changed, added, removed, tc.files)
			}
			if len(written) != changed+added {
				t.Errorf("%d paths to write, want %d", len(written), changed+added)
			}
		})
	}
}

func TestParseStraceCounts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]int
	}{
		{
			"a summary with and without an errors column gives the calls",
			`% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 90.00    0.000900          22        41           sync_file_range
 10.00    0.000100           3        29         2 fsync
------ ----------- ----------- --------- --------- ----------------
100.00    0.001000          14        70         2 total
`,
			map[string]int{"sync_file_range": 41, "fsync": 29},
		},
		{"an empty summary gives no calls", "", map[string]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseStraceCounts(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: got %d, want %d", k, got[k], v)
				}
			}
		})
	}
}
