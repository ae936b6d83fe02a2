// Command lpm-installbench measures lpm's install engine side by side with
// dpkg, pacman and a tar floor, in one run, and prints a table with ratios
// and whether the install targets of the issue are met.
//
// It owns the generated package trees, their packing as .lpm, .deb, Arch
// packages and plain tar.zst, the scratch ext4 filesystem everything runs
// on, and the timing report. It never touches the host's own package
// databases or its /: every tool runs with its root (and, for dpkg and
// pacman, its database, log and cache) inside the scratch filesystem.
//
// Run it as root from the repository, after make lpm:
//
//	go run ./cmd/lpm-installbench [-sizes 2000,20000] [-dir /path] [-lpm ./lpm] [-reps N] [-quick]
//
// It installs what it misses with apt (pacman-package-manager, zstd,
// e2fsprogs, strace), makes an ext4 image, loop-mounts it, and for each
// size generates a tree (dirs, files, symlinks; about 13 KiB per file),
// packs version 1 and an upgrade (10% changed, 5% removed, 5% added), and
// times install, file list, upgrade and remove for each tool on a fresh
// root, with the install's peak memory and the database it leaves. At the
// largest size it also times the install beside a CPU hog (-hogs) and
// beside another process writing -writer-mib to the same filesystem. Then
// about 300 small packages are installed and removed in one command each,
// with owner queries of 1 and 1,000 paths in between; and the LFS shape:
// the shipped LFS tree's packages (file counts and sizes as an LFS 12.3
// system has them, bytes scaled by -lfs-scale) installed one command
// each, as a user building LFS does.
//
// Columns: lpm, pacman, dpkg as it is by default (it syncs), dpkg with
// --force-unsafe-io (what a container's dpkg.cfg.d often sets), and the
// floor (tar --zstd -x plus syncfs). Every time is the wall clock of a
// whole process, median of -reps runs; the last column judges the issue's
// targets. -quick runs small sizes once, for a smoke test. The image is
// unmounted at the end, also on failure or Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lpm-installbench:", err)
		os.Exit(1)
	}
}

type options struct {
	sizes       []int
	dir         string
	lpm         string
	reps        int
	apt         bool
	image       bool
	imageGiB    int
	ownersPkgs  int
	ownersFiles int
	seed        uint64
	hogs        int     // CPU hogs beside the busy-machine install
	writerMiB   int     // what the other writer writes beside an install
	lfsScale    float64 // LFS shape: fraction of its bytes written
	lfsPkgs     int     // LFS shape: the first N packages (0: all)
	unsafe      bool    // the dpkg --force-unsafe-io column
	groups      map[string]bool
	base        string // -lpm-base: the lpm binary to compare with, or ""
}

// rowGroups are what -rows chooses from, in the order they run.
var rowGroups = []string{"sizes", "loaded", "many", "lfs"}

// key names one cell of the report.
type key struct {
	op   string
	size int
	col  string
}

// bench is one run: its options, the filesystem it works on, the tools
// that have a column, and what it measured.
type bench struct {
	ctx   context.Context
	opt   options
	log   io.Writer
	fs    string // directory on the scratch filesystem
	fsMsg string // what that filesystem is, for the report
	tools []*tool
	floor bool
	pack  *packer
	notes []string

	times   map[key][]time.Duration // whole process (floor: tar + syncfs)
	syncs   map[key][]time.Duration // syncfs right after the process
	amounts map[key][]float64       // MiB: peak memory, database size

	loadStart, loadEnd string // /proc/loadavg around the run
	started, ended     time.Time
	lfs                treeSet
	many               treeSet

	trees   []treeInfo
	owners  ownersInfo
	syscall map[string]map[string]int // tool -> sync syscall -> calls
	strace  int                       // tree size the syscalls were counted on
}

type treeInfo struct {
	dirs, files, links     int
	bytes                  int64
	changed, added, remove int
	archives               map[string]int64 // column -> bytes of version 1
}

// treeSet sums up a set of generated packages.
type treeSet struct {
	pkgs, files int
	bytes       int64
}

