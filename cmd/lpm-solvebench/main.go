// Command lpm-solvebench measures lpm's resolver on Debian's own package
// index and compares it with libsolv's testsolv and with apt-get -s.
//
// It owns the conversion of Debian Packages lists into a solver universe
// (an order-preserving mapping of Debian versions onto semver, kept in a
// memory-mapped index) and the timing report. It never installs or
// removes anything: apt runs only with -s (simulate).
//
// One command runs everything (as root, after apt-get update and
// apt-get install libsolv-tools):
//
//	go run ./cmd/lpm-solvebench
//
// It builds the index and a testsolv repository next to it if they are
// missing or older than the lists, then solves build-essential,
// gnome-core, kde-standard, texlive-full and 100 random packages, checks
// every answer with resolver.Verify, and prints per target lpm's time
// (open index + solve, in process and as a separate process), testsolv's
// and apt-get -s's wall time, and the ratios of whole processes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/lfs-lpm/lpm/resolver"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lpm-solvebench:", err)
		os.Exit(1)
	}
}

func run() error {
	lists := flag.String("lists", "/var/lib/apt/lists/*_main_binary-amd64_Packages*", "glob of Debian Packages lists to load")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "lpm-solvebench"), "directory for the index and the testsolv repository")
	targets := flag.String("targets", "build-essential,gnome-core,kde-standard,texlive-full", "comma-separated packages to solve")
	random := flag.Int("random", 100, "number of random packages to solve as well")
	seed := flag.Int64("seed", 1, "seed for choosing the random packages")
	useTestsolv := flag.Bool("testsolv", true, "time testsolv (package libsolv-tools) on the same targets")
	useApt := flag.Bool("apt", true, "time apt-get -s install --no-install-recommends on the same targets")
	fam := flag.String("family", "debian", "universe to solve: debian (the Packages lists), chain (the version chain) or random (random hard instances)")
	libs := flag.Int("libs", 100, "chain: number of libs; random: number of packages")
	versions := flag.Int("versions", 50, "chain and random: versions per package")
	flag.IntVar(&reps, "reps", 3, "run every process this many times and keep the fastest run (the machine may be shared)")
	instances := flag.Int("instances", 10, "random: how many instances (seeds -seed, -seed+1, ...)")
	one := flag.String("one", "", "internal: open the index in -dir, solve this one package and exit (timed as a process)")
	cpuprofile := flag.String("cpuprofile", "", "with -one: write a CPU profile of the solve to this file")
	flag.Parse()
	if *one != "" {
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		res, err := timeLpm(filepath.Join(*dir, indexName), *one, false)
		if err != nil {
			return err
		}
		if res.invalid != nil {
			return res.invalid
		}
		fmt.Println(res.result, res.size)
		return nil
	}

	if *fam != "debian" {
		return runFamily(*fam, *libs, *versions, *seed, *instances, *dir, *useTestsolv)
	}
	files, err := filepath.Glob(*lists)
	if err != nil {
		return err
	}
	var kept []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".diff") && !strings.Contains(f, "/partial/") {
			kept = append(kept, f)
		}
	}
	files = kept
	sort.Strings(files)
	if len(files) == 0 {
		return fmt.Errorf("no Packages lists match %s; run apt-get update first", *lists)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	indexPath := filepath.Join(*dir, indexName)
	tagsPath := filepath.Join(*dir, tagsName)
	if stale(indexPath, files) || stale(tagsPath, files) {
		start := time.Now()
		var pkgs []debPkg
		for _, f := range files {
			p, err := readPackagesFile(f)
			if err != nil {
				return err
			}
			pkgs = append(pkgs, p...)
		}
		if err := writeIndex(indexPath, pkgs); err != nil {
			return err
		}
		if err := writeTesttags(tagsPath, pkgs); err != nil {
			return err
		}
		fmt.Printf("indexed %d package versions from %d lists in %v (once; not timed below)\n", len(pkgs), len(files), time.Since(start).Round(time.Millisecond))
	}

	u, closeIndex, err := openIndex(indexPath)
	if err != nil {
		return err
	}
	all := u.names()
	closeIndex()
	names := splitList(*targets)
	rng := rand.New(rand.NewSource(*seed))
	for _, i := range rng.Perm(len(all))[:min(*random, len(all))] {
		names = append(names, all[i])
	}
	if *useTestsolv {
		if _, err := exec.LookPath("testsolv"); err != nil {
			fmt.Println("testsolv not found (apt-get install libsolv-tools); skipping it")
			*useTestsolv = false
		}
	}
	if *useApt {
		if _, err := exec.LookPath("apt-get"); err != nil {
			*useApt = false
		}
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	failures, err := compareTargets(self, *dir, names, *useTestsolv, *useApt)
	if err != nil {
		return err
	}
	if failures > 0 {
		return fmt.Errorf("%d answers failed verification", failures)
	}
	return nil
}

// compareTargets solves each name with lpm (in this process, then as a
// separate process), testsolv and apt-get -s, and prints one row each and
// a total. It returns how many of lpm's answers failed verification.
func compareTargets(self, dir string, names []string, useTestsolv, useApt bool) (int, error) {
	indexPath := filepath.Join(dir, indexName)
	tagsPath := filepath.Join(dir, tagsName)
	fmt.Printf("%-28s %6s %6s %9s %10s %6s | %10s %6s %6s %7s %6s | %10s %6s %7s\n",
		"target", "result", "pkgs", "solve", "lpm", "mem",
		"testsolv", "mem", "pkgs", "time", "mem",
		"apt-get -s", "mem", "time")
	var sumSolve, sumLpm, sumTS, sumApt time.Duration
	var maxLpm, maxTS, maxApt int64
	failures := 0
	for _, name := range names {
		res, err := timeLpm(indexPath, name, true)
		if err != nil {
			return 0, err
		}
		sumSolve += res.elapsed
		if res.invalid != nil {
			failures++
			fmt.Printf("INVALID answer for %s: %v\n", name, res.invalid)
		}
		// The ratios compare whole processes: lpm's is this program
		// re-run with -one, which opens the index and solves.
		cmd := exec.Command(self, "-dir", dir, "-one", name)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		proc, _, err := runTimed(cmd)
		if err != nil || proc.failed {
			return 0, fmt.Errorf("lpm process for %s: %v: %s", name, err, stderr.String())
		}
		for i := 1; i < reps; i++ {
			again, _, err := runTimed(exec.Command(self, "-dir", dir, "-one", name))
			if err != nil {
				return 0, err
			}
			proc = fastest(proc, again)
		}
		sumLpm += proc.wall
		maxLpm = max(maxLpm, proc.maxRSS)
		ts := [5]string{"-", "-", "-", "-", "-"}
		if useTestsolv {
			st, n, err := timeTestsolv(dir, tagsPath, name)
			if err != nil {
				return 0, err
			}
			for i := 1; i < reps; i++ {
				again, _, err := timeTestsolv(dir, tagsPath, name)
				if err != nil {
					return 0, err
				}
				st = fastest(st, again)
			}
			sumTS += st.wall
			maxTS = max(maxTS, st.maxRSS)
			ts = [5]string{ms(st.wall), st.mb(), "unsat", ratio(st.wall, proc.wall), ratio(st.maxRSS, proc.maxRSS)}
			if n >= 0 {
				ts[2] = fmt.Sprint(n)
			}
		}
		apt := [3]string{"-", "-", "-"}
		if useApt {
			st, err := timeApt(name)
			if err != nil {
				return 0, err
			}
			for i := 1; i < reps; i++ {
				again, err := timeApt(name)
				if err != nil {
					return 0, err
				}
				st = fastest(st, again)
			}
			sumApt += st.wall
			maxApt = max(maxApt, st.maxRSS)
			apt = [3]string{ms(st.wall), st.mb(), ratio(st.wall, proc.wall)}
		}
		fmt.Printf("%-28s %6s %6d %9s %10s %6s | %10s %6s %6s %7s %6s | %10s %6s %7s\n",
			trunc(name, 28), res.result, res.size, ms(res.elapsed), ms(proc.wall), proc.mb(),
			ts[0], ts[1], ts[2], ts[3], ts[4], apt[0], apt[1], apt[2])
	}
	ts := [4]string{"-", "-", "-", "-"}
	if useTestsolv {
		ts = [4]string{ms(sumTS), procStat{maxRSS: maxTS}.mb(), ratio(sumTS, sumLpm), ratio(maxTS, maxLpm)}
	}
	apt := [3]string{"-", "-", "-"}
	if useApt {
		apt = [3]string{ms(sumApt), procStat{maxRSS: maxApt}.mb(), ratio(sumApt, sumLpm)}
	}
	fmt.Printf("%-28s %6s %6s %9s %10s %6s | %10s %6s %6s %7s %6s | %10s %6s %7s\n",
		"total (mem: peak)", "", "", ms(sumSolve), ms(sumLpm), procStat{maxRSS: maxLpm}.mb(),
		ts[0], ts[1], "", ts[2], ts[3], apt[0], apt[1], apt[2])
	fmt.Println("solve = open index + solve inside this process; lpm = the same as a separate process (start, open, solve, verify, exit)")
	fmt.Println("mem = peak resident memory of the process; ratios = other tool / lpm (time, memory): above 1 means lpm is cheaper")
	return failures, nil
}

// ratio is other/lpm as text.
func ratio[T time.Duration | int64](other, lpm T) string {
	if lpm == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(other)/float64(lpm))
}

