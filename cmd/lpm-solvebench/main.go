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
	one := flag.String("one", "", "internal: open the index in -dir, solve this one package and exit (timed as a process)")
	flag.Parse()
	if *one != "" {
		res, err := timeLpm(filepath.Join(*dir, "debian.idx"), *one)
		if err != nil {
			return err
		}
		if res.invalid != nil {
			return res.invalid
		}
		fmt.Println(res.result, res.size)
		return nil
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
	indexPath := filepath.Join(*dir, "debian.idx")
	tagsPath := filepath.Join(*dir, "debian.testtags")
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
	fmt.Printf("%-32s %6s %6s %9s %10s %10s %6s %8s %10s %8s\n", "target", "result", "pkgs", "solve", "lpm", "testsolv", "pkgs", "ratio", "apt-get -s", "ratio")
	var sumSolve, sumLpm, sumTS, sumApt time.Duration
	failures := 0
	for _, name := range names {
		res, err := timeLpm(indexPath, name)
		if err != nil {
			return err
		}
		sumSolve += res.elapsed
		if res.invalid != nil {
			failures++
			fmt.Printf("INVALID answer for %s: %v\n", name, res.invalid)
		}
		// The ratios compare whole processes: lpm's is this program
		// re-run with -one, which opens the index and solves.
		start := time.Now()
		if out, err := exec.Command(self, "-dir", *dir, "-one", name).CombinedOutput(); err != nil {
			return fmt.Errorf("lpm process for %s: %v: %s", name, err, out)
		}
		proc := time.Since(start)
		sumLpm += proc
		tsText, tsSize, tsRatio, aptText, aptRatio := "-", "-", "-", "-", "-"
		if *useTestsolv {
			d, n, err := timeTestsolv(*dir, tagsPath, name)
			if err != nil {
				return err
			}
			sumTS += d
			tsText, tsRatio = ms(d), fmt.Sprintf("%.1fx", float64(d)/float64(proc))
			tsSize = "unsat"
			if n >= 0 {
				tsSize = fmt.Sprint(n)
			}
		}
		if *useApt {
			d, err := timeApt(name)
			if err != nil {
				return err
			}
			sumApt += d
			aptText, aptRatio = ms(d), fmt.Sprintf("%.1fx", float64(d)/float64(proc))
		}
		fmt.Printf("%-32s %6s %6d %9s %10s %10s %6s %8s %10s %8s\n", trunc(name, 32), res.result, res.size, ms(res.elapsed), ms(proc), tsText, tsSize, tsRatio, aptText, aptRatio)
	}
	fmt.Printf("%-32s %6s %6s %9s %10s", "total", "", "", ms(sumSolve), ms(sumLpm))
	if *useTestsolv {
		fmt.Printf(" %10s %6s %8s", ms(sumTS), "", fmt.Sprintf("%.1fx", float64(sumTS)/float64(sumLpm)))
	} else {
		fmt.Printf(" %10s %6s %8s", "-", "", "-")
	}
	if *useApt {
		fmt.Printf(" %10s %8s", ms(sumApt), fmt.Sprintf("%.1fx", float64(sumApt)/float64(sumLpm)))
	}
	fmt.Println()
	fmt.Println("solve = open index + solve inside this process; lpm = the same as a separate process (start, open, solve, verify, exit)")
	fmt.Println("ratio = other tool's wall time / lpm's process wall time; higher is better for lpm")
	if failures > 0 {
		return fmt.Errorf("%d answers failed verification", failures)
	}
	return nil
}

type lpmResult struct {
	elapsed time.Duration
	result  string // "ok" or "unsat"
	size    int
	invalid error
}

// timeLpm opens the index and solves one install, as a fresh lpm process
// would; verification happens after the clock stops.
func timeLpm(indexPath, name string) (lpmResult, error) {
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
	res.invalid = resolver.Verify(u, reqs, resolver.Options{}, sol)
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