type ownersInfo struct {
	pkgs, files int
	queries     int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fl := flag.NewFlagSet("lpm-installbench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	sizes := fl.String("sizes", "2000,20000", "comma-separated numbers of files per generated package")
	dir := fl.String("dir", filepath.Join(os.TempDir(), "lpm-installbench"), "work directory (the ext4 image, or the fallback scratch dir, goes here)")
	lpmBin := fl.String("lpm", "./lpm", "the lpm binary to measure (make lpm builds it)")
	baseBin := fl.String("lpm-base", "", "another lpm binary (main's, say) measured side by side as the column lpm base, with lpm/base ratios")
	reps := fl.Int("reps", 3, "repetitions of each measurement; the report gives the median")
	useApt := fl.Bool("apt", true, "install missing tools (pacman-package-manager, zstd, e2fsprogs, strace) with apt-get")
	image := fl.Bool("image", true, "run on a loop-mounted ext4 image (needs root and a loop device)")
	imageGiB := fl.Int("image-size", 4, "size of the ext4 image in GiB (a sparse file)")
	ownersPkgs := fl.Int("owners-pkgs", 300, "installed packages for the owner queries")
	ownersFiles := fl.Int("owners-files", 20000, "files across those packages")
	seed := fl.Uint64("seed", 1, "seed of the generated trees")
	hogs := fl.Int("hogs", max(1, runtime.NumCPU()-1), "CPU hog processes beside the busy-machine install (0 leaves that row out); the default leaves the install one core")
	writerMiB := fl.Int("writer-mib", 1024, "MiB another process writes to the same filesystem beside an install (0 leaves that row out)")
	lfsScale := fl.Float64("lfs-scale", 0.25, "fraction of an LFS system's bytes the LFS shape writes (its file counts stay; 0 leaves that row out)")
	lfsPkgs := fl.Int("lfs-pkgs", 0, "install only the first N packages of the LFS shape (0: all of them)")
	unsafe := fl.Bool("dpkg-unsafe", true, "add the dpkg --force-unsafe-io column")
	groups := fl.String("rows", strings.Join(rowGroups, ","), "the groups of rows to measure: sizes (install, upgrade, list, remove, memory, database per size), loaded (the largest install beside a CPU hog and a writer), many (small packages, owner queries), lfs (the LFS shape); a whole run takes long on a busy machine, and each group's ratios are side by side on their own")
	quick := fl.Bool("quick", false, "a smoke run: -sizes 50 -reps 1 -owners-pkgs 20 -owners-files 400 -writer-mib 64 -lfs-scale 0.01 -lfs-pkgs 10 -image-size 1 -hogs 1, unless given")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *quick {
		set := map[string]bool{}
		fl.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range quickDefaults {
			if !set[name] {
				if err := fl.Set(name, v); err != nil {
					return err
				}
			}
		}
	}
	opt := options{dir: *dir, reps: *reps, apt: *useApt, image: *image, imageGiB: *imageGiB,
		ownersPkgs: *ownersPkgs, ownersFiles: *ownersFiles, seed: *seed,
		hogs: *hogs, writerMiB: *writerMiB, lfsScale: *lfsScale, lfsPkgs: *lfsPkgs, unsafe: *unsafe}
	opt.groups = map[string]bool{}
	for _, g := range strings.Split(*groups, ",") {
		if g = strings.TrimSpace(g); !slices.Contains(rowGroups, g) {
			return fmt.Errorf("-rows: %q is not one of %s", g, strings.Join(rowGroups, ", "))
		}
		opt.groups[g] = true
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 20 {
			return fmt.Errorf("-sizes: %q is not a number of files of at least 20", s)
		}
		opt.sizes = append(opt.sizes, n)
	}
	slices.Sort(opt.sizes)
	if opt.reps < 1 || opt.ownersPkgs < 1 || opt.ownersFiles < opt.ownersPkgs*2 {
		return fmt.Errorf("-reps and -owners-pkgs must be at least 1, and -owners-files at least twice -owners-pkgs")
	}
	if opt.hogs < 0 || opt.writerMiB < 0 || opt.lfsScale < 0 || opt.lfsScale > 1 || opt.lfsPkgs < 0 {
		return fmt.Errorf("-hogs, -writer-mib and -lfs-pkgs must not be negative, and -lfs-scale is between 0 and 1")
	}
	if need := int64(opt.writerMiB)<<20 + 512<<20; opt.image && opt.writerMiB > 0 && int64(opt.imageGiB)<<30 < need {
		return fmt.Errorf("-image-size %d GiB has no room for -writer-mib %d beside the packages: give at least %d", opt.imageGiB, opt.writerMiB, (need+1<<30-1)>>30)
	}
	if opt.lpm, err = filepath.Abs(*lpmBin); err != nil {
		return err
	}
	if _, err := os.Stat(opt.lpm); err != nil {
		return fmt.Errorf("lpm binary: %w; build it with make lpm or name it with -lpm", err)
	}
	if *baseBin != "" {
		if opt.base, err = filepath.Abs(*baseBin); err != nil {
			return err
		}
		if _, err := os.Stat(opt.base); err != nil {
			return fmt.Errorf("-lpm-base: %w", err)
		}
	}

	b := &bench{ctx: ctx, opt: opt, log: stderr, loadStart: loadavg(), started: time.Now().UTC(),
		times: map[key][]time.Duration{}, syncs: map[key][]time.Duration{}, amounts: map[key][]float64{}}
	b.findTools()
	if err := os.MkdirAll(opt.dir, 0o755); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	cleanup, err := b.makeFS()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	conf := filepath.Join(b.fs, "pacman.conf")
	if err := os.WriteFile(conf, []byte(pacmanConf), 0o644); err != nil {
		return err
	}
	// Each lpm runs from a copy made the same way: a binary as the Go
	// linker wrote it faults its pages in bigger pieces than a copy of it
	// (the same file peaked at 16.0 MiB for lpm --version against 12.1 for
	// its copy), and the peak-memory row would measure that.
	lpmCopy, err := copyBinary(opt.lpm, filepath.Join(b.fs, "lpm"))
	if err != nil {
		return err
	}
	b.tools = []*tool{lpmTool(colLpm, lpmCopy)}
	if opt.base != "" {
		baseCopy, err := copyBinary(opt.base, filepath.Join(b.fs, "lpm-base"))
		if err != nil {
			return err
		}
		b.tools = append(b.tools, lpmTool(colBase, baseCopy))
	}
	if b.pack.pac {
		b.tools = append(b.tools, pacmanTool(conf))
	}
	if b.pack.deb {
		b.tools = append(b.tools, dpkgTool(false))
		if opt.unsafe {
			b.tools = append(b.tools, dpkgTool(true))
		}
	}
	b.noteHostDpkg()

	for _, n := range opt.sizes {
		if !opt.groups["sizes"] && (n != opt.sizes[len(opt.sizes)-1] || !opt.groups["loaded"]) {
			continue
		}
		if err := b.measureSize(n); err != nil {
			return fmt.Errorf("size %d: %w", n, err)
		}
	}
	if opt.groups["many"] {
		if err := b.measureMany(); err != nil {
			return fmt.Errorf("%d small packages: %w", opt.ownersPkgs, err)
		}
	}
	if opt.groups["lfs"] && opt.lfsScale > 0 {
		if err := b.measureLFS(); err != nil {
			return fmt.Errorf("LFS shape: %w", err)
		}
	}
	b.loadEnd, b.ended = loadavg(), time.Now().UTC()
	b.report(stdout)
	return nil
}

// findTools installs what is missing when allowed and decides which
// columns run.
func (b *bench) findTools() {
	needs := []struct{ bin, pkg string }{
		{"pacman", "pacman-package-manager"},
		{"zstd", "zstd"},
		{"mkfs.ext4", "e2fsprogs"},
		{"dpkg-deb", "dpkg"},
		{"strace", "strace"},
		{"time", "time"},
	}
	for _, n := range needs {
		if have(n.bin) {
			continue
		}
		if !b.opt.apt || os.Geteuid() != 0 {
			b.note("%s is missing and apt is not used (-apt=false or not root)", n.bin)
			continue
		}
		if err := b.aptInstall(n.pkg); err != nil {
			b.note("could not install %s: %v", n.pkg, err)
		}
	}
	b.pack = &packer{ctx: b.ctx,
		deb: have("dpkg") && have("dpkg-deb") && have("dpkg-query"),
		pac: have("pacman"),
		tar: have("tar") && have("zstd"),
	}
	if os.Geteuid() != 0 && (b.pack.deb || b.pack.pac) {
		// Both refuse to install as another user, and files owned by root
		// need root to create.
		b.note("dpkg and pacman columns skipped: they need root")
		b.pack.deb, b.pack.pac = false, false
	}
	b.floor = b.pack.tar
	if !b.pack.deb && os.Geteuid() == 0 {
		b.note("dpkg column skipped: dpkg, dpkg-deb or dpkg-query is missing")
	}
	if !b.pack.pac && os.Geteuid() == 0 {
		b.note("pacman column skipped: pacman (Debian's pacman-package-manager) is missing")
	}
	if !b.floor {
		b.note("floor column skipped: tar or zstd is missing")
	}
}

func have(bin string) bool {
	_, err := exec.LookPath(bin)
	return err == nil
}

// aptInstall installs one Debian package, refreshing the lists once if
// the first attempt fails.
func (b *bench) aptInstall(pkg string) error {
	out, _ := exec.CommandContext(b.ctx, "apt-cache", "policy", pkg).Output()
	if !strings.Contains(string(out), "Candidate:") || strings.Contains(string(out), "Candidate: (none)") {
		if err := b.apt("update", "-q"); err != nil {
			return err
		}
		out, _ = exec.CommandContext(b.ctx, "apt-cache", "policy", pkg).Output()
		if !strings.Contains(string(out), "Candidate:") || strings.Contains(string(out), "Candidate: (none)") {
			return fmt.Errorf("apt has no candidate for %s", pkg)
		}
	}
	fmt.Fprintf(b.log, "installing %s with apt-get\n", pkg)
	if err := b.apt("install", "-y", "-q", "--no-install-recommends", pkg); err != nil {
		if uerr := b.apt("update", "-q"); uerr != nil {
			return err
		}
		return b.apt("install", "-y", "-q", "--no-install-recommends", pkg)
	}
	return nil
}

func (b *bench) apt(args ...string) error {
	cmd := exec.CommandContext(b.ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, tail(string(out), 5))
	}
	return nil
}

