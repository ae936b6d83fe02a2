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
	args := []string{"-quick", "-dir", dir, "-lpm", lpm, "-lpm-base", lpm, "-apt=false", "-owners-pkgs", "10", "-owners-files", "200", "-lfs-pkgs", "5"}
	if err := run(context.Background(), args, &out, &log); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	report := out.String()
	fig := ` +\d+\.\d`
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^operation +size +unit +lpm +lpm base +pacman +dpkg +dpkg unsafe-io +floor +lpm/floor +lpm/pacman +lpm/dpkg +lpm/base +target`),
		regexp.MustCompile(`(?m)^install +50 files +ms` + fig + `.*<= 1.15x floor: (met|NOT met|not measured); <= 0.85x pacman`),
		regexp.MustCompile(`(?m)^upgrade \(20% changed\) +50 files +ms` + fig),
		regexp.MustCompile(`(?m)^list \(files\) +50 files +ms` + fig),
		regexp.MustCompile(`(?m)^remove +50 files +ms` + fig),
		regexp.MustCompile(`(?m)^peak memory of install +50 files +MiB` + fig + `.*<= 48: (met|NOT met)`),
		regexp.MustCompile(`(?m)^database after install +50 files +MiB` + fig),
		regexp.MustCompile(`(?m)^install, 1 CPU hog\(s\) beside +50 files +ms` + fig),
		regexp.MustCompile(`(?m)^install beside a 64 MiB writer +50 files +ms` + fig),
		regexp.MustCompile(`(?m)^install 10 small pkgs, 1 call +10 pkgs, 200 files +ms` + fig),
		regexp.MustCompile(`(?m)^remove 10 small pkgs, 1 call +10 pkgs, 200 files +ms` + fig),
		regexp.MustCompile(`(?m)^owner, 1 path +10 pkgs, 200 files +ms` + fig),
		regexp.MustCompile(`(?m)^owner x\d+, 1 call +10 pkgs, 200 files +ms` + fig),
		regexp.MustCompile(`(?m)^LFS shape: 5 installs in a row +\d+ files, \d+ MiB +ms` + fig),
		regexp.MustCompile(`(?m)^targets met: \d+ of 1[0-9]$`),
		regexp.MustCompile(`(?m)^run .* load average \(1, 5, 15 min\): \S+ \S+ \S+ at the start`),
	} {
		if !want.MatchString(report) {
			t.Errorf("report lacks %s:\n%s", want, report)
		}
	}
	if have("pacman") && os.Geteuid() == 0 && !regexp.MustCompile(`(?m)^install +50 files +ms( +\d+\.\d){6}`).MatchString(report) {
		t.Errorf("pacman and dpkg are installed but the install row lacks a figure of theirs:\n%s", report)
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
	tl := lpmTool(colLpm, lpm)
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
	if _, _, err := runTimed(context.Background(), tl.remove(root, []string{"bench"})); err != nil {
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

func TestJudgingATarget(t *testing.T) {
	tests := []struct {
		name       string
		t          target
		lpm, other float64
		lok, ook   bool
		want       string
	}{
		{"a ratio under the limit is met", target{colPacman, 0.85}, 80, 100, true, true, "<= 0.85x pacman: met"},
		{"a ratio at the limit is met", target{colFloor, 2}, 200, 100, true, true, "<= 2.00x floor: met"},
		{"a ratio over the limit is not met", target{colDpkg, 0.8}, 9, 10, true, true, "<= 0.80x dpkg: NOT met"},
		{"an absolute limit ignores the other column", target{"", 48}, 112, 0, true, false, "<= 48: NOT met"},
		{"an absolute limit met", target{"", 48}, 30, 0, true, false, "<= 48: met"},
		{"a missing peer is not measured", target{colPacman, 1}, 10, 0, true, false, "<= 1.00x pacman: not measured"},
		{"a peer of zero is not measured", target{colPacman, 1}, 10, 0, true, true, "<= 1.00x pacman: not measured"},
		{"a missing lpm figure is not measured", target{"", 48}, 0, 0, false, false, "<= 48: not measured"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := judge(tc.t, tc.lpm, tc.other, tc.lok, tc.ook); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTargetsAreJudgedOnlyAtTheLargestSize(t *testing.T) {
	b := &bench{opt: options{sizes: []int{2000, 20000}, hogs: 1, writerMiB: 1024}, owners: ownersInfo{pkgs: 300, files: 20000, queries: 1000}}
	judged := map[string]bool{}
	for _, r := range b.rows() {
		if r.n == 2000 && len(r.targets) > 0 {
			t.Errorf("row %q at 2000 files has targets %v; they are set for the largest size", r.label, r.targets)
		}
		if len(r.targets) > 0 {
			judged[r.op] = true
		}
	}
	for _, op := range []string{"install", "upgrade", "files", "remove", "rss", "db", "install-busy", "many-install", "owns1000"} {
		if !judged[op] {
			t.Errorf("no row of %s carries the issue's target", op)
		}
	}
}

func TestQuickFlagsGiveWayToExplicitOnes(t *testing.T) {
	dir := t.TempDir()
	var out, log bytes.Buffer
	// A missing lpm binary stops run after the flags are read; the error
	// names the flag values it saw through the check that fails first.
	err := run(context.Background(), []string{"-quick", "-reps", "0", "-dir", dir, "-lpm", filepath.Join(dir, "none")}, &out, &log)
	if err == nil || !strings.Contains(err.Error(), "-reps") {
		t.Errorf("-quick -reps 0: got %v, want the -reps error (an explicit flag beats -quick)", err)
	}
	err = run(context.Background(), []string{"-rows", "sizes,owners", "-dir", dir, "-lpm", filepath.Join(dir, "none")}, &out, &log)
	if err == nil || !strings.Contains(err.Error(), `-rows: "owners" is not one of sizes, loaded, many, lfs`) {
		t.Errorf("-rows sizes,owners: got %v, want the unknown group named", err)
	}
	err = run(context.Background(), []string{"-quick", "-dir", dir, "-lpm", filepath.Join(dir, "none")}, &out, &log)
	if err == nil || !strings.Contains(err.Error(), "lpm binary") {
		t.Errorf("-quick alone: got %v, want it to pass the flag checks and stop at the missing lpm binary", err)
	}
}

func TestAGeneratedArchPackagePassesPacmanQkk(t *testing.T) {
	if !have("pacman") || os.Geteuid() != 0 {
		t.Skip("needs pacman (Debian's pacman-package-manager) and root")
	}
	work := t.TempDir()
	tr := genTree(60, 7, "", 1024)
	stage := filepath.Join(work, "stage")
	if err := tr.write(stage); err != nil {
		t.Fatal(err)
	}
	_, _, _, size := tr.counts()
	p := &packer{ctx: context.Background(), pac: true}
	files, err := p.pack(work, stage, "bench", "1.0", size)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(work, "pacman.conf")
	if err := os.WriteFile(conf, []byte(pacmanConf), 0o644); err != nil {
		t.Fatal(err)
	}
	tl := pacmanTool(conf)
	root := filepath.Join(work, "root")
	if err := tl.prepare(root); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runTimed(context.Background(), tl.install(root, []pkgFiles{files})); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/pacman/local/bench-1.0-1/mtree")); err != nil {
		t.Fatalf("pacman kept no mtree of the package: %v", err)
	}
	// -Qkk reads the .MTREE and checks every file against it: a wrong
	// digest, size or mode in it would show as an altered file.
	argv := tl.files(root, "bench")
	argv[len(argv)-2] = "-Qkk"
	_, out, err := runTimed(context.Background(), argv)
	if err != nil {
		t.Fatal(err)
	}
	// It counts the entries it read, so an .MTREE it cannot parse whole
	// shows as too few.
	if want := fmt.Sprintf("bench: %d total files, 0 altered files", len(tr.nodes)); !strings.Contains(out, want) {
		t.Errorf("pacman -Qkk: want %q, got:\n%s", want, out)
	}
}

func TestEachRunStartsWithTheNextTool(t *testing.T) {
	b := &bench{tools: []*tool{{name: "a"}, {name: "b"}, {name: "c"}}}
	for rep, want := range []string{"a b c", "b c a", "c a b", "a b c"} {
		var got []string
		for _, tl := range b.toolsInTurn(rep) {
			got = append(got, tl.name)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("run %d: %v, want %s", rep, got, want)
		}
	}
	if len(b.tools) != 3 || b.tools[0].name != "a" {
		t.Errorf("the bench's own order changed: %v", b.tools)
	}
}
