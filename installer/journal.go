package installer

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/archive"
	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/progress"
)

// The journal: what a transaction will do, decided before it starts, and
// how a crash is rolled back or finished from it (see transaction.go).

// op is one journaled change, with what stage needs to produce it.
type op struct {
	pkgdb.JournalEntry
	pc    *pkgChange
	entry *archive.Entry // what replace and mkdir write: the manifest's own, not a copy
	// carried: staged below a new directory's temp name, it arrives with
	// that directory's exchange; apply has nothing to do for it.
	carried bool
	// pristine: for a config file, where stage writes the packaged copy
	// (the target of its own replace op, see pristineOps).
	pristine string
}

// Journal ops.
const (
	opMkdir   = "mkdir"   // a directory to create
	opReplace = "replace" // a path to (re)write from Temp
	opRemove  = "remove"  // a path to remove (kept under Backup until commit)
	opSave    = "save"    // an edited config file of a removed package: kept as Backup (.lpmsave)
	opRmdir   = "rmdir"   // a directory to remove once empty, after commit
	// Type changes (typechange.go): the new one is staged whole at Temp
	// and exchanged with the live path; then the old one is at Temp.
	opToDir   = "todir"   // a non-directory becomes a directory
	opFromDir = "fromdir" // a directory becomes a non-directory
)

// decideOps decides every change and its temp and backup names: the
// journal, in the order it is applied.
func (t *tx) decideOps() error {
	var token [4]byte
	rand.Read(token[:])
	tag := hex.EncodeToString(token[:])
	beside := func(kind, p string) string {
		dir, base := path.Split(p)
		if len(base) > 200 {
			base = base[:200]
		}
		return path.Join(dir, fmt.Sprintf(".lpm-%s.%s-%d.%s", kind, tag, len(t.ops), base))
	}
	exists := func(p string) bool {
		_, err := t.lstat(p)
		return err == nil
	}
	// A new directory in place of a non-directory is staged whole under
	// its temp name, children included.
	t.toDirTemp = map[string]string{}
	for p := range t.toDir {
		t.toDirTemp[p] = beside("dir", p)
	}
	var links []op // hard links come last: their targets must be in place
	// One op per entry at most, but for the few below: sized once, as
	// growing a slice of 20,000 ops by doubling leaves as much garbage.
	t.ops = make([]op, 0, t.entryCount())
	making := map[string]bool{}
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		for i := range pc.manifest.Entries {
			e := &pc.manifest.Entries[i]
			p := pc.newPaths[i]
			staged, below := t.stagedBelow(p)
			switch e.Type {
			case "dir":
				if making[p] {
					continue // several packages of the transaction may share it
				}
				switch {
				case t.toDir[p]:
					t.ops = append(t.ops, op{JournalEntry: pkgdb.JournalEntry{Op: opToDir, Path: p, Temp: t.toDirTemp[p]}, pc: pc, entry: e})
				case below:
					t.ops = append(t.ops, op{JournalEntry: pkgdb.JournalEntry{Op: opMkdir, Path: p, Temp: staged}, pc: pc, entry: e, carried: true})
				default:
					if fi, err := t.stat(p); err == nil && fi.IsDir() {
						continue
					}
					t.ops = append(t.ops, op{JournalEntry: pkgdb.JournalEntry{Op: opMkdir, Path: p}, pc: pc, entry: e})
				}
				making[p] = true
				continue
			case "file":
				if pc.skip[p] {
					continue
				}
				if pc.keepNew[p] {
					p += ".lpmnew"
				}
			case "symlink":
				if pc.skip[p] {
					continue
				}
				if cur, err := t.readlink(p); err == nil && cur == e.Link && !below {
					continue
				}
			}
			o := op{JournalEntry: pkgdb.JournalEntry{Op: opReplace, Path: p}, pc: pc, entry: e}
			// A path that exists is replaced by rename from a temp, its
			// old content kept as a backup until the commit. A new path
			// cannot go missing: it is written in place, and a rollback
			// removes it.
			switch {
			case t.fromDir[p]:
				o.Op, o.Temp = opFromDir, beside("new", p)
			case below && e.Type != "hardlink":
				o.Temp, o.carried = staged, true
			case exists(p):
				o.Temp, o.Backup = beside("new", p), beside("old", p)
			case e.Type == "hardlink":
				o.Temp = beside("new", p)
			}
			if e.Type == "hardlink" {
				links = append(links, o)
				continue
			}
			t.ops = append(t.ops, o)
		}
	}
	t.pristineOps(beside)
	t.ops = append(t.ops, links...)
	gone, dirs, saved, err := t.obsolete()
	if err != nil {
		return err
	}
	for _, p := range gone {
		o := op{JournalEntry: pkgdb.JournalEntry{Op: opRemove, Path: p}}
		if saved[p] {
			o.Op, o.Backup = opSave, p+".lpmsave"
		}
		t.ops = append(t.ops, o)
	}
	for _, d := range dirs {
		t.ops = append(t.ops, op{JournalEntry: pkgdb.JournalEntry{Op: opRmdir, Path: d}})
	}
	return nil
}