func (b *bench) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.notes = append(b.notes, msg)
	fmt.Fprintln(b.log, "note:", msg)
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, format+"\n", args...)
}

// makeFS loop-mounts a fresh ext4 image in the work directory, or falls
// back to a plain directory there. The returned cleanup unmounts and
// removes what makeFS made; run defers it, so it also runs after an error
// or a signal (which cancels the context and so the running command).
func (b *bench) makeFS() (func() error, error) {
	fallback := func(why string) (func() error, error) {
		dir, err := os.MkdirTemp(b.opt.dir, "fs-")
		if err != nil {
			return nil, err
		}
		b.fs = dir
		b.fsMsg = "plain directory " + dir + " (" + why + "); figures depend on that filesystem"
		b.note("not on a dedicated ext4 image: %s", why)
		return func() error { return os.RemoveAll(dir) }, nil
	}
	if !b.opt.image {
		return fallback("-image=false")
	}
	if os.Geteuid() != 0 || !have("mkfs.ext4") || !have("mount") {
		return fallback("mounting an image needs root, mkfs.ext4 and mount")
	}
	img, err := os.CreateTemp(b.opt.dir, "ext4-*.img")
	if err != nil {
		return nil, err
	}
	imgPath := img.Name()
	err = img.Truncate(int64(b.opt.imageGiB) << 30)
	img.Close()
	if err == nil {
		err = quiet(b.ctx, "mkfs.ext4", "-q", "-F", imgPath)
	}
	if err != nil {
		os.Remove(imgPath)
		return fallback("making the image failed: " + err.Error())
	}
	mnt, err := os.MkdirTemp(b.opt.dir, "mnt-")
	if err != nil {
		os.Remove(imgPath)
		return nil, err
	}
	if err := quiet(b.ctx, "mount", "-o", "loop", imgPath, mnt); err != nil {
		os.Remove(imgPath)
		os.Remove(mnt)
		return fallback("mount -o loop failed (no loop device?): " + err.Error())
	}
	b.fs = mnt
	b.fsMsg = fmt.Sprintf("ext4 image of %d GiB (%s), loop-mounted at %s", b.opt.imageGiB, imgPath, mnt)
	return func() error {
		// The context may be cancelled by now; unmounting must not be.
		err := quiet(context.Background(), "umount", mnt)
		if err != nil {
			// Something still holds it (a killed child's last open file);
			// detach lazily so the image never stays mounted.
			if lerr := quiet(context.Background(), "umount", "-l", mnt); lerr != nil {
				return fmt.Errorf("unmount %s: %w (run umount %s yourself)", mnt, err, mnt)
			}
		}
		os.Remove(mnt)
		return os.Remove(imgPath)
	}, nil
}

