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
	lpmBin := flag.String("lpm", "lpm", "the lpm binary to time as a whole command (make lpm); \"\" to skip")
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
		return runFamily(*fam, *libs, *versions, *seed, *instances, *dir, lpmBinary(*lpmBin), *useTestsolv)
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
	if stale(indexPath, files) || stale(tagsPath, files) || stale(filepath.Join(*dir, portsName), files) {
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
		if err := writePortsTree(filepath.Join(*dir, portsName), pkgs); err != nil {
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
	failures, err := compareTargets(self, *dir, names, lpmBinary(*lpmBin), *useTestsolv, *useApt)
	if err != nil {
		return err
	}
	if failures > 0 {
		return fmt.Errorf("%d answers failed verification", failures)
	}
	return nil
}

// compareTargets solves each name with lpm's solver core (in this
// process, then as a separate process on the index), with the lpm command
// on the same packages written as a ports tree (when lpmBin is set), with
// testsolv and with apt-get -s, and prints one row each and a total. It
// returns how many of lpm's answers failed verification.
func compareTargets(self, dir string, names []string, lpmBin string, useTestsolv, useApt bool) (int, error) {
	indexPath := filepath.Join(dir, indexName)
	tagsPath := filepath.Join(dir, tagsName)
	cli, err := newCLIRun(lpmBin, dir)
	if err != nil {
		return 0, err
	}
	fmt.Printf("%-24s %6s %5s %8s | %9s %5s | %9s %5s %5s | %9s %5s %5s | %9s %5s | %7s %7s %6s %7s %6s\n",
		"target", "result", "pkgs", "solve",
		"lpm core", "mem", "lpm cmd", "mem", "pkgs", "testsolv", "mem", "pkgs", "apt-get", "mem",
		"ts/core", "ts/cmd", "mem", "apt/cmd", "mem")
	var sum struct{ solve, core, cli, ts, apt procStat }
	failures := 0
	for _, name := range names {
		res, err := timeLpm(indexPath, name, true)
		if err != nil {
			return 0, err
		}
		sum.solve.wall += res.elapsed
		if res.invalid != nil {
			failures++
			fmt.Printf("INVALID answer for %s: %v\n", name, res.invalid)
		}
		// The ratios compare whole processes: the core's is this program
		// re-run with -one, which opens the index and solves.
		core, err := repeat(func() (procStat, error) {
			cmd := exec.Command(self, "-dir", dir, "-one", name)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			st, _, err := runTimed(cmd)
			if err == nil && st.failed {
				err = fmt.Errorf("lpm core process for %s: %s", name, stderr.String())
			}
			return st, err
		})
		if err != nil {
			return 0, err
		}
		sum.core.add(core)
		var cliSt, tsSt, aptSt procStat
		cliText, cliPkgs, tsText, tsPkgs, aptText := [2]string{"-", "-"}, "-", [2]string{"-", "-"}, "-", [2]string{"-", "-"}
		if cli != nil {
			n := 0
			cliSt, err = repeat(func() (procStat, error) {
				var st procStat
				st, n, err = cli.plan(name)
				return st, err
			})
			if err != nil {
				return 0, err
			}
			sum.cli.add(cliSt)
			cliText, cliPkgs = [2]string{ms(cliSt.wall), cliSt.mb()}, count(n)
		}
		if useTestsolv {
			n := 0
			tsSt, err = repeat(func() (procStat, error) {
				var st procStat
				st, n, err = timeTestsolv(dir, tagsPath, name)
				return st, err
			})
			if err != nil {
				return 0, err
			}
			sum.ts.add(tsSt)
			tsText, tsPkgs = [2]string{ms(tsSt.wall), tsSt.mb()}, count(n)
		}
		if useApt {
			aptSt, err = repeat(func() (procStat, error) { return timeApt(name) })
			if err != nil {
				return 0, err
			}
			sum.apt.add(aptSt)
			aptText = [2]string{ms(aptSt.wall), aptSt.mb()}
		}
		fmt.Printf("%-24s %6s %5d %8s | %9s %5s | %9s %5s %5s | %9s %5s %5s | %9s %5s | %7s %7s %6s %7s %6s\n",
			trunc(name, 24), res.result, res.size, ms(res.elapsed),
			ms(core.wall), core.mb(), cliText[0], cliText[1], cliPkgs, tsText[0], tsText[1], tsPkgs, aptText[0], aptText[1],
			ratio(tsSt, core, useTestsolv, false), ratio(tsSt, cliSt, useTestsolv && cli != nil, false), ratio(tsSt, cliSt, useTestsolv && cli != nil, true),
			ratio(aptSt, cliSt, useApt && cli != nil, false), ratio(aptSt, cliSt, useApt && cli != nil, true))
	}
	show := func(st procStat, on bool) [2]string {
		if !on {
			return [2]string{"-", "-"}
		}
		return [2]string{ms(st.wall), st.mb()}
	}
	c, ts, apt := show(sum.cli, cli != nil), show(sum.ts, useTestsolv), show(sum.apt, useApt)
	fmt.Printf("%-24s %6s %5s %8s | %9s %5s | %9s %5s %5s | %9s %5s %5s | %9s %5s | %7s %7s %6s %7s %6s\n",
		"total (mem: peak)", "", "", ms(sum.solve.wall), ms(sum.core.wall), sum.core.mb(), c[0], c[1], "", ts[0], ts[1], "", apt[0], apt[1],
		ratio(sum.ts, sum.core, useTestsolv, false), ratio(sum.ts, sum.cli, useTestsolv && cli != nil, false), ratio(sum.ts, sum.cli, useTestsolv && cli != nil, true),
		ratio(sum.apt, sum.cli, useApt && cli != nil, false), ratio(sum.apt, sum.cli, useApt && cli != nil, true))
	fmt.Println("solve = open the index and solve, inside this process; lpm core = the same as a separate process;")
	fmt.Println("lpm cmd = lpm --root EMPTY --ports TREE install --dry-run --json, the packages written as a ports tree (index warm);")
	fmt.Printf("times are the fastest of %d runs, mem the largest peak RSS; ratios = other tool / lpm: above 1 means lpm is cheaper\n", reps)
	if useApt {
		fmt.Println("apt-get -s solves against this machine's installed system, so it installs less than the others")
	}
	return failures, nil
}

// repeat runs a timed command reps times and keeps the fastest run.
func repeat(run func() (procStat, error)) (procStat, error) {
	best, err := run()
	for i := 1; i < reps && err == nil; i++ {
		var again procStat
		if again, err = run(); err == nil {
			best = fastest(best, again)
		}
	}
	return best, err
}

func count(n int) string {
	if n < 0 {
		return "unsat"
	}
	return fmt.Sprint(n)
}

// ratio is other/lpm, in time or in memory, as text.
func ratio(other, lpm procStat, on, memory bool) string {
	a, b := float64(other.wall), float64(lpm.wall)
	if memory {
		a, b = float64(other.maxRSS), float64(lpm.maxRSS)
	}
	if !on || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// reps is how many times each process is run; the fastest run counts.
var reps int

// The universe of a run, in its directory: lpm's index and the same
// packages as a testsolv repository.
const (
	indexName = "universe.idx"
	tagsName  = "universe.testtags"
	portsName = "ports" // the same packages as an lpm ports tree
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
