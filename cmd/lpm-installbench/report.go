package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// median of samples; ok is false when there are none.
func median(ds []time.Duration) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// medianOf is the median of float samples; ok is false when there are none.
func medianOf(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// cell is the median of one column's runs; withSync adds the syncfs the
// bench ran right after each run.
func (b *bench) cell(op string, size int, col string, withSync bool) (time.Duration, bool) {
	k := key{op, size, col}
	ds := b.times[k]
	if withSync {
		ds = make([]time.Duration, len(ds))
		for i, d := range b.times[k] {
			ds[i] = d + b.syncs[k][i]
		}
	}
	return median(ds)
}

// value is a row's figure for one column: milliseconds for a time, MiB
// for an amount.
func (b *bench) value(r row, col string) (float64, bool) {
	if r.unit == "MiB" {
		return medianOf(b.amounts[key{r.op, r.n, col}])
	}
	d, ok := b.cell(r.op, r.n, col, false)
	return float64(d) / float64(time.Millisecond), ok
}

func ms(d time.Duration, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

func num(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

func ratio(a, b float64, aok, bok bool) string {
	if !aok || !bok || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// target is one of the limits for lpm on a row: lpm's figure at
// most limit times the against column's, or, with against empty, at most
// limit in the row's unit.
type target struct {
	against string
	limit   float64
}

func (t target) String() string {
	if t.against == "" {
		return fmt.Sprintf("<= %g", t.limit)
	}
	return fmt.Sprintf("<= %.2fx %s", t.limit, t.against)
}

// judge says whether lpm's figure meets t, given the other column's.
func judge(t target, lpm, other float64, lok, ook bool) string {
	switch {
	case !lok || t.against != "" && (!ook || other == 0):
		return t.String() + ": not measured"
	case t.against == "" && lpm <= t.limit,
		t.against != "" && lpm/other <= t.limit:
		return t.String() + ": met"
	}
	return t.String() + ": NOT met"
}

// row is one line of the main table: an operation (op, n name its
// figures), its unit and the targets for it.
type row struct {
	label   string
	size    string
	op      string
	n       int
	unit    string // "ms" or "MiB"
	targets []target
}

// The targets (issue 13), set for the 20,000-file package "L".
var (
	installTargets = []target{{colFloor, 1.15}, {colPacman, 0.85}}
	upgradeTargets = []target{{colFloor, 2}, {colPacman, 0.3}}
)

func (b *bench) rows() []row {
	var rows []row
	largest := b.opt.sizes[len(b.opt.sizes)-1]
	at := func(n int, ts ...target) []target {
		if n != largest {
			return nil
		}
		return ts
	}
	for _, op := range []struct {
		op, label, unit string
		targets         []target
	}{
		{"install", "install", "ms", installTargets},
		{"upgrade", "upgrade (20% changed)", "ms", upgradeTargets},
		{"files", "list (files)", "ms", []target{{colDpkg, 1}}},
		{"remove", "remove", "ms", []target{{colPacman, 0.9}}},
		{"rss", "peak memory of install", "MiB", []target{{"", 48}}},
		{"db", "database after install", "MiB", []target{{colPacman, 1.5}}},
	} {
		for _, n := range b.opt.sizes {
			rows = append(rows, row{op.label, fmt.Sprintf("%d files", n), op.op, n, op.unit, at(n, op.targets...)})
		}
	}
	big := fmt.Sprintf("%d files", largest)
	if b.opt.hogs > 0 {
		rows = append(rows, row{fmt.Sprintf("install, %d CPU hog(s) beside", b.opt.hogs), big, "install-busy", largest, "ms", installTargets})
	}
	if b.opt.writerMiB > 0 {
		rows = append(rows, row{fmt.Sprintf("install beside a %d MiB writer", b.opt.writerMiB), big, "install-writer", largest, "ms", nil})
	}
	set := fmt.Sprintf("%d pkgs, %d files", b.owners.pkgs, b.owners.files)
	rows = append(rows,
		row{fmt.Sprintf("install %d small pkgs, 1 call", b.owners.pkgs), set, "many-install", 0, "ms", []target{{colPacman, 1}}},
		row{fmt.Sprintf("remove %d small pkgs, 1 call", b.owners.pkgs), set, "many-remove", 0, "ms", nil},
		row{"owner, 1 path", set, "owns1", 0, "ms", nil},
		row{fmt.Sprintf("owner x%d, 1 call", b.owners.queries), set, "owns1000", 0, "ms", []target{{colDpkg, 0.8}}},
	)
	if b.lfs.pkgs > 0 {
		rows = append(rows, row{fmt.Sprintf("LFS shape: %d installs in a row", b.lfs.pkgs),
			fmt.Sprintf("%d files, %.0f MiB", b.lfs.files, mib(b.lfs.bytes)), "lfs", 0, "ms", []target{{colPacman, 1}}})
	}
	return rows
}

func (b *bench) groupList() []string {
	var gs []string
	for _, g := range rowGroups {
		if b.opt.groups[g] {
			gs = append(gs, g)
		}
	}
	return gs
}

func (b *bench) toolNames() []string {
	var names []string
	for _, t := range b.tools {
		names = append(names, t.name)
	}
	if b.floor {
		names = append(names, colFloor)
	}
	return names
}

// measured says whether any column has a figure for r (-rows leaves
// groups out).
func (b *bench) measured(r row) bool {
	for _, col := range b.columns() {
		if _, ok := b.value(r, col); ok {
			return true
		}
	}
	return false
}

// ratioColumns are the columns lpm's figure is divided by: the issue's
// targets', and lpm base's when there is one.
func (b *bench) ratioColumns() []string {
	cols := []string{colFloor, colPacman, colDpkg}
	if b.opt.base != "" {
		cols = append(cols, colBase)
	}
	return cols
}

// tableLine is one row as the main table prints it: the figures of every
// column, lpm's ratios and the verdicts.
func (b *bench) tableLine(r row) []string {
	cells := []string{r.label, r.size, r.unit}
	vals := map[string]float64{}
	oks := map[string]bool{}
	for _, col := range b.columns() {
		vals[col], oks[col] = b.value(r, col)
		if r.unit == "MiB" && oks[col] {
			cells = append(cells, fmt.Sprintf("%.2f", vals[col]))
			continue
		}
		cells = append(cells, num(vals[col], oks[col]))
	}
	for _, col := range b.ratioColumns() {
		cells = append(cells, ratio(vals[colLpm], vals[col], oks[colLpm], oks[col]))
	}
	var verdicts []string
	for _, t := range r.targets {
		verdicts = append(verdicts, judge(t, vals[colLpm], vals[t.against], oks[colLpm], oks[t.against]))
	}
	return append(cells, strings.Join(verdicts, "; "))
}

func (b *bench) report(w io.Writer) {
	fmt.Fprintf(w, "lpm-installbench: %s\n", b.fsMsg)
	fmt.Fprintf(w, "kernel %s, %d CPUs; lpm %s\n", firstLine("uname", "-r"), runtime.NumCPU(), b.opt.lpm)
	fmt.Fprintf(w, "dpkg: %s; pacman: %s; tar: %s\n",
		b.version(colDpkg, "dpkg", "--version"), b.version(colPacman, "pacman", "-V"), firstLine("tar", "--version"))
	fmt.Fprintf(w, "run %s to %s; load average (1, 5, 15 min): %s at the start, %s at the end\n",
		b.started.Format("2006-01-02 15:04"), b.ended.Format("15:04 MST"), b.loadStart, b.loadEnd)
	fmt.Fprintf(w, "rows: %s; columns: %s\n", strings.Join(b.groupList(), ", "), strings.Join(b.toolNames(), ", "))
	deb := b.pack.debZ
	if deb == "zstd" {
		deb = fmt.Sprintf("zstd -%d", zstdLevel)
	}
	if deb != "" {
		deb = "; .deb " + deb
	}
	fmt.Fprintf(w, "compression: .lpm, .pkg.tar.zst and .tar.zst zstd at klauspost's SpeedBetterCompression (lpm's archive writer's level, about zstd -7)%s\n", deb)

	if len(b.trees) > 0 {
		fmt.Fprintln(w, "\ngenerated packages (version 1; the upgrade changes, adds and removes as shown):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "files\tdirs\tregular\tsymlinks\tMiB\tchanged\tadded\tremoved\t.lpm MiB\t.deb MiB\t.pkg.tar.zst MiB\t.tar.zst MiB\t")
		for _, t := range b.trees {
			size := func(col string) string {
				if n, ok := t.archives[col]; ok {
					return fmt.Sprintf("%.1f", float64(n)/(1<<20))
				}
				return "-"
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%.1f\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", t.files+t.links, t.dirs, t.files, t.links,
				float64(t.bytes)/(1<<20), t.changed, t.added, t.remove, size(colLpm), size(colDpkg), size(colPacman), size(colFloor))
		}
		tw.Flush()
	}

	if b.many.pkgs > 0 {
		fmt.Fprintf(w, "small packages: %d packages, %d files, %.1f MiB\n", b.many.pkgs, b.many.files, mib(b.many.bytes))
	}
	if b.lfs.pkgs > 0 {
		fmt.Fprintf(w, "LFS shape: %d packages, %d files, %.1f MiB (%.0f%% of an LFS system's bytes)\n", b.lfs.pkgs, b.lfs.files, mib(b.lfs.bytes), b.opt.lfsScale*100)
	}

	fmt.Fprintf(w, "\nwall clock of whole processes in ms, median of %d runs (floor: tar --zstd -x, or rm -rf, plus syncfs); memory and database in MiB:\n", b.opt.reps)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := append([]string{"operation", "size", "unit"}, b.columns()...)
	for _, col := range b.ratioColumns() {
		head = append(head, "lpm/"+strings.TrimPrefix(col, "lpm "))
	}
	fmt.Fprintln(tw, strings.Join(append(head, "target (issue 13)"), "\t")+"\t")
	met, judged := 0, 0
	for _, r := range b.rows() {
		if !b.measured(r) {
			continue
		}
		line := b.tableLine(r)
		fmt.Fprintln(tw, strings.Join(line, "\t")+"\t")
		judged += len(r.targets)
		met += strings.Count(line[len(line)-1], ": met")
	}
	tw.Flush()
	if judged > 0 {
		fmt.Fprintf(w, "targets met: %d of %d\n", met, judged)
	}
	if n := b.opt.sizes[len(b.opt.sizes)-1]; n != 20000 {
		fmt.Fprintf(w, "(the targets are set for 20000 files; judged here at %d)\n", n)
	}
	oo, oook := b.cell("inproc-open", 0, colLpm, false)
	or, orok := b.cell("inproc-resolve", 0, colLpm, false)
	oq, oqok := b.cell("inproc-query", 0, colLpm, false)
	if oook {
		fmt.Fprintf(w, "lpm's %d owner queries inside one process: open the database %s ms, resolve the paths %s ms, query %s ms\n",
			b.owners.queries, ms(oo, oook), ms(or, orok), ms(oq, oqok))
	}

	fmt.Fprintln(w, "\nsyncfs right after the process in ms, median (what the tool left unflushed; for the floor, its own sync):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(append([]string{"operation", "size"}, b.columns()...), "\t")+"\t")
	for _, r := range b.rows() {
		if r.unit != "ms" || r.op == "files" || strings.HasPrefix(r.op, "owns") || !b.measured(r) {
			continue
		}
		var cells []string
		for _, col := range b.columns() {
			s, ok := median(b.syncs[key{r.op, r.n, col}])
			cells = append(cells, ms(s, ok))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", r.label, r.size, strings.Join(cells, "\t"))
	}
	tw.Flush()

	if b.syscall != nil {
		fmt.Fprintf(w, "\nflushing system calls while installing %d files (strace -f -c):\n", b.strace)
		for _, col := range b.columns() {
			counts, ok := b.syscall[col]
			if !ok {
				continue
			}
			var parts []string
			for _, name := range []string{"syncfs", "sync", "fsync", "fdatasync", "sync_file_range", "msync"} {
				if counts[name] > 0 {
					parts = append(parts, fmt.Sprintf("%s %d", name, counts[name]))
				}
			}
			if len(parts) == 0 {
				parts = []string{"none: nothing is flushed before it exits"}
			}
			label := col
			if col == colFloor {
				label = "tar (floor, before the bench's syncfs)"
			}
			fmt.Fprintf(w, "  %s: %s\n", label, strings.Join(parts, ", "))
		}
	}

	fmt.Fprintln(w, "\nnotes:")
	for _, n := range b.notesText() {
		fmt.Fprintf(w, "  - %s\n", n)
	}
}

func (b *bench) notesText() []string {
	notes := []string{
		"every time is a whole process from fork to exit, start-up included; the archives were just written, so they are read from the page cache, and every root starts empty and flushed; each run starts with the next tool in turn",
		"lpm makes an install durable itself before it commits; pacman writes no fsync at all, so its column is the time until it exits, not until its files are on disk (the syncfs table shows what it left unflushed)",
		"dpkg is run with --no-force-unsafe-io, its default, whatever the host's /etc/dpkg configures: it flushes the files it unpacks before renaming them into place (sync_file_range, then fsync); dpkg unsafe-io is --force-unsafe-io, which skips that. Both log into the root. The packages have no maintainer scripts; pacman runs with --noscriptlet --nodeps and no hooks",
		"lpm checks every file's sha256 against its manifest while it extracts and dpkg computes an md5sum of every file it unpacks (the packages ship none); pacman (SigLevel Never) and tar check nothing; the Arch packages carry a .MTREE (md5 and sha256 of every file) as makepkg makes them, which pacman keeps in its database for -Qkk",
		"every archive is compressed at the same level (see compression above): lpm's archive writer's own, which the peers' packages were made with here too; left alone, dpkg-deb uses zstd -3 and Arch's makepkg.conf --ultra -20",
		"the floor of an upgrade extracts only the changed and added files (the removals are not part of it); the floor of a remove is rm -rf of the tree; syncfs is called by the bench on the scratch filesystem",
		"peak memory is the largest resident set of the installing process or any child it waited for (wait4's rusage: dpkg's dpkg-deb and decompressor, tar's zstd); database is the bytes of lpm.db with its -wal and -shm, pacman's local/ directory, dpkg's admin directory, after the install",
		fmt.Sprintf("the busy-machine install runs beside %d process(es) spinning on a CPU (sh -c 'while :; do :; done'), started before and killed after each install; the writer row beside dd writing %d MiB of zeros to a file on the same filesystem, started just before the install, so its data is dirty in the page cache while the install flushes (syncfs waits for it; a per-file fsync does not)", b.opt.hogs, b.opt.writerMiB),
		"the small packages are installed all in one command and removed all in one command, on a fresh root each run; their floor is tar --zstd -x of each, then one syncfs; the owner queries run on the first run's root",
		fmt.Sprintf("the LFS shape is the shipped LFS tree's packages (less dbus and systemd) with each one's file count and %.0f%% of its bytes as an LFS 12.3 system has them (a fixed list, lfs.go), installed one command each on a fresh root, the sum of their times; the floor is tar --zstd -x plus syncfs per package", b.opt.lfsScale*100),
		"the figures are only comparable within one run: the image is a file on the host's disk behind a loop device, and the machine is shared (see the load average)",
	}
	return append(notes, b.notes...)
}

func (b *bench) version(col, name string, arg string) string {
	for _, t := range b.tools {
		if t.name == col {
			return firstLine(name, arg)
		}
	}
	return "not run"
}

// firstLine is the first non-empty line a command prints, trimmed.
func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(strings.Trim(strings.TrimSpace(l), ".-'/\\ "))
		if l != "" {
			return l
		}
	}
	return "unknown"
}
