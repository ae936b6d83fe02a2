package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func (s *treeSet) add(t *tree) {
	_, files, links, bytes := t.counts()
	s.pkgs++
	s.files += files + links
	s.bytes += bytes
}

// measureMemory installs v1 once more per tool, untimed, under GNU time
// for its peak memory, and records the size of the database it leaves.
func (b *bench) measureMemory(n int, t1 *tree, v1 pkgFiles) error {
	if !have("time") {
		b.note("peak memory not measured: GNU time (/usr/bin/time, Debian's time) is missing")
	}
	for _, tl := range b.tools {
		b.progress("size %d: peak memory and database of %s", n, tl.name)
		root := filepath.Join(b.fs, "roots", "memory-"+tl.name)
		err := b.memoryFor(n, tl.name, root, t1, tl.prepare, tl.install(root, []pkgFiles{v1}), tl.db)
		if rerr := os.RemoveAll(root); err == nil {
			err = rerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tl.name, err)
		}
	}
	if b.floor {
		root := filepath.Join(b.fs, "roots", "memory-"+colFloor)
		mk := func(root string) error { return os.MkdirAll(root, 0o755) }
		err := b.memoryFor(n, colFloor, root, t1, mk, []string{"tar", "--zstd", "-xf", v1.tar, "-C", root}, nil)
		if rerr := os.RemoveAll(root); err == nil {
			err = rerr
		}
		if err != nil {
			return fmt.Errorf("tar floor: %w", err)
		}
	}
	return nil
}

func (b *bench) memoryFor(n int, col, root string, t1 *tree, prepare func(string) error, argv []string, db func(string) []string) error {
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := prepare(root); err != nil {
		return err
	}
	if err := b.settle(root); err != nil {
		return err
	}
	if have("time") {
		rss, err := peakRSS(b.ctx, argv)
		if err != nil {
			return err
		}
		b.amount("rss", n, col, mib(rss))
	} else if _, _, err := runTimed(b.ctx, argv); err != nil {
		return err
	}
	if err := checkTree(root, t1); err != nil {
		return err
	}
	if db == nil {
		return nil
	}
	size, err := diskBytes(db(root))
	if err != nil {
		return err
	}
	b.amount("db", n, col, mib(size))
	return b.settle(root)
}

// load is something the bench runs beside an install; stop ends it (or
// waits for its end) and says whether it failed.
type load func() (stop func() error, err error)

// measureLoaded times the install of v1 on a fresh root per tool while
// something else runs: a CPU hog on -hogs cores, and another process
// writing -writer-mib to the same filesystem.
func (b *bench) measureLoaded(n int, t1 *tree, v1 pkgFiles) error {
	if !b.opt.groups["loaded"] || n != b.opt.sizes[len(b.opt.sizes)-1] {
		return nil
	}
	type shape struct {
		op, what string
		load     load
	}
	var shapes []shape
	if b.opt.hogs > 0 {
		shapes = append(shapes, shape{"install-busy", fmt.Sprintf("%d CPU hog(s)", b.opt.hogs), b.hogs})
	}
	if b.opt.writerMiB > 0 {
		shapes = append(shapes, shape{"install-writer", fmt.Sprintf("a %d MiB writer", b.opt.writerMiB), b.writer})
	}
	for _, sh := range shapes {
		for rep := range b.opt.reps {
			for _, tl := range b.toolsInTurn(rep) {
				b.progress("size %d beside %s, run %d/%d: %s", n, sh.what, rep+1, b.opt.reps, tl.name)
				root := filepath.Join(b.fs, "roots", "loaded-"+tl.name)
				if err := b.loadedInstall(sh.op, n, tl.name, root, t1, sh.load, tl.prepare, tl.install(root, []pkgFiles{v1})); err != nil {
					return fmt.Errorf("%s beside %s: %w", tl.name, sh.what, err)
				}
			}
			if b.floor {
				b.progress("size %d beside %s, run %d/%d: tar floor", n, sh.what, rep+1, b.opt.reps)
				root := filepath.Join(b.fs, "roots", "loaded-"+colFloor)
				mk := func(root string) error { return os.MkdirAll(root, 0o755) }
				if err := b.loadedInstall(sh.op, n, colFloor, root, t1, sh.load, mk, []string{"tar", "--zstd", "-xf", v1.tar, "-C", root}); err != nil {
					return fmt.Errorf("tar floor beside %s: %w", sh.what, err)
				}
			}
		}
	}
	return nil
}

