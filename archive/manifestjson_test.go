package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeEntriesText runs the manifest reader's entries decoding on text,
// the value of "entries".
func decodeEntriesText(text string) ([]Entry, error) {
	return decodeEntriesFast(newJSONStream(strings.NewReader(text)))
}

// The fast path for entries gives what encoding/json gives, value for
// value, or fails where it fails: entries as lpm writes them, and entries
// it must hand to encoding/json (other spellings of keys, escapes, null,
// numbers in other forms, unknown keys, repeated keys).
func TestEntriesDecodeAsEncodingJSONDecodesThem(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	entries := []string{
		`{"path":"usr","type":"dir","mode":493,"uid":0,"gid":0}`,
		`{"path": "usr/bin/x", "type": "file", "mode": 493, "uid": 0, "gid": 0, "size": 12, "sha256": "` + sum + `", "soname": "libx.so.1", "needed": ["libc.so.6", "libm.so.6"]}`,
		"{\n  \"path\": \"usr/lib/l\",\n  \"type\": \"symlink\",\n  \"mode\": 511,\n  \"uid\": 0,\n  \"gid\": 0,\n  \"link\": \"../x\"\n}",
		`{"path":"a","type":"hardlink","mode":420,"uid":1000,"gid":100,"link":"b"}`,
		`{}`,
		`{"path":"héllo wörld","type":"file"}`,
		`{"path":"a\"b","type":"file"}`,
		`{"path":"a\u0041","type":"file"}`,
		`{"path":"a\/b"}`,
		`{"PATH":"upper","Type":"dir"}`,
		`{"path":"a","path":"b"}`,
		`{"path":"a","PATH":"b"}`,
		`{"path":null,"type":"dir"}`,
		`{"needed":[]}`,
		`{"needed":null}`,
		`{"needed":["a"],"needed":["b","c"]}`,
		`{"needed":[1]}`,
		`{"mode":0}`,
		`{"mode":-1}`,
		`{"mode":4294967295}`,
		`{"mode":4294967296}`,
		`{"uid":-5}`,
		`{"uid":9223372036854775807}`,
		`{"uid":9223372036854775808}`,
		`{"size":99999999999999999999}`,
		`{"size":1.0}`,
		`{"size":1e3}`,
		`{"size":01}`,
		`{"size":"1"}`,
		`{"unknown":{"deep":[1,2,{"x":"}"}]},"path":"p"}`,
		`{"path":"p",}`,
		`{"path" "p"}`,
		`{"path":"p"`,
		`{"path":"tab	in it"}`,
		"{\"path\":\"bad \xff utf-8\"}",
		`{"type":"chardev"}`,
		`null`,
		`1`,
		`"str"`,
		`[]`,
		`{"path":"p"}x`,
		`{"path":"p"} `,
	}
	for _, text := range entries {
		for _, arr := range []string{"[" + text + "]", "[ " + text + " , " + text + " ]"} {
			got, gotErr := decodeEntriesText(arr)
			var want []Entry
			wantErr := json.Unmarshal([]byte(arr), &want)
			if (gotErr != nil) != (wantErr != nil) {
				t.Errorf("%s: error %v, encoding/json's %v", arr, gotErr, wantErr)
				continue
			}
			if gotErr == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("%s:\n got %#v\nwant %#v", arr, got, want)
			}
		}
	}
	// An empty list is nil, as the reader before this one made it.
	for _, arr := range []string{"[]", " [ ] ", "null", "[", "[,]", `[{"path":"a"},]`, `[{"path":"a"} {"path":"b"}]`, `{"path":"a"}`, `"entries"`} {
		got, gotErr := decodeEntriesText(arr)
		var want []Entry
		wantErr := json.Unmarshal([]byte(arr), &want)
		if len(want) == 0 {
			want = nil
		}
		if (gotErr != nil) != (wantErr != nil) && !(wantErr != nil && strings.Contains(wantErr.Error(), "cannot unmarshal")) {
			t.Errorf("%s: error %v, encoding/json's %v", arr, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", arr, got, want)
		}
	}
}

// Random entries, written by encoding/json (lpm's own form) and then
// spelled otherwise, decode as encoding/json decodes them.
func TestRandomEntriesDecodeAsEncodingJSONDecodesThem(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	for i := range 2000 {
		e := Entry{
			Path:   pick("usr", "usr/bin/a b", "ü/ß", "a\"q", "a\\b", "a\tb", "x<y>&", "\u2028", "long/"+strings.Repeat("p", 300)),
			Type:   pick(TypeDir, TypeFile, TypeSymlink, TypeHardlink, "odd"),
			Mode:   uint32(rng.IntN(1 << 13)),
			UID:    rng.IntN(70000),
			GID:    rng.IntN(3),
			Size:   rng.Int64N(1 << 40),
			SHA256: pick("", strings.Repeat("0f", 32)),
			Link:   pick("", "../l", "/abs"),
			Soname: pick("", "libz.so.1"),
		}
		if rng.IntN(3) == 0 {
			e.Needed = []string{pick("libc.so.6", "libé.so")}
		}
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		switch i % 4 {
		case 1:
			text = strings.ReplaceAll(text, ",", " ,\n ")
		case 2:
			text = strings.Replace(text, `"mode"`, `"Mode"`, 1)
		case 3:
			text = strings.Replace(text, `{`, fmt.Sprintf(`{"extra":[%d,{"a":"]"}],`, i), 1)
		}
		arr := "[" + text + "]"
		got, gotErr := decodeEntriesText(arr)
		var want []Entry
		wantErr := json.Unmarshal([]byte(arr), &want)
		if gotErr != nil || wantErr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %#v (%v)\nwant %#v (%v)", arr, got, gotErr, want, wantErr)
		}
	}
}