// obsolete lists what the old versions (and removed packages) had that
// nothing new claims and no other package owns: files to remove, the
// edited config files among them to keep as .lpmsave, and directories to
// remove once empty (deepest first; never one lpm did not create).
func (t *tx) obsolete() (gone, dirs []string, saved map[string]bool, err error) {
	leaving := map[string]bool{}
	for _, pc := range t.changes {
		leaving[pc.name] = true
	}
	saved = map[string]bool{}
	for _, pc := range t.changes {
		for p, f := range pc.oldFiles {
			if t.installs(p) {
				continue
			}
			if f.Type == "dir" {
				dirs = append(dirs, p)
				continue
			}
			if f.Backup && f.Type == "file" {
				if h, err := archive.FileSHA256(t.abs(p)); err == nil && h != f.SHA256 {
					saved[p] = true
				}
			}
			gone = append(gone, p)
		}
	}
	var names []string
	for name := range leaving {
		names = append(names, name)
	}
	stillOwned, err := t.in.DB.SharedPaths(names)
	if err != nil {
		return nil, nil, nil, err
	}
	foreign, err := t.in.DB.ForeignDirs(dirs)
	if err != nil {
		return nil, nil, nil, err
	}
	keep := func(list []string, drop func(string) bool) []string {
		out := list[:0]
		for _, p := range list {
			if !drop(p) {
				out = append(out, p)
			}
		}
		return out
	}
	// What lies below a directory that becomes a non-directory goes with
	// it (checkFromDir made sure it is all obsolete).
	belowFromDir := func(p string) bool {
		for q := path.Dir(p); q != "." && q != "/"; q = path.Dir(q) {
			if t.fromDir[q] {
				return true
			}
		}
		return false
	}
	// A path already missing from disk stays in the journal: finish's
	// remove of it fails harmlessly, which is cheaper than asking the
	// disk about every path of a 20,000-file package first.
	gone = keep(gone, func(p string) bool {
		_, kept := t.preserved[p]
		return stillOwned[p] || kept || belowFromDir(p)
	})
	dirs = keep(dirs, func(d string) bool { return stillOwned[d] || foreign[d] || belowFromDir(d) })
	sort.Strings(gone)
	sort.Slice(dirs, func(i, j int) bool {
		di, dj := strings.Count(dirs[i], "/"), strings.Count(dirs[j], "/")
		return di > dj || (di == dj && dirs[i] > dirs[j])
	})
	return gone, dirs, saved, nil
}

// installs reports whether a package the transaction installs has path p.
func (t *tx) installs(p string) bool {
	for _, pc := range t.changes {
		if pc.installs(p) {
			return true
		}
	}
	return false
}

// summary names the transaction for messages and the history.
func (t *tx) summary() string {
	var parts []string
	for _, pc := range t.changes {
		switch {
		case pc.manifest == nil:
			parts = append(parts, "remove "+pc.name)
		case pc.old == nil:
			parts = append(parts, "install "+pc.name+" "+pc.manifest.Version)
		default:
			parts = append(parts, "upgrade "+pc.name+" "+pc.old.Version+" -> "+pc.manifest.Version)
		}
	}
	return strings.Join(parts, ", ")
}

