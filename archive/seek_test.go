package archive

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// framedStaging makes a staging tree of n files, each of a size that
// ends a zstd frame (frameTarget), with content that does not compress,
// plus a directory and a link.
func framedStaging(t testing.TB, n int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "staging")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		body := make([]byte, frameTarget+int64(i)*100)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		mustWrite(t, filepath.Join(root, fmt.Sprintf("usr/share/big/f%03d", i)), string(body), 0o644)
	}
	mustDo(t, os.Symlink("f000", filepath.Join(root, "usr/share/big/link")))
	return root
}

// smallFrames lowers the frame target for one test, so that a small
// archive has many frames.
func smallFrames(t testing.TB) {
	saved := frameTarget
	frameTarget = 64 << 10
	t.Cleanup(func() { frameTarget = saved })
}

func framedArchive(t testing.TB, n int) (string, *Manifest) {
	t.Helper()
	smallFrames(t)
	out := filepath.Join(t.TempDir(), "big-1.0-1.lpm")
	m, err := Create(out, framedStaging(t, n), Manifest{Name: "big", Version: "1.0", Release: 1})
	mustDo(t, err)
	return out, m
}

// A package larger than one frame is cut into frames at entry boundaries,
// each listed in the seek table at the end with the member it starts with;
// the archive stays byte-identical from the same tree.
func TestALargeArchiveIsCutIntoFramesAtEntriesAndIndexed(t *testing.T) {
	path, m := framedArchive(t, 8)
	r, err := Open(path)
	mustDo(t, err)
	defer r.Close()
	// .MANIFEST, the directories and f000 share the first frame; then
	// one frame per file, and one for the link.
	if len(r.frames) != 9 {
		t.Fatalf("%d frames, want 9: %+v", len(r.frames), r.frames)
	}
	for k, f := range r.frames[1:] {
		want := fmt.Sprintf("usr/share/big/f%03d", k+1)
		if k == 7 {
			want = "usr/share/big/link"
		}
		if e := m.Entries[f.first-1]; e.Path != want {
			t.Errorf("frame %d starts with %s, want %s", k+1, e.Path, want)
		}
	}
	again := filepath.Join(t.TempDir(), "again.lpm")
	_, err = Create(again, framedStaging(t, 8), Manifest{Name: "big", Version: "1.0", Release: 1})
	mustDo(t, err)
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Errorf("two archives of the same tree differ")
	}
	mustDo(t, Verify(path))
}

// zstd itself reads an archive with a seek table as one tar stream: the
// table is a skippable frame.
func TestZstdAndTarReadAnArchiveWithASeekTable(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("no zstd")
	}
	path, m := framedArchive(t, 4)
	out, err := exec.Command("sh", "-c", "zstd -dc < "+path+" | tar -t").CombinedOutput()
	if err != nil {
		t.Fatalf("zstd -dc | tar -t: %v: %s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(m.Entries)+1 || got[len(got)-1] != m.Entries[len(m.Entries)-1].Path {
		t.Errorf("tar lists %v", got)
	}
}

// WalkOnly decompresses only the frames holding the wanted entries and
// hands over only those, verified.
func TestWalkOnlyDecompressesOnlyTheFramesHoldingWantedEntries(t *testing.T) {
	path, m := framedArchive(t, 8)
	r, err := Open(path)
	mustDo(t, err)
	defer r.Close()
	want := make([]bool, len(m.Entries))
	var wanted []string
	for i, e := range m.Entries {
		if e.Path == "usr/share/big/f003" || e.Path == "usr/share/big/f005" {
			want[i] = true
			wanted = append(wanted, e.Path)
		}
	}
	var got []string
	err = r.WalkOnly(want, func(e Entry, content io.Reader) error {
		data, err := io.ReadAll(content)
		if int64(len(data)) != e.Size {
			t.Errorf("%s: %d bytes of %d", e.Path, len(data), e.Size)
		}
		got = append(got, e.Path)
		return err
	})
	mustDo(t, err)
	if fmt.Sprint(got) != fmt.Sprint(wanted) {
		t.Errorf("WalkOnly gave %v, want %v", got, wanted)
	}
	var two int64
	for _, f := range r.frames {
		if f.first == entryIndex(m, "usr/share/big/f003")+1 || f.first == entryIndex(m, "usr/share/big/f005")+1 {
			two += f.content
		}
	}
	if r.Decompressed() != two {
		t.Errorf("WalkOnly decompressed %d bytes, want the %d of the two frames", r.Decompressed(), two)
	}
	mustDo(t, r.Walk(func(Entry, io.Reader) error { return nil }))
	var all int64
	for _, f := range r.frames {
		all += f.content
	}
	if r.Decompressed()-two != all {
		t.Errorf("Walk decompressed %d bytes, want all %d", r.Decompressed()-two, all)
	}
}

