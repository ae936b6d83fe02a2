package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/lfs-lpm/lpm/hooks"
)

// runHooks runs the hooks a committed transaction triggers. A failing
// hook is a warning, not an error, as pacman treats its post-transaction
// hooks: the change is on the root and in the database and stays there
// whatever the hook does, so lpm says so, gives the hook's own error and
// how to run it again, and goes on (exit 0, the rest of a plan too).
func (e *env) runHooks(changed []string) {
	release := holdSignals()
	err := hooks.Run(e.cfg.Root, changed, e.out)
	release()
	defer stopIfInterrupted()
	if err == nil {
		return
	}
	verbose, _ := e.cmd.Flags().GetBool("verbose")
	var joined interface{ Unwrap() []error }
	errs := []error{err}
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	for _, err := range errs {
		var f *hooks.Failure
		if !errors.As(err, &f) {
			e.warn("the transaction is committed, but its hooks did not run: %v", err)
			continue
		}
		if verbose && strings.TrimSpace(f.Output) != "" {
			fmt.Fprintf(os.Stderr, "hook %s printed:\n%s\n", f.Hook, strings.TrimRight(f.Output, "\n"))
		}
		again := ""
		if len(f.Command) > 0 {
			again = fmt.Sprintf("; fix that, then run %q yourself", strings.Join(f.Command, " "))
		}
		e.warn("the transaction is committed, but hook %s failed: %s%s", f.Hook, f.Cause, again)
	}
}