// stage makes directories, writes temps and links backups; the live
// paths are untouched. One syncfs makes it durable.
func (t *tx) stage() error {
	// Each package's ops by manifest path: Walk hands over entries, and
	// the path strings are the manifest's own, so the map copies none.
	byPath := map[*pkgChange]map[string]*op{}
	for i := range t.ops {
		o := &t.ops[i]
		switch {
		case o.pc != nil:
			if byPath[o.pc] == nil {
				byPath[o.pc] = make(map[string]*op, len(o.pc.manifest.Entries))
			}
			byPath[o.pc][o.entry.Path] = o
		case o.Op == opMkdir:
			// lpm's own directories (pristine copies), in order, never
			// made through a link.
			if err := CheckStatePath(t.in.Root, t.abs(path.Dir(o.Path))); err != nil {
				return err
			}
			if err := os.Mkdir(t.abs(o.Path), 0o755); err != nil {
				return fmt.Errorf("creating /%s: %w", o.Path, err)
			}
		}
	}
	writers := stageWriters
	// Buffers for small files, reused: one per writer and one being
	// filled from the stream (a big file is copied through it). A fresh
	// buffer per file would make an install of 250 MiB allocate 250 MiB,
	// and the garbage collector let the heap grow to twice what is live
	// before each collection.
	free := make(chan []byte, writers+1)
	for range cap(free) {
		free <- nil
	}
	// The backups are hard links to live paths, which nothing changes
	// before apply: they are made beside the walk (2,000 links for L's
	// upgrade, which the walk made after it).
	backups := make(chan error, 1)
	go func() { backups <- t.linkBackups() }()
	made := &creator{dirs: map[string]dirOwner{}}
	for _, pc := range t.changes {
		if pc.manifest == nil {
			continue
		}
		ops := byPath[pc]
		// Only the entries with an op are read: from an archive with a
		// seek table, an upgrade decompresses only the frames holding
		// what it writes.
		want := make([]bool, len(pc.manifest.Entries))
		wanted := 0
		for i := range pc.manifest.Entries {
			if ops[pc.manifest.Entries[i].Path] != nil {
				want[i] = true
				wanted++
			}
		}
		bar := t.in.Out.Start("installing "+pc.name+" "+pc.manifest.Version, int64(wanted), progress.Items)
		// Creating files dominates an install, so small files are read
		// from the stream in order and written by a few goroutines;
		// directories and links are made in order, before their children.
		var g errgroup.Group
		g.SetLimit(writers)
		err := pc.reader.WalkOnly(want, func(e archive.Entry, content io.Reader) error {
			defer bar.Add(1)
			o := ops[e.Path]
			switch {
			case e.Type == "dir":
				if err := made.mkdir(t.abs(o.target()), e); err != nil {
					return fmt.Errorf("creating /%s: %w", o.Path, err)
				}
				return nil
			case e.Type == "file":
				// A kept, edited config file keeps its base: the pristine
				// copy changes only when the live file is replaced.
				if o.pristine != "" {
					return t.writeConfig(o, e, content)
				}
				target := t.abs(o.target())
				chown := made.needsChown(target, e)
				// Each buffer is made once, whole: grown file by file they
				// were 3.7 MB of garbage for L.
				buf := <-free
				if buf == nil {
					buf = make([]byte, maxBuffered)
				}
				if e.Size > maxBuffered {
					// Copied through the buffer: io.Copy would make one
					// per file, and of 32 KiB, a write call for each.
					err := writeFile(target, o.entry, content, chown, buf)
					free <- buf
					return err
				}
				// Walk checked the header's size against the manifest, so
				// a buffer of that size holds it all.
				data := buf[:e.Size]
				if _, err := io.ReadFull(content, data); err != nil {
					free <- buf
					return err
				}
				// The manifest's own entry, not e: a copy the writer held
				// was 2.9 MB of garbage for L.
				entry := o.entry
				write := func() error {
					defer func() { free <- buf }()
					return writeFile(target, entry, bytes.NewReader(data), chown, nil)
				}
				// With every writer busy the walk writes the file itself
				// rather than wait for one: the writers' system calls,
				// not decompression, are what an install waits for.
				if !g.TryGo(write) {
					return write()
				}
				return nil
			case e.Type == "symlink":
				target := t.abs(o.target())
				if err := os.Symlink(e.Link, target); err != nil {
					return fmt.Errorf("linking /%s: %w", o.Path, err)
				}
				if made.needsChown(target, e) {
					return os.Lchown(target, e.UID, e.GID)
				}
				return nil
			}
			return nil
		})
		if werr := g.Wait(); err == nil {
			err = werr
		}
		bar.Finish(err)
		if err != nil {
			<-backups // rollback undoes them
			return fmt.Errorf("installing %s: %w", pc.name, err)
		}
	}
	if err := <-backups; err != nil {
		return err
	}
	// The records go into the database while the disk catches up: the
	// sync is the disk's work, the inserts (20,000 rows for L) are the
	// CPU's.
	t.startRecords()
	if !t.stagesAnything() {
		return nil // a removal: nothing to make durable
	}
	t.in.syncs++
	return syncRoot(t.in.Root)
}

