package ports

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver
	"golang.org/x/sys/unix"

	"github.com/lfs-lpm/lpm/resolver"
)

// The ports index is a cache of what every port.toml of one tree says
// (name, versions, description, provides, whether it parses), kept in a
// SQLite file so that a command reads only the ports it asks about
// instead of parsing the whole tree.
//
// The index is never trusted over the files. Before a port is used, its
// directory is checked against the signature stored for it: the
// directory's own stat, its version subdirectories' and every port.toml's
// (modification and change times in nanoseconds, size, inode). Any
// difference, including a file rewritten with the same size and its
// modification time put back (the change time still moves), makes lpm
// read that directory again. The tree directory's own stat says whether
// ports were added or removed. A directory whose stat is less than
// racyWindow older than the moment it was read could still change within
// the same timestamp tick without its stat changing (git's "racy"
// entries), so it is read again every time until it is older.
//
// Commands that look at one port check only that port's directory (and
// those of ports that claim its name or provide it): what a solve
// touches. Commands that list the whole tree (search, upgrade, lint reads
// the files itself) check every directory first. What this leaves out:
// a port.toml edited in place, without lpm looking at it, to take another
// port's name or to add a provide, is seen only by commands that check the
// whole tree; lint reports a port whose name differs from its directory.
var racyWindow = 2 * time.Second // a variable for tests

// indexSchema is stored as PRAGMA user_version; an index of another
// version is rebuilt, never migrated (it is a cache).
const indexSchema = 3

const indexTables = `
CREATE TABLE tree (dir TEXT NOT NULL, sig TEXT NOT NULL, racy INTEGER NOT NULL);
CREATE TABLE tops (top TEXT PRIMARY KEY, sig TEXT NOT NULL, racy INTEGER NOT NULL);
CREATE TABLE ports (
	file TEXT PRIMARY KEY,       -- relative to the tree: NAME/port.toml or NAME/VERSION/port.toml
	top TEXT NOT NULL,           -- the directory below the tree
	broken INTEGER NOT NULL,     -- 1: does not parse (the errors come from parsing it again)
	name TEXT NOT NULL,
	version TEXT NOT NULL,
	ver TEXT NOT NULL,           -- the solver's semver
	description TEXT NOT NULL
);
CREATE INDEX ports_name ON ports (name);
CREATE INDEX ports_top ON ports (top);
CREATE TABLE provides (
	file TEXT NOT NULL,
	top TEXT NOT NULL,
	virtual TEXT NOT NULL,
	ver TEXT NOT NULL            -- '' for an unversioned provide
);
CREATE INDEX provides_virtual ON provides (virtual);
CREATE INDEX provides_top ON provides (top);
`

// An index is the cache of one ports tree.
type index struct {
	dir  string // the tree, absolute
	path string // the SQLite file
	db   *sql.DB
	fd   int // the tree, opened: paths below it are looked up from here
	// stmts are the prepared queries, by text (lookup only).
	stmts map[string]*sql.Stmt
	// checked holds the directories (below the tree) already compared
	// with the disk by this process; the whole tree once checkedAll.
	checked     map[string]bool
	checkedTree bool
	checkedAll  bool
	// scanned counts the port directories read from disk, for tests.
	scanned int
}

// A portRow is what the index says about one port.toml.
type portRow struct {
	file, top          string
	broken             bool
	name, version, ver string
	description        string
	provides           []resolverProvide // only filled where asked for
	v                  *semver.Version   // ver, parsed by the Tree
	layer              int               // which of the Tree's dirs
}

type resolverProvide struct{ virtual, ver string }

// indexFile is where the index of tree lives in cacheDir: one file per
// tree, named after its absolute path.
func indexFile(cacheDir, tree string) string {
	sum := sha256.Sum256([]byte(tree))
	return filepath.Join(cacheDir, "ports-"+hex.EncodeToString(sum[:8])+".sqlite")
}