// A whole manifest reads as encoding/json reads it: other keys in any
// case, unknown keys, a repeated key winning last, white space anywhere.
func TestManifestsDecodeAsEncodingJSONDecodesThem(t *testing.T) {
	texts := []string{
		`{"format":1,"name":"a","version":"1","release":1,"entries":[{"path":"usr","type":"dir","mode":493,"uid":0,"gid":0}]}`,
		" {\n \"Format\" : 1 , \"NAME\":\"a\",\"version\":\"1\",\"release\":1, \"x\":{\"entries\":[]}, \"Entries\": [ {\"path\":\"usr\",\"type\":\"dir\",\"mode\":493} ] } \n",
		`{"format":1,"name":"a","version":"1","release":1,"entries":[{"path":"a","type":"dir"}],"entries":null}`,
		`{"format":1,"name":"b","name":"a","version":"1","release":1,"depends":["z >=1"],"entries":[]}`,
		`{"format":1,"name":"a","version":"1","release":1,"build_date":"2025-01-02T03:04:05Z"}`,
	}
	for _, text := range texts {
		got, err := decodeManifest([]byte(text))
		if err != nil {
			t.Errorf("%s: %v", text, err)
			continue
		}
		var want Manifest
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Fatal(err)
		}
		want.BuildDate = want.BuildDate.UTC()
		if len(want.Entries) == 0 {
			want.Entries = nil
		}
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("%s:\n got %#v\nwant %#v", text, got, &want)
		}
	}
	for _, text := range []string{"", "{", "[]", `"a"`, "nul", "{}", `{"format":1,}`, `{"format" 1}`, `{"format":1 "name":"a"}`, `{1:2}`, `{null:1}`, `{"format":1,"name":"a","version":"1","release":1,null:2}`, `{"format":1}{}`, `{"format":1} x`, `{"entries":[{"path":"a"}`} {
		if _, err := decodeManifest([]byte(text)); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}

// However the text arrives (a byte at a time here, so every value and
// string crosses the end of what was read), the manifest reads the same.
func TestAManifestReadsTheSameHoweverItStreamsIn(t *testing.T) {
	m := Manifest{Format: FormatVersion, Name: "a", Version: "1", Release: 1, Depends: []string{"b >=1"}}
	m.Entries = append(m.Entries, Entry{Path: "usr", Type: TypeDir, Mode: 0o755})
	for i := range 3000 {
		name := fmt.Sprintf("usr/f%05d ü", i) // lpm's own form, decoded fast
		if i%2 == 1 {
			name += "\"\\" // escapes, for encoding/json
		}
		m.Entries = append(m.Entries, Entry{Path: name, Type: TypeFile, Mode: 0o644, Size: int64(i), SHA256: strings.Repeat("0a", 32), Needed: []string{"libc.so.6"}})
	}
	text, err := encodeManifest(&m)
	if err != nil {
		t.Fatal(err)
	}
	if len(text) < 4*64<<10 {
		t.Fatalf("the manifest is %d bytes, want several of the reader's buffers", len(text))
	}
	whole, err := decodeManifest(text)
	if err != nil {
		t.Fatal(err)
	}
	bytewise, err := decodeManifestFrom(iotest.OneByteReader(bytes.NewReader(text)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(whole, bytewise) || !reflect.DeepEqual(whole.Entries, m.Entries) {
		t.Error("the manifest read a byte at a time differs from the one read whole, or from what was written")
	}
}

// FuzzEntryDecodesAsEncodingJSON: whatever text the fast path takes,
// encoding/json takes too, with the same result. The fast path reads
// archives an attacker may have written, so any text it accepts that
// encoding/json reads differently is a hole.
func FuzzEntryDecodesAsEncodingJSON(f *testing.F) {
	sum := strings.Repeat("ab", 32)
	for _, s := range []string{
		`{"path":"usr","type":"dir","mode":493,"uid":0,"gid":0}`,
		`{"path":"usr/bin/x","type":"file","mode":493,"uid":0,"gid":0,"size":12,"sha256":"` + sum + `","needed":["libc.so.6"]}`,
		`{"path":"a","type":"hardlink","mode":420,"uid":1000,"gid":100,"link":"b","path":"c"}`,
		`{"path":"\u00e9","mode":1e3,"uid":-1,"Path":"x","size":18446744073709551616}`,
		`{"needed":null,"soname":"é","link":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fast Entry
		if !decodeEntryFast(raw, &fast) {
			return
		}
		var slow Entry
		if err := json.Unmarshal(raw, &slow); err != nil {
			t.Fatalf("the fast path took %q, encoding/json refuses it: %v", raw, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: the fast path read %+v, encoding/json %+v", raw, fast, slow)
		}
	})
}
