// Package hooks runs actions after a transaction, triggered by the paths
// it changed (like alpm hooks): ldconfig when a library changes, and so on.
//
// A hook is a TOML file: a description, glob patterns over root-relative
// paths (path.Match: * stays within one directory), the command to run
// inside the root, and optionally one to run on the host when the root
// cannot run it itself ({root} is replaced by the root's path). Shipped
// hooks are compiled in; a file in ROOT/etc/lpm/hooks with the same name
// replaces one, other files there add to them. Built-in hooks (builtin.go)
// are declared in Go, some running Go code instead of a command; a file of
// the same name replaces one too. Hooks run in name order.
//
// Hooks never run during a transaction, only after it committed, so a
// hook that fails cannot undo anything: as pacman does with its
// post-transaction hooks, every triggered hook runs even when one fails,
// and Run returns the failures (each a *Failure) for the caller to report.
package hooks

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/pelletier/go-toml/v2"

	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/progress"
)

//go:embed shipped/*.toml
var shipped embed.FS

// A Hook is one action and what triggers it.
type Hook struct {
	Name        string   `toml:"-"`
	Description string   `toml:"description"`
	Paths       []string `toml:"paths"`
	Exec        []string `toml:"exec"`      // inside the root
	HostExec    []string `toml:"host_exec"` // on the host, when the root lacks Exec[0]
	// Temps are the root's paths the command writes and renames into
	// place (ldconfig's etc/ld.so.cache~): if lpm is killed while the
	// hook runs, the next lpm removes them (installer.Recover).
	Temps []string `toml:"temps"`

	// Func, set only on built-in hooks (builtin.go), runs in Go in place
	// of a command and says in a few words what it did.
	Func func(root string, changed []string) (string, error) `toml:"-"`
}

// Load returns the shipped hooks overlaid by those in ROOT/etc/lpm/hooks.
func Load(root string) ([]Hook, error) {
	byName := map[string]Hook{}
	read := func(fsys fs.FS, dir string) error {
		files, err := fs.Glob(fsys, dir+"/*.toml")
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := fs.ReadFile(fsys, f)
			if err != nil {
				return err
			}
			var h Hook
			dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
			if err := dec.Decode(&h); err != nil {
				return fmt.Errorf("hook %s: %w", f, err)
			}
			if len(h.Exec) == 0 || len(h.Paths) == 0 {
				return fmt.Errorf("hook %s: needs paths and exec", f)
			}
			h.Name = strings.TrimSuffix(path.Base(f), ".toml")
			byName[h.Name] = h
		}
		return nil
	}
	if err := read(shipped, "shipped"); err != nil {
		return nil, err
	}
	local := filepath.Join(root, "etc/lpm/hooks")
	if _, err := os.Stat(local); err == nil {
		if err := read(os.DirFS(local), "."); err != nil {
			return nil, fmt.Errorf("%s: %w", local, err)
		}
	}
	var hooks []Hook
	for _, h := range byName {
		hooks = append(hooks, h)
	}
	sort.Slice(hooks, func(i, j int) bool { return hooks[i].Name < hooks[j].Name })
	return hooks, nil
}

// Triggered reports whether any changed path matches the hook.
func (h Hook) Triggered(changed []string) bool {
	// What a pattern has before its first special character must begin
	// a path it matches: checked first, it spares path.Match nearly every
	// path of a big package (the built-in and shipped hooks have 23
	// patterns: 460,000 calls for the 20,000 paths of a removal).
	literal := make([]string, len(h.Paths))
	for i, pat := range h.Paths {
		if j := strings.IndexAny(pat, `*?[\`); j >= 0 {
			pat = pat[:j]
		}
		literal[i] = pat
	}
	for _, p := range changed {
		for i, pat := range h.Paths {
			if !strings.HasPrefix(p, literal[i]) {
				continue
			}
			if ok, _ := path.Match(pat, p); ok {
				return true
			}
		}
	}
	return false
}

// A Failure is a hook that ran and failed. Cause is the line of its output
// that says why: a command's last line, since programs warn first and give
// their fatal error last (ldconfig lists the files that are not ELF before
// it says it cannot write the cache). Output is everything it printed.
type Failure struct {
	Hook    string
	Command []string // as run; nil for a built-in hook running Go
	Cause   string
	Output  string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("hook %s failed: %s", f.Hook, f.Cause)
}

// Run runs every hook the changed paths trigger, inside root: the
// built-in hooks and those Load finds, in name order. A hook that fails
// does not stop the others; the result joins the failures.
func Run(root string, changed []string, out *progress.Printer) error {
	hooks, err := withBuiltins(Load(root))
	if err != nil {
		return err
	}
	var failed []error
	for _, h := range hooks {
		if !h.Triggered(changed) {
			continue
		}
		if err := h.run(root, changed, out); err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

func (h Hook) run(root string, changed []string, out *progress.Printer) error {
	if h.Func != nil {
		did, err := h.Func(root, changed)
		if err != nil {
			return &Failure{Hook: h.Name, Cause: err.Error()}
		}
		out.Printf("hook %s: %s", h.Name, did)
		return nil
	}
	var cmd *exec.Cmd
	// Judged as the chroot will see it: a symlink to /usr/bin/x means the
	// root's x, not the host's.
	inRoot := root == "/" || installer.RegularInRoot(root, h.Exec[0])
	switch {
	case inRoot:
		cmd = exec.Command(h.Exec[0], h.Exec[1:]...)
		if root != "/" {
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		}
		cmd.Dir = "/"
		out.Printf("hook %s: %s", h.Name, h.Description)
	case len(h.HostExec) > 0:
		args := make([]string, len(h.HostExec))
		for i, a := range h.HostExec {
			args[i] = strings.ReplaceAll(a, "{root}", root)
		}
		cmd = exec.Command(args[0], args[1:]...)
		out.Printf("hook %s: %s (with the host's %s: %s has none)", h.Name, h.Description, args[0], root)
	default:
		out.Printf("hook %s: skipped: %s has no %s", h.Name, root, h.Exec[0])
		return nil
	}
	cmd.Env = []string{"PATH=/usr/bin:/usr/sbin:/bin:/sbin", "LC_ALL=POSIX"}
	if err := installer.HookStarting(root, h.Name, h.Temps); err != nil {
		return fmt.Errorf("hook %s: %w", h.Name, err)
	}
	output, err := cmd.CombinedOutput()
	installer.HookDone(root, h.Temps)
	if err != nil {
		f := &Failure{Hook: h.Name, Command: cmd.Args, Cause: err.Error(), Output: string(output)}
		if last := lastLine(string(output)); last != "" {
			f.Cause = last + " (" + err.Error() + ")"
		}
		return f
	}
	return nil
}

// lastLine is the last line of s that is not blank.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
