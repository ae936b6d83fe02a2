package hooks

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/lfs-lpm/lpm/atomicfile"
	"github.com/lfs-lpm/lpm/image"
)

// BootloaderFile is the root's lpm config; the bootloader hooks read its
// [bootloader] table, the settings of the root they boot.
const BootloaderFile = "etc/lpm/lpm.toml"

// BootloaderSettings say how the kernels are booted ([bootloader] in
// lpm.toml).
type BootloaderSettings struct {
	Root    string `toml:"root"`    // the kernel's root=: PARTUUID=4c504d31-01, /dev/sda1
	Cmdline string `toml:"cmdline"` // the rest of its command line: "rw console=ttyS0,115200"
	Serial  bool   `toml:"serial"`  // GRUB's menu on the first serial port as well
	Timeout *int   `toml:"timeout"` // seconds the menu waits; default 5
	// Device is the disk GRUB's boot code is written to, a host path (a
	// disk image file works too); empty means never. Writing it is
	// destructive for whatever boot code was there.
	Device string `toml:"device"`
	// GrubPrefix is where the boot code finds grub.cfg; default
	// "(hd0,msdos1)/boot/grub", the first partition of the boot disk.
	GrubPrefix string `toml:"grub_prefix"`
}

// ReadBootloaderSettings reads the [bootloader] table of ROOT's lpm.toml;
// it returns nil and no error when there is none.
func ReadBootloaderSettings(root string) (*BootloaderSettings, error) {
	file := filepath.Join(root, BootloaderFile) + " [bootloader]"
	data, err := os.ReadFile(filepath.Join(root, BootloaderFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var whole map[string]any
	if err := toml.Unmarshal(data, &whole); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(root, BootloaderFile), err)
	}
	table, ok := whole["bootloader"]
	if !ok {
		return nil, nil
	}
	// The rest of lpm.toml is the config package's; this table is ours,
	// read strictly.
	data, err = toml.Marshal(table)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var s BootloaderSettings
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			var keys []string
			for _, e := range strict.Errors {
				keys = append(keys, strings.Join(e.Key(), "."))
			}
			return nil, fmt.Errorf("%s: unknown key %s; the keys are root, cmdline, serial, timeout, device and grub_prefix", file, strings.Join(keys, ", "))
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	switch {
	case s.Root == "":
		return nil, fmt.Errorf("%s: root is missing; set it to the root filesystem's device, e.g. root = \"PARTUUID=4c504d31-01\"", file)
	case strings.ContainsAny(s.Root+s.Cmdline+s.GrubPrefix, "\n\r{}"):
		return nil, fmt.Errorf("%s: root, cmdline and grub_prefix must be one line without braces", file)
	case s.Timeout != nil && *s.Timeout < 0:
		return nil, fmt.Errorf("%s: timeout must be 0 or more seconds", file)
	case s.Device != "" && !filepath.IsAbs(s.Device):
		return nil, fmt.Errorf("%s: device %q must be an absolute path, e.g. /dev/sda", file, s.Device)
	}
	return &s, nil
}

// Markers of lpm's section of grub.cfg: lpm rewrites what is between them
// and keeps everything else as the user wrote it.
const (
	beginMarker = "### BEGIN lpm ###"
	endMarker   = "### END lpm ###"
)

