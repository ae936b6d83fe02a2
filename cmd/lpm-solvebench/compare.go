package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// writeTesttags writes the same packages as a libsolv "testtags"
// repository, so that testsolv solves exactly what lpm solves: Depends and
// Pre-Depends as requires, Conflicts and Breaks as conflicts, Provides.
func writeTesttags(path string, pkgs []debPkg) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "=Ver: 2.0")
	for _, p := range pkgs {
		ver, rel := p.version, "-"
		if i := strings.LastIndexByte(ver, '-'); i >= 0 {
			ver, rel = ver[:i], ver[i+1:]
		}
		fmt.Fprintf(w, "=Pkg: %s %s %s amd64\n", p.name, ver, rel)
		for _, d := range p.depends {
			alts := make([]string, len(d))
			for i, r := range d {
				alts[i] = solvRel(r)
			}
			fmt.Fprintf(w, "=Req: %s\n", strings.Join(alts, " | "))
		}
		for _, r := range p.conflicts {
			fmt.Fprintf(w, "=Con: %s\n", solvRel(r))
		}
		for _, r := range p.provides {
			fmt.Fprintf(w, "=Prv: %s\n", solvRel(r))
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func solvRel(r debRel) string {
	op := map[string]string{"<<": "<", "<=": "<=", "=": "=", ">=": ">=", ">>": ">"}[r.op]
	if op == "" {
		return r.name
	}
	return r.name + " " + op + " " + r.ver
}

// timeTestsolv runs testsolv on a testcase that installs name into an
// empty system and returns its wall time and peak memory and the number of
// packages it would install (-1 if it found problems). testsolv reads the
// repository relative to the testcase's directory.
func timeTestsolv(dir, tagsPath, name string) (procStat, int, error) {
	tc := filepath.Join(dir, "job.t")
	text := fmt.Sprintf("repo system 0 empty\nrepo available 0 testtags %s\nsystem amd64 deb system\njob install name %s\n", filepath.Base(tagsPath), name)
	if err := os.WriteFile(tc, []byte(text), 0o644); err != nil {
		return procStat{}, 0, err
	}
	st, out, err := runTimed(exec.Command("testsolv", "-r", tc))
	if err != nil {
		return procStat{}, 0, fmt.Errorf("running testsolv: %w", err)
	}
	if strings.Contains(string(out), "could not open") {
		return procStat{}, 0, fmt.Errorf("testsolv could not read %s: %s", tagsPath, out)
	}
	installs := 0
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "problem "):
			return st, -1, nil
		case strings.HasPrefix(line, "install "):
			installs++
		}
	}
	return st, installs, nil
}

// timeApt simulates the install with apt-get -s against this machine's
// apt lists and installed system.
func timeApt(name string) (procStat, error) {
	st, _, err := runTimed(exec.Command("apt-get", "-s", "-qq", "install", "--no-install-recommends", name))
	if err != nil {
		return procStat{}, fmt.Errorf("running apt-get: %w", err)
	}
	return st, nil
}

// A procStat is what one finished process cost: wall time and peak
// resident memory (the kernel's ru_maxrss, in KiB).
type procStat struct {
	wall   time.Duration
	maxRSS int64
	failed bool // exited non-zero
}

// fastest keeps the quicker of two runs of one command; memory is the
// larger peak, so that noise never flatters a tool.
func fastest(a, b procStat) procStat {
	if b.wall < a.wall {
		a.wall = b.wall
	}
	a.maxRSS = max(a.maxRSS, b.maxRSS)
	return a
}

// add sums times and keeps the peak memory.
func (p *procStat) add(q procStat) {
	p.wall += q.wall
	p.maxRSS = max(p.maxRSS, q.maxRSS)
}

func (p procStat) mb() string { return fmt.Sprintf("%.0fMB", float64(p.maxRSS)/1024) }

