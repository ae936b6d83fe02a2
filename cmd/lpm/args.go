package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Argument checks that name what is missing from the command's usage line
// ("info: missing PORT (usage: lpm info PORT)") instead of cobra's
// generic "accepts 1 arg(s), received 0".
func argsExactly(n int) cobra.PositionalArgs { return argsBetween(n, n) }
func argsAtLeast(n int) cobra.PositionalArgs { return argsBetween(n, -1) }
func argsAtMost(n int) cobra.PositionalArgs  { return argsBetween(0, n) }

// argsBetween accepts min to max arguments; max < 0 means no limit.
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		usage := cmd.CommandPath()
		if _, rest, ok := strings.Cut(cmd.Use, " "); ok {
			usage += " " + rest
		}
		switch {
		case len(args) < min:
			return fmt.Errorf("%s: missing %s (usage: %s)", cmd.Name(), argName(cmd.Use, len(args)), usage)
		case max == 0 && len(args) > 0:
			return fmt.Errorf("%s takes no arguments, but was given %s (usage: %s)", cmd.Name(), strings.Join(args, " "), usage)
		case max > 0 && len(args) > max:
			return fmt.Errorf("%s: too many arguments: %s (usage: %s)", cmd.Name(), strings.Join(args[max:], " "), usage)
		}
		return nil
	}
}

// argName is the name the usage line gives argument i: "PORT" for the
// first of "install PORT[@CONSTRAINT]...".
func argName(use string, i int) string {
	words := strings.Fields(use)[1:]
	if len(words) == 0 {
		return "an argument"
	}
	w := words[min(i, len(words)-1)]
	w = strings.TrimPrefix(w, "[")
	if j := strings.IndexAny(w, "[]."); j > 0 {
		w = w[:j]
	}
	return w
}
