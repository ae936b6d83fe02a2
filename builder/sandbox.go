package builder

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The build sandbox. A build runs in a private mount namespace in which the
// whole filesystem is read-only except the build's work and staging
// directories (and a fresh /tmp), so a "make install" that ignores DESTDIR
// fails instead of scribbling over the host or the target root. For builds
// inside a target root the namespace also gets /dev, /proc and /sys mounted
// into the root and chroots there; those mounts vanish with the build.
//
// The sandbox guards against careless builds, not hostile ones: root inside
// it could remount. It needs root (CAP_SYS_ADMIN); without it builds run
// unsandboxed and lpm says so.
//
// lpm enters the sandbox by running itself (/proc/self/exe) in a new mount
// namespace with the spec in an environment variable; main (and the test
// binaries' TestMain) call SandboxMain first thing.

const sandboxEnv = "LPM_SANDBOX_SPEC"

type sandboxSpec struct {
	Chroot   string   // "" for a host build
	Writable []string // host paths
	Dir      string   // working directory (inside the chroot, if any)
	Argv     []string
	Env      []string
}

// SandboxMain turns the current process into the sandboxed build command
// when it was started as one, and returns otherwise. It never returns when
// it acts: it execs the build or exits 125 with a message.
func SandboxMain() {
	raw, ok := os.LookupEnv(sandboxEnv)
	if !ok {
		return
	}
	var spec sandboxSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "lpm sandbox: bad spec: %v\n", err)
		os.Exit(125)
	}
	if err := enterSandbox(spec); err != nil {
		fmt.Fprintf(os.Stderr, "lpm sandbox: %v\n", err)
		os.Exit(125)
	}
	bin := spec.Argv[0]
	err := syscall.Exec(bin, spec.Argv, spec.Env)
	fmt.Fprintf(os.Stderr, "lpm sandbox: exec %s: %v\n", bin, err)
	os.Exit(125)
}

func enterSandbox(spec sandboxSpec) error {
	// Go's fork already made / private (Unshareflags CLONE_NEWNS).
	if spec.Chroot != "" {
		for _, m := range []struct{ src, dst, fstype string }{
			{"/dev", "dev", ""}, {"proc", "proc", "proc"}, {"sysfs", "sys", "sysfs"},
		} {
			dst := filepath.Join(spec.Chroot, m.dst)
			if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
				continue // a root without /dev builds without it
			}
			flags := uintptr(0)
			if m.fstype == "" {
				flags = unix.MS_BIND | unix.MS_REC
			}
			if err := unix.Mount(m.src, dst, m.fstype, flags, ""); err != nil {
				return fmt.Errorf("mounting %s on %s: %w", m.src, dst, err)
			}
		}
	}
	for _, w := range spec.Writable {
		if err := unix.Mount(w, w, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding %s: %w", w, err)
		}
	}
	ro := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, "/", unix.AT_RECURSIVE, ro); err != nil {
		return fmt.Errorf("making / read-only: %w", err)
	}
	rw := &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}
	for _, w := range spec.Writable {
		if err := unix.MountSetattr(unix.AT_FDCWD, w, unix.AT_RECURSIVE, rw); err != nil {
			return fmt.Errorf("making %s writable: %w", w, err)
		}
	}
	top := "/"
	if spec.Chroot != "" {
		top = spec.Chroot
	}
	for _, tmp := range []string{"tmp", "dev/shm"} {
		dst := filepath.Join(top, tmp)
		if fi, err := os.Stat(dst); err == nil && fi.IsDir() && !holdsAny(dst, spec.Writable) {
			if err := unix.Mount("tmpfs", dst, "tmpfs", 0, "mode=1777"); err != nil {
				return fmt.Errorf("mounting a fresh %s: %w", dst, err)
			}
		}
	}
	if spec.Chroot != "" {
		if err := unix.Chroot(spec.Chroot); err != nil {
			return fmt.Errorf("chroot %s: %w", spec.Chroot, err)
		}
	}
	return os.Chdir(spec.Dir)
}

// holdsAny reports whether one of paths lies in dir; a fresh tmpfs there
// would hide it.
func holdsAny(dir string, paths []string) bool {
	for _, p := range paths {
		if rel, err := filepath.Rel(dir, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

// canSandbox reports whether this process may create the sandbox.
func canSandbox() bool { return os.Geteuid() == 0 }