// runTimed runs cmd to the end and returns its cost and standard output.
// A non-zero exit is not an error (testsolv and apt-get use it to report
// problems); failing to start is.
//
// Peak memory comes from GNU time (/usr/bin/time), not from our own
// wait4: Go starts children with vfork, and the kernel charges the
// parent's peak to the child at exec, so a child of this (large) process
// would be reported at least as big as the benchmark itself. GNU time
// forks a small process instead. Every tool pays time's millisecond alike.
func runTimed(cmd *exec.Cmd) (procStat, []byte, error) {
	rssFile, err := os.CreateTemp("", "lpm-solvebench-rss")
	if err != nil {
		return procStat{}, nil, err
	}
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	wrapped := exec.Command("/usr/bin/time", append([]string{"-q", "-f", "%M", "-o", rssFile.Name(), cmd.Path}, cmd.Args[1:]...)...)
	wrapped.Dir, wrapped.Env, wrapped.Stderr = cmd.Dir, cmd.Env, cmd.Stderr
	var out bytes.Buffer
	wrapped.Stdout = &out
	start := time.Now()
	err = wrapped.Run()
	st := procStat{wall: time.Since(start)}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			return procStat{}, nil, fmt.Errorf("%s (is GNU time installed at /usr/bin/time? apt-get install time): %w", cmd.Path, err)
		}
		st.failed = true
	}
	text, err := os.ReadFile(rssFile.Name())
	if err != nil {
		return procStat{}, nil, err
	}
	fields := strings.Fields(string(text))
	if len(fields) == 0 {
		return procStat{}, nil, fmt.Errorf("%s: GNU time reported no memory use", cmd.Path)
	}
	if st.maxRSS, err = strconv.ParseInt(fields[len(fields)-1], 10, 64); err != nil {
		return procStat{}, nil, fmt.Errorf("%s: GNU time's memory figure %q: %w", cmd.Path, text, err)
	}
	return st, out.Bytes(), nil
}

// lpmBinary finds the lpm command: a path as given, or a name looked up
// in PATH and then in the current directory (where make lpm puts it).
// "" or a command that cannot be found skips the column.
func lpmBinary(name string) string {
	if name == "" {
		return ""
	}
	if strings.ContainsRune(name, '/') {
		return name
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if abs, err := filepath.Abs(name); err == nil {
		if st, err := os.Stat(abs); err == nil && !st.IsDir() {
			return abs
		}
	}
	fmt.Printf("%s not found (make lpm); not timing the lpm command\n", name)
	return ""
}

// A cliRun times the lpm command on the ports tree of a run directory,
// with an empty root of its own: the root's package database is created
// by the first run, and the tree's index too, before anything is timed.
type cliRun struct {
	bin, root, ports string
}

func newCLIRun(bin, dir string) (*cliRun, error) {
	ports := filepath.Join(dir, portsName)
	if bin == "" {
		return nil, nil
	}
	if _, err := os.Stat(ports); err != nil {
		return nil, nil
	}
	root := filepath.Join(dir, "empty-root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	c := &cliRun{bin: bin, root: root, ports: ports}
	if _, _, err := c.plan(""); err != nil {
		return nil, err
	}
	return c, nil
}

// plan runs lpm install --dry-run --json for name (or, for "", a search
// that only opens the tree) and returns how many packages the plan
// installs, -1 when lpm found no solution.
func (c *cliRun) plan(name string) (procStat, int, error) {
	args := []string{"--root", c.root, "--ports", c.ports, "--json", "install", "--dry-run", name}
	if name == "" {
		args = []string{"--root", c.root, "--ports", c.ports, "search", "lpm-solvebench-warm-up"}
	}
	cmd := exec.Command(c.bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	st, out, err := runTimed(cmd)
	if err != nil {
		return procStat{}, 0, fmt.Errorf("running %s: %w", c.bin, err)
	}
	if name == "" {
		return st, 0, nil
	}
	if st.failed {
		if strings.Contains(stderr.String(), "cannot be satisfied") || strings.Contains(stderr.String(), "no available package") {
			return st, -1, nil
		}
		return procStat{}, 0, fmt.Errorf("lpm install --dry-run %s: %s", name, strings.TrimSpace(stderr.String()))
	}
	var steps []struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(out, &steps); err != nil {
		return procStat{}, 0, fmt.Errorf("lpm install --dry-run --json %s: %w", name, err)
	}
	n := 0
	for _, s := range steps {
		if s.Action == "install" {
			n++
		}
	}
	return st, n, nil
}
