package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/installer"
	"github.com/lfs-lpm/lpm/pkgdb"
)

func newUndoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "undo [ID]",
		Short: "Reverse a command (the last one by default) as a new transaction",
		Long: `undo puts the packages a command changed back as they were before it, all
of them in one transaction: what it installed is removed, what it upgraded
or removed is reinstalled from the archive the old version came from
(which must still be in the package cache, and be the same build: one
rebuilt since at the same version and release is refused), explicit or a dependency as
it was, held if it was; a config file you had edited, kept as .lpmsave
when its package was removed, goes back in place. ID is an entry of lpm history (or any of its
transactions). The reversal is itself a command, and can be undone.`,
		Args: argsAtMost(1),
		RunE: runUndo,
	}
	addWriterFlags(cmd)
	return cmd
}

// before is what one package was before the command being undone.
type before struct {
	installed        bool
	version, archive string
	release          int
	manifestSHA256   string // the build it was; "" in a history older than schema 8
	// explicit is the flag it had; flagsKnown is false for transactions
	// recorded before lpm kept flags, whose undo keeps today's flag.
	explicit, flagsKnown bool
	held                 bool
}

func runUndo(cmd *cobra.Command, args []string) error {
	e, db, done, err := forChange(cmd)
	if err != nil {
		return err
	}
	defer done()
	recs, err := db.History()
	if err != nil {
		return err
	}
	target, err := undoTarget(commands(recs), args)
	if err != nil {
		return err
	}
	installed, err := db.Packages()
	if err != nil {
		return err
	}
	isInstalled := map[string]bool{}
	for _, p := range installed {
		isInstalled[p.Name] = true
	}

	// What each package was before the command's first transaction that
	// touched it; transactions that rolled back changed nothing.
	was := map[string]*before{}
	var names []string
	var saved []pkgdb.SavedConfig
	for _, r := range target.records {
		if r.State != pkgdb.StateDone {
			continue
		}
		saved = append(saved, r.Saved...)
		for _, p := range r.Packages {
			if p.Action == "adopt" {
				// Reversing it as a removal would delete files lpm never
				// installed.
				return fmt.Errorf("undo %d: it adopted %s, which changed only lpm's records; lpm does not undo an adoption (lpm remove %s deletes its files)", target.ID, p.Name, p.Name)
			}
			if was[p.Name] == nil {
				was[p.Name] = &before{installed: p.OldVersion != "", version: p.OldVersion, archive: p.OldArchive,
					release: p.OldRelease, manifestSHA256: p.OldManifestSHA256,
					explicit: p.OldExplicit, flagsKnown: p.FlagsKnown, held: p.OldHeld}
				names = append(names, p.Name)
			}
		}
	}
	sort.Strings(names)
	var changes []installer.Change
	var removing []string
	for _, n := range names {
		b := was[n]
		switch {
		case !b.installed && !isInstalled[n]:
			// Installed by the command and removed since: nothing to do.
		case !b.installed:
			changes = append(changes, installer.Change{Remove: n})
			removing = append(removing, n)
		case b.archive == "":
			return fmt.Errorf("undo %d: the history names no archive for %s %s (an older lpm recorded it); install it again with lpm install %s@%s", target.ID, n, b.version, n, b.version)
		default:
			if _, err := os.Stat(b.archive); err != nil {
				return fmt.Errorf("undo %d: the archive of %s %s is gone from the package cache (%s); rebuild it with lpm build %s@%s", target.ID, n, b.version, b.archive, n, b.version)
			}
			r, err := openRecordedBuild(b.archive, b.manifestSHA256, fmt.Sprintf("%s %s-%d", n, b.version, b.release), fmt.Sprintf("undo %d would put back", target.ID))
			if err != nil {
				return fmt.Errorf("undo %d: %w", target.ID, err)
			}
			defer r.Close()
			changes = append(changes, installer.Change{Archive: b.archive, Reader: r, Explicit: b.explicit, ExactExplicit: b.flagsKnown, Held: b.held})
		}
	}
	if len(changes) == 0 {
		return fmt.Errorf("undo %d (%s): what it changed is already gone; nothing to reverse", target.ID, target.Command)
	}
	leaving := map[string]bool{}
	for _, n := range removing {
		leaving[n] = true
	}
	for _, n := range removing {
		if users := installer.Dependents(installed, n, leaving); len(users) > 0 {
			return fmt.Errorf("undo %d: %s is needed by %s since; remove those first", target.ID, n, strings.Join(users, ", "))
		}
	}
	if !e.confirm(fmt.Sprintf("Undo %d (%s)?", target.ID, target.Command)) {
		return fmt.Errorf("undo: cancelled; nothing was changed")
	}
	in := e.installer(db)
	if _, ok := was[installer.PreservedName]; !ok && isInstalled[installer.PreservedName] {
		// A library kept by --preserve-libs goes back to the package it
		// came from, even when the history does not name the record (an
		// older lpm kept none for it); what remains is released below.
		files, err := db.Files(installer.PreservedName)
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.Type != "dir" {
				in.Overwrite = append(in.Overwrite, globQuote(f.Path))
			}
		}
	}
	changed, err := in.Apply(changes)
	if err != nil {
		return fmt.Errorf("undo %d: %w", target.ID, err)
	}
	if err := e.restoreSaved(db, saved); err != nil {
		return err
	}
	e.out.Printf("undid %d (%s)", target.ID, target.Command)
	e.runHooks(changed)
	if _, restored := was[installer.PreservedName]; restored {
		return nil // put back as it was, needed or not
	}
	return e.releasePreserved(in)
}

