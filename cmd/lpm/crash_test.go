package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

// The crash test kills lpm with SIGKILL during install, upgrade and
// remove of a package set that includes a glibc-like package (the dynamic
// loader and libc), runs lpm again, and checks that:
//   - the database matches the disk (verify passes, no file is unowned),
//   - the whole set is at the old or at the new versions, never a mix,
//   - the loader and libc never went missing, not even for a moment (a
//     watcher polls them while lpm runs),
//   - no temp or backup file is left.
// LPM_CRASH_TRIALS sets the number of trials (default 200); the slow suite
// runs 1,000.

// crashSet is the archives of the test packages, old and new.
type crashSet struct {
	old, new []string // libc, a, b
}

const loader, libc = "usr/lib/ld-linux-x86-64.so.2", "usr/lib/libc.so.6"

// makeCrashSet builds the package set: version 2 changes 10% of the files,
// removes 5% and adds 5%.
func makeCrashSet(t *testing.T, dir string) crashSet {
	var set crashSet
	for _, version := range []string{"1.0.0", "2.0.0"} {
		for _, name := range []string{"libc", "a", "b"} {
			stage := filepath.Join(dir, "stage", name+version)
			write := func(rel, body string) {
				p := filepath.Join(stage, rel)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if name == "libc" {
				// Big enough that a copy would take measurable time.
				write(loader, strings.Repeat("loader "+version+"\n", 20000))
				write(libc, strings.Repeat("libc "+version+"\n", 40000))
				write("usr/include/stdio.h", "/* "+version+" */\n")
				os.Symlink("libc.so.6", filepath.Join(stage, "usr/lib/libc.so"))
			} else {
				for i := 0; i < 200; i++ {
					body := fmt.Sprintf("%s file %d\n", name, i)
					switch {
					case version == "2.0.0" && i%10 == 0:
						body = fmt.Sprintf("%s file %d, changed in 2.0.0\n", name, i)
					case version == "2.0.0" && i%20 == 1:
						continue // removed in 2.0.0
					}
					write(fmt.Sprintf("usr/share/%s/d%d/f%03d", name, i%8, i), body)
				}
				if version == "2.0.0" {
					for i := 200; i < 210; i++ {
						write(fmt.Sprintf("usr/share/%s/new/f%03d", name, i), "added\n")
					}
				}
				// Type changes: in 2.0.0 a symlink becomes a directory
				// and a directory becomes a symlink.
				swap, blk := filepath.Join(stage, "usr/share", name, "swap"), filepath.Join(stage, "usr/share", name, "blk")
				if version == "1.0.0" {
					os.Symlink("d0", swap)
					write(fmt.Sprintf("usr/share/%s/blk/inner/f", name), "inner\n")
					write(fmt.Sprintf("usr/share/%s/blk/g", name), "g\n")
				} else {
					write(fmt.Sprintf("usr/share/%s/swap/f", name), "in the new directory\n")
					os.Symlink("d1", blk)
				}
			}
			out := filepath.Join(dir, name+"-"+version+".lpm")
			m := archive.Manifest{Name: name, Version: version, Release: 1}
			if name == "a" {
				// A config file: its pristine copy is journaled too.
				write("etc/a.conf", "a.conf "+version+"\n")
				m.Backup = []string{"etc/a.conf"}
			}
			if _, err := archive.Create(out, stage, m); err != nil {
				t.Fatal(err)
			}
			if version == "1.0.0" {
				set.old = append(set.old, out)
			} else {
				set.new = append(set.new, out)
			}
		}
	}
	return set
}

// crashScenario is one kind of trial: how to prepare the root and what
// lpm command to kill.
type crashScenario struct {
	name     string
	prepared []string // archives installed before
	args     func(root string) []string
	before   string // the set's versions before, as "a b libc"
	after    string // and after
}

func crashScenarios(set crashSet) []crashScenario {
	return []crashScenario{
		{"install", nil, func(root string) []string { return append([]string{"install", "--file"}, set.old...) }, "", "1.0.0 1.0.0 1.0.0"},
		{"upgrade", set.old, func(root string) []string { return append([]string{"install", "--file"}, set.new...) }, "1.0.0 1.0.0 1.0.0", "2.0.0 2.0.0 2.0.0"},
		{"remove", set.old, func(root string) []string { return []string{"remove", "a", "b"} }, "1.0.0 1.0.0 1.0.0", "- - 1.0.0"},
	}
}

func TestCrashAtRandomMomentsLeavesAConsistentRoot(t *testing.T) {
	trials := 200
	if n, err := strconv.Atoi(os.Getenv("LPM_CRASH_TRIALS")); err == nil {
		trials = n
	}
	runCrashTrials(t, trials, time.Now().UnixNano())
}

func TestSlowCrash1000Trials(t *testing.T) {
	if os.Getenv("LPM_SLOW") == "" {
		t.Skip("slow suite: set LPM_SLOW=1")
	}
	runCrashTrials(t, 1000, time.Now().UnixNano())
}

func runCrashTrials(t *testing.T, trials int, seed int64) {
	dir := t.TempDir()
	set := makeCrashSet(t, dir)
	scenarios := crashScenarios(set)
	// Templates: a root with the old set installed, made once.
	templates := map[string]string{}
	for _, sc := range scenarios {
		tmpl := filepath.Join(dir, "template-"+sc.name)
		os.MkdirAll(filepath.Join(tmpl, "usr/lib"), 0o755)
		// The fake libc is not ELF: a local hook of the same name turns
		// the real ldconfig off.
		os.MkdirAll(filepath.Join(tmpl, "etc/lpm/hooks"), 0o755)
		os.WriteFile(filepath.Join(tmpl, "etc/lpm/hooks/ldconfig.toml"),
			[]byte("description = \"off in the crash test\"\npaths = [\"none\"]\nexec = [\"/bin/true\"]\n"), 0o644)
		if sc.prepared != nil {
			db, err := pkgdb.Open(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			in := &installer.Installer{Root: tmpl, DB: db, Out: &progress.Printer{Quiet: true}}
			var ch []installer.Change
			for _, a := range sc.prepared {
				ch = append(ch, installer.Change{Archive: a, Explicit: true})
			}
			if _, err := in.Apply(ch); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
		templates[sc.name] = tmpl
	}
	// How long an uninterrupted run takes, to spread the kills over it.
	durations := map[string]time.Duration{}
	for _, sc := range scenarios {
		root := copyRoot(t, templates[sc.name], filepath.Join(dir, "timing-"+sc.name))
		start := time.Now()
		if out, err := exec.Command(lpmBin, append([]string{"--root", root, "--yes", "-q"}, sc.args(root)...)...).CombinedOutput(); err != nil {
			t.Fatalf("uninterrupted %s: %v\n%s", sc.name, err, out)
		}
		durations[sc.name] = time.Since(start)
		os.RemoveAll(root)
	}
	rng := rand.New(rand.NewSource(seed))
	outcomes := map[string]int{}
	violations := 0
	for i := 0; i < trials && violations < 5; i++ {
		sc := scenarios[i%len(scenarios)]
		root := copyRoot(t, templates[sc.name], filepath.Join(dir, fmt.Sprintf("trial-%d", i)))
		how, violation := crashTrial(t, root, sc, durations[sc.name], rng)
		outcomes[sc.name+": "+how]++
		if violation != "" {
			violations++
			t.Errorf("trial %d (%s, %s, seed %d): %s", i, sc.name, how, seed, violation)
		}
		os.RemoveAll(root)
		// A line a hundred trials, so that a long run (go test -v) shows
		// it is moving.
		if (i+1)%100 == 0 && i+1 < trials {
			t.Logf("%d of %d trials, %d violations", i+1, trials, violations)
		}
	}
	t.Logf("%d trials, seed %d, %d violations; outcomes: %v", trials, seed, violations, outcomes)
}

// crashTrial runs one killed lpm and the checks. It returns how the trial
// ended and a violation, if any.
func crashTrial(t *testing.T, root string, sc crashScenario, d time.Duration, rng *rand.Rand) (string, string) {
	cmd := exec.Command(lpmBin, append([]string{"--root", root, "--yes", "-q"}, sc.args(root)...)...)
	// Half the trials die at a random moment; the others at a named point
	// (after the journal, after staging, during the renames, after a type
	// change's exchange, after the renames, after the commit, while the
	// committed transaction's obsolete paths are unlinked), so that the
	// short windows are covered.
	if rng.Intn(2) == 1 {
		points := []string{"journaled:1", "staged:1", "applied:1", "committed:1", fmt.Sprintf("rename:%d", 1+rng.Intn(400)), fmt.Sprintf("swapped:%d", 1+rng.Intn(4)), fmt.Sprintf("unlink:%d", 1+rng.Intn(400))}
		cmd.Env = append(os.Environ(), "LPM_TEST_CRASH="+points[rng.Intn(len(points))])
	}
	var missing atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	watch := sc.prepared != nil // the loader exists before and after
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if watch {
				for _, p := range []string{loader, libc} {
					if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
						missing.Add(1)
					}
				}
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	delay := time.Duration(rng.Int63n(int64(d)*5/4 + 1))
	timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
	err := cmd.Wait()
	timer.Stop()
	close(stop)
	<-watched
	how := "completed"
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		how = "killed"
	} else if err != nil {
		return "failed", fmt.Sprintf("lpm failed without being killed: %v", err)
	}
	if n := missing.Load(); n > 0 {
		return how, fmt.Sprintf("the loader or libc was missing %d times while lpm ran", n)
	}
	// Any command recovers; verify is the one that checks too.
	out, err := exec.Command(lpmBin, "--root", root, "verify").CombinedOutput()
	if err != nil {
		return how, fmt.Sprintf("verify after recovery: %v\n%s", err, out)
	}
	if _, err := pkgdb.OpenReadOnly(root); sc.before == "" && errors.Is(err, pkgdb.ErrNoDatabase) {
		// Killed while the database was first created (a query sees
		// nothing installed): nothing may be installed then.
		if _, err := os.Stat(filepath.Join(root, "usr/share")); err == nil {
			return how, "no database, but package files are on disk"
		}
		return how + ", before the database existed", ""
	}
	if strings.Contains(string(out), "rolled it back") {
		how += ", rolled back"
	} else if strings.Contains(string(out), "finished it") {
		how += ", finished"
	}
	db, err := pkgdb.OpenReadOnly(root)
	if err != nil {
		return how, err.Error()
	}
	defer db.Close()
	if open, _ := db.OpenTransactions(); len(open) > 0 {
		return how, fmt.Sprintf("transactions still open: %+v", open)
	}
	var versions []string
	for _, name := range []string{"a", "b", "libc"} {
		p, err := db.Package(name)
		switch {
		case err == nil:
			versions = append(versions, p.Version)
		default:
			versions = append(versions, "-")
		}
	}
	got := strings.Join(versions, " ")
	// The pristine copy of a's config is the installed version's, with no
	// temp beside it.
	pristine, err := os.ReadFile(filepath.Join(root, "var/lib/lpm/pristine/a/etc/a.conf"))
	switch {
	case versions[0] == "-" && err == nil:
		return how, "a pristine copy of a's config is left, and a is not installed"
	case versions[0] != "-" && string(pristine) != "a.conf "+versions[0]+"\n":
		return how, fmt.Sprintf("the pristine copy of a's config is %q (%v) with a %s installed", pristine, err, versions[0])
	}
	if left, _ := filepath.Glob(filepath.Join(root, "var/lib/lpm/pristine/a/etc/*.lpm*")); len(left) > 0 {
		return how, fmt.Sprintf("temps left beside the pristine copy: %v", left)
	}
	before := sc.before
	if before == "" {
		before = "- - -"
	}
	if got != before && got != sc.after {
		return how, fmt.Sprintf("the set is at %q: neither all before (%q) nor all after (%q)", got, before, sc.after)
	}
	// Every file on disk is owned (or is lpm's own state), and no temp or
	// backup is left.
	var stray []string
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		switch rel {
		case ".":
			return nil
		case "var", "etc":
			return filepath.SkipDir // lpm's own state and the test's hook
		}
		if strings.Contains(d.Name(), ".lpm-") {
			stray = append(stray, rel)
		}
		if !d.IsDir() {
			paths = append(paths, rel)
		}
		return nil
	})
	if len(stray) > 0 {
		return how, fmt.Sprintf("temp or backup files left: %v", stray)
	}
	owners, err := db.Owners(paths)
	if err != nil {
		return how, err.Error()
	}
	for _, p := range paths {
		if len(owners[p]) == 0 {
			return how, fmt.Sprintf("/%s is on disk but owned by no package", p)
		}
	}
	return how, ""
}

// copyRoot copies a template root (files, links, the database) to dst.
func copyRoot(t *testing.T, src, dst string) string {
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v %s", src, dst, err, out)
	}
	return dst
}
