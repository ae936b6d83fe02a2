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
// Hooks never run during a transaction, only after it committed. A hook
// that fails fails the command loudly, naming the hook.
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
	for _, p := range changed {
		for _, pat := range h.Paths {
			if ok, _ := path.Match(pat, p); ok {
				return true
			}
		}
	}
	return false
}

// Run runs every hook the changed paths trigger, inside root: the
// built-in hooks and those Load finds, in name order.
func Run(root string, changed []string, out *progress.Printer) error {
	hooks, err := withBuiltins(Load(root))
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if !h.Triggered(changed) {
			continue
		}
		if err := h.run(root, changed, out); err != nil {
			return err
		}
	}
	return nil
}

func (h Hook) run(root string, changed []string, out *progress.Printer) error {
	if h.Func != nil {
		did, err := h.Func(root, changed)
		if err != nil {
			return fmt.Errorf("hook %s failed: %w", h.Name, err)
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
		var ee *exec.ExitError
		msg := strings.TrimSpace(string(output))
		if errors.As(err, &ee) && msg != "" {
			err = fmt.Errorf("%v: %s", err, msg)
		}
		return fmt.Errorf("hook %s failed: %w", h.Name, err)
	}
	return nil
}