func quiet(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// settle flushes dir's filesystem untimed, so that no operation pays for
// the previous one's writes.
func (b *bench) settle(dir string) error {
	_, err := syncTimed(dir)
	return err
}

// quickDefaults are the flags -quick sets when they are not given.
var quickDefaults = map[string]string{
	"sizes": "50", "reps": "1", "owners-pkgs": "20", "owners-files": "400",
	"writer-mib": "64", "lfs-scale": "0.01", "lfs-pkgs": "10", "image-size": "1", "hogs": "1",
}

// loadavg is the machine's load as /proc/loadavg gives it (1, 5, 15
// minutes), for the report: the figures mean little without it.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// noteHostDpkg names the host's dpkg settings that would change what the
// dpkg columns measure, had the bench not overridden them.
func (b *bench) noteHostDpkg() {
	files, _ := filepath.Glob("/etc/dpkg/dpkg.cfg.d/*")
	files = append(files, "/etc/dpkg/dpkg.cfg")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); strings.Contains(l, "unsafe-io") && !strings.HasPrefix(l, "#") {
				b.note("the host's %s sets %s; the dpkg column overrides it with --no-force-unsafe-io, the dpkg unsafe-io column sets it", f, l)
			}
		}
	}
}

// toolsInTurn is the tools in the order of run rep: each run starts with
// the next one, so that none is always the first after packing or always
// the one that follows dpkg's long flushes.
func (b *bench) toolsInTurn(rep int) []*tool {
	k := rep % len(b.tools)
	return append(slices.Clone(b.tools[k:]), b.tools[:k]...)
}

