package main

import (
	"os"
	"regexp"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// ANSI colours, as pacman's Color and apk use them: errors red, warnings
// yellow, and in a plan what each action does to the root.
const (
	ansiReset  = "\033[0m"
	ansiBold   = "\033[1m"
	ansiRed    = "\033[1;31m"
	ansiGreen  = "\033[1;32m"
	ansiYellow = "\033[1;33m"
	ansiBlue   = "\033[1;34m"
	ansiCyan   = "\033[1;36m"
)

// colorFor decides whether to colour what goes to f: --color (or the color
// setting) always or never; auto colours a terminal unless NO_COLOR is set.
func colorFor(setting string, f *os.File) bool {
	switch setting {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	return isatty.IsTerminal(f.Fd())
}

// errColor is whether errors on standard error are coloured, decided once
// the settings are loaded; before that (a usage error), from the flag and
// the environment alone.
var errColor *bool

func colorForErrors(root *cobra.Command) bool {
	if errColor != nil {
		return *errColor
	}
	setting, _ := root.PersistentFlags().GetString("color")
	if f := root.PersistentFlags().Lookup("color"); f != nil && !f.Changed {
		if env := os.Getenv("LPM_COLOR"); env != "" {
			setting = env
		}
	}
	return colorFor(setting, os.Stderr)
}

func paint(on bool, code, s string) string {
	if !on || s == "" {
		return s
	}
	return code + s + ansiReset
}

// errorLine is "lpm: MESSAGE" with its prefix in red.
func errorLine(on bool, msg string) string {
	return paint(on, ansiRed, "lpm:") + " " + msg
}

// warningLine is "lpm: warning: MESSAGE" with "warning:" in yellow.
func warningLine(on bool, msg string) string {
	return "lpm: " + paint(on, ansiYellow, "warning:") + " " + msg
}

var planAction = regexp.MustCompile(`^[a-z]+`)

// paintPlan colours a plan table already laid out by tabwriter, so that
// escape codes do not count as width: the header bold, each action by
// what it does.
func paintPlan(on bool, table string) string {
	if !on {
		return table
	}
	colors := map[string]string{"build": ansiBlue, "install": ansiGreen, "upgrade": ansiCyan, "downgrade": ansiYellow, "reinstall": ansiYellow}
	lines := strings.SplitAfter(table, "\n")
	for i, l := range lines {
		if i == 0 {
			lines[i] = paint(true, ansiBold, strings.TrimSuffix(l, "\n")) + "\n"
			continue
		}
		if a := planAction.FindString(l); colors[a] != "" {
			lines[i] = paint(true, colors[a], a) + l[len(a):]
		}
	}
	return strings.Join(lines, "")
}
