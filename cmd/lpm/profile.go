package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// The hidden --timings prints each transaction step's wall time to
// stderr (installer.Installer.Timings).
//
// The hidden --cpuprofile FILE writes a CPU profile of the whole command
// (go tool pprof reads it): the fixed costs of one lpm run, which a test
// of the installer alone does not show, are what it is for.

var profileOut *os.File

func addProfileFlag(root *cobra.Command) {
	root.PersistentFlags().String("cpuprofile", "", "write a CPU profile of the command to FILE")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentFlags().Bool("timings", false, "print each transaction step's wall time to stderr")
	root.PersistentFlags().MarkHidden("timings")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		file, _ := cmd.Flags().GetString("cpuprofile")
		if file == "" {
			return nil
		}
		f, err := os.Create(file)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile %s: %w", file, err)
		}
		profileOut = f
		return nil
	}
}

// stopProfile ends the profile, if one runs; main calls it before lpm
// exits, whichever way.
func stopProfile() {
	if profileOut == nil {
		return
	}
	pprof.StopCPUProfile()
	profileOut.Close()
	profileOut = nil
}
