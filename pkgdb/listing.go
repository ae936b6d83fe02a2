package pkgdb

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"iter"
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

// listingEncoders compress listings as they are written, so that the
// listing of a big package is never in memory whole: fast, as it runs on
// every install and upgrade, and a window of 128 KiB bounds what reading
// one takes. An encoder is reused, one writer at a time.
var listingEncoders = sync.Pool{New: func() any {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(128<<10), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return err
	}
	return enc
}}

// A listItem is what a listing's line needs of a record.
type listItem struct {
	path, link string // link only for a symlink
	dir        bool
}

// writeListing writes the listing of files, the whole of a package, to
// w. Files in path order (a caller's sorted slice, the records) go
// straight out; in any other order (an archive's, where "a/b" comes
// before "a-b") what each line needs is kept and sorted first: 40 bytes a
// record, the strings shared with the caller's.
func writeListing(w io.Writer, files iter.Seq[File]) error {
	sorted, n, last := true, 0, ""
	for f := range files {
		if n > 0 && f.Path <= last {
			sorted = false
			break
		}
		n, last = n+1, f.Path
	}
	var items []listItem
	if !sorted {
		for f := range files {
			it := listItem{path: f.Path, dir: f.Type == "dir"}
			if f.Type == "symlink" {
				it.link = f.Link
			}
			items = append(items, it)
		}
		slices.SortFunc(items, func(a, b listItem) int { return strings.Compare(a.path, b.path) })
	}
	line := make([]byte, 0, 4096)
	write := func(it listItem) error {
		line = append(line[:0], '/')
		line = append(line, it.path...)
		if it.dir {
			line = append(line, '/')
		} else if it.link != "" {
			line = append(line, " -> "...)
			line = append(line, it.link...)
		}
		line = append(line, '\n')
		_, err := w.Write(line)
		return err
	}
	if !sorted {
		for _, it := range items {
			if err := write(it); err != nil {
				return err
			}
		}
		return nil
	}
	for f := range files {
		it := listItem{path: f.Path, dir: f.Type == "dir"}
		if f.Type == "symlink" {
			it.link = f.Link
		}
		if err := write(it); err != nil {
			return err
		}
	}
	return nil
}

// packListing is the listing of files compressed, as the listings table
// keeps it.
func packListing(files iter.Seq[File]) ([]byte, error) {
	got := listingEncoders.Get()
	enc, ok := got.(*zstd.Encoder)
	if !ok {
		return nil, got.(error)
	}
	defer listingEncoders.Put(enc)
	var packed bytes.Buffer
	enc.Reset(&packed)
	// Lines reach the encoder in 64 KiB pieces, not one at a time.
	buf := bufio.NewWriterSize(enc, 64<<10)
	err := writeListing(buf, files)
	if err == nil {
		err = buf.Flush()
	}
	if err == nil {
		err = enc.Close()
	}
	return packed.Bytes(), err
}

// FileList writes to w the listing of package name (see the top of this
// file). An error wraps ErrNotInstalled when the package is not installed.
func (db *DB) FileList(name string, w io.Writer) error {
	var packed []byte
	var records []File
	err := db.read("listing files of "+name, func(tx *sql.Tx) error {
		err := tx.QueryRow(`SELECT l.listing FROM packages p LEFT JOIN listings l ON l.package = p.name WHERE p.name = ?`, name).Scan(&packed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("package %s: %w", name, ErrNotInstalled)
		}
		if err == nil && packed == nil {
			// No listing, which PutPackage always writes: the records
			// have it all the same.
			records, err = queryFiles(tx, name, false)
		}
		return err
	})
	if err != nil {
		return err
	}
	if packed == nil {
		buf := bufio.NewWriterSize(w, 64<<10)
		if err := writeListing(buf, slices.Values(records)); err != nil {
			return err
		}
		return buf.Flush()
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

// convertListings is step 9's conversion: the listing of every package,
// from its records (a Go value per record, as this runs once).
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
	for _, name := range names {
		files, err := queryFiles(connQuerier{conn}, name, false)
		if err != nil {
			return fmt.Errorf("package %s: %w", name, err)
		}
		listing, err := packListing(slices.Values(files))
		if err == nil {
			_, err = conn.ExecContext(ctx, "INSERT INTO listings (package, listing) VALUES (?, ?)", name, listing)
		}
		if err != nil {
			return fmt.Errorf("the listing of package %s: %w", name, err)
		}
	}
	return nil
}
