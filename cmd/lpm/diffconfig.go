package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/installer"
)

func newDiffConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff-config PORT",
		Short: "Show how config files differ: your edits and the package's changes",
		Long: `diff-config compares each config file of an installed package three ways:
the pristine version the package installed, the file as it is now (your
edits), and, when an upgrade left one, the new packaged version (NAME.lpmnew).
It prints unified diffs of both changes against the pristine base; merge them
with diff3 -m FILE PRISTINE FILE.lpmnew.`,
		Args: argsExactly(1),
		RunE: runDiffConfig,
	}
}

func runDiffConfig(cmd *cobra.Command, args []string) error {
	e, db, err := forQuery(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	files, err := db.Files(args[0])
	if err != nil {
		return err
	}
	pkg, err := db.Package(args[0])
	if err != nil {
		return fmt.Errorf("diff-config %s: %w", args[0], err)
	}
	why := "installed by an older lpm"
	if pkg.AdoptedFrom != "" {
		why = "adopted without the package's content, and edited; the next upgrade keeps yours and writes .lpmnew"
	}
	shown := 0
	for _, f := range files {
		if !f.Backup {
			continue
		}
		live := filepath.Join(e.cfg.Root, f.Path)
		base := installer.PristinePath(e.cfg.Root, args[0], f.Path)
		// A pristine copy planted as a link would show any host file.
		if err := installer.CheckStatePath(e.cfg.Root, base); err != nil {
			return fmt.Errorf("diff-config %s: %w", args[0], err)
		}
		if fi, err := os.Lstat(base); err != nil || !fi.Mode().IsRegular() {
			fmt.Printf("/%s: no pristine copy kept (%s)\n", f.Path, why)
			continue
		}
		shown++
		diff("your edits to /"+f.Path, base, live)
		if _, err := os.Stat(live + ".lpmnew"); err == nil {
			diff("the package's changes to /"+f.Path, base, live+".lpmnew")
			fmt.Printf("merge: diff3 -m %s %s %s.lpmnew\n", live, base, live)
		}
	}
	if shown == 0 {
		e.out.Printf("%s has no config files with a pristine copy", args[0])
	}
	return nil
}

// diff prints a unified diff of two files, or says they are the same.
func diff(title, a, b string) {
	out, err := exec.Command("diff", "-u", "--label", "packaged", "--label", title, a, b).Output()
	if err == nil {
		fmt.Printf("%s: none\n", title)
		return
	}
	os.Stdout.Write(out)
}