// writeGrubConfig is the bootloader hook: it writes lpm's section of
// ROOT/boot/grub/grub.cfg with one entry per kernel in ROOT/boot, newest
// first and default, the next as the fallback. The file is replaced by
// rename, so on any failure the previous grub.cfg stays.
func writeGrubConfig(root string, _ []string) (string, error) {
	s, err := ReadBootloaderSettings(root)
	if err != nil {
		return "", err
	}
	if s == nil {
		return fmt.Sprintf("skipped: no [bootloader] in /%s (set root and cmdline there to have grub.cfg written)", BootloaderFile), nil
	}
	kernels, odd, err := Kernels(root)
	if err != nil {
		return "", err
	}
	cfg := filepath.Join(root, "boot/grub/grub.cfg")
	old, mode, err := readRegular(cfg)
	if err != nil {
		return "", err
	}
	merged, err := mergeGrubConfig(string(old), func(before int) string {
		return grubSection(s, osName(root), kernels, before)
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", cfg, err)
	}
	if err := writeAtomic(cfg, []byte(merged), mode); err != nil {
		return "", err
	}
	did := "wrote /boot/grub/grub.cfg: no kernels in /boot"
	if len(kernels) > 0 {
		did = fmt.Sprintf("wrote /boot/grub/grub.cfg: %s (default)", kernels[0])
		if len(kernels) > 1 {
			did += ", " + strings.Join(kernels[1:], ", ")
		}
	}
	if len(odd) > 0 {
		did += fmt.Sprintf("; left out %s (names GRUB cannot quote safely)", strings.Join(odd, ", "))
	}
	return did, nil
}

// safeVersion is what a kernel's file name may hold to go into grub.cfg
// unquoted.
var safeVersion = regexp.MustCompile(`^[A-Za-z0-9._+~-]+$`)

// Kernels lists the versions of the kernels in ROOT/boot (the part of
// boot/vmlinuz-VERSION after the dash), newest first by CompareVersions,
// and separately the names it leaves out.
func Kernels(root string) (kernels, odd []string, err error) {
	entries, err := os.ReadDir(filepath.Join(root, "boot"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		v, ok := strings.CutPrefix(e.Name(), "vmlinuz-")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if !safeVersion.MatchString(v) {
			odd = append(odd, e.Name())
			continue
		}
		kernels = append(kernels, v)
	}
	sort.Slice(kernels, func(i, j int) bool {
		if c := CompareVersions(kernels[i], kernels[j]); c != 0 {
			return c > 0
		}
		return kernels[i] < kernels[j]
	})
	return kernels, odd, nil
}

// CompareVersions orders kernel versions as a person would: runs of digits
// compare as numbers (6.1.10 is newer than 6.1.9), runs of letters as text,
// a number is newer than letters at the same place (6.1-lpm2 is newer than
// 6.1-lpm), and an "rc" is older than anything else there (6.14-rc1 comes
// before 6.14). It returns -1, 0 or 1.
func CompareVersions(a, b string) int {
	ta, tb := versionTokens(a), versionTokens(b)
	for i := 0; i < len(ta) || i < len(tb); i++ {
		switch {
		case i >= len(ta):
			if tb[i] == "rc" {
				return 1
			}
			return -1
		case i >= len(tb):
			if ta[i] == "rc" {
				return -1
			}
			return 1
		}
		x, y := ta[i], tb[i]
		if x == y {
			continue
		}
		xNum, yNum := isDigit(x[0]), isDigit(y[0])
		switch {
		case x == "rc":
			return -1
		case y == "rc":
			return 1
		case xNum && yNum:
			x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
			if len(x) != len(y) {
				return sign(len(x) - len(y))
			}
			return strings.Compare(x, y)
		case xNum:
			return 1
		case yNum:
			return -1
		default:
			return strings.Compare(x, y)
		}
	}
	return 0
}

// versionTokens splits a version into runs of digits and runs of letters;
// everything else only separates them.
func versionTokens(v string) []string {
	var tokens []string
	start := -1
	for i := 0; i <= len(v); i++ {
		same := start >= 0 && i < len(v) && isAlnum(v[i]) && isDigit(v[i]) == isDigit(v[start])
		if same {
			continue
		}
		if start >= 0 {
			tokens = append(tokens, v[start:i])
			start = -1
		}
		if i < len(v) && isAlnum(v[i]) {
			start = i
		}
	}
	return tokens
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// grubSection is lpm's part of grub.cfg, markers included. before is the
// number of menu entries the user's text defines ahead of it, since GRUB
// numbers entries in the order they appear and only takes numbers for the
// fallback.
func grubSection(s *BootloaderSettings, name string, kernels []string, before int) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginMarker)
	fmt.Fprintln(&b, "# Written by lpm's bootloader hook from [bootloader] in /etc/lpm/lpm.toml and the")
	fmt.Fprintln(&b, "# kernels in /boot. lpm rewrites this section; edit outside the markers.")
	if s.Serial {
		fmt.Fprintln(&b, "serial --unit=0 --speed=115200")
		fmt.Fprintln(&b, "terminal_input serial console")
		fmt.Fprintln(&b, "terminal_output serial console")
	}
	timeout := 5
	if s.Timeout != nil {
		timeout = *s.Timeout
	}
	fmt.Fprintf(&b, "set timeout=%d\n", timeout)
	if len(kernels) == 0 {
		fmt.Fprintln(&b, "# No kernel is installed in /boot.")
	} else {
		fmt.Fprintf(&b, "set default=%d\n", before)
	}
	if len(kernels) > 1 {
		fmt.Fprintf(&b, "set fallback=%d\n", before+1)
	}
	cmdline := "root=" + s.Root
	if s.Cmdline != "" {
		cmdline += " " + s.Cmdline
	}
	for _, k := range kernels {
		fmt.Fprintf(&b, "\nmenuentry %s --id %s {\n", grubQuote(name+" ("+k+")"), grubQuote("lpm-"+k))
		fmt.Fprintf(&b, "\tlinux /boot/vmlinuz-%s %s\n", k, cmdline)
		fmt.Fprintln(&b, "}")
	}
	fmt.Fprintln(&b, endMarker)
	return b.String()
}

// grubQuote double-quotes s for grub.cfg, where a backslash escapes $, "
// and itself.
func grubQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`)
	return `"` + r.Replace(s) + `"`
}

// mergeGrubConfig puts lpm's section into the user's grub.cfg: in place of
// the old section, or first when there is none. section is given the
// number of menu entries ahead of it.
func mergeGrubConfig(old string, section func(before int) string) (string, error) {
	lines := strings.SplitAfter(old, "\n")
	begin, end := -1, -1
	for i, l := range lines {
		switch strings.TrimSpace(l) {
		case beginMarker:
			if begin >= 0 {
				return "", fmt.Errorf("%q appears twice; remove one section by hand", beginMarker)
			}
			begin = i
		case endMarker:
			if end >= 0 {
				return "", fmt.Errorf("%q appears twice; remove one section by hand", endMarker)
			}
			end = i
		}
	}
	switch {
	case begin < 0 && end < 0:
		return section(0) + old, nil
	case begin < 0 || end < begin:
		return "", fmt.Errorf("lpm's section is broken (%q and %q must both be there, in that order); fix it by hand", beginMarker, endMarker)
	}
	head := strings.Join(lines[:begin], "")
	tail := strings.Join(lines[end+1:], "")
	return head + section(countEntries(head)) + tail, nil
}

// countEntries counts the top-level menuentry and submenu blocks in a
// piece of grub.cfg, following braces well enough for what people write.
func countEntries(text string) int {
	n, depth := 0, 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		word, _, _ := strings.Cut(line, " ")
		if depth == 0 && (word == "menuentry" || word == "submenu") {
			n++
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if depth < 0 {
			depth = 0
		}
	}
	return n
}

// osName is the NAME of ROOT/etc/os-release, for the menu's titles.
func osName(root string) string {
	data, err := os.ReadFile(filepath.Join(root, "etc/os-release"))
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "NAME="); ok {
			if v = strings.Trim(v, `"'`); v != "" {
				return v
			}
		}
	}
	return "Linux"
}