// linkBackups links each path about to be replaced to its backup name.
func (t *tx) linkBackups() error {
	for _, o := range t.ops {
		if o.Op == opReplace && o.Backup != "" {
			if err := os.Link(t.abs(o.Path), t.abs(o.Backup)); err != nil {
				return fmt.Errorf("keeping the old /%s: %w", o.Path, err)
			}
		}
	}
	return nil
}

// maxBuffered is the largest file stage reads into memory to hand to a
// writer goroutine; a bigger one is written straight from the stream.
const maxBuffered = 256 << 10

// stageWriters is how many goroutines write small files while the
// archive is decompressed: with two cores, the walk on one and the writers'
// system calls on the other. On a machine as busy as two cores doing
// other work, 1, 2, 4 and 8 measured the same.
const stageWriters = 2

// target is where stage writes an op's content: its temp, or the path
// itself when the path is new.
func (o *op) target() string {
	if o.Temp != "" {
		return o.Temp
	}
	return o.Path
}

// writeFile writes content to a new file with the entry's owner and mode.
// It makes the system calls itself: an os.File asks the runtime's poller
// about every file it opens (four fcntl and an epoll_ctl), 90,000 calls
// for a package of 18,000 files that a regular file never needs. The file
// is created with its mode when the umask lets it be (creatMode), and
// chowned only when chown says so (creator.needsChown): then most files
// take three calls, open, write and close, not five. An owner is set
// before the mode, on the open file, as chown clears setuid.
func writeFile(p string, e *archive.Entry, content io.Reader, chown bool, buf []byte) error {
	// Errors say which call failed on which path, as an os.File's do:
	// lpm's main tells a user who may not write the root by them.
	fail := func(op string, err error) error {
		return fmt.Errorf("writing %s: %w", p, &fs.PathError{Op: op, Path: p, Err: err})
	}
	mode, exact := creatMode(e)
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, mode)
	if err != nil {
		return fail("open", err)
	}
	if _, werr := io.CopyBuffer(fdWriter(fd), content, buf); werr != nil {
		err = fail("write", werr) // or reading the archive failed: Walk says so then
	}
	if err == nil && chown && runningAsRoot {
		if cerr := unix.Fchown(fd, e.UID, e.GID); cerr != nil {
			err = fail("chown", cerr)
		}
	}
	if err == nil && !exact {
		if cerr := unix.Fchmod(fd, e.Mode&0o7777); cerr != nil {
			err = fail("chmod", cerr)
		}
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = fail("close", cerr)
	}
	return err
}

// creatMode is the mode to create an entry's file or directory with, and
// whether that is the entry's mode once the umask has had its say. With
// a setuid, setgid or sticky bit, or a permission bit the umask takes
// away, it is 0600 (0700 for a directory: see creator.mkdir), and the
// mode is set afterwards.
func creatMode(e *archive.Entry) (uint32, bool) {
	perm := e.Mode & 0o777
	if e.Mode&0o7000 == 0 && perm&^umask == perm {
		return perm, true
	}
	return 0o600, false
}