func entryIndex(m *Manifest, p string) int {
	for i, e := range m.Entries {
		if e.Path == p {
			return i
		}
	}
	return -1
}

// An archive of one stream (every archive before seek tables, and every
// small one) is read whole by WalkOnly, which still hands over only what
// is wanted.
func TestWalkOnlyReadsAnArchiveWithoutASeekTableWhole(t *testing.T) {
	smallFrames(t)
	path := filepath.Join(t.TempDir(), "evil.lpm")
	big := strings.Repeat("x", int(frameTarget)*2)
	m := baseManifest(dir("usr"), file("usr/a", big), file("usr/b", "bee\n"), file("usr/c", big))
	writeRaw(t, path, mustJSON(t, m), []rawEntry{
		{hdr: tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "usr/a", Typeflag: tar.TypeReg, Mode: 0o644}, body: big},
		{hdr: tar.Header{Name: "usr/b", Typeflag: tar.TypeReg, Mode: 0o644}, body: "bee\n"},
		{hdr: tar.Header{Name: "usr/c", Typeflag: tar.TypeReg, Mode: 0o644}, body: big},
	}, nil)
	r, err := Open(path)
	mustDo(t, err)
	defer r.Close()
	if r.frames != nil {
		t.Fatalf("an archive of one stream has frames %+v", r.frames)
	}
	var got []string
	err = r.WalkOnly([]bool{false, false, true, false}, func(e Entry, content io.Reader) error {
		data, _ := io.ReadAll(content)
		got = append(got, e.Path+"="+string(data))
		return nil
	})
	mustDo(t, err)
	if fmt.Sprint(got) != "[usr/b=bee\n]" {
		t.Errorf("WalkOnly gave %q", got)
	}
}

// rewriteTable replaces the seek table of the archive at path with what
// change makes of its records (size, content, first member of each frame).
func rewriteTable(t *testing.T, path string, change func(recs [][3]uint64) [][3]uint64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	mustDo(t, err)
	n := int(binary.LittleEndian.Uint32(raw[len(raw)-seekTailSize:]))
	start := len(raw) - seekTailSize - n*seekRecordSize - seekHeaderSize
	var recs [][3]uint64
	for i := range n {
		b := raw[start+seekHeaderSize+i*seekRecordSize:]
		recs = append(recs, [3]uint64{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])})
	}
	recs = change(recs)
	frames := make([]frame, len(recs))
	for i, r := range recs {
		frames[i] = frame{size: int64(r[0]), content: int64(r[1]), first: int(r[2])}
	}
	mustDo(t, os.WriteFile(path, append(raw[:start:start], encodeSeekTable(frames)...), 0o644))
}

