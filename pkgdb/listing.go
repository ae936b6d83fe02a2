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

// listingText is the listing of files, the whole of a package.
func listingText(files []File) []byte {
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	byPath := func(a, b int) int { return strings.Compare(files[a].Path, files[b].Path) }
	if !slices.IsSortedFunc(order, byPath) {
		slices.SortFunc(order, byPath)
	}
	size := 0
	for i := range files {
		size += len(files[i].Path) + len(files[i].Link) + 6
	}
	text := make([]byte, 0, size)
	for _, i := range order {
		text = listingLine(text, files[i].Path, files[i].Type, files[i].Link)
	}
	return text
}

// packListing is the listing of files compressed, as the listings table
// keeps it.
func packListing(files []File) ([]byte, error) {
	enc, err := listingEncoder()
	if err != nil {
		return nil, err
	}
	return enc.EncodeAll(listingText(files), nil), nil
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
		_, err := w.Write(listingText(records))
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
		listing, err := packListing(files)
		if err == nil {
			_, err = conn.ExecContext(ctx, "INSERT INTO listings (package, listing) VALUES (?, ?)", name, listing)
		}
		if err != nil {
			return fmt.Errorf("the listing of package %s: %w", name, err)
		}
	}
	return nil
}
