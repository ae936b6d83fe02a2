package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// decodingAhead reports whether a goroutine is decompressing frames ahead
// of a walk.
func decodingAhead() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "archive.(*frameStream).decode")
}

// waitUntil polls cond for up to ten seconds.
func waitUntil(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// wantOnly marks the entries of m at paths.
func wantOnly(m *Manifest, paths ...string) []bool {
	want := make([]bool, len(m.Entries))
	for _, p := range paths {
		want[entryIndex(m, p)] = true
	}
	return want
}

// A walk that wants few of the entries (an upgrade's) has the frames
// holding them decompressed in a goroutine, ahead of the entries it hands
// over; a walk that wants them all (an install's) reads the stream itself.
// Either way no goroutine outlives the walk.
func TestAWalkOfFewEntriesDecompressesAheadOfItsCaller(t *testing.T) {
	path, m := framedArchive(t, 24)
	r, err := Open(path)
	mustDo(t, err)
	defer r.Close()
	// One file of every three, each in a frame of its own: more than the
	// chunks the decoding may hold, so it is still at work when the
	// first is handed over.
	var wanted []string
	for i := 0; i < 24; i += 3 {
		wanted = append(wanted, fmt.Sprintf("usr/share/big/f%03d", i))
	}
	ahead := false
	err = r.WalkOnly(wantOnly(m, wanted...), func(e Entry, content io.Reader) error {
		if e.Path == wanted[0] {
			ahead = waitUntil(decodingAhead)
		}
		_, err := io.Copy(io.Discard, content)
		return err
	})
	mustDo(t, err)
	if !ahead {
		t.Errorf("no goroutine decompressed ahead of a walk wanting %d of its %d entries", len(wanted), len(m.Entries))
	}
	if !waitUntil(func() bool { return !decodingAhead() }) {
		t.Error("a goroutine still decompresses after the walk returned")
	}
	mustDo(t, r.Walk(func(e Entry, content io.Reader) error {
		if decodingAhead() {
			return errors.New("a walk of every entry decompresses in a goroutine")
		}
		_, err := io.Copy(io.Discard, content)
		return err
	}))
}

// A damaged frame read ahead is still a one-line error naming the
// archive, and so is one the caller gives up at; the decoding stops with
// the walk either way.
func TestADamagedFrameReadAheadIsAnErrorNamingTheArchive(t *testing.T) {
	path, m := framedArchive(t, 8)
	r, err := Open(path)
	mustDo(t, err)
	fr := r.frames[len(r.frames)/2]
	r.Close()
	data, err := os.ReadFile(path)
	mustDo(t, err)
	data[fr.offset+fr.size/2] ^= 0xff
	mustDo(t, os.WriteFile(path, data, 0o644))
	var wanted []string
	for _, e := range m.Entries {
		if e.Type == TypeFile && len(wanted) < 3 {
			wanted = append(wanted, e.Path)
		}
	}
	wanted = append(wanted, m.Entries[fr.first-1].Path) // the damaged frame's entry

	r, err = Open(path)
	mustDo(t, err)
	defer r.Close()
	err = r.WalkOnly(wantOnly(m, wanted...), func(e Entry, content io.Reader) error {
		_, err := io.Copy(io.Discard, content)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("walking an archive with a damaged frame: %v", err)
	}
	stop := errors.New("the caller stops")
	if err := r.WalkOnly(wantOnly(m, wanted...), func(Entry, io.Reader) error { return stop }); err != stop {
		t.Errorf("a walk whose caller stops returned %v", err)
	}
	if !waitUntil(func() bool { return !decodingAhead() }) {
		t.Error("a goroutine still decompresses after the walks returned")
	}
}

// Decompressed ahead, a frame's stream skips forward without copying what
// it passes (archive/tar skips unwanted content so), stops at the frame's
// end, and reads on from where it stopped; the bytes are those a plain
// read gives.
func TestAStreamDecompressedAheadSkipsForwardWithinAFrame(t *testing.T) {
	saved := frameTarget
	frameTarget = 600 << 10 // frames of a file each, of 3 chunks
	t.Cleanup(func() { frameTarget = saved })
	path := filepath.Join(t.TempDir(), "big-1.0-1.lpm")
	_, err := Create(path, framedStaging(t, 3), Manifest{Name: "big", Version: "1.0", Release: 1})
	mustDo(t, err)
	r, err := Open(path)
	mustDo(t, err)
	defer r.Close()
	k := 1 // a frame holding one file
	plain := r.streamFrames([]int{k}, false)
	whole, err := io.ReadAll(plain)
	plain.close()
	mustDo(t, err)
	if _, err := plain.Seek(0, io.SeekCurrent); err == nil {
		t.Error("a stream read as it decompresses can seek")
	}

	s := r.streamFrames([]int{k}, true)
	defer s.close()
	const skip = aheadChunk + 1000 // past the first chunk
	if pos, err := s.Seek(skip, io.SeekCurrent); err != nil || pos != skip {
		t.Fatalf("Seek(%d) = %d, %v", skip, pos, err)
	}
	rest, err := io.ReadAll(s)
	mustDo(t, err)
	if !bytes.Equal(rest, whole[skip:]) {
		t.Errorf("after skipping %d bytes the stream gave %d bytes, not the %d that follow", skip, len(rest), len(whole)-skip)
	}
	if pos, err := s.Seek(1, io.SeekCurrent); err != nil || pos != int64(len(whole)) {
		t.Errorf("a skip past the frame's end went to %d (%v), want its end at %d", pos, err, len(whole))
	}
}