// umask is the process's, read once: lpm never changes it.
var umask = func() uint32 {
	old := unix.Umask(0o022)
	unix.Umask(old)
	return uint32(old)
}()

// creator knows, for stage, what a new entry gets by being made: the
// user and group lpm runs as, or for the group the directory's own when
// the directory is setgid (or its filesystem is mounted grpid), so it
// chowns only what that leaves wrong. Directories stage made are known by
// their entries; others are looked at once. stage's walk alone uses it.
type creator struct {
	dirs map[string]dirOwner // by absolute path
}

// dirOwner is what a directory passes on to what is made in it.
type dirOwner struct {
	gid    int // -1: unknown, so chown
	setgid bool
}

var euid, egid = os.Geteuid(), os.Getegid()

// parent is what the directory holding p passes on.
func (c *creator) parent(p string) dirOwner {
	dir := filepath.Dir(p)
	if d, ok := c.dirs[dir]; ok {
		return d
	}
	d := dirOwner{gid: -1}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err == nil {
		d = dirOwner{gid: int(st.Gid), setgid: st.Mode&unix.S_ISGID != 0}
	}
	c.dirs[dir] = d
	return d
}

// needsChown reports whether the entry made at p must be chowned to get
// its owner: as root, unless it is root's own and the group it gets from
// its directory is root's too. A user other than root chowns nothing.
func (c *creator) needsChown(p string, e archive.Entry) bool {
	if !runningAsRoot {
		return false
	}
	return e.UID != euid || e.GID != egid || c.parent(p).gid != egid
}

// mkdir makes the directory of entry e at p with its owner and mode, and
// remembers what it passes on. A directory made in a setgid one is setgid
// too, so there it is made 0700 and its mode set.
func (c *creator) mkdir(p string, e archive.Entry) error {
	chown := c.needsChown(p, e)
	mode, exact := creatMode(&e)
	if !exact || c.parent(p).setgid {
		mode, exact = 0o700, false
	}
	if err := os.Mkdir(p, os.FileMode(mode)); err != nil {
		return err
	}
	if chown {
		if err := os.Lchown(p, e.UID, e.GID); err != nil {
			return err
		}
	}
	if !exact {
		if err := os.Chmod(p, fileMode(e.Mode)); err != nil {
			return err
		}
	}
	// As root it has the entry's group now; a user chowns nothing, so
	// the group is never asked.
	c.dirs[p] = dirOwner{gid: e.GID, setgid: e.Mode&0o2000 != 0}
	return nil
}

// fdWriter writes to a file descriptor, all of what it is given.
type fdWriter int

func (fd fdWriter) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Write(int(fd), b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrShortWrite
		}
		n += m
	}
	return n, nil
}

// runningAsRoot: owners are set only then (a user's test root keeps the
// user's own).
var runningAsRoot = os.Geteuid() == 0

// apply renames temps over live paths and obsolete paths to backups,
// and makes that durable.
func (t *tx) apply() error {
	moved := false // a transaction of new paths only has nothing to sync
	for _, o := range t.ops {
		if o.carried {
			continue // arrives with its directory's exchange
		}
		switch o.Op {
		case opReplace, opFromDir:
			if o.entry.Type == "hardlink" || o.Temp != "" {
				moved = true
			}
			if o.entry.Type == "hardlink" {
				target := o.pc.entryPath(o.entry.Link)
				if err := os.Link(t.abs(target), t.abs(o.Temp)); err != nil {
					return fmt.Errorf("linking /%s: %w", o.Path, err)
				}
			}
			if o.Temp == "" {
				continue // written in place: the path is new
			}
			if o.Op == opFromDir {
				if err := exchange(t.in.Root, o.Temp, o.Path); err != nil {
					return err
				}
				crashPoint("swapped")
				continue
			}
			if err := os.Rename(t.abs(o.Temp), t.abs(o.Path)); err != nil {
				return fmt.Errorf("replacing /%s: %w", o.Path, err)
			}
			crashPoint("rename")
		case opToDir:
			moved = true
			if err := exchange(t.in.Root, o.Temp, o.Path); err != nil {
				return err
			}
			crashPoint("swapped")
		}
	}
	for _, pc := range t.changes {
		for p := range pc.keepNew {
			t.in.Out.Printf("%s: kept your /%s; the new version is /%s.lpmnew", pc.name, p, p)
		}
	}
	if !moved {
		return nil
	}
	t.in.syncs++
	return syncRoot(t.in.Root)
}

