package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
// empty system and returns its wall time and the number of packages it
// would install (-1 if it found problems). testsolv reads the repository
// relative to the testcase's directory.
func timeTestsolv(dir, tagsPath, name string) (time.Duration, int, error) {
	tc := filepath.Join(dir, "job.t")
	text := fmt.Sprintf("repo system 0 empty\nrepo available 0 testtags %s\nsystem amd64 deb system\njob install name %s\n", filepath.Base(tagsPath), name)
	if err := os.WriteFile(tc, []byte(text), 0o644); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	out, err := exec.Command("testsolv", "-r", tc).Output()
	elapsed := time.Since(start)
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			return 0, 0, fmt.Errorf("running testsolv: %w", err)
		}
	}
	if strings.Contains(string(out), "could not open") {
		return 0, 0, fmt.Errorf("testsolv could not read %s: %s", tagsPath, out)
	}
	installs := 0
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "problem "):
			return elapsed, -1, nil
		case strings.HasPrefix(line, "install "):
			installs++
		}
	}
	return elapsed, installs, nil
}

// timeApt simulates the install with apt-get -s against this machine's
// apt lists and installed system.
func timeApt(name string) (time.Duration, error) {
	start := time.Now()
	cmd := exec.Command("apt-get", "-s", "-qq", "install", "--no-install-recommends", name)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			return 0, fmt.Errorf("running apt-get: %w", err)
		}
	}
	return time.Since(start), nil
}
