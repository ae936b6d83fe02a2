package installer

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
)

// How a transaction changes the root, and how a crash is survived. Apply
// below is the whole sequence; each step is one function.
//
//  1. plan and check (install.go, libs.go, space.go): manifests and the
//     database decide what every path becomes (a change between directory
//     and non-directory is a swap, typechange.go); a conflict, a library
//     still needed or too little free space refuses the transaction.
//     Nothing is written.
//  2. journal (journal.go): every change (directories to make, paths to
//     replace with their temp and backup names, paths to remove, pristine
//     copies of config files, pristine.go) is written to the database,
//     durably, before the first file changes.
//  3. stage: directories are made, new content is streamed from the
//     archive to temp names beside its destination (a new path is written
//     in place), and every file about to be replaced gets a hard link
//     under a backup name. One syncfs makes it all durable. No live path
//     has changed yet.
//  4. apply: temps are renamed over live paths (rename is atomic, so a
//     path that exists before and after never goes missing, not even
//     ld-linux.so or libc.so.6). Another syncfs, unless nothing was
//     renamed (a fresh install).
//  5. smoke test (libs.go): when the loader or libc changed, a program of
//     the root must still run, or the transaction rolls back.
//  6. commit: one SQLite transaction records the packages and marks the
//     journal committed. This is the moment the transaction happened.
//     (The records are written into it while stage's syncfs runs; it
//     commits only here, so until then none of it is in the database.)
//  7. finish: obsolete paths are removed (edited config files renamed to
//     .lpmsave), backups and emptied directories go; the journal is closed.
//  8. hooks: the caller runs them (package hooks) on the paths Apply
//     returns, once the transaction is done.
//
// A crash before 6 is rolled back by Recover from the journal (backups are
// renamed back over new files, new paths removed, temps deleted; nothing
// was removed yet); a crash after 6 is finished. Either way the database
// matches the disk.
//
// Why syncfs, and not an fsync per file. The journal needs everything
// staged durable before the first rename, and the renames durable before
// the commit. syncfs does that in one call, but it flushes the whole
// filesystem, so lpm also waits for what other programs wrote to it; an
// fsync of every staged file and of every directory that gained an entry
// waits only for lpm's own. Measured on an ext4 image (2 cores, load 10
// to 40 from other work; the 18,000 files and 251 MiB of the bench's L
// package extracted, then made durable, whole times): alone, syncfs took
// 2.7-3.8 s, fsyncs 256 at a time 3.0-4.0 s, 64 at a time 4.3-5.0 s;
// beside a dd writing 1 GiB without fsync, syncfs took 3.2-9.6 s (once
// 15.5 s), fsyncs 128 at a time 3.2-3.6 s, 64 at a time 3.6-4.8 s (once
// 12.8 s), 256 at a time 6.2-7.0 s, as the journal's commits wait for
// other data too. sync_file_range as each file is written, to start its
// writeback early, was no better either way (2.8-7.8 s). Neither way won
// clearly; syncfs is one call whose guarantee is plain to see, so it
// stays, and an install that renames nothing skips the second one.

