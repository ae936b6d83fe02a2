package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
)

func newInfoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "info PORT",
		Short: "Show an installed package, or a port when it is not installed",
		Args:  argsExactly(1),
		RunE:  runInfo,
	}
}

type infoResult struct {
	Name        string     `json:"name"`
	Version     string     `json:"version"`
	Release     int        `json:"release"`
	Description string     `json:"description"`
	License     string     `json:"license"`
	Homepage    string     `json:"homepage"`
	Installed   bool       `json:"installed"`
	Explicit    *bool      `json:"explicit,omitempty"`     // installed packages only
	InstallTime *time.Time `json:"install_time,omitempty"` // installed packages only
	Size        int64      `json:"size,omitempty"`         // installed packages only
	Depends     []string   `json:"depends"`
	BuildDeps   []string   `json:"build_depends,omitempty"` // ports not installed only
	Provides    []string   `json:"provides"`
	Conflicts   []string   `json:"conflicts"`
	Archive     string     `json:"archive,omitempty"`      // installed packages only
	AdoptedFrom string     `json:"adopted_from,omitempty"` // adopted packages only
}

func runInfo(cmd *cobra.Command, args []string) error {
	e, db, err := forQuery(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	var r *infoResult
	name, err := installedName(db, args[0])
	switch {
	case err == nil:
		p, err := db.Package(name)
		if err != nil {
			return fmt.Errorf("info %w", err)
		}
		r = &infoResult{Name: p.Name, Version: p.Version, Release: p.Release, Description: p.Description,
			License: p.License, Homepage: p.Homepage, Installed: true, Explicit: &p.Explicit,
			InstallTime: &p.InstallTime, Size: p.Size, Depends: p.Depends, Provides: p.Provides,
			Conflicts: p.Conflicts, Archive: p.ArchivePath, AdoptedFrom: p.AdoptedFrom}
	case !errors.Is(err, pkgdb.ErrNotInstalled):
		return fmt.Errorf("info: %w", err)
	default:
		req, err := ports.ParseRequest(args[0])
		if err != nil {
			return err
		}
		tree, err := e.tree()
		if err != nil {
			return err
		}
		p, err := tree.Lookup(req.Name, req.Constraint)
		if errors.Is(err, ports.ErrNoPort) {
			return unknownName(req.Name, tree, db)
		}
		if err != nil {
			return fmt.Errorf("info %s: not installed, and %w", args[0], err)
		}
		r = &infoResult{Name: p.Name, Version: p.Version, Release: p.Release, Description: p.Description,
			License: p.License, Homepage: p.Homepage, Depends: p.Depends.Run, BuildDeps: p.Depends.Build,
			Provides: p.Provides, Conflicts: p.Conflicts}
		if r.BuildDeps == nil {
			r.BuildDeps = []string{}
		}
	}
	r.Depends, r.Provides, r.Conflicts = orEmpty(r.Depends), orEmpty(r.Provides), orEmpty(r.Conflicts)
	if e.cfg.JSON {
		return printJSON(r)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(w, "%s\t: %s\n", k, v) }
	row("Name", r.Name)
	row("Version", fmt.Sprintf("%s-%d", r.Version, r.Release))
	row("Description", r.Description)
	row("License", r.License)
	row("Homepage", r.Homepage)
	row("Depends on", list(r.Depends))
	if !r.Installed {
		row("Build depends", list(r.BuildDeps))
	}
	row("Provides", list(r.Provides))
	row("Conflicts with", list(r.Conflicts))
	if r.Installed {
		reason := "explicitly installed"
		if !*r.Explicit {
			reason = "installed as a dependency"
		}
		row("Installed", r.InstallTime.Local().Format(time.RFC1123)+", "+reason)
		row("Size", fmt.Sprintf("%.1f KiB", float64(r.Size)/1024))
		row("Archive", r.Archive)
		if r.AdoptedFrom != "" {
			row("Adopted", "built by hand; file list from "+r.AdoptedFrom)
		}
	} else {
		row("Installed", "not installed")
	}
	return w.Flush()
}

// orEmpty makes a missing list an empty one: JSON shows [] for it, never
// null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func list(s []string) string {
	if len(s) == 0 {
		return "None"
	}
	return strings.Join(s, "  ")
}