// openRecordedBuild opens the cached archive a record names and checks
// that it is the build recorded (want, its manifest hash): a rebuild of
// the same version and release writes the same path, and installing that
// in the recorded one's place would put back another package under the
// same name. The open archive is what the caller installs, so a rebuild
// that lands meanwhile changes nothing. A record older than manifest
// hashes (want "") cannot tell builds apart; its archive is taken as it
// is, as lpm always did.
func openRecordedBuild(file, want, pkg, which string) (*archive.Reader, error) {
	r, err := archive.Open(file)
	if err != nil {
		return nil, err
	}
	if want == "" || r.ManifestSHA256() == want {
		return r, nil
	}
	r.Close()
	return nil, fmt.Errorf("the package cache's %s is another build of %s than the one %s (this one was built %s: a build of the same release replaced it); nothing was changed; lpm install --file %s installs this build instead",
		file, pkg, which, r.Manifest().BuildDate.Format(time.RFC3339), file)
}

// undoTarget picks the entry named by args (its id or one of its
// transactions' ids), or the newest one that changed something.
func undoTarget(entries []*historyEntry, args []string) (*historyEntry, error) {
	for _, h := range entries {
		if len(args) == 0 {
			if h.State == pkgdb.StateDone || h.State == "partly done" {
				return h, nil
			}
			continue
		}
		for _, id := range h.Transactions {
			if strconv.FormatInt(id, 10) == args[0] {
				if h.State != pkgdb.StateDone && h.State != "partly done" {
					return nil, fmt.Errorf("undo: %d (%s) was %s, there is nothing to reverse", h.ID, h.Command, h.State)
				}
				return h, nil
			}
		}
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("undo: no command has changed the root yet; see lpm history")
	}
	return nil, fmt.Errorf("undo: no entry %s in the history; see lpm history", args[0])
}

// restoreSaved puts back the edited config files that removals kept
// aside, over the packaged version undo just installed. An edit made
// since (the file is not the packaged version) is left alone. It runs
// after the commit, one rename per file: a crash in between leaves the
// edit in its .lpmsave, as the removal had, so nothing is lost.
func (e *env) restoreSaved(db *pkgdb.DB, saved []pkgdb.SavedConfig) error {
	for _, s := range saved {
		aside := filepath.Join(e.cfg.Root, s.Saved)
		live := filepath.Join(e.cfg.Root, s.Path)
		if _, err := os.Lstat(aside); err != nil {
			continue
		}
		owners, err := db.Owners([]string{s.Path})
		if err != nil {
			return err
		}
		if len(owners[s.Path]) != 1 {
			continue // its package is not back
		}
		files, err := db.Files(owners[s.Path][0])
		if err != nil {
			return err
		}
		i := sort.Search(len(files), func(i int) bool { return files[i].Path >= s.Path })
		if i == len(files) || files[i].Path != s.Path {
			continue
		}
		if sum, err := archive.FileSHA256(live); err != nil || sum != files[i].SHA256 {
			e.out.Printf("your edited /%s is still in /%s: /%s changed since", s.Path, s.Saved, s.Path)
			continue
		}
		if err := os.Rename(aside, live); err != nil {
			return fmt.Errorf("putting your edited /%s back from /%s: %w", s.Path, s.Saved, err)
		}
		e.out.Printf("put your edited /%s back (it was kept as /%s)", s.Path, s.Saved)
	}
	return nil
}

// globQuote makes a path a glob that matches only itself.
func globQuote(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