// readRegular reads a file that may not exist yet, refusing anything but
// a regular file (a symlink could point out of the root).
func readRegular(p string) ([]byte, os.FileMode, error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0o644, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file; lpm writes only a plain grub.cfg", p)
	}
	data, err := os.ReadFile(p)
	return data, fi.Mode().Perm(), err
}

// writeAtomic replaces p with data, making its directory first: readers
// see the old file or the new one, never a part.
func writeAtomic(p string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, data, mode)
}

// writeBootCode is the bootcode hook: when bootloader.device is set, it
// writes the boot code made from the root's GRUB to that disk.
func writeBootCode(root string, _ []string) (string, error) {
	s, err := ReadBootloaderSettings(root)
	if err != nil {
		return "", err
	}
	if s == nil || s.Device == "" {
		return fmt.Sprintf("not writing GRUB's boot code: no device in [bootloader] of /%s", BootloaderFile), nil
	}
	g := image.RootGrub(root)
	g.Prefix = s.GrubPrefix
	if ok, _ := g.Installed(); !ok {
		return fmt.Sprintf("GRUB is not installed; the boot code on %s is left as it is", s.Device), nil
	}
	if err := image.WriteBootCode(s.Device, *g); err != nil {
		return "", err
	}
	return fmt.Sprintf("wrote GRUB's boot code to %s (boot.img into the MBR, core.img from sector 1)", s.Device), nil
}