func (b *bench) amount(op string, size int, col string, v float64) {
	k := key{op, size, col}
	b.amounts[k] = append(b.amounts[k], v)
}

func (b *bench) record(op string, size int, col string, d, sync time.Duration) {
	k := key{op, size, col}
	b.times[k] = append(b.times[k], d)
	b.syncs[k] = append(b.syncs[k], sync)
}

// measureSize generates, packs and measures one tree size.
func (b *bench) measureSize(n int) error {
	b.progress("size %d: generating and packing", n)
	work := filepath.Join(b.fs, fmt.Sprintf("size-%d", n))
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(work)
	t1 := genTree(n, b.opt.seed*1000003+uint64(n), "", bytesPerEntry)
	v1, err := b.stageAndPack(work, t1, "bench", "1.0", nil)
	if err != nil {
		return err
	}
	if !b.opt.groups["sizes"] {
		// -rows without sizes: only the loaded installs of version 1.
		return b.measureLoaded(n, t1, v1)
	}
	t2, written := t1.upgraded(b.opt.seed*1000003 + uint64(n))
	v2, err := b.stageAndPack(work, t2, "bench", "2.0", written)
	if err != nil {
		return err
	}

	in2 := map[string]bool{}
	for _, p := range t2.paths() {
		in2[p] = true
	}
	var gone []string
	for _, p := range t1.paths() {
		if !in2[p] {
			gone = append(gone, p)
		}
	}
	info := treeInfo{archives: map[string]int64{}, remove: len(gone)}
	info.dirs, info.files, info.links, info.bytes = t1.counts()
	info.added = len(t2.paths()) - len(t1.paths()) + len(gone)
	info.changed = len(written) - info.added
	for col, p := range map[string]string{colLpm: v1.lpm, colDpkg: v1.deb, colPacman: v1.pac, colFloor: v1.tar} {
		if fi, err := os.Stat(p); p != "" && err == nil {
			info.archives[col] = fi.Size()
		}
	}
	b.trees = append(b.trees, info)

	for rep := range b.opt.reps {
		for _, tl := range b.toolsInTurn(rep) {
			b.progress("size %d, run %d/%d: %s", n, rep+1, b.opt.reps, tl.name)
			if err := b.cycle(tl, n, t1, t2, gone, v1, v2); err != nil {
				return fmt.Errorf("%s: %w", tl.name, err)
			}
		}
		if b.floor {
			b.progress("size %d, run %d/%d: tar floor", n, rep+1, b.opt.reps)
			if err := b.floorCycle(n, t1, v1.tar, v2.delta); err != nil {
				return fmt.Errorf("tar floor: %w", err)
			}
		}
	}
	if err := b.measureMemory(n, t1, v1); err != nil {
		return err
	}
	if err := b.measureLoaded(n, t1, v1); err != nil {
		return err
	}
	if b.syscall == nil && have("strace") {
		b.strace = n
		b.syscall = map[string]map[string]int{}
		for _, tl := range b.tools {
			counts, err := b.countSyncs(tl.name, n, tl.prepare, func(root string) []string { return tl.install(root, []pkgFiles{v1}) })
			if cerr := b.ctx.Err(); cerr != nil {
				return cerr
			}
			if err != nil {
				b.note("strace of %s install: %v", tl.name, err)
				continue
			}
			b.syscall[tl.name] = counts
		}
		if b.floor {
			mk := func(root string) error { return os.MkdirAll(root, 0o755) }
			counts, err := b.countSyncs(colFloor, n, mk, func(root string) []string { return []string{"tar", "--zstd", "-xf", v1.tar, "-C", root} })
			if cerr := b.ctx.Err(); cerr != nil {
				return cerr
			}
			if err == nil {
				b.syscall[colFloor] = counts
			}
		}
	}
	return nil
}