// A seek table is hostile input like the rest: one that lies in any way
// is an error naming the archive, found when it is opened or when the
// frames it misplaces are read, never a wrong file, a panic or an
// allocation the file's size does not bound.
func TestHostileSeekTablesAreRejected(t *testing.T) {
	tests := []struct {
		name   string
		change func(recs [][3]uint64) [][3]uint64 // nil: edit the bytes below
		edit   func(raw []byte) []byte
		atOpen bool
		want   string
	}{
		{name: "a frame count past the file", atOpen: true, want: "claims",
			edit: func(raw []byte) []byte {
				binary.LittleEndian.PutUint32(raw[len(raw)-seekTailSize:], 1<<31)
				return raw
			}},
		{name: "a frame count of zero", atOpen: true, want: "claims 0 frames",
			edit: func(raw []byte) []byte {
				binary.LittleEndian.PutUint32(raw[len(raw)-seekTailSize:], 0)
				return raw
			}},
		{name: "one frame fewer than the footer says", atOpen: true, want: "skippable frame header",
			edit: func(raw []byte) []byte {
				n := binary.LittleEndian.Uint32(raw[len(raw)-seekTailSize:])
				binary.LittleEndian.PutUint32(raw[len(raw)-seekTailSize:], n-1)
				return raw
			}},
		{name: "frames ending before the table", atOpen: true, want: "frames end at byte",
			change: func(recs [][3]uint64) [][3]uint64 { recs[2][0]--; return recs }},
		{name: "a frame past the end", atOpen: true, want: "past the end",
			change: func(recs [][3]uint64) [][3]uint64 { recs[2][0] += 1 << 40; return recs }},
		{name: "a frame of no bytes", atOpen: true, want: "past the end",
			change: func(recs [][3]uint64) [][3]uint64 { recs[3][0] = 0; return recs }},
		{name: "an impossible content size", atOpen: true, want: "impossible size",
			change: func(recs [][3]uint64) [][3]uint64 { recs[1][1] = 1 << 63; return recs }},
		{name: "a first frame not at .MANIFEST", atOpen: true, want: "first frame",
			change: func(recs [][3]uint64) [][3]uint64 { recs[0][2] = 1; return recs }},
		{name: "unsorted frames", atOpen: true, want: "does not start after",
			change: func(recs [][3]uint64) [][3]uint64 { recs[2][2], recs[3][2] = recs[3][2], recs[2][2]; return recs }},
		{name: "a member past the manifest", atOpen: true, want: "the manifest has",
			change: func(recs [][3]uint64) [][3]uint64 { recs[len(recs)-1][2] = 500; return recs }},
		{name: "a member far past the manifest", atOpen: true, want: "the manifest has",
			change: func(recs [][3]uint64) [][3]uint64 { recs[len(recs)-1][2] = 1 << 62; return recs }},
		{name: "more frames than members", atOpen: true, want: "claims 20 frames for 12 entries",
			edit: func(raw []byte) []byte {
				binary.LittleEndian.PutUint32(raw[len(raw)-seekTailSize:], 20)
				return raw
			}},
		{name: "frames overlapping", want: "cannot be read",
			change: func(recs [][3]uint64) [][3]uint64 { recs[2][0] += 100; recs[3][0] -= 100; return recs }},
		{name: "a frame starting one member early", want: "frame 0: it holds more tar members",
			change: func(recs [][3]uint64) [][3]uint64 { recs[1][2]--; return recs }},
		{name: "a content size that lies", want: "holds 1 bytes of tar stream",
			change: func(recs [][3]uint64) [][3]uint64 { recs[3][1] = 1; return recs }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, m := framedArchive(t, 8)
			if tt.change != nil {
				rewriteTable(t, path, tt.change)
			} else {
				raw, err := os.ReadFile(path)
				mustDo(t, err)
				mustDo(t, os.WriteFile(path, tt.edit(raw), 0o644))
			}
			r, err := Open(path)
			if err == nil {
				defer r.Close()
				if tt.atOpen {
					t.Fatalf("Open accepted the table")
				}
				// Each frame on its own, then all: a lie is found by
				// whichever reads the frame it is about.
				for i := range m.Entries {
					want := make([]bool, len(m.Entries))
					want[i] = true
					if err = r.WalkOnly(want, checkContent(t, m)); err != nil {
						break
					}
				}
				if err == nil {
					err = r.Walk(checkContent(t, m))
				}
			} else if !tt.atOpen {
				t.Fatalf("Open refused the table: %v", err)
			}
			if err == nil {
				t.Fatal("the table was believed")
			}
			msg := err.Error()
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(msg, path) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s, saying %q, and ErrCorrupt", msg, path, tt.want)
			}
		})
	}
}

// checkContent fails the test when Walk hands over content the manifest
// does not describe: a lying table may make reading fail, never deliver
// something else.
func checkContent(t *testing.T, m *Manifest) func(e Entry, content io.Reader) error {
	return func(e Entry, content io.Reader) error {
		data, err := io.ReadAll(content)
		if err == nil && e.Type == TypeFile && sha(string(data)) != e.SHA256 {
			t.Errorf("%s delivered with the wrong content", e.Path)
		}
		return nil
	}
}