// openIndex opens (or creates) the index of the tree dir in cacheDir.
// An index that cannot be read (a damaged file) is deleted and made
// again: it is a cache.
func openIndex(cacheDir, dir string) (*index, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	path := indexFile(cacheDir, abs)
	ix, err := openIndexFile(path, abs)
	if err != nil {
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			os.Remove(f)
		}
		ix, err = openIndexFile(path, abs)
	}
	return ix, err
}

func openIndexFile(path, abs string) (*index, error) {
	params := url.Values{}
	params.Set("_busy_timeout", "10000")
	params.Set("_journal_mode", "WAL")
	params.Set("_synchronous", "NORMAL") // a cache: a lost update is read again
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params.Encode()
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	fd, err := unix.Open(abs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reading ports tree %s: %w", abs, err)
	}
	ix := &index{dir: abs, path: path, db: db, fd: fd, checked: map[string]bool{}}
	if err := ix.setUp(); err != nil {
		ix.close()
		return nil, fmt.Errorf("ports index %s: %w", path, err)
	}
	return ix, nil
}

// setUp creates the tables, or drops an index of another schema or tree.
func (ix *index) setUp() error {
	var version int
	if err := ix.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version == indexSchema {
		var dir string
		err := ix.db.QueryRow("SELECT dir FROM tree").Scan(&dir)
		if err == nil && dir == ix.dir {
			return nil
		}
	}
	tx, err := ix.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range []string{"tree", "tops", "ports", "provides"} {
		if _, err := tx.Exec("DROP TABLE IF EXISTS " + t); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(indexTables); err != nil {
		return err
	}
	if _, err := tx.Exec("INSERT INTO tree (dir, sig, racy) VALUES (?, '', 1)", ix.dir); err != nil {
		return err
	}
	if _, err := tx.Exec("PRAGMA user_version = " + strconv.Itoa(indexSchema)); err != nil {
		return err
	}
	return tx.Commit()
}

func (ix *index) close() error {
	for _, st := range ix.stmts {
		st.Close()
	}
	unix.Close(ix.fd)
	return ix.db.Close()
}

// appendSig appends the part of rel's stat (rel is relative to the tree)
// that changes whenever a file or directory does, and returns when it last
// changed. A missing path has the signature "-".
func (ix *index) appendSig(buf []byte, rel string) ([]byte, time.Time) {
	var st unix.Stat_t
	if err := unix.Fstatat(ix.fd, rel, &st, 0); err != nil {
		return append(buf, '-'), time.Time{}
	}
	changed := time.Unix(st.Ctim.Unix())
	if m := time.Unix(st.Mtim.Unix()); m.After(changed) {
		changed = m
	}
	for i, n := range []int64{st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, st.Size, int64(st.Ino)} {
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = strconv.AppendInt(buf, n, 10)
	}
	return buf, changed
}

func (ix *index) statSig(rel string) (string, time.Time) {
	b, changed := ix.appendSig(nil, rel)
	return string(b), changed
}

// checkTree compares the tree directory with the index and brings the
// list of port directories up to date.
func (ix *index) checkTree() error {
	if ix.checkedTree {
		return nil
	}
	var stored string
	var racy bool
	if err := ix.db.QueryRow("SELECT sig, racy FROM tree").Scan(&stored, &racy); err != nil {
		return err
	}
	before := time.Now()
	sig, changed := ix.statSig(".")
	if sig == "-" {
		return fmt.Errorf("reading ports tree %s: not a directory", ix.dir)
	}
	if sig == stored && !racy {
		ix.checkedTree = true
		return nil
	}
	entries, err := os.ReadDir(ix.dir)
	if err != nil {
		return fmt.Errorf("reading ports tree %s: %w", ix.dir, err)
	}
	onDisk := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			onDisk[e.Name()] = true
		}
	}
	known := map[string]bool{}
	rows, err := ix.db.Query("SELECT top FROM tops")
	if err != nil {
		return err
	}
	for rows.Next() {
		var top string
		if err := rows.Scan(&top); err != nil {
			rows.Close()
			return err
		}
		known[top] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var gone, added []string
	for top := range known {
		if !onDisk[top] {
			gone = append(gone, top)
		}
	}
	for top := range onDisk {
		if !known[top] {
			added = append(added, top)
		}
	}
	sort.Strings(gone)
	sort.Strings(added)
	scans, err := ix.scanTops(added)
	if err != nil {
		return err
	}
	ix.scanned += len(scans)
	w, err := ix.begin()
	if err != nil {
		return err
	}
	defer w.rollback()
	for _, top := range gone {
		if err := w.deleteTop(top); err != nil {
			return err
		}
	}
	for _, sc := range scans {
		if err := w.storeTop(sc); err != nil {
			return err
		}
		ix.checked[sc.top] = true
	}
	if _, err := w.tx.Exec("UPDATE tree SET sig = ?, racy = ?", sig, isRacy(changed, before)); err != nil {
		return err
	}
	if err := w.commit(); err != nil {
		return err
	}
	ix.checkedTree = true
	return nil
}

