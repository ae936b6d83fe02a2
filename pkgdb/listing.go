package pkgdb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A package's listing is what lpm files prints for it: one path a line,
// "/usr/bin/foo", a directory with a trailing slash, a symlink as
// "/usr/lib/libz.so -> libz.so.1", sorted by path (bytewise), each line
// ending in a newline. The listings table keeps it zstd-compressed beside
// the records, written with them in one transaction (PutPackage), so that
// lpm files of a 20,000-file package reads one row instead of every record
// (as dpkg -L reads one .list file); the records stay the truth for every
// other question. A package's listing is one zstd frame with its checksum.

// listingEncoder compresses listings: fast, as it runs on every install
// and upgrade, and a window of 128 KiB bounds what reading one takes.
var listingEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(128<<10), zstd.WithLowerEncoderMem(true))
})

// listingLine appends the line of one record to b.
func listingLine(b []byte, path, typ, link string) []byte {
	b = append(b, '/')
	b = append(b, path...)
	switch typ {
	case "dir":
		b = append(b, '/')
	case "symlink":
		b = append(b, " -> "...)
		b = append(b, link...)
	}
	return append(b, '\n')
}

// packListing compresses the listing of files, the whole of a package.
func packListing(files []File) ([]byte, error) {
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	if !slices.IsSortedFunc(order, func(a, b int) int { return strings.Compare(files[a].Path, files[b].Path) }) {
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(files[a].Path, files[b].Path) })
	}
	size := 0
	for i := range files {
		size += len(files[i].Path) + len(files[i].Link) + 6
	}
	text := make([]byte, 0, size)
	for _, i := range order {
		text = listingLine(text, files[i].Path, files[i].Type, files[i].Link)
	}
	enc, err := listingEncoder()
	if err != nil {
		return nil, err
	}
	return enc.EncodeAll(text, nil), nil
}

// FileList writes to w the listing of package name (see the top of this
// file). An error wraps ErrNotInstalled when the package is not installed.
func (db *DB) FileList(name string, w io.Writer) error {
	var packed []byte
	var records bytes.Buffer
	err := db.read("listing files of "+name, func(tx *sql.Tx) error {
		err := tx.QueryRow(`SELECT l.listing FROM packages p LEFT JOIN listings l ON l.package = p.name WHERE p.name = ?`, name).Scan(&packed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("package %s: %w", name, ErrNotInstalled)
		}
		if err == nil && packed == nil {
			// No listing, which PutPackage always writes: the records
			// have it all the same.
			return listFromRecords(tx, name, &records)
		}
		return err
	})
	if err != nil {
		return err
	}
	if packed == nil {
		_, err := w.Write(records.Bytes())
		return err
	}
	// Decoded as it is written out: a window of the listing in memory,
	// not all of it. A damaged listing fails its checksum, at the end.
	dec, err := zstd.NewReader(bytes.NewReader(packed), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(8<<20))
	if err != nil {
		return err
	}
	defer dec.Close()
	out := &writeErr{w: w}
	if _, err := dec.WriteTo(out); err != nil {
		if out.err != nil {
			return out.err
		}
		return fmt.Errorf("database %s: the listing of %s is damaged (%v): lpm repair %s records it again", db.path, name, err, name)
	}
	return nil
}

// writeErr keeps the error of the writer it passes writes to, which tells
// a failed write from a listing that fails to decode.
type writeErr struct {
	w   io.Writer
	err error
}