// stageAndPack writes t as a staging tree, packs it as NAME-VERSION in
// every format and removes the staging tree again. With written, it also
// packs the floor of an upgrade: a tar.zst of only the changed and added
// files, the least any engine must write.
func (b *bench) stageAndPack(work string, t *tree, name, version string, written []string) (pkgFiles, error) {
	stage := filepath.Join(work, "stage-"+name+"-"+version)
	if err := t.write(stage); err != nil {
		return pkgFiles{}, err
	}
	defer os.RemoveAll(stage)
	_, _, _, size := t.counts()
	f, err := b.pack.pack(work, stage, name, version, size)
	if err != nil || written == nil || !b.floor {
		return f, err
	}
	f.delta = filepath.Join(work, name+"-"+version+"-delta.tar.zst")
	return f, writeTarZst(f.delta, stage, nil, written)
}

// cycle measures one tool on a fresh root: install version 1, list its
// files, upgrade to version 2, remove; each result is checked on disk.
func (b *bench) cycle(tl *tool, n int, t1, t2 *tree, gone []string, v1, v2 pkgFiles) error {
	root := filepath.Join(b.fs, "roots", fmt.Sprintf("%s-%d", tl.name, n))
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	defer os.RemoveAll(root)
	if err := tl.prepare(root); err != nil {
		return err
	}
	step := func(op string, argv []string) (string, error) {
		if err := b.settle(root); err != nil {
			return "", err
		}
		d, out, err := runTimed(b.ctx, argv)
		if err != nil {
			return out, err
		}
		s, err := syncTimed(root)
		if err != nil {
			return out, err
		}
		b.record(op, n, tl.name, d, s)
		return out, nil
	}

	if _, err := step("install", tl.install(root, []pkgFiles{v1})); err != nil {
		return err
	}
	if err := checkTree(root, t1); err != nil {
		return err
	}
	out, err := step("files", tl.files(root, "bench"))
	if err != nil {
		return err
	}
	if got, want := strings.Count(out, "\n"), len(t1.paths()); got < want {
		return fmt.Errorf("file list of bench has %d lines, want at least %d", got, want)
	}
	if _, err := step("upgrade", tl.install(root, []pkgFiles{v2})); err != nil {
		return err
	}
	if err := checkTree(root, t2); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	if err := checkGone(root, gone); err != nil {
		return fmt.Errorf("upgrade left a removed file: %w", err)
	}
	if _, err := step("remove", tl.remove(root, []string{"bench"})); err != nil {
		return err
	}
	return checkGone(root, t2.paths())
}

