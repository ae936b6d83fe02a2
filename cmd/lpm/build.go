package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/builder"
	"github.com/lfs-lpm/lpm/ports"
)

func newBuildCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build PORT[@CONSTRAINT]...",
		Short: "Build ports into package archives without installing them",
		Long: `build fetches and verifies a port's sources, runs its phases (prepare,
configure, build, check, install) in a fresh work directory with the install
going into a staging directory, strips ELF files there, and packs the result
into the package cache. The full log is kept under ROOT/var/log/lpm/build.
Build dependencies are not installed by build; install does that. A second
build of the same port waits for the first, then reuses its archive unless
--rebuild is given. Each build leaves its footprint (the list of paths,
types, modes and hashes it made) beside the archive, and says how its files
differ from the footprint of the same version and release, if any.`,
		Args: argsAtLeast(1),
		RunE: runBuild,
	}
	cmd.Flags().Bool("rebuild", false, "build even when the package cache has an archive")
	cmd.Flags().Bool("update-footprint", false, "write the build's footprint into the port's directory (PORT/footprint), for lpm adopt")
	return cmd
}

func runBuild(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	tree, err := e.tree()
	if err != nil {
		return err
	}
	if err := e.mayBuild(); err != nil {
		return err
	}
	rebuild, _ := cmd.Flags().GetBool("rebuild")
	b := &builder.Builder{Cfg: e.cfg, Out: e.out, Rebuild: rebuild}
	for _, a := range args {
		req, err := request(tree, a)
		if err != nil {
			return err
		}
		p, err := tree.Lookup(req.Name, req.Constraint)
		if err != nil {
			return err
		}
		out, err := b.Build(context.Background(), p)
		if err != nil {
			return buildFailure(err)
		}
		if update, _ := cmd.Flags().GetBool("update-footprint"); update {
			if err := writeShippedFootprint(p, out); err != nil {
				return err
			}
			e.out.Printf("%s: wrote %s", p.ID(), builder.ShippedFootprintPath(p))
		}
		fmt.Println(out)
	}
	return nil
}

// writeShippedFootprint keeps the manifest of archive in the port's own
// directory, where a ports tree ships it (as CRUX's pkgmk -uf does).
func writeShippedFootprint(p *ports.Port, file string) error {
	m, err := archive.ReadManifest(file)
	if err != nil {
		return err
	}
	return archive.WriteFootprint(builder.ShippedFootprintPath(p), m)
}

// buildFailure prints the end of a failed build's log before the one-line
// error, so the user sees why without opening the file.
func buildFailure(err error) error {
	var be *builder.BuildError
	if errors.As(err, &be) {
		fmt.Fprintf(os.Stderr, "--- last %d lines of %s ---\n%s\n---\n", len(be.Tail), be.Log, strings.Join(be.Tail, "\n"))
	}
	return err
}

// mayBuild refuses at once, in one line, a user who may not write where a
// build writes: the work, log, source and package directories.
func (e *env) mayBuild() error {
	for _, d := range []string{e.cfg.BuildDir, e.cfg.LogDir, e.cfg.Distfiles, e.cfg.Packages} {
		if mayWrite(d) {
			continue
		}
		if rel, err := filepath.Rel(e.cfg.Root, d); err == nil && !strings.HasPrefix(rel, "..") {
			return errNotWritable(e.cfg.Root)
		}
		return fmt.Errorf("%s is not writable by you: run as root, or set it to a directory you own in the config or environment", d)
	}
	return nil
}