func isRacy(changed, readAt time.Time) bool { return readAt.Sub(changed) < racyWindow }

// A topScan is one port directory as found on disk.
type topScan struct {
	top  string
	sig  string // newline-separated "statSig<TAB>relpath" lines
	racy bool
	rows []portRow
}

// scanTop reads one port directory: its layout (TOP/port.toml or
// TOP/VERSION/port.toml, as Load reads it), the stats that make its
// signature, taken before the files are read, and every port.toml.
func (ix *index) scanTop(top string) topScan {
	tree := ix.dir
	sc := topScan{top: top}
	readAt := time.Now()
	var lines []string
	add := func(rel string) string {
		sig, changed := ix.statSig(rel)
		if isRacy(changed, readAt) {
			sc.racy = true
		}
		lines = append(lines, sig+"\t"+rel)
		return sig
	}
	// With TOP/port.toml, that file's stat is the whole signature: it is
	// what Load reads whatever else the directory holds. Without it, the
	// directory's stat says when versions come and go.
	var files []string
	if add(filepath.Join(top, FileName)) != "-" {
		files = append(files, filepath.Join(top, FileName))
	} else {
		add(top)
		subs, _ := os.ReadDir(filepath.Join(tree, top))
		// Each version directory's port.toml is in the signature, as "-"
		// while it is missing: its arrival changes the signature too.
		for _, s := range subs {
			if !s.IsDir() {
				continue
			}
			rel := filepath.Join(top, s.Name(), FileName)
			if add(rel) != "-" {
				files = append(files, rel)
			}
		}
	}
	sc.sig = strings.Join(lines, "\n")
	for _, rel := range files {
		row := portRow{file: rel, top: top}
		p, errs := ParseFile(filepath.Join(tree, rel))
		if len(errs) > 0 {
			row.broken = true
		} else {
			row.name, row.version, row.ver, row.description = p.Name, p.Version, p.Ver.String(), p.Description
			for _, s := range p.Provides {
				pr, _ := ParseProvide(s)
				v := ""
				if pr.Version != nil {
					v = pr.Version.String()
				}
				row.provides = append(row.provides, resolverProvide{pr.Name, v})
			}
		}
		sc.rows = append(sc.rows, row)
	}
	return sc
}

// scanTops scans many directories on every core: building the index of a
// large tree is mostly parsing TOML.
func (ix *index) scanTops(tops []string) ([]topScan, error) {
	out := make([]topScan, len(tops))
	var wg sync.WaitGroup
	next := make(chan int)
	workers := 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = ix.scanTop(tops[i])
			}
		}()
	}
	for i := range tops {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, nil
}

// A writer stores scans in one transaction with prepared statements:
// building the index of a large tree is hundreds of thousands of rows.
type writer struct {
	ix                            *index
	tx                            *sql.Tx
	delTop, delPorts, delProvides *sql.Stmt
	insTop, insPort, insProvide   *sql.Stmt
}