// loadedInstall runs one install (argv, onto root) with the
// load started just before it and stopped right after; the floor's time
// includes its syncfs, as in the plain install row.
func (b *bench) loadedInstall(op string, n int, col, root string, t1 *tree, ld load, prepare func(string) error, argv []string) error {
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	defer os.RemoveAll(root)
	if err := prepare(root); err != nil {
		return err
	}
	if err := b.settle(root); err != nil {
		return err
	}
	stop, err := ld()
	if err != nil {
		return err
	}
	d, _, err := runTimed(b.ctx, argv)
	var s time.Duration
	if err == nil {
		s, err = syncTimed(root)
	}
	if serr := stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if col == colFloor {
		d += s
	}
	b.record(op, n, col, d, s)
	return checkTree(root, t1)
}

// hogs starts -hogs processes that only spin, as a build on the other
// core would, and stops them again.
func (b *bench) hogs() (func() error, error) {
	var cmds []*exec.Cmd
	stop := func() error {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		return nil
	}
	for range b.opt.hogs {
		c := exec.Command("sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start a CPU hog: %w", err)
		}
		cmds = append(cmds, c)
	}
	// Let the scheduler see them busy before the install starts.
	time.Sleep(100 * time.Millisecond)
	return stop, nil
}

// writer starts dd writing -writer-mib of zeros to a file on the scratch
// filesystem (beside the roots, not in them). Its data sits dirty in the
// page cache, so an install that flushes the whole filesystem (syncfs)
// waits for it, while one that flushes only its own files does not.
// Stopping waits for dd, then removes the file and flushes the removal.
func (b *bench) writer() (func() error, error) {
	out := filepath.Join(b.fs, "writer.bin")
	c := exec.CommandContext(b.ctx, "dd", "if=/dev/zero", "of="+out, "bs=1M", "count="+strconv.Itoa(b.opt.writerMiB), "status=none")
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start dd: %w", err)
	}
	return func() error {
		err := c.Wait()
		if err != nil {
			err = fmt.Errorf("dd of=%s: %w", out, err)
		}
		if rerr := os.Remove(out); err == nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
		if serr := b.settle(b.fs); err == nil {
			err = serr
		}
		return err
	}, nil
}

// measureLFS installs the LFS shape one package per command on a fresh
// root per tool and run, as a user building LFS does, and records the
// total. The floor is tar --zstd -x plus syncfs per package.
func (b *bench) measureLFS() error {
	list := lfsPackages
	if b.opt.lfsPkgs > 0 && b.opt.lfsPkgs < len(list) {
		list = list[:b.opt.lfsPkgs]
	}
	b.progress("LFS shape: generating and packing %d packages", len(list))
	work := filepath.Join(b.fs, "lfs")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var pkgs []pkgFiles
	var trees []*tree
	for i, p := range list {
		per := max(1, int(float64(p.kib)*1024*b.opt.lfsScale)/p.files)
		t := genTree(p.files, b.opt.seed*104729+uint64(i), p.name, per)
		f, err := b.stageAndPack(work, t, p.name, "1.0", nil)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, f)
		trees = append(trees, t)
		b.lfs.add(t)
		if err := b.ctx.Err(); err != nil {
			return err
		}
	}
	for rep := range b.opt.reps {
		for _, tl := range b.toolsInTurn(rep) {
			b.progress("LFS shape, run %d/%d: %s", rep+1, b.opt.reps, tl.name)
			root := filepath.Join(b.fs, "roots", "lfs-"+tl.name)
			err := b.lfsFor(tl.name, root, tl.prepare, trees, func(i int) []string { return tl.install(root, pkgs[i:i+1]) }, false)
			if rerr := os.RemoveAll(root); err == nil {
				err = rerr
			}
			if err != nil {
				return fmt.Errorf("%s: %w", tl.name, err)
			}
		}
		if b.floor {
			b.progress("LFS shape, run %d/%d: tar floor", rep+1, b.opt.reps)
			root := filepath.Join(b.fs, "roots", "lfs-floor")
			mk := func(root string) error { return os.MkdirAll(root, 0o755) }
			err := b.lfsFor(colFloor, root, mk, trees, func(i int) []string { return []string{"tar", "--zstd", "-xf", pkgs[i].tar, "-C", root} }, true)
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

// lfsFor runs the install of each package in turn and records the sum of
// their times; withSync adds the syncfs after each (the floor's own).
func (b *bench) lfsFor(col, root string, prepare func(string) error, trees []*tree, argv func(i int) []string, withSync bool) error {
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := prepare(root); err != nil {
		return err
	}
	if err := b.settle(root); err != nil {
		return err
	}
	var total, syncs time.Duration
	for i := range trees {
		d, _, err := runTimed(b.ctx, argv(i))
		if err != nil {
			return err
		}
		s, err := syncTimed(root)
		if err != nil {
			return err
		}
		total += d
		syncs += s
		if withSync {
			total += s
		}
	}
	b.record("lfs", 0, col, total, syncs)
	for _, t := range trees {
		if err := checkTree(root, t); err != nil {
			return err
		}
	}
	return nil
}
