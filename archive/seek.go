package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// The seek table (doc.go, "Seek table"): where each zstd frame of an
// archive lies and which tar member it starts with, so that a reader can
// decompress only the frames holding the entries it wants.

// frameTarget is how much tar stream the writer puts in a zstd frame
// before it ends it at the next entry boundary. Every frame starts without
// history, which costs ratio for the first window of each: tried with
// 8 MiB windows on /usr/include (121 MB of tar, 12.09 MB as one frame),
// frames of 8, 16 and 32 MiB made it 8.0%, 3.7% and 2.3% larger, 1 MiB
// 60%; on Go's tools (65 MB of binaries) 7.5%, 3.3% and 0.3%. So
// frames are large, and only big packages have more than one: an upgrade
// skips the unchanged stretches of those. Tests lower it.
var frameTarget int64 = 32 << 20

// seekMagic is the skippable frame's magic number (RFC 8878 3.1.2 leaves
// 0x184D2A50-0x184D2A5F to applications; zstd's own seekable format uses
// ...5E).
const seekMagic = 0x184D2A5C

// seekFooter ends the table, so a reader finds it from the end of the file.
const seekFooter = "lpm-seek"

const (
	seekRecordSize = 24                  // three uint64s
	seekTailSize   = 4 + len(seekFooter) // frame count, footer
	seekHeaderSize = 8                   // skippable magic and size
)

// frame is one record of the table.
type frame struct {
	offset  int64 // in the file; the sum of the sizes before it
	size    int64 // compressed bytes
	content int64 // tar stream bytes it decompresses to
	first   int   // tar member it starts with: 0 is .MANIFEST, i+1 entries[i]
}

// encodeSeekTable is the skippable frame describing frames.
func encodeSeekTable(frames []frame) []byte {
	payload := len(frames)*seekRecordSize + seekTailSize
	b := make([]byte, 0, seekHeaderSize+payload)
	b = binary.LittleEndian.AppendUint32(b, seekMagic)
	b = binary.LittleEndian.AppendUint32(b, uint32(payload))
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint64(b, uint64(f.size))
		b = binary.LittleEndian.AppendUint64(b, uint64(f.content))
		b = binary.LittleEndian.AppendUint64(b, uint64(f.first))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(frames)))
	return append(b, seekFooter...)
}

// errNoSeekTable: the archive has no table (an older archive, or one of a
// single frame); it is read as one stream.
var errNoSeekTable = errors.New("no seek table")

// findSeekTable reads the footer at the end of f: how many records the
// table has and where it starts, which is where the compressed stream
// ends. Without a table (errNoSeekTable) the stream ends with the file.
func findSeekTable(f *os.File) (n int, start int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size := fi.Size()
	if size < int64(seekHeaderSize+seekTailSize) {
		return 0, size, errNoSeekTable
	}
	var tail [seekTailSize]byte
	if _, err := f.ReadAt(tail[:], size-int64(seekTailSize)); err != nil {
		return 0, 0, fmt.Errorf("cannot read its end: %v", err)
	}
	if string(tail[4:]) != seekFooter {
		return 0, size, errNoSeekTable
	}
	count := int64(binary.LittleEndian.Uint32(tail[:4]))
	start = size - int64(seekHeaderSize) - count*seekRecordSize - int64(seekTailSize)
	if count == 0 || start < 0 {
		return 0, 0, fmt.Errorf("the seek table claims %d frames, which the file cannot hold", count)
	}
	return int(count), start, nil
}

// readSeekTable reads the n records of the table at start and checks
// them: the frames cover the file up to the table exactly, in order, each
// starting with a later member than the one before and none past the
// manifest's entries. As every frame starts with a different member, a
// table cannot have more records than the manifest has entries and one,
// which bounds what a hostile count makes it read.
func readSeekTable(f *os.File, n int, start int64, entries int) ([]frame, error) {
	if n > entries+1 {
		return nil, fmt.Errorf("the seek table claims %d frames for %d entries", n, entries)
	}
	payload := n*seekRecordSize + seekTailSize
	buf := make([]byte, seekHeaderSize+n*seekRecordSize)
	if _, err := f.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("cannot read the seek table: %v", err)
	}
	if binary.LittleEndian.Uint32(buf) != seekMagic || binary.LittleEndian.Uint32(buf[4:]) != uint32(payload) {
		return nil, errors.New("the seek table does not start with the skippable frame header its footer implies")
	}
	frames := make([]frame, n)
	var offset int64
	for i := range frames {
		rec := buf[seekHeaderSize+i*seekRecordSize:]
		fsize, content, first := binary.LittleEndian.Uint64(rec), binary.LittleEndian.Uint64(rec[8:]), binary.LittleEndian.Uint64(rec[16:])
		switch {
		case fsize == 0 || fsize > uint64(start-offset):
			return nil, fmt.Errorf("the seek table puts frame %d past the end of the compressed stream", i)
		case content == 0 || content > math.MaxInt64:
			return nil, fmt.Errorf("the seek table gives frame %d an impossible size of %d bytes", i, content)
		case i == 0 && first != 0:
			return nil, errors.New("the seek table's first frame does not start with .MANIFEST")
		case i > 0 && first <= uint64(frames[i-1].first):
			return nil, fmt.Errorf("the seek table's frame %d does not start after frame %d", i, i-1)
		case first > uint64(entries):
			return nil, fmt.Errorf("the seek table starts frame %d at member %d, and the manifest has %d entries", i, first, entries)
		}
		frames[i] = frame{offset: offset, size: int64(fsize), content: int64(content), first: int(first)}
		offset += int64(fsize)
	}
	if offset != start {
		return nil, fmt.Errorf("the seek table's frames end at byte %d, the table starts at %d", offset, start)
	}
	return frames, nil
}

// framedWriter is the compressed stream of a new archive: it feeds the
// tar writer's output to a zstd encoder and, when cut, ends the frame and
// starts the next, recording each in the table.
type framedWriter struct {
	file    countingWriter
	enc     encoder
	frames  []frame
	content int64 // tar bytes in the current frame
}

// encoder is the part of *zstd.Encoder framedWriter uses.
type encoder interface {
	io.WriteCloser
	Reset(io.Writer)
}

func (w *framedWriter) Write(p []byte) (int, error) {
	n, err := w.enc.Write(p)
	w.content += int64(n)
	return n, err
}

// cut ends the current frame (unless it is empty) and starts a new one
// that begins with tar member first.
func (w *framedWriter) cut(first int) error {
	if err := w.close(); err != nil {
		return err
	}
	w.enc.Reset(&w.file)
	w.frames = append(w.frames, frame{offset: w.file.n, first: first})
	w.content = 0
	return nil
}

// close ends the current frame.
func (w *framedWriter) close() error {
	if err := w.enc.Close(); err != nil {
		return err
	}
	f := &w.frames[len(w.frames)-1]
	f.size, f.content = w.file.n-f.offset, w.content
	return nil
}

// countingWriter counts what it passes on.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