func (e *writeErr) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// rowQuerier is what listFromRecords reads through: a read transaction,
// or the connection a migration runs on.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// listFromRecords writes the listing of package name from its records:
// what a migration stores for a package recorded before listings were.
// SQLite gives the records in one row as they are stored, and each of
// their directories once, and inPathOrder merges them into path order.
func listFromRecords(q rowQuerier, name string, w io.Writer) error {
	ctx := context.Background()
	// In the order the records are stored: their directories' ids, then
	// each record's base name and the rest of its line, a NUL after each
	// (no path or link holds one).
	var n int
	var dirIDs, entries, dirs string
	err := q.QueryRowContext(ctx, `SELECT count(*), coalesce(group_concat(f.dir), ''),
		coalesce(group_concat(f.name || char(0) || CASE f.type WHEN 'dir' THEN '/' WHEN 'symlink' THEN ' -> ' || f.link ELSE '' END, char(0)), '')
		FROM files f WHERE f.package = ?`, name).Scan(&n, &dirIDs, &entries)
	if err != nil || n == 0 {
		return err
	}
	err = q.QueryRowContext(ctx, `SELECT coalesce(group_concat(d.id || char(0) || d.path, char(0)), '')
		FROM json_each(?) j JOIN dirs d ON d.id = j.value`, "["+distinctIDs(dirIDs)+"]").Scan(&dirs)
	if err != nil {
		return err
	}
	damaged := fmt.Errorf("listing files of %s: its records do not line up (a damaged database?): run lpm rebuild-db", name)

	pathOf := make(map[string]string)
	for rest, more := dirs, true; more; {
		var id, path string
		id, rest, _ = strings.Cut(rest, "\x00")
		path, rest, more = strings.Cut(rest, "\x00")
		pathOf[id] = path
	}

	// Entry i's base name is entries[at[2i]:at[2i+1]-1] and the rest of
	// its line entries[at[2i+1]:at[2i+2]-1].
	at := make([]int32, 1, 2*n+1)
	for i := 0; ; {
		nul := strings.IndexByte(entries[i:], 0)
		if nul < 0 {
			break
		}
		i += nul + 1
		at = append(at, int32(i))
	}
	at = append(at, int32(len(entries)+1))
	if len(at) != 2*n+1 {
		return damaged
	}
	baseName := func(i int) string { return entries[at[2*i] : at[2*i+1]-1] }
	rest := func(i int) string { return entries[at[2*i+1] : at[2*i+2]-1] }

	// Each directory's entries as stored, checked to be sorted by name.
	var groups []dirGroup
	asStored := true
	ids, last := dirIDs, ""
	for i := 0; i < n; i++ {
		var id string
		var more bool
		id, ids, more = strings.Cut(ids, ",")
		if more != (i < n-1) {
			return damaged
		}
		if i > 0 && id == last {
			groups[len(groups)-1].end = i + 1
			asStored = asStored && baseName(i-1) < baseName(i)
			continue
		}
		dir, ok := pathOf[id]
		if !ok {
			return damaged
		}
		groups = append(groups, dirGroup{dir, i, i + 1})
		last = id
	}

	var werr error
	buf := make([]byte, 0, 64<<10)
	write := func(dir string, first, end int) {
		for i := first; i < end && werr == nil; i++ {
			buf = append(buf, '/')
			buf = append(buf, dir...)
			buf = append(buf, baseName(i)...)
			buf = append(buf, rest(i)...)
			buf = append(buf, '\n')
			if len(buf) >= 60<<10 {
				_, werr = w.Write(buf)
				buf = buf[:0]
			}
		}
	}
	if !asStored || !inPathOrder(groups, baseName, write) {
		// Not in the order records are stored after all: sort them.
		dirOf := make([]string, n)
		for _, g := range groups {
			for i := g.first; i < g.end; i++ {
				dirOf[i] = g.dir
			}
		}
		for _, i := range sortedOrder(n, func(i int) (string, string) { return dirOf[i], baseName(i) }) {
			write(dirOf[i], i, i+1)
		}
	}
	if werr == nil && len(buf) > 0 {
		_, werr = w.Write(buf)
	}
	return werr
}

// distinctIDs is a list of ids as group_concat gives it ("1,1,1,5,5,7")
// without its repeats ("1,5,7"), the ids of a package's directories: its
// records come grouped by directory.
func distinctIDs(list string) string {
	var out []byte
	last := ""
	for id := range strings.SplitSeq(list, ",") {
		if id != last {
			if out != nil {
				out = append(out, ',')
			}
			out = append(out, id...)
			last = id
		}
	}
	return string(out)
}

// convertListings is step 9's conversion: the listing of every package,
// from its records.
func convertListings(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, "SELECT name FROM packages ORDER BY name")
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	enc, err := listingEncoder()
	if err != nil {
		return err
	}
	for _, name := range names {
		var list bytes.Buffer
		if err := listFromRecords(conn, name, &list); err != nil {
			return fmt.Errorf("package %s: %w", name, err)
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO listings (package, listing) VALUES (?, ?)", name, enc.EncodeAll(list.Bytes(), nil)); err != nil {
			return fmt.Errorf("the listing of package %s: %w", name, err)
		}
	}
	return nil
}
