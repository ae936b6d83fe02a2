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

func ms(d time.Duration, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

func ratio(a, b time.Duration, aok, bok bool) string {
	if !aok || !bok || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

type row struct {
	label string
	size  string
	op    string
	n     int
}

func (b *bench) rows() []row {
	var rows []row
	for _, op := range []struct{ op, label string }{
		{"install", "install"},
		{"upgrade", "upgrade (20% changed)"},
		{"files", "file list"},
		{"remove", "remove"},
	} {
		for _, n := range b.opt.sizes {
			rows = append(rows, row{op.label, fmt.Sprint(n), op.op, n})
		}
	}
	set := fmt.Sprintf("%d pkgs", b.owners.pkgs)
	rows = append(rows,
		row{fmt.Sprintf("install %d pkgs, 1 call (1 run)", b.owners.pkgs), fmt.Sprint(b.owners.files), "setup", 0},
		row{"owns, 1 path", set, "owns1", 0},
		row{fmt.Sprintf("owns, %d paths in 1 call", b.owners.queries), set, "owns1000", 0},
		row{fmt.Sprintf("owns, %d paths, lpm in-process", b.owners.queries), set, "owns1000-inproc", 0},
	)
	return rows
}

func (b *bench) report(w io.Writer) {
	fmt.Fprintf(w, "lpm-installbench: %s\n", b.fsMsg)
	fmt.Fprintf(w, "kernel %s, %d CPUs; lpm %s\n", firstLine("uname", "-r"), runtime.NumCPU(), b.opt.lpm)
	fmt.Fprintf(w, "dpkg: %s; pacman: %s; tar: %s\n",
		b.version(colDpkg, "dpkg", "--version"), b.version(colPacman, "pacman", "-V"), firstLine("tar", "--version"))
	if b.pack.debZ != "" {
		fmt.Fprintf(w, ".deb compression: %s\n", b.pack.debZ)
	}

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

	fmt.Fprintf(w, "\nwall clock of whole processes in ms, median of %d runs (floor: tar --zstd -x, or rm -rf, plus syncfs):\n", b.opt.reps)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tsize\tlpm\tdpkg\tpacman\tpacman+sync\tfloor\tlpm/pacman\tlpm/(pacman+sync)\tlpm/floor\t")
	for _, r := range b.rows() {
		l, lok := b.cell(r.op, r.n, colLpm, false)
		d, dok := b.cell(r.op, r.n, colDpkg, false)
		p, pok := b.cell(r.op, r.n, colPacman, false)
		ps, psok := b.cell(r.op, r.n, colPacman, true)
		f, fok := b.cell(r.op, r.n, colFloor, false)
		if r.op == "files" || strings.HasPrefix(r.op, "owns") {
			psok = false // read-only: nothing to sync
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.label, r.size, ms(l, lok), ms(d, dok), ms(p, pok), ms(ps, psok),
			ms(f, fok), ratio(l, p, lok, pok), ratio(l, ps, lok, psok), ratio(l, f, lok, fok))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nsyncfs right after the process in ms, median (what the tool left unflushed; for the floor, its own sync):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tsize\tlpm\tdpkg\tpacman\tfloor\t")
	for _, r := range b.rows() {
		if r.op != "install" && r.op != "upgrade" && r.op != "remove" {
			continue
		}
		var cells []string
		for _, col := range []string{colLpm, colDpkg, colPacman, colFloor} {
			s, ok := median(b.syncs[key{r.op, r.n, col}])
			cells = append(cells, ms(s, ok))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", r.label, r.size, strings.Join(cells, "\t"))
	}
	tw.Flush()

	if b.syscall != nil {
		fmt.Fprintf(w, "\nflushing system calls while installing %d files (strace -f -c):\n", b.strace)
		for _, col := range []string{colLpm, colDpkg, colPacman, colFloor} {
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

	b.targets(w)

	fmt.Fprintln(w, "\nnotes:")
	for _, n := range b.notesText() {
		fmt.Fprintf(w, "  - %s\n", n)
	}
}

// targets prints the targets, judged at the largest size run.
func (b *bench) targets(w io.Writer) {
	n := b.opt.sizes[len(b.opt.sizes)-1]
	at := fmt.Sprintf("%d files", n)
	if n != 20000 {
		at += " (the targets are set for 20000)"
	}
	fmt.Fprintf(w, "\ntargets at %s:\n", at)
	judge := func(name string, a, bb time.Duration, aok, bok bool, limit float64) {
		if !aok || !bok || bb == 0 {
			fmt.Fprintf(w, "  [not measured] %s\n", name)
			return
		}
		r := float64(a) / float64(bb)
		verdict := "met"
		if r > limit {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "  [%s] %s: %.2fx (limit %.2fx)\n", verdict, name, r, limit)
	}
	l, lok := b.cell("install", n, colLpm, false)
	f, fok := b.cell("install", n, colFloor, false)
	p, pok := b.cell("install", n, colPacman, false)
	judge("durable install within 1.3x of tar --zstd -x + sync", l, f, lok, fok, 1.3)
	judge("install at most 0.6x pacman (pacman does not sync)", l, p, lok, pok, 0.6)
	lu, luok := b.cell("upgrade", n, colLpm, false)
	pu, puok := b.cell("upgrade", n, colPacman, false)
	judge("upgrade at 20% change at most 0.35x pacman", lu, pu, luok, puok, 0.35)
	o, ook := b.cell("owns1000", 0, colLpm, false)
	oo, oook := b.cell("inproc-open", 0, colLpm, false)
	or, orok := b.cell("inproc-resolve", 0, colLpm, false)
	oq, oqok := b.cell("inproc-query", 0, colLpm, false)
	if !ook {
		fmt.Fprintln(w, "  [not measured] 1,000 owner queries in one call under 5 ms")
		return
	}
	verdict := "met"
	if o >= 5*time.Millisecond {
		verdict = "NOT met"
	}
	fmt.Fprintf(w, "  [%s] %d owner queries in one call under 5 ms: %s ms for the whole lpm process; in one process: open the database %s ms, resolve the paths %s ms, query %s ms\n",
		verdict, b.owners.queries, ms(o, ook), ms(oo, oook), ms(or, orok), ms(oq, oqok))
}

func (b *bench) notesText() []string {
	notes := []string{
		"every time is a whole process from fork to exit, start-up included; the archives were just written, so they are read from the page cache, and every root starts empty and flushed",
		"lpm makes an install durable itself (new files go to temp names, one syncfs, then renames); pacman writes no fsync at all, so its column is the time until it exits, not until its files are on disk: pacman+sync adds the syncfs the bench runs right after it",
		"dpkg flushes the files it unpacks before renaming them into place (sync_file_range, then fsync; its default without --force-unsafe-io) and runs no maintainer scripts here because the packages have none; pacman runs with --noscriptlet --nodeps and no hooks",
		"lpm checks every file's sha256 against its manifest while it extracts and dpkg computes an md5sum of every file it unpacks (the packages ship none); pacman (SigLevel Never, no .MTREE, which it does not require) and tar check nothing",
		"the floor of an upgrade extracts only the changed and added files (the removals are not part of it); the floor of a remove is rm -rf of the tree; syncfs is called by the bench on the scratch filesystem",
		"the figures are only comparable within one run: the image is a file on the host's disk behind a loop device, and the machine is shared",
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