// floorCycle measures what the kernel needs at least: tar --zstd -x plus
// syncfs for an install, the same of only the changed and added files for
// an upgrade, rm -rf plus syncfs for a removal.
func (b *bench) floorCycle(n int, t1 *tree, full, delta string) error {
	root := filepath.Join(b.fs, "roots", fmt.Sprintf("floor-%d", n))
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	defer os.RemoveAll(root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	step := func(op string, argv []string) error {
		if err := b.settle(root); err != nil {
			return err
		}
		d, _, err := runTimed(b.ctx, argv)
		if err != nil {
			return err
		}
		s, err := syncTimed(root)
		if err != nil {
			return err
		}
		b.record(op, n, colFloor, d+s, s)
		return nil
	}
	if err := step("install", []string{"tar", "--zstd", "-xf", full, "-C", root}); err != nil {
		return err
	}
	if err := checkTree(root, t1); err != nil {
		return err
	}
	if err := step("upgrade", []string{"tar", "--zstd", "-xf", delta, "-C", root}); err != nil {
		return err
	}
	return step("remove", []string{"rm", "-rf", filepath.Join(root, "usr")})
}

// countSyncs runs one install under strace -c and returns how often each
// flushing system call was made, by the tool and all its children.
func (b *bench) countSyncs(name string, n int, prepare func(string) error, argv func(string) []string) (map[string]int, error) {
	root := filepath.Join(b.fs, "roots", fmt.Sprintf("strace-%s-%d", name, n))
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	if err := prepare(root); err != nil {
		return nil, err
	}
	out := root + ".strace"
	defer os.Remove(out)
	cmd := append([]string{"strace", "-f", "-qq", "-c", "-o", out,
		"-e", "trace=fsync,fdatasync,syncfs,sync,sync_file_range,msync"}, argv(root)...)
	if _, _, err := runTimed(b.ctx, cmd); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return parseStraceCounts(string(data)), nil
}

// parseStraceCounts reads the calls column of strace -c's summary.
func parseStraceCounts(s string) map[string]int {
	counts := map[string]int{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] == "%" || strings.HasPrefix(f[0], "-") || f[len(f)-1] == "total" {
			continue
		}
		if calls, err := strconv.Atoi(f[3]); err == nil {
			counts[f[len(f)-1]] = calls
		}
	}
	return counts
}

// measureMany generates about 300 small packages and, on a fresh root
// per tool and run, installs them all in one command, asks for owners
// (the first run only: 1 path, then 1,000 in one call, each -reps times)
// and removes them all in one command.
func (b *bench) measureMany() error {
	p := b.opt.ownersPkgs
	per := b.opt.ownersFiles / p
	b.progress("%d small packages: generating and packing %d packages of %d files", p, p, per)
	work := filepath.Join(b.fs, "many")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var pkgs []pkgFiles
	var trees []*tree
	var names []string
	owner := map[string]string{}
	var all []string
	for i := range p {
		name := fmt.Sprintf("q%03d", i+1)
		t := genTree(per, b.opt.seed*7919+uint64(i), name, 2048)
		f, err := b.stageAndPack(work, t, name, "1.0", nil)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, f)
		trees = append(trees, t)
		names = append(names, name)
		for _, path := range t.paths() {
			owner[path] = name
			all = append(all, path)
		}
		b.many.add(t)
	}
	if err := b.ctx.Err(); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(b.opt.seed, 0x6f776e))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	queries := all[:min(1000, len(all))]
	b.owners = ownersInfo{pkgs: p, files: len(all), queries: len(queries)}

	for rep := range b.opt.reps {
		for _, tl := range b.toolsInTurn(rep) {
			b.progress("%d small packages, run %d/%d: %s", p, rep+1, b.opt.reps, tl.name)
			root := filepath.Join(b.fs, "roots", "many-"+tl.name)
			err := b.manyFor(tl, root, pkgs, trees, names, queries, owner, rep == 0)
			if rerr := os.RemoveAll(root); err == nil {
				err = rerr
			}
			if err != nil {
				return fmt.Errorf("%s: %w", tl.name, err)
			}
		}
		if b.floor {
			b.progress("%d small packages, run %d/%d: tar floor", p, rep+1, b.opt.reps)
			root := filepath.Join(b.fs, "roots", "many-floor")
			err := b.manyFloor(root, pkgs)
			if rerr := os.RemoveAll(root); err == nil {
				err = rerr
			}
			if err != nil {
				return fmt.Errorf("tar floor: %w", err)
			}
		}
	}
	return nil
}

func (b *bench) manyFor(tl *tool, root string, pkgs []pkgFiles, trees []*tree, names, queries []string, owner map[string]string, ask bool) error {
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := tl.prepare(root); err != nil {
		return err
	}
	if err := b.settle(root); err != nil {
		return err
	}
	d, _, err := runTimed(b.ctx, tl.install(root, pkgs))
	if err != nil {
		return err
	}
	s, err := syncTimed(root)
	if err != nil {
		return err
	}
	b.record("many-install", 0, tl.name, d, s)
	for _, t := range trees {
		if err := checkTree(root, t); err != nil {
			return err
		}
	}
	if ask {
		if err := b.ownersFor(tl, root, queries, owner); err != nil {
			return err
		}
	}
	if err := b.settle(root); err != nil {
		return err
	}
	d, _, err = runTimed(b.ctx, tl.remove(root, names))
	if err != nil {
		return err
	}
	if s, err = syncTimed(root); err != nil {
		return err
	}
	b.record("many-remove", 0, tl.name, d, s)
	for _, t := range trees {
		if err := checkGone(root, t.paths()); err != nil {
			return err
		}
	}
	return nil
}