// commit is the commit point: the package records and the journal's state
// change in one SQLite transaction.
func (t *tx) commit() error {
	dbtx, err := t.takeRecords()
	if err != nil {
		return err
	}
	defer dbtx.Rollback()
	if err := dbtx.MarkCommitted(t.id); err != nil {
		return err
	}
	return dbtx.Commit()
}

// records is the commit's SQLite transaction, begun and filled with the
// package records beside stage's sync and apply; until commit marks the
// journal committed in it and commits it, none of it is in the database
// (SQLite keeps an uncommitted transaction out of the WAL's committed
// part, whatever it had to write there), so a crash or a failure before
// the commit point leaves the database as the journal said.
type records struct {
	done chan struct{}
	dbtx *pkgdb.Tx
	err  error
}

// startRecords begins writing the records in the background.
func (t *tx) startRecords() {
	r := &records{done: make(chan struct{})}
	t.records = r
	go func() {
		defer close(r.done)
		r.dbtx, r.err = t.writeRecords()
	}()
}

// takeRecords waits for the records and hands their transaction over;
// written now when stage did not start them.
func (t *tx) takeRecords() (*pkgdb.Tx, error) {
	r := t.records
	if r == nil {
		return t.writeRecords()
	}
	t.records = nil
	<-r.done
	return r.dbtx, r.err
}

// dropRecords rolls the records back: fail calls it before it closes the
// journal, which needs the database's write lock they hold.
func (t *tx) dropRecords() {
	if t.records == nil {
		return
	}
	if dbtx, err := t.takeRecords(); err == nil {
		dbtx.Rollback()
	}
}

// writeRecords begins the commit's transaction and writes everything but
// the commit mark: the packages' records and files, the directories
// found on disk, what --overwrite took and the preserved libraries.
func (t *tx) writeRecords() (*pkgdb.Tx, error) {
	dbtx, err := t.in.DB.Begin()
	if err != nil {
		return nil, err
	}
	if err := t.record(dbtx); err != nil {
		dbtx.Rollback()
		return nil, err
	}
	return dbtx, nil
}

func (t *tx) record(dbtx *pkgdb.Tx) error {
	if err := dbtx.AddForeignDirs(t.foreign); err != nil {
		return err
	}
	if err := t.recordTakeovers(dbtx); err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, pc := range t.changes {
		var err error
		if pc.manifest == nil {
			err = dbtx.DeletePackage(pc.name)
		} else {
			// The old version's records, read by the plan under the
			// writer lock this transaction holds, are not read again.
			err = dbtx.PutUpgrade(pc.record(now), pc.fileRecords(), pc.oldFiles)
		}
		if err != nil {
			return err
		}
	}
	// After the changes: releasing preserved libraries removes their
	// record and puts back the ones still needed.
	return t.recordPreserved(dbtx)
}

// rollback undoes a journal that did not reach its commit point, from
// whatever state a crash or an error left it in. It only renames backups
// back, removes what was new, and deletes temps; it runs no program.
func rollback(root string, entries []pkgdb.JournalEntry) {
	abs := func(p string) string { return filepath.Join(root, p) }
	belowSwap := swapped(entries)
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if belowSwap(e.Path) {
			continue // staged below a type change: undone with it
		}
		switch e.Op {
		case opToDir, opFromDir:
			rollbackSwap(root, e)
		case opReplace:
			cur, curErr := os.Lstat(abs(e.Path))
			_, tempErr := os.Lstat(abs(e.Temp))
			if e.Backup != "" {
				old, err := os.Lstat(abs(e.Backup))
				switch {
				case err != nil:
					// The backup was never made: the path was not touched.
				case curErr == nil && os.SameFile(cur, old):
					os.Remove(abs(e.Backup)) // not yet replaced
				default:
					os.Rename(abs(e.Backup), abs(e.Path))
				}
			} else if curErr == nil && (e.Temp == "" || tempErr != nil) {
				os.Remove(abs(e.Path)) // it was new: written in place, or renamed
			}
			if e.Temp != "" {
				os.Remove(abs(e.Temp))
			}
		case opMkdir:
			os.Remove(abs(e.Path)) // fails, rightly, unless empty
		}
	}
	syncRoot(root)
}