// Apply runs the changes as one transaction and returns every path it
// wrote or removed (relative to the root), which is what hooks trigger on.
func (in *Installer) Apply(changes []Change) ([]string, error) {
	t := &tx{in: in, paths: newRootPaths(in.Root), taken: map[string][]string{}}
	t.paths.looks = &in.diskLooks
	defer t.closeArchives()
	defer t.memory.restore()
	step := in.stepTimer()

	// 1. Decide and check; nothing is written.
	if err := t.plan(changes); err != nil {
		return nil, err
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	if err := t.checkLibs(); err != nil {
		return nil, err
	}
	if err := t.decideOps(); err != nil {
		return nil, err
	}
	if err := t.checkSpace(); err != nil {
		return nil, err
	}
	step("plan and check")
	t.looked = nil // planning is done; its looks at the disk are not needed again
	t.limitMemory(commitPerEntry)

	// 2. The journal: from here on, a crash is rolled back or finished.
	if in.Hold != nil {
		defer in.Hold()()
	}
	if err := t.beginJournal(); err != nil {
		return nil, err
	}
	crashPoint("journaled")
	step("journal")

	// 3-5. Stage, apply, smoke test; a failure rolls back.
	// No state is recorded between stage and apply: a crash before the
	// commit is rolled back the same way from either, and each record is
	// an fsync.
	if err := t.stage(); err != nil {
		return nil, t.fail(err)
	}
	crashPoint("staged")
	step("stage")
	if err := t.apply(); err != nil {
		return nil, t.fail(err)
	}
	crashPoint("applied")
	step("apply")
	if err := t.smokeTest(); err != nil {
		return nil, t.fail(err)
	}

	// 6. The commit point.
	if err := t.commit(); err != nil {
		return nil, t.fail(err)
	}
	crashPoint("committed")
	step("smoke test and commit")

	// 7. Finish; 8 (hooks) is the caller's, on what Apply returns.
	if err := t.finish(); err != nil {
		return nil, err
	}
	step("finish")
	return t.touched(), nil
}

// stepTimer returns a function that writes, to Timings, the wall time
// since its last call under the step's name; without Timings it does
// nothing.
func (in *Installer) stepTimer() func(name string) {
	if in.Timings == nil {
		return func(string) {}
	}
	last := time.Now()
	return func(name string) {
		now := time.Now()
		fmt.Fprintf(in.Timings, "lpm: %-22s %7.1f ms\n", name, float64(now.Sub(last).Microseconds())/1000)
		last = now
	}
}

// entryCount is how many manifest entries the transaction installs.
func (t *tx) entryCount() int {
	n := 0
	for _, pc := range t.changes {
		if pc.manifest != nil {
			n += len(pc.manifest.Entries)
		}
	}
	return n
}

func (t *tx) closeArchives() {
	for _, r := range t.readers {
		r.Close()
	}
}

// beginJournal records the transaction, its packages and every op in the
// database, durably, before the first file changes.
func (t *tx) beginJournal() error {
	var pkgs []pkgdb.TxPackage
	for _, pc := range t.changes {
		tp := pkgdb.TxPackage{Name: pc.name, NewArchive: pc.archive}
		if pc.old != nil {
			tp.OldVersion, tp.OldArchive = pc.old.Version, pc.old.ArchivePath
		}
		switch {
		case pc.manifest == nil:
			tp.Action = "remove"
		case pc.old == nil:
			tp.Action, tp.NewVersion = "install", pc.manifest.Version
		default:
			tp.Action, tp.NewVersion = "upgrade", pc.manifest.Version
		}
		pkgs = append(pkgs, tp)
	}
	releaseReserve(t.in.Root)
	id, err := t.in.DB.BeginJournal(t.summary(), pkgs, t.entries())
	if errors.Is(err, pkgdb.ErrDiskFull) {
		return fmt.Errorf("%s: no space left on %s even for its journal; nothing was changed; free some space (lpm's package cache is var/cache/lpm/packages) and try again", t.summary(), t.in.Root)
	}
	if err != nil {
		return err
	}
	t.id = id
	return nil
}

// entries is the journal as the database keeps it.
func (t *tx) entries() []pkgdb.JournalEntry {
	entries := make([]pkgdb.JournalEntry, len(t.ops))
	for i, o := range t.ops {
		entries[i] = o.JournalEntry
	}
	return entries
}

// smokeTest runs a program of the root when the transaction replaced the
// loader or libc. repair (Force) runs nothing from the root: it is for
// roots that cannot run anything.
func (t *tx) smokeTest() error {
	if !t.touchesLoader() || t.in.Force {
		return nil
	}
	if err := smokeTest(t.in.Root); err != nil {
		return fmt.Errorf("%s: %w; rolled back", t.summary(), err)
	}
	return nil
}

// finish completes the committed transaction on disk and closes its
// journal.
func (t *tx) finish() error {
	// apply renamed every temp of a replaced path over it, so finish
	// need not unlink them, as it must after a crash (2,000 unlinks that
	// failed for L's upgrade).
	entries := t.entries()
	for i, o := range t.ops {
		if o.Op == opReplace && !o.carried {
			entries[i].Temp = ""
		}
	}
	finish(t.in.Root, entries)
	for _, o := range t.ops {
		if o.Op == opSave {
			t.in.Out.Printf("kept your edited /%s as /%s", o.Path, o.Backup)
		}
	}
	if err := t.in.DB.SetTxState(t.id, pkgdb.StateDone); err != nil {
		return err
	}
	keepReserve(t.in.Root)
	t.reportSpecialModes()
	return nil
}

// reportSpecialModes says which setuid and setgid files the transaction
// wrote, one line each: they run with their owner's rights, and a user
// should never learn of one by accident.
func (t *tx) reportSpecialModes() {
	for _, o := range t.ops {
		if o.pc != nil && o.Op != opMkdir && o.Op != opToDir && o.entry.Mode&0o6000 != 0 {
			t.in.Out.Printf("%s: installed %s", o.pc.name, SpecialMode(o.Path, *o.entry))
		}
	}
}

// SpecialModes lists a package's setuid and setgid files, as SpecialMode
// describes them.
func SpecialModes(m *archive.Manifest) []string {
	var out []string
	for _, e := range m.Entries {
		if e.Type != "dir" && e.Mode&0o6000 != 0 {
			out = append(out, SpecialMode(e.Path, e))
		}
	}
	return out
}

// SpecialMode describes a setuid or setgid file: "/usr/bin/su (setuid
// 0, mode 4755)".
func SpecialMode(p string, e archive.Entry) string {
	var bits []string
	if e.Mode&0o4000 != 0 {
		bits = append(bits, fmt.Sprintf("setuid %d", e.UID))
	}
	if e.Mode&0o2000 != 0 {
		bits = append(bits, fmt.Sprintf("setgid %d", e.GID))
	}
	return fmt.Sprintf("/%s (%s, mode %04o)", p, strings.Join(bits, ", "), e.Mode)
}

// fail rolls back after an error before the commit point.
func (t *tx) fail(err error) error {
	t.dropRecords()
	rollback(t.in.Root, t.entries())
	if serr := t.in.DB.SetTxState(t.id, pkgdb.StateRolledBack); serr != nil {
		return fmt.Errorf("%w (and closing its journal failed: %v; the next lpm will finish that)", err, serr)
	}
	return err
}

// touched lists the paths the transaction wrote or removed, sorted.
func (t *tx) touched() []string {
	var paths []string
	for _, pc := range t.changes {
		for i, p := range pc.newPaths {
			if pc.manifest.Entries[i].Type != "dir" && !pc.skip[p] {
				paths = append(paths, p)
			}
		}
		for p, f := range pc.oldFiles {
			if !pc.installs(p) && f.Type != "dir" {
				paths = append(paths, p)
			}
		}
	}
	// A path may be one package's old file and another's new one.
	sort.Strings(paths)
	return slices.Compact(paths)
}