// A frame that begins inside a member's content, which only a hand-made
// archive has, cannot pass for the member the table says it starts with.
func TestAFrameStartingInsideAMemberIsAnError(t *testing.T) {
	smallFrames(t)
	rng := rand.New(rand.NewPCG(3, 4))
	a := make([]byte, 40000)
	for i := range a {
		a[i] = byte(rng.Uint32())
	}
	m := baseManifest(dir("usr"), file("usr/a", string(a)), file("usr/b", "bee\n"))
	manifest := mustJSON(t, m)
	var out bytes.Buffer
	fw := &framedWriter{file: countingWriter{w: &out}, frames: []frame{{}}}
	zw, err := zstd.NewWriter(&fw.file)
	mustDo(t, err)
	fw.enc = zw
	tw := tar.NewWriter(fw)
	mustDo(t, tw.WriteHeader(&tar.Header{Name: ".MANIFEST", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(manifest))}))
	_, err = tw.Write(manifest)
	mustDo(t, err)
	mustDo(t, tw.WriteHeader(&tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755}))
	mustDo(t, tw.WriteHeader(&tar.Header{Name: "usr/a", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(a))}))
	_, err = tw.Write(a[:20000])
	mustDo(t, err)
	mustDo(t, fw.cut(3)) // says usr/b starts here; usr/a goes on
	_, err = tw.Write(a[20000:])
	mustDo(t, err)
	mustDo(t, tw.WriteHeader(&tar.Header{Name: "usr/b", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4}))
	_, err = tw.Write([]byte("bee\n"))
	mustDo(t, err)
	mustDo(t, tw.Close())
	mustDo(t, fw.close())
	out.Write(encodeSeekTable(fw.frames))
	path := filepath.Join(t.TempDir(), "evil.lpm")
	mustDo(t, os.WriteFile(path, out.Bytes(), 0o644))

	r, err := Open(path)
	mustDo(t, err)
	defer r.Close()
	err = r.WalkOnly([]bool{false, false, true}, checkContent(t, &m))
	if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "usr/b") {
		t.Errorf("reading usr/b from a frame that starts inside usr/a: %v", err)
	}
}

// A reader that knows nothing of seek tables, as lpm's before them, reads
// an archive with one as it reads any other: one zstd stream (the table is
// a skippable frame) holding .MANIFEST, the entries in order, the tar end
// marker and nothing after it.
func TestAnArchiveWithASeekTableReadsAsOneStream(t *testing.T) {
	path, m := framedArchive(t, 4)
	f, err := os.Open(path)
	mustDo(t, err)
	defer f.Close()
	dec, err := zstd.NewReader(f)
	mustDo(t, err)
	defer dec.Close()
	tr := tar.NewReader(dec)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		mustDo(t, err)
		names = append(names, strings.TrimSuffix(hdr.Name, "/"))
	}
	want := []string{manifestName}
	for _, e := range m.Entries {
		want = append(want, e.Path)
	}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("one stream holds %v, want %v", names, want)
	}
	mustDo(t, drainZeros(dec))
}

// A walk of some entries vouches only for the frames it read; Verify reads
// every frame, so damage anywhere is found.
func TestVerifyReadsEveryFrameOfAnArchiveWithASeekTable(t *testing.T) {
	path, m := framedArchive(t, 8)
	r, err := Open(path)
	mustDo(t, err)
	damaged := r.frames[5]
	r.Close()
	raw, err := os.ReadFile(path)
	mustDo(t, err)
	raw[damaged.offset+damaged.size/2] ^= 0xff
	mustDo(t, os.WriteFile(path, raw, 0o644))

	r, err = Open(path)
	mustDo(t, err)
	defer r.Close()
	want := make([]bool, len(m.Entries))
	want[entryIndex(m, "usr/share/big/f001")] = true
	if err := r.WalkOnly(want, checkContent(t, m)); err != nil {
		t.Errorf("reading f001 from an undamaged frame: %v", err)
	}
	if err := Verify(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("Verify of an archive with a damaged frame: %v", err)
	}
}
