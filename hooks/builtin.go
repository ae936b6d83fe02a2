package hooks

import (
	"sort"
	"strings"
)

// builtins are the hooks declared in Go rather than in a TOML file: depmod,
// which goes with the kernel ports, and the two bootloader hooks, whose work
// (writing grub.cfg, writing GRUB's boot code to a disk) no command in a
// bare root can do. A hook file of the same name replaces one of them.
func builtins() []Hook {
	return []Hook{
		{
			Name:        "depmod",
			Description: "updating kernel module dependencies",
			Paths:       underDir("usr/lib/modules", 8),
			// Every kernel's modules, not just the running one's: depmod
			// without a version would use uname -r, which is the host's
			// when lpm manages another root. A directory without
			// modules.order is what a removed kernel left behind.
			Exec: []string{"/bin/sh", "-c", `cd /usr/lib/modules 2>/dev/null || exit 0
command -v depmod >/dev/null || { echo "the root has no depmod: install kmod" >&2; exit 1; }
for v in *; do
	if [ -f "$v/modules.order" ]; then depmod -a "$v" || exit 1; fi
done`},
			HostExec: []string{"/bin/sh", "-c", `cd "$1/usr/lib/modules" 2>/dev/null || exit 0
for v in *; do
	if [ -f "$v/modules.order" ]; then depmod -b "$1" -a "$v" || exit 1; fi
done`, "sh", "{root}"},
		},
		{
			Name:        "bootloader",
			Description: "writing boot/grub/grub.cfg",
			Paths:       underDir("boot", 4),
			Func:        writeGrubConfig,
		},
		{
			Name:        "bootcode",
			Description: "writing GRUB's boot code to bootloader.device",
			// GRUB's modules and the boot code made from them must match,
			// so the boot code is written again whenever they change.
			Paths: []string{"usr/lib/grub/i386-pc/*"},
			Func:  writeBootCode,
		},
	}
}

// underDir lists globs matching any path up to depth levels below dir
// (path.Match's * stays within one directory).
func underDir(dir string, depth int) []string {
	var globs []string
	for i := 1; i <= depth; i++ {
		globs = append(globs, dir+strings.Repeat("/*", i))
	}
	return globs
}

// withBuiltins adds the built-in hooks to those loaded from files, a file
// replacing a built-in hook of the same name, and sorts them by name.
func withBuiltins(loaded []Hook, err error) ([]Hook, error) {
	if err != nil {
		return nil, err
	}
	byName := map[string]Hook{}
	for _, h := range builtins() {
		byName[h.Name] = h
	}
	for _, h := range loaded {
		byName[h.Name] = h
	}
	hooks := make([]Hook, 0, len(byName))
	for _, h := range byName {
		hooks = append(hooks, h)
	}
	sort.Slice(hooks, func(i, j int) bool { return hooks[i].Name < hooks[j].Name })
	return hooks, nil
}
