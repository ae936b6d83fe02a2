package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/ports"
)

func newLintCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "lint [DIR...]",
		Short: "Check ports trees (default: the configured ones)",
		Long: `lint checks every port of the trees: parse errors with file and line,
unknown keys, missing checksums, dependencies no port provides, bad
constraints, and files a port names but lacks. It exits 1 on any error;
warnings (md5-only sources) do not fail it.`,
		RunE: runLint,
	}
}

type lintResult struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"` // 0: the problem is of the whole file or port
	Message string `json:"message"`
	Warning bool   `json:"warning"`
}

func runLint(cmd *cobra.Command, args []string) error {
	// Trees named on the command line need no root; the configured ones
	// are the root's.
	load := newEnv
	if len(args) > 0 {
		load = loadEnv
	}
	e, err := load(cmd)
	if err != nil {
		return err
	}
	dirs := args
	shipped := ""
	if len(dirs) == 0 {
		if dirs, err = e.portDirs(); err != nil {
			return err
		}
		if e.cfg.DefaultPorts {
			shipped = dirs[len(dirs)-1]
		}
	}
	provided := map[string]bool{}
	for _, p := range e.cfg.Provided {
		name, _, _ := strings.Cut(p, "=")
		provided[name] = true
	}
	// What the root has installed breaks a cycle as a provided package
	// does: a plan builds over it.
	if len(args) == 0 {
		if db, err := e.readDB(); err == nil {
			if installed, err := db.Packages(); err == nil {
				for _, p := range installed {
					provided[p.Name] = true
				}
			}
			db.Close()
		}
	}
	probs, err := ports.LintWith(ports.LintOptions{Provided: provided}, dirs...)
	if err != nil {
		return err
	}
	for i, p := range probs {
		// The shipped LFS tree is a whole self-hosting system: the book
		// builds it over its temporary tools, which the chroot profile
		// lists as provided. Its cycles are by design, not a mistake.
		if shipped != "" && !p.Warning && strings.HasPrefix(p.Message, "build cycle:") && strings.HasPrefix(p.File, shipped+string(filepath.Separator)) {
			probs[i].Warning = true
			probs[i].Message += "; the shipped LFS tree builds over the book's temporary tools (config/lfs/chroot.toml lists them as provided) or over a system lpm adopt took over"
		}
	}
	errs := 0
	for _, p := range probs {
		if !p.Warning {
			errs++
		}
	}
	if e.cfg.JSON {
		results := []lintResult{}
		for _, p := range probs {
			results = append(results, lintResult{File: p.File, Line: p.Line, Message: p.Message, Warning: p.Warning})
		}
		if err := printJSON(results); err != nil {
			return err
		}
	} else {
		for _, p := range probs {
			fmt.Println(p)
		}
	}
	if errs > 0 {
		return fmt.Errorf("lint: %d error(s) in %s", errs, strings.Join(dirs, ", "))
	}
	return nil
}