// finish completes a committed journal: obsolete paths go (an edited
// config file is kept as .lpmsave), backups and temps go, emptied
// directories go. Every step is idempotent, so a crash here is finished
// again by Recover.
func finish(root string, entries []pkgdb.JournalEntry) {
	abs := func(p string) string { return filepath.Join(root, p) }
	belowSwap := swapped(entries)
	// The backups, names of their own that no other entry touches, are
	// unlinked beside the rest: freeing an inode is most of an unlink's
	// cost, and an upgrade of L frees 2,000 backups' and 1,000 removed
	// files'.
	backups := make(chan struct{})
	go func() {
		defer close(backups)
		for _, e := range entries {
			if e.Op == opReplace && e.Backup != "" && !belowSwap(e.Path) {
				unix.Unlink(abs(e.Backup))
			}
		}
	}()
	defer func() { <-backups }()
	// A run of removes is unlinked by several workers at once (unlinkAll);
	// every other op waits for the removes before it, as it did when
	// they were unlinked one by one.
	var removes []string
	flush := func() {
		unlinkAll(removes)
		removes = removes[:0]
	}
	for _, e := range entries {
		if belowSwap(e.Path) {
			continue // in place with its directory, or gone with it
		}
		if e.Op == opRemove {
			removes = append(removes, abs(e.Path))
			continue
		}
		flush()
		switch e.Op {
		case opToDir, opFromDir:
			finishSwap(root, e)
		case opReplace:
			// Neither is ever a directory: unlink, not os.Remove, which
			// tries rmdir after a failed unlink, and the temp is usually
			// gone already (renamed over the path before the commit).
			if e.Temp != "" {
				unix.Unlink(abs(e.Temp))
			}
		case opSave:
			os.Rename(abs(e.Path), abs(e.Backup))
		case opRmdir:
			// os.Remove's two calls the other way round: it is usually
			// a directory, which fails, rightly, unless empty.
			if unix.Rmdir(abs(e.Path)) == unix.ENOTDIR {
				unix.Unlink(abs(e.Path))
			}
		}
	}
	flush()
}