// reps is how many times each process is run; the fastest run counts.
var reps int

// The universe of a run, in its directory: lpm's index and the same
// packages as a testsolv repository.
const (
	indexName = "universe.idx"
	tagsName  = "universe.testtags"
)

type lpmResult struct {
	elapsed time.Duration
	result  string // "ok" or "unsat"
	size    int
	invalid error
}

// timeLpm opens the index and solves one install, as a fresh lpm process
// would; verification, if asked for, happens after the clock stops.
func timeLpm(indexPath, name string, verify bool) (lpmResult, error) {
	start := time.Now()
	u, closeIndex, err := openIndex(indexPath)
	if err != nil {
		return lpmResult{}, err
	}
	defer closeIndex()
	reqs := []resolver.Request{{Name: name}}
	sol, err := resolver.Solve(u, reqs, resolver.Options{})
	elapsed := time.Since(start)
	var ue *resolver.UnsatError
	switch {
	case errors.As(err, &ue):
		return lpmResult{elapsed: elapsed, result: "unsat"}, nil
	case err != nil:
		return lpmResult{}, fmt.Errorf("solving %s: %w", name, err)
	}
	res := lpmResult{elapsed: elapsed, result: "ok", size: len(sol.Selected)}
	if verify {
		res.invalid = resolver.Verify(u, reqs, resolver.Options{}, sol)
	}
	return res, nil
}

func stale(path string, inputs []string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return true
	}
	for _, in := range inputs {
		if ist, err := os.Stat(in); err == nil && ist.ModTime().After(st.ModTime()) {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
