package installer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/progress"
)

// Hooks run once a transaction is done, outside its journal, but some
// write a temp and rename it into place (ldconfig's etc/ld.so.cache~).
// While such a hook runs, hookTempsPath lists its temps, so that Recover
// removes what a killed one left.
func hookTempsPath(root string) string { return filepath.Join(root, "var/lib/lpm/hook-temps") }

// HookStarting records the temps hook is about to write, durably.
func HookStarting(root, hook string, temps []string) error {
	if len(temps) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(hookTempsPath(root)), 0o755); err != nil {
		return fmt.Errorf("recording its temps: %w", err)
	}
	f, err := os.OpenFile(hookTempsPath(root), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("recording its temps: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s\n%s\n", hook, strings.Join(temps, "\n"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// HookDone forgets the temps of a hook that ended.
func HookDone(root string, temps []string) {
	if len(temps) > 0 {
		os.Remove(hookTempsPath(root))
	}
}

// recoverHookTemps removes the temps of a hook lpm was killed in.
func recoverHookTemps(root string, out *progress.Printer) {
	data, err := os.ReadFile(hookTempsPath(root))
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for _, t := range lines[1:] {
		// As the hook saw it: inside the root, parents resolved.
		p, err := ResolvePath(root, t)
		if err != nil {
			continue
		}
		if err := os.Remove(filepath.Join(root, p)); err == nil {
			out.Printf("removed /%s, left by the interrupted hook %s", p, lines[0])
		}
	}
	os.Remove(hookTempsPath(root))
}
