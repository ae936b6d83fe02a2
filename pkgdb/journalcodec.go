package pkgdb

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A journal is stored in chunks (table journal_chunks, schema 11): each
// row holds the next entries of one transaction, encoded one after
// another into one BLOB. A row per entry, as before, cost 20,000 rows of
// a table and its key index for a big package, written before the first
// file changed and deleted when the transaction closed; a chunk is a few
// rows of mostly overflow pages.
//
// A chunk is the format byte (journalFormat), then its entries:
//
//	op      one byte: its code in journalOps, or 0 followed by the op's
//	        length (uvarint) and bytes, for an op not in the table
//	path    the length of the prefix it shares with the previous
//	        entry's path ("" for a chunk's first entry), then the length
//	        and bytes of the rest (uvarints, then bytes)
//	temp    the same, sharing a prefix with this entry's path
//	backup  the same, sharing a prefix with this entry's path
//
// Paths are bytes, so a path that is not UTF-8 (an adopted file's) comes
// back as it went in. A journal goes directory by directory, and temp
// and backup names lie beside their path, so the shared prefixes make a
// chunk about a third of its entries' text: the bench's L package's
// 21,666 entries (1.0 MB of text) are 390 KB in 6 chunks, where their
// rows took 1.6 MB of table and index pages.
const journalFormat = 1

// journalOps are the op codes of the chunk encoding. Never change a
// code: chunks written with it may wait in a crashed root's database.
var journalOps = [...]string{1: "mkdir", 2: "replace", 3: "remove", 4: "save", 5: "rmdir", 6: "todir", 7: "fromdir"}

// journalChunkBytes is the size past which a chunk is written and the
// next begun: sixteen pages of overflow, a few rows for a 20,000-path
// journal, and a buffer that stays small whatever the journal's size.
const journalChunkBytes = 64 << 10

// minEntryBytes is the least one encoded entry takes (an op code, and two
// zero lengths for each of three names), which bounds how many entries a
// chunk of a given size can claim to hold.
const minEntryBytes = 7

// appendJournalEntry encodes e after prev (the previous entry of the
// chunk, or an empty one to begin a chunk).
func appendJournalEntry(buf []byte, prev, e JournalEntry) []byte {
	code := byte(0)
	for i, op := range journalOps {
		if i > 0 && op == e.Op {
			code = byte(i)
			break
		}
	}
	buf = append(buf, code)
	if code == 0 {
		buf = binary.AppendUvarint(buf, uint64(len(e.Op)))
		buf = append(buf, e.Op...)
	}
	buf = appendShared(buf, prev.Path, e.Path)
	buf = appendShared(buf, e.Path, e.Temp)
	return appendShared(buf, e.Path, e.Backup)
}

// appendShared encodes s as the length of the prefix it shares with ref
// and the rest of it.
func appendShared(buf []byte, ref, s string) []byte {
	n := 0
	for n < len(ref) && n < len(s) && ref[n] == s[n] {
		n++
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	buf = binary.AppendUvarint(buf, uint64(len(s)-n))
	return append(buf, s[n:]...)
}

// decodeJournalChunk appends the entries of one chunk to entries. The
// bytes come from the database and are checked as untrusted: a length
// past the chunk's end, a shared prefix longer than what it refers to or
// an unknown op code is an error (saying at which byte), never a panic,
// and nothing is allocated beyond what the chunk's bytes can hold.
func decodeJournalChunk(entries []JournalEntry, data []byte) ([]JournalEntry, error) {
	d := chunkDecoder{data: data}
	if len(data) == 0 || data[0] != journalFormat {
		return entries, errors.New("not a journal chunk of a format this lpm knows")
	}
	d.pos = 1
	var prev JournalEntry
	for d.pos < len(d.data) {
		var e JournalEntry
		start := d.pos
		code := d.data[d.pos]
		d.pos++
		switch {
		case code == 0:
			e.Op = string(d.bytes())
		case int(code) < len(journalOps):
			e.Op = journalOps[code]
		default:
			return entries, fmt.Errorf("entry at byte %d: unknown op code %d", start, code)
		}
		e.Path = d.shared(prev.Path)
		e.Temp = d.shared(e.Path)
		e.Backup = d.shared(e.Path)
		if d.err != nil {
			return entries, fmt.Errorf("entry at byte %d: %w", start, d.err)
		}
		entries = append(entries, e)
		prev = e
	}
	return entries, nil
}

// chunkDecoder reads a chunk's fields; the first error stops it, and
// every later read returns "".
type chunkDecoder struct {
	data []byte
	pos  int
	err  error
}

// uvarint reads one length.
func (d *chunkDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data[d.pos:])
	if n <= 0 {
		d.err = fmt.Errorf("byte %d: a damaged length", d.pos)
		return 0
	}
	d.pos += n
	return v
}

// bytes reads a length and that many bytes, which stay the chunk's.
func (d *chunkDecoder) bytes() []byte {
	at := d.pos
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.data)-d.pos) {
		d.err = fmt.Errorf("byte %d: a name of %d bytes, past the chunk's end (%d bytes left)", at, n, len(d.data)-d.pos)
		return nil
	}
	b := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b
}

// shared reads a name encoded by appendShared against ref.
func (d *chunkDecoder) shared(ref string) string {
	at := d.pos
	n := d.uvarint()
	if d.err == nil && n > uint64(len(ref)) {
		d.err = fmt.Errorf("byte %d: a prefix of %d bytes shared with a name of %d", at, n, len(ref))
	}
	rest := d.bytes()
	if d.err != nil {
		return ""
	}
	return ref[:n] + string(rest) // one allocation: Go converts rest in place
}