// unlinkAll removes the files and links of a run of remove ops, in any
// order: no path of the run is below another but where a directory took
// a file's place, and those are removed after the rest. Most of an
// unlink is the kernel freeing the inode and its blocks, which ext4 does
// for files of two directories at once: on a loop-mounted ext4 (2 cores,
// load 4 to 6 from other work), unlinking the bench's L package (20,000
// files) took a median 619 ms one by one and 500 ms with two workers,
// less in each of 8 alternating pairs, for the same CPU time; four
// workers were no faster than two.
func unlinkAll(paths []string) {
	workers := unlinkWorkers
	if len(paths) < 2*unlinkChunk {
		workers = 1
	}
	var next atomic.Int64 // the next chunk a worker takes
	var mu sync.Mutex
	var dirs []string // paths a directory took the place of
	work := func() {
		for {
			start := int(next.Add(1)-1) * unlinkChunk
			if start >= len(paths) {
				return
			}
			for _, p := range paths[start:min(start+unlinkChunk, len(paths))] {
				// A file or a link: os.Remove's first call, and its
				// second, rmdir, only for a directory in its place.
				if unix.Unlink(p) == unix.EISDIR {
					mu.Lock()
					dirs = append(dirs, p)
					mu.Unlock()
				}
				crashPoint("unlink")
			}
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	// Deepest first: a directory in a file's place may hold another.
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		unix.Rmdir(d) // fails, rightly, unless empty
	}
}

// unlinkWorkers is how many goroutines unlink a run of removes, and
// unlinkChunk how many consecutive paths (neighbours in the same
// directories, as the journal is sorted) one takes at a time. A run of
// fewer than two chunks is unlinked one by one; the removal of the crash
// test (cmd/lpm, 410 paths) is long enough for two workers.
const (
	unlinkWorkers = 2
	unlinkChunk   = 128
)

// NeedsRecovery reports whether a crash left something for Recover: an
// open transaction, or the temps of a killed hook.
func NeedsRecovery(root string, db *pkgdb.DB) (bool, error) {
	if _, err := os.Lstat(hookTempsPath(root)); err == nil {
		return true, nil
	}
	open, err := db.OpenTransactions()
	return len(open) > 0, err
}

// Unrecovered lists the transactions a crash left open that no running
// lpm is carrying out: what Recover would close, had it the right to
// write. A query on a read-only root warns of them.
func Unrecovered(root string, db *pkgdb.DB) ([]pkgdb.TxRecord, error) {
	open, err := db.OpenTransactions()
	if err != nil || len(open) == 0 || WriterActive(root) {
		return nil, err
	}
	return open, nil
}

// UnrecoveredWarning is the one line a query prints about them, but for
// what to do, which depends on why it cannot recover them.
func UnrecoveredWarning(root string, open []pkgdb.TxRecord) string {
	var txs []string
	for _, rec := range open {
		txs = append(txs, fmt.Sprintf("%d (%s)", rec.ID, rec.Command))
	}
	return fmt.Sprintf("warning: interrupted transaction %s is not recovered (its journal is in %s), so the database may not match the disk",
		strings.Join(txs, ", "), pkgdb.Path(root))
}

// Recover closes every transaction a crash left open: it rolls back those
// that had not committed and finishes those that had, and says which. The
// caller holds the writer lock.
func Recover(root string, db *pkgdb.DB, out *progress.Printer) error {
	recoverHookTemps(root, out)
	open, err := db.OpenTransactions()
	if err != nil {
		return err
	}
	for _, rec := range open {
		entries, err := db.Journal(rec.ID)
		if err != nil {
			return err
		}
		state := pkgdb.StateRolledBack
		if rec.State == pkgdb.StateCommitted {
			finish(root, entries)
			state = pkgdb.StateDone
			out.Printf("recovered interrupted transaction %d (%s): it had committed; finished it", rec.ID, rec.Command)
		} else {
			rollback(root, entries)
			out.Printf("recovered interrupted transaction %d (%s): rolled it back; nothing of it remains", rec.ID, rec.Command)
		}
		if err := db.SetTxState(rec.ID, state); err != nil {
			return err
		}
	}
	return nil
}

// syncRoot makes everything written to the root's filesystem durable with
// one syncfs, not one fsync per file.
func syncRoot(root string) error {
	f, err := os.Open(root)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing %s: %w", root, err)
	}
	return nil
}

// crashPoint lets the crash test kill lpm at a named moment
// (LPM_TEST_CRASH=NAME:N dies the Nth time NAME is reached). Random
// SIGKILLs from outside cover the moments between. NAME:N:SIGNAL sends
// that signal instead (INT, TERM, HUP), as a user's Ctrl-C would.
func crashPoint(name string) {
	spec := crashSpec
	if spec.name != name {
		return
	}
	// finish's unlink workers reach their point at once.
	if crashSeen.Add(1) == int64(spec.n) {
		unix.Kill(os.Getpid(), spec.sig)
	}
}

type crashAt struct {
	name string
	n    int
	sig  unix.Signal
}

var (
	crashSpec = parseCrashSpec(os.Getenv("LPM_TEST_CRASH"))
	crashSeen atomic.Int64
)

func parseCrashSpec(s string) crashAt {
	name, n, ok := strings.Cut(s, ":")
	if !ok {
		return crashAt{}
	}
	c := crashAt{sig: unix.SIGKILL}
	n, sig, _ := strings.Cut(n, ":")
	switch sig {
	case "":
	case "INT":
		c.sig = unix.SIGINT
	case "TERM":
		c.sig = unix.SIGTERM
	case "HUP":
		c.sig = unix.SIGHUP
	default:
		return crashAt{}
	}
	if _, err := fmt.Sscan(n, &c.n); err != nil {
		return crashAt{}
	}
	c.name = name
	return c
}