func (ix *index) begin() (*writer, error) {
	tx, err := ix.db.Begin()
	if err != nil {
		return nil, err
	}
	w := &writer{ix: ix, tx: tx}
	for _, s := range []struct {
		stmt **sql.Stmt
		q    string
	}{
		{&w.delTop, "DELETE FROM tops WHERE top = ?"},
		{&w.delPorts, "DELETE FROM ports WHERE top = ?"},
		{&w.delProvides, "DELETE FROM provides WHERE top = ?"},
		{&w.insTop, "INSERT INTO tops (top, sig, racy) VALUES (?, ?, ?)"},
		{&w.insPort, "INSERT INTO ports (file, top, broken, name, version, ver, description) VALUES (?, ?, ?, ?, ?, ?, ?)"},
		{&w.insProvide, "INSERT INTO provides (file, top, virtual, ver) VALUES (?, ?, ?, ?)"},
	} {
		if *s.stmt, err = tx.Prepare(s.q); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return w, nil
}

func (w *writer) rollback() { w.tx.Rollback() }

// commit ends the transaction and empties the write-ahead log into the
// file: the next process to open the index would otherwise read the whole
// log to recover it (tens of megabytes after the index was built).
func (w *writer) commit() error {
	if err := w.tx.Commit(); err != nil {
		return err
	}
	_, err := w.ix.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

func (w *writer) deleteTop(top string) error {
	for _, st := range []*sql.Stmt{w.delTop, w.delPorts, w.delProvides} {
		if _, err := st.Exec(top); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) storeTop(sc topScan) error {
	if err := w.deleteTop(sc.top); err != nil {
		return err
	}
	if _, err := w.insTop.Exec(sc.top, sc.sig, sc.racy); err != nil {
		return err
	}
	for _, r := range sc.rows {
		if _, err := w.insPort.Exec(r.file, r.top, r.broken, r.name, r.version, r.ver, r.description); err != nil {
			return err
		}
		for _, pr := range r.provides {
			if _, err := w.insProvide.Exec(r.file, r.top, pr.virtual, pr.ver); err != nil {
				return err
			}
		}
	}
	return nil
}

// sigMatches stats every path of a stored signature again. A line that
// does not read back (a directory name with a newline) never matches, so
// that directory is read every time: slow, not wrong.
func (ix *index) sigMatches(stored string) bool {
	var buf [96]byte
	for rest := stored; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		sig, rel, ok := strings.Cut(line, "\t")
		if !ok {
			return false
		}
		if now, _ := ix.appendSig(buf[:0], rel); string(now) != sig {
			return false
		}
	}
	return true
}

// checkTops compares port directories with the index and reads again the
// ones that changed (or are racy, or are new to the index).
func (ix *index) checkTops(tops []string) error {
	if err := ix.checkTree(); err != nil {
		return err
	}
	var stale []string
	for _, top := range tops {
		if ix.checked[top] || top == "" {
			continue
		}
		ix.checked[top] = true
		var sig string
		var racy bool
		st, err := ix.stmt("SELECT sig, racy FROM tops WHERE top = ?")
		if err != nil {
			return err
		}
		err = st.QueryRow(top).Scan(&sig, &racy)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// Not a port directory when the tree was listed; a directory
			// made since changed the tree's stat, which checkTree saw.
			continue
		case err != nil:
			return err
		}
		if racy || !ix.sigMatches(sig) {
			stale = append(stale, top)
		}
	}
	return ix.rescan(stale)
}

// rescan reads port directories again and stores what it found.
func (ix *index) rescan(tops []string) error {
	if len(tops) == 0 {
		return nil
	}
	scans, err := ix.scanTops(tops)
	if err != nil {
		return err
	}
	ix.scanned += len(scans)
	w, err := ix.begin()
	if err != nil {
		return err
	}
	defer w.rollback()
	for _, sc := range scans {
		if err := w.storeTop(sc); err != nil {
			return err
		}
	}
	return w.commit()
}

// checkAll compares every port directory with the index.
func (ix *index) checkAll() error {
	if ix.checkedAll {
		return nil
	}
	if err := ix.checkTree(); err != nil {
		return err
	}
	type stored struct {
		top, sig string
		racy     bool
	}
	var all []stored
	rows, err := ix.db.Query("SELECT top, sig, racy FROM tops")
	if err != nil {
		return err
	}
	for rows.Next() {
		var s stored
		if err := rows.Scan(&s.top, &s.sig, &s.racy); err != nil {
			rows.Close()
			return err
		}
		if !ix.checked[s.top] {
			all = append(all, s)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Stat in parallel: this is one stat per directory and file of the
	// tree, the whole cost of a warm search.
	stale := make([]bool, len(all))
	var wg sync.WaitGroup
	workers := 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(all); i += workers {
				stale[i] = all[i].racy || !ix.sigMatches(all[i].sig)
			}
		}(w)
	}
	wg.Wait()
	checked := make(map[string]bool, len(ix.checked)+len(all))
	for top := range ix.checked {
		checked[top] = true
	}
	ix.checked = checked
	var tops []string
	for i, s := range all {
		ix.checked[s.top] = true
		if stale[i] {
			tops = append(tops, s.top)
		}
	}
	if err := ix.rescan(tops); err != nil {
		return err
	}
	ix.checkedAll = true
	return nil
}

// named returns the rows of the ports called name, their directories
// checked first. A port normally lives in a directory of its own name; one
// that does not is found through the index and checked too.
func (ix *index) named(name string) ([]portRow, error) {
	if err := ix.checkTops([]string{name}); err != nil {
		return nil, err
	}
	for {
		rows, err := ix.query("SELECT file, top, broken, name, version, ver, description FROM ports WHERE name = ? AND broken = 0", name)
		if err != nil {
			return nil, err
		}
		var unchecked []string
		for _, r := range rows {
			if !ix.checked[r.top] {
				unchecked = append(unchecked, r.top)
			}
		}
		if len(unchecked) == 0 {
			return rows, nil
		}
		if err := ix.checkTops(unchecked); err != nil {
			return nil, err
		}
	}
}

// brokenIn returns the rows of port files in directory top that do not
// parse.
func (ix *index) brokenIn(top string) ([]portRow, error) {
	if err := ix.checkTops([]string{top}); err != nil {
		return nil, err
	}
	return ix.query("SELECT file, top, broken, name, version, ver, description FROM ports WHERE top = ? AND broken = 1", top)
}

// providing returns the rows of the ports that provide virtual, with the
// matching provides filled in.
func (ix *index) providing(virtual string) ([]portRow, error) {
	if err := ix.checkTree(); err != nil {
		return nil, err
	}
	for {
		st, err := ix.stmt(`SELECT p.file, p.top, p.name, p.version, p.ver, v.ver FROM provides v JOIN ports p ON p.file = v.file
			WHERE v.virtual = ? AND p.broken = 0 ORDER BY p.file, v.rowid`)
		if err != nil {
			return nil, err
		}
		rows, err := st.Query(virtual)
		if err != nil {
			return nil, err
		}
		var out []portRow
		for rows.Next() {
			var r portRow
			var pv string
			if err := rows.Scan(&r.file, &r.top, &r.name, &r.version, &r.ver, &pv); err != nil {
				rows.Close()
				return nil, err
			}
			if n := len(out); n > 0 && out[n-1].file == r.file {
				out[n-1].provides = append(out[n-1].provides, resolverProvide{virtual, pv})
				continue
			}
			r.provides = []resolverProvide{{virtual, pv}}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		var unchecked []string
		for _, r := range out {
			if !ix.checked[r.top] {
				unchecked = append(unchecked, r.top)
			}
		}
		if len(unchecked) == 0 {
			return out, nil
		}
		if err := ix.checkTops(unchecked); err != nil {
			return nil, err
		}
	}
}

// everything returns every row, after checking the whole tree.
func (ix *index) everything() ([]portRow, error) {
	if err := ix.checkAll(); err != nil {
		return nil, err
	}
	return ix.query("SELECT file, top, broken, name, version, ver, description FROM ports ORDER BY file")
}

// stmt prepares q once per process: a solve asks the index thousands of
// small questions.
func (ix *index) stmt(q string) (*sql.Stmt, error) {
	if st, ok := ix.stmts[q]; ok {
		return st, nil
	}
	st, err := ix.db.Prepare(q)
	if err != nil {
		return nil, err
	}
	if ix.stmts == nil {
		ix.stmts = map[string]*sql.Stmt{}
	}
	ix.stmts[q] = st
	return st, nil
}

func (ix *index) query(q string, args ...any) ([]portRow, error) {
	st, err := ix.stmt(q)
	if err != nil {
		return nil, err
	}
	rows, err := st.Query(args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []portRow
	for rows.Next() {
		var r portRow
		if err := rows.Scan(&r.file, &r.top, &r.broken, &r.name, &r.version, &r.ver, &r.description); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// --- the Tree over indexes ---

// Open returns the tree of dirs read through indexes kept in cacheDir
// (one SQLite file per tree, made on first use). Each dir is checked to
// be a readable directory, as Load does. When an index cannot be opened
// or written (a read-only cache, a corrupt file), the tree is read in
// full as Load reads it: slower, never wrong.
func Open(cacheDir string, dirs ...string) (*Tree, error) {
	small := true
	for _, dir := range dirs {
		// Opening a directory checks that it can be read, without reading
		// the 60,000 entries of a large tree.
		f, err := os.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("reading ports tree %s: %w", dir, err)
		}
		st, err := f.Stat()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading ports tree %s: %w", dir, err)
		}
		small = small && st.Size() <= smallDirBytes
	}
	if small && !indexed(cacheDir, dirs) {
		// Parsing a few hundred ports costs less than opening SQLite. A
		// small directory can still hold many versions of each port: then
		// the index is made, and used from then on.
		full, err := Load(dirs...)
		if err != nil || full.files() <= smallTree {
			return full, err
		}
	}
	t := &Tree{Dirs: dirs, ports: map[string][]*Port{}, broken: map[string][]error{}, provides: map[string][]resolver.Provider{},
		won: map[string][]portRow{}, byFile: map[string]*Port{}}
	for _, dir := range dirs {
		ix, err := openIndex(cacheDir, dir)
		if err == nil {
			err = ix.checkTree()
		}
		if err != nil {
			if ix != nil {
				ix.close()
			}
			t.Close()
			return Load(dirs...)
		}
		t.layers = append(t.layers, ix)
	}
	if err := t.readSmall(); err != nil {
		t.indexFailed(err)
	}
	return t, nil
}

// indexed reports whether every dir already has an index in cacheDir.
func indexed(cacheDir string, dirs []string) bool {
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return false
		}
		if _, err := os.Stat(indexFile(cacheDir, abs)); err != nil {
			return false
		}
	}
	return true
}

// files counts the port files a fully read tree read.
func (t *Tree) files() int {
	n := len(t.broken)
	for _, ps := range t.ports {
		n += len(ps)
	}
	return n
}

// smallDirBytes is the size up to which a tree's directory is read without
// an index at all: a directory's size grows with its entries on every
// filesystem (16 KiB is a few hundred ports on ext4, btrfs and tmpfs; LFS's
// 90 take 4 KiB), and asking costs one stat. A variable for tests.
var smallDirBytes int64 = 16 << 10

// smallTree is the number of port directories up to which a tree is read
// from its index all at once: for the 90 ports of LFS one query is cheaper
// than one per name, and what a solve touches is most of the tree anyway.
var smallTree = 1000 // a variable for tests

// readSmall fills the name and provides tables from the index at once
// when the trees are small.
func (t *Tree) readSmall() error {
	total := 0
	for _, ix := range t.layers {
		var n int
		// Counting stops past the limit: a large tree's count is a scan.
		if err := ix.db.QueryRow("SELECT count(*) FROM (SELECT 1 FROM tops LIMIT ?)", smallTree+1).Scan(&n); err != nil {
			return err
		}
		total += n
	}
	if total > smallTree {
		return nil
	}
	names, err := t.listAll()
	if err != nil {
		return err
	}
	provided := map[string][]resolverProvide{} // by layer and file
	for k, ix := range t.layers {
		rows, err := ix.db.Query("SELECT file, virtual, ver FROM provides ORDER BY file, rowid")
		if err != nil {
			return err
		}
		for rows.Next() {
			var file string
			var pr resolverProvide
			if err := rows.Scan(&file, &pr.virtual, &pr.ver); err != nil {
				rows.Close()
				return err
			}
			key := strconv.Itoa(k) + "/" + file
			provided[key] = append(provided[key], pr)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, name := range names {
		for _, r := range t.won[name] {
			for _, pr := range provided[strconv.Itoa(r.layer)+"/"+r.file] {
				p := resolver.Provide{Name: pr.virtual}
				if pr.ver != "" {
					v, err := semver.StrictNewVersion(pr.ver)
					if err != nil {
						continue
					}
					p.Version = v
				}
				t.provides[pr.virtual] = append(t.provides[pr.virtual], resolver.Provider{Name: r.name, Version: r.v, Provide: p})
			}
		}
	}
	t.allProvides = true
	return nil
}

// Close releases the indexes; a tree from Load has none.
func (t *Tree) Close() error {
	var errs []error
	for _, ix := range t.layers {
		errs = append(errs, ix.close())
	}
	t.layers = nil
	return errors.Join(errs...)
}

// indexFailed turns the tree into a fully read one after an index error
// in the middle of a command: the answer then comes from the files.
func (t *Tree) indexFailed(error) {
	t.Close()
	full, err := Load(t.Dirs...)
	if err != nil {
		t.ports, t.broken, t.provides = map[string][]*Port{}, map[string][]error{"": {err}}, map[string][]resolver.Provider{}
		return
	}
	t.ports, t.broken, t.provides = full.ports, full.broken, full.provides
}

// winners returns the rows of name from the first dir that has it, newest
// first, skipping port directories hidden by an earlier dir's port of the
// same name (as Load layers trees).
func (t *Tree) winners(name string) ([]portRow, error) {
	if rows, ok := t.won[name]; ok || t.listed {
		return rows, nil
	}
	rows, err := t.winnersBefore(name, len(t.layers))
	if err != nil {
		return nil, err
	}
	t.won[name] = rows
	return rows, nil
}

// winnersBefore is winners over the first n dirs only.
func (t *Tree) winnersBefore(name string, n int) ([]portRow, error) {
	for k, ix := range t.layers[:n] {
		rows, err := ix.named(name)
		if err != nil {
			return nil, err
		}
		var kept []portRow
		for _, r := range rows {
			hidden, err := t.hiddenTop(r.top, k)
			if err != nil {
				return nil, err
			}
			if hidden {
				continue
			}
			v, err := semver.StrictNewVersion(r.ver)
			if err != nil {
				continue // only written by this package; a damaged row is no port
			}
			r.v, r.layer = v, k
			kept = append(kept, r)
		}
		if len(kept) > 0 {
			sort.SliceStable(kept, func(i, j int) bool { return kept[j].v.LessThan(kept[i].v) })
			return kept, nil
		}
	}
	return nil, nil
}

// hiddenTop reports whether a port directory of dir k is hidden: an
// earlier dir has a port named like the directory.
func (t *Tree) hiddenTop(top string, k int) (bool, error) {
	if k == 0 {
		return false, nil
	}
	rows, err := t.winnersBefore(top, k)
	return len(rows) > 0, err
}

// indexedAll parses the files of name's rows (once each).
func (t *Tree) indexedAll(name string) ([]*Port, error) {
	if ps, ok := t.ports[name]; ok {
		return ps, nil
	}
	rows, err := t.winners(name)
	if err != nil {
		return nil, err
	}
	var ps []*Port
	for _, r := range rows {
		if p := t.parseRow(r); p != nil {
			ps = append(ps, p)
		}
	}
	t.ports[name] = ps
	return ps, nil
}

// indexedPort parses only the file of version v of name: a solve asks for
// one version of a port that may keep a hundred.
func (t *Tree) indexedPort(name string, v *semver.Version) (*Port, error) {
	rows, err := t.winners(name)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.v.Equal(v) {
			if p := t.parseRow(r); p != nil {
				return p, nil
			}
		}
	}
	return nil, nil
}

// parseRow reads the port file of one index row, once.
func (t *Tree) parseRow(r portRow) *Port {
	file := filepath.Join(t.Dirs[r.layer], r.file)
	p, ok := t.byFile[file]
	if !ok {
		var errs []error
		t.parsed++
		p, errs = ParseFile(file)
		if len(errs) > 0 || p.Name != r.name || !p.Ver.Equal(r.v) {
			// Changed since it was checked a moment ago: leave it
			// out; the next command reads it again.
			p = nil
		}
		t.byFile[file] = p
	}
	return p
}

// indexedBroken returns the parse errors of the port directory name in the
// first dir where it is not hidden.
func (t *Tree) indexedBroken(name string) ([]error, error) {
	for k, ix := range t.layers {
		hidden, err := t.hiddenTop(name, k)
		if err != nil {
			return nil, err
		}
		if hidden {
			continue
		}
		rows, err := ix.brokenIn(name)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, r := range rows {
			_, e := ParseFile(filepath.Join(t.Dirs[k], r.file))
			errs = append(errs, e...)
		}
		if len(errs) > 0 {
			return errs, nil
		}
	}
	return nil, nil
}

// indexedProviders lists the providers of virtual as Load does: by port
// name, newest version first, each provide in the port's order.
func (t *Tree) indexedProviders(virtual string) ([]resolver.Provider, error) {
	type found struct {
		row portRow
		pr  resolverProvide
	}
	var all []found
	for k, ix := range t.layers {
		rows, err := ix.providing(virtual)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			winners, err := t.winners(r.name)
			if err != nil {
				return nil, err
			}
			for _, w := range winners {
				if w.layer == k && w.file == r.file {
					for _, pr := range r.provides {
						all = append(all, found{w, pr})
					}
				}
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].row, all[j].row
		if a.name != b.name {
			return a.name < b.name
		}
		return b.v.LessThan(a.v)
	})
	var out []resolver.Provider
	for _, f := range all {
		p := resolver.Provide{Name: virtual}
		if f.pr.ver != "" {
			v, err := semver.StrictNewVersion(f.pr.ver)
			if err != nil {
				continue
			}
			p.Version = v
		}
		out = append(out, resolver.Provider{Name: f.row.name, Version: f.row.v, Provide: p})
	}
	return out, nil
}

// listAll checks every port directory of every dir and fills the name
// table in one pass, layering as Load does.
func (t *Tree) listAll() ([]string, error) {
	if !t.listed {
		var won map[string][]portRow
		for k, ix := range t.layers {
			rows, err := ix.everything()
			if err != nil {
				return nil, err
			}
			if won == nil {
				won = make(map[string][]portRow, len(rows))
			}
			layer := make(map[string][]portRow, len(rows))
			var order []string
			for _, r := range rows {
				if r.broken {
					continue
				}
				if w, taken := won[r.top]; taken && w[0].layer < k {
					continue
				}
				v, err := semver.StrictNewVersion(r.ver)
				if err != nil {
					continue
				}
				r.v, r.layer = v, k
				if layer[r.name] == nil {
					order = append(order, r.name)
				}
				layer[r.name] = append(layer[r.name], r)
			}
			for _, name := range order {
				if _, taken := won[name]; taken {
					continue
				}
				rs := layer[name]
				sort.SliceStable(rs, func(i, j int) bool { return rs[j].v.LessThan(rs[i].v) })
				won[name] = rs
			}
		}
		if won == nil {
			won = map[string][]portRow{}
		}
		t.won, t.listed = won, true
	}
	names := make([]string, 0, len(t.won))
	for n, rows := range t.won {
		if len(rows) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// readAllBroken fills broken with every port that does not parse.
func (t *Tree) readAllBroken() error {
	if _, err := t.listAll(); err != nil {
		return err
	}
	for k, ix := range t.layers {
		rows, err := ix.everything()
		if err != nil {
			return err
		}
		for _, r := range rows {
			if !r.broken {
				continue
			}
			if w, taken := t.won[r.top]; taken && len(w) > 0 && w[0].layer < k {
				continue
			}
			if _, seen := t.broken[r.top]; seen {
				continue
			}
			_, errs := ParseFile(filepath.Join(t.Dirs[k], r.file))
			if len(errs) > 0 {
				t.broken[r.top] = errs
			}
		}
	}
	t.allRead = true
	return nil
}