// manyFloor extracts every package with tar and syncs once, as one
// command that installs them all would; then removes the tree.
func (b *bench) manyFloor(root string, pkgs []pkgFiles) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := b.settle(root); err != nil {
		return err
	}
	var d time.Duration
	for _, p := range pkgs {
		pd, _, err := runTimed(b.ctx, []string{"tar", "--zstd", "-xf", p.tar, "-C", root})
		if err != nil {
			return err
		}
		d += pd
	}
	s, err := syncTimed(root)
	if err != nil {
		return err
	}
	b.record("many-install", 0, colFloor, d+s, s)
	if err := b.settle(root); err != nil {
		return err
	}
	d, _, err = runTimed(b.ctx, []string{"rm", "-rf", filepath.Join(root, "usr")})
	if err != nil {
		return err
	}
	if s, err = syncTimed(root); err != nil {
		return err
	}
	b.record("many-remove", 0, colFloor, d+s, s)
	return nil
}

// ownersFor times owner queries of 1 and of 1,000 paths in one process
// on a root holding the small packages.
func (b *bench) ownersFor(tl *tool, root string, queries []string, owner map[string]string) error {
	one := queries[:1]
	for _, q := range []struct {
		op    string
		paths []string
	}{{"owns1", one}, {"owns1000", queries}} {
		// One untimed run checks the answers and warms the cache, as
		// every later run finds it.
		_, out, err := runTimed(b.ctx, tl.owns(root, q.paths))
		if err != nil {
			return err
		}
		if err := checkOwners(out, q.paths, owner, tl.ownsLine); err != nil {
			return err
		}
		for range b.opt.reps {
			d, _, err := runTimed(b.ctx, tl.owns(root, q.paths))
			if err != nil {
				return err
			}
			b.record(q.op, 0, tl.name, d, 0)
		}
	}
	if tl.name != colLpm {
		return nil
	}
	// The same 1,000 queries inside one process: what the database costs
	// without process start-up, split where the time goes.
	for range b.opt.reps {
		open, resolve, query, err := ownersInProcess(root, queries)
		if err != nil {
			return err
		}
		b.record("owns1000-inproc", 0, colLpm, open+resolve+query, 0)
		b.record("inproc-open", 0, colLpm, open, 0)
		b.record("inproc-resolve", 0, colLpm, resolve, 0)
		b.record("inproc-query", 0, colLpm, query, 0)
	}
	return nil
}

// checkOwners verifies that out names the right package for every path.
func checkOwners(out string, paths []string, owner map[string]string, ok func(line, pkg string) bool) error {
	lines := strings.Split(out, "\n")
	for _, p := range paths {
		found := false
		for _, l := range lines {
			if (strings.HasSuffix(l, p) || strings.Contains(l, p+" ")) && ok(l, owner[p]) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("owner query did not name %s as owner of %s; output:\n%s", owner[p], p, tail(out, 5))
		}
	}
	return nil
}

// ownersInProcess does what lpm owns does, timing its three parts: open
// the database read-only, resolve the paths inside the root, query.
func ownersInProcess(root string, paths []string) (open, resolve, query time.Duration, err error) {
	start := time.Now()
	db, err := pkgdb.OpenReadOnly(root)
	if err != nil {
		return 0, 0, 0, err
	}
	defer db.Close()
	open = time.Since(start)
	start = time.Now()
	// As lpm owns does: directories resolved once for all the paths.
	rels, err := installer.ResolvePaths(root, paths)
	if err != nil {
		return 0, 0, 0, err
	}
	resolve = time.Since(start)
	start = time.Now()
	owners, err := db.Owners(rels)
	if err != nil {
		return 0, 0, 0, err
	}
	query = time.Since(start)
	for _, r := range rels {
		if len(owners[r]) == 0 {
			return 0, 0, 0, errors.New("in-process owner query found no owner for /" + r)
		}
	}
	return open, resolve, query, nil
}

// copyBinary copies the program src to dst and returns dst.
func copyBinary(src, dst string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("copying %s: %w", src, err)
	}
	os.Remove(dst)
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return "", fmt.Errorf("copying %s: %w", src, err)
	}
	return dst, nil
}
