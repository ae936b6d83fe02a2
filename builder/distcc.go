package builder

import (
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/ports"
)

// distccJobs is how many compile jobs distcc spreads a build of p over,
// as distcc itself counts them for build.distcc_hosts (`distcc -j`), or 0
// when p builds with the local compiler: no hosts are set, the port says
// distcc = false, or distcc is missing, on the host or, for a build inside
// the root, in the root (said once).
func (b *Builder) distccJobs(p *ports.Port, chroot bool) int {
	hosts := b.Cfg.Build.DistccHosts
	if hosts == "" || (p.Build.Distcc != nil && !*p.Build.Distcc) {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.distccN != 0 {
		return max(b.distccN, 0)
	}
	b.distccN = -1
	if chroot && !installer.RegularInRoot(b.Cfg.Root, "usr/bin/distcc") {
		b.Out.Printf("warning: build.distcc_hosts is set but %s has no usr/bin/distcc, and builds run inside it; building with the local compiler; install distcc into the root first", b.Cfg.Root)
		return 0
	}
	cmd := exec.Command("distcc", "-j")
	cmd.Env = append(os.Environ(), "DISTCC_HOSTS="+hosts)
	out, err := cmd.Output()
	n, perr := strconv.Atoi(strings.TrimSpace(string(out)))
	switch {
	case err != nil:
		b.Out.Printf("warning: build.distcc_hosts is set but distcc does not run here (%v); building with the local compiler; install distcc or unset build.distcc_hosts", err)
	case perr != nil || n < 1:
		b.Out.Printf("warning: distcc -j says %q for build.distcc_hosts %q; building with the local compiler; check the hosts' syntax (man distcc, HOST SPECIFICATIONS)", strings.TrimSpace(string(out)), hosts)
	default:
		b.distccN = n
		b.Out.Printf("compiling through distcc on %s (%d jobs)", hosts, n)
	}
	return max(b.distccN, 0)
}
