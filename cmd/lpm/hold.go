package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newHoldCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hold PORT...",
		Short: "Pin installed packages at their version (unhold with --release)",
		Long: `hold pins installed packages: the solver treats a held package's installed
version as a requirement, so upgrades leave it alone and an install that
needs another version of it fails with an explanation.`,
		Args: argsAtLeast(1),
		RunE: runHold,
	}
	cmd.Flags().Bool("release", false, "release the hold instead")
	addWriterFlags(cmd)
	return cmd
}

func runHold(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	release, _ := cmd.Flags().GetBool("release")
	db, done, err := e.writer()
	if err != nil {
		return err
	}
	defer done()
	for _, name := range args {
		p, err := db.Package(name)
		if err != nil {
			return fmt.Errorf("hold %s: %w", name, err)
		}
		if err := db.SetHeld(name, !release); err != nil {
			return err
		}
		if release {
			e.out.Printf("released %s", name)
		} else {
			e.out.Printf("holding %s at %s", name, p.Version)
		}
	}
	return nil
}
