package archive

import (
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// Reading a manifest's JSON fast. encoding/json took 50-60 ms of CPU for
// the 20,000 entries of the bench's L (its streaming decoder scans each
// value twice, and fills a struct by reflection), before an upgrade could
// do anything else. Here the text is cut into values by jsonStream, and
// an entry written as lpm writes it (known keys in lower case, strings
// without escapes, plain integers) is decoded by decodeEntryFast; any
// other entry is given to encoding/json whole, so the result is always
// what encoding/json gives.

// jsonStream cuts a JSON text into values as it streams in: only the
// value being read is held, so a big manifest's text never is.
type jsonStream struct {
	r   io.Reader
	buf []byte // buf[off:] is read but not yet taken
	off int
	err error // why r gives no more
}

func newJSONStream(r io.Reader) *jsonStream {
	return &jsonStream{r: r, buf: make([]byte, 0, 64<<10)}
}

// fill reads more of the text, keeping what is not taken: false once
// there is no more.
func (s *jsonStream) fill() bool {
	if s.err != nil {
		return false
	}
	n := copy(s.buf, s.buf[s.off:])
	s.buf, s.off = s.buf[:n], 0
	if n == cap(s.buf) { // a value bigger than the buffer
		s.buf = append(s.buf, make([]byte, n)...)[:n]
	}
	for {
		got, err := s.r.Read(s.buf[n:cap(s.buf)])
		s.buf = s.buf[:n+got]
		if err != nil {
			s.err = err
		}
		if got > 0 || err != nil {
			return got > 0
		}
	}
}

// readErr is why the text ended early.
func (s *jsonStream) readErr() error {
	if s.err == nil || s.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return s.err
}

// peek skips white space and returns the next byte; false at the end.
func (s *jsonStream) peek() (byte, bool) {
	for {
		for ; s.off < len(s.buf); s.off++ {
			switch c := s.buf[s.off]; c {
			case ' ', '\t', '\n', '\r':
			default:
				return c, true
			}
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// expect takes the structural character c, after white space.
func (s *jsonStream) expect(c byte) error {
	got, ok := s.peek()
	if !ok {
		return s.readErr()
	}
	if got != c {
		return syntaxError(got, c)
	}
	s.off++
	return nil
}

func syntaxError(got, want byte) error {
	return errors.New("invalid character " + quoteChar(got) + ", want " + quoteChar(want))
}

func quoteChar(c byte) string {
	if c < ' ' || c >= 0x7f {
		return "byte " + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
	}
	return "'" + string(c) + "'"
}

// value takes the next value, after white space, and returns its text,
// which holds until the next call. It only finds where the value ends
// (strings, nesting); whoever decodes the text checks it is valid.
func (s *jsonStream) value() ([]byte, error) {
	if _, ok := s.peek(); !ok {
		return nil, s.readErr()
	}
	n, depth := 0, 0
	inString, escaped := false, false
	for {
		b := s.buf[s.off:]
		for ; n < len(b); n++ {
			c := b[n]
			if inString {
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
					if depth == 0 {
						return s.take(n + 1), nil
					}
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 {
					return s.take(n), nil
				}
				if depth--; depth == 0 {
					return s.take(n + 1), nil
				}
			case ' ', '\t', '\n', '\r', ',', ':':
				if depth == 0 {
					return s.take(n), nil
				}
			}
		}
		if !s.fill() {
			if depth == 0 && !inString {
				return s.take(n), nil // a number or literal ending the text
			}
			return nil, s.readErr()
		}
	}
}

func (s *jsonStream) take(n int) []byte {
	v := s.buf[s.off : s.off+n]
	s.off += n
	return v
}

// decodeEntriesFast decodes the entries array (or null), the stream
// standing right after its key's colon.
func decodeEntriesFast(s *jsonStream) ([]Entry, error) {
	c, ok := s.peek()
	if !ok {
		return nil, s.readErr()
	}
	if c != '[' {
		raw, err := s.value()
		if err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		if v == nil {
			return nil, nil
		}
		return nil, errors.New("entries is " + string(raw) + ", not an array")
	}
	s.off++
	if c, ok := s.peek(); ok && c == ']' {
		s.off++
		return nil, nil
	}
	// The entries are gathered in blocks and copied once into a list of
	// their number: a list grown by appending was made again and again
	// (for L, 15 MB of garbage for a list of 3).
	var blocks [][]Entry
	block := make([]Entry, 0, entryBlock)
	for {
		raw, err := s.value()
		if err != nil {
			return nil, err
		}
		if len(block) == cap(block) {
			blocks = append(blocks, block)
			block = make([]Entry, 0, entryBlock)
		}
		block = block[:len(block)+1]
		if !decodeEntryFast(raw, &block[len(block)-1]) {
			var e Entry
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			block[len(block)-1] = e // over what the fast path may have set
		}
		c, ok := s.peek()
		if !ok {
			return nil, s.readErr()
		}
		s.off++
		if c == ']' {
			break
		}
		if c != ',' {
			return nil, syntaxError(c, ',')
		}
	}
	n := len(block)
	for _, b := range blocks {
		n += len(b)
	}
	entries := make([]Entry, 0, n)
	for _, b := range blocks {
		entries = append(entries, b...)
	}
	return append(entries, block...), nil
}

// entryBlock is how many entries decodeEntriesFast gathers in a block.
const entryBlock = 1024

// decodeEntryFast decodes one entry written as lpm writes it: an object
// of known keys spelled in lower case, whose strings hold no escapes or
// control characters and are valid UTF-8, and whose numbers are plain
// non-negative integers that fit. For such text it gives what
// encoding/json gives; for any other it returns false.
func decodeEntryFast(raw []byte, e *Entry) bool {
	d := fastDecoder{b: raw}
	if !d.take('{') {
		return false
	}
	if d.take('}') {
		return d.end()
	}
	for {
		key, ok := d.str()
		if !ok || !d.take(':') {
			return false
		}
		switch string(key) {
		case "path":
			ok = d.string(&e.Path)
		case "type":
			ok = d.typ(&e.Type)
		case "mode":
			var v uint64
			v, ok = d.uint(1<<32 - 1)
			e.Mode = uint32(v)
		case "uid":
			var v uint64
			v, ok = d.uint(1<<63 - 1)
			e.UID = int(v)
		case "gid":
			var v uint64
			v, ok = d.uint(1<<63 - 1)
			e.GID = int(v)
		case "size":
			var v uint64
			v, ok = d.uint(1<<63 - 1)
			e.Size = int64(v)
		case "sha256":
			ok = d.string(&e.SHA256)
		case "link":
			ok = d.string(&e.Link)
		case "soname":
			ok = d.string(&e.Soname)
		case "needed":
			ok = d.strings(&e.Needed)
		default:
			return false
		}
		if !ok {
			return false
		}
		if d.take('}') {
			return d.end()
		}
		if !d.take(',') {
			return false
		}
	}
}

// fastDecoder reads one value's text for decodeEntryFast.
type fastDecoder struct {
	b []byte
	p int
}

func (d *fastDecoder) space() {
	for d.p < len(d.b) && (d.b[d.p] == ' ' || d.b[d.p] == '\t' || d.b[d.p] == '\n' || d.b[d.p] == '\r') {
		d.p++
	}
}

// take takes c, after white space, if it is next.
func (d *fastDecoder) take(c byte) bool {
	d.space()
	if d.p < len(d.b) && d.b[d.p] == c {
		d.p++
		return true
	}
	return false
}

// end reports whether nothing but white space is left.
func (d *fastDecoder) end() bool {
	d.space()
	return d.p == len(d.b)
}

// str takes a string without escapes or control characters, in valid
// UTF-8, and returns its bytes (in the text).
func (d *fastDecoder) str() ([]byte, bool) {
	if !d.take('"') {
		return nil, false
	}
	start := d.p
	ascii := true
	for ; d.p < len(d.b); d.p++ {
		c := d.b[d.p]
		switch {
		case c == '"':
			s := d.b[start:d.p]
			d.p++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < ' ':
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func (d *fastDecoder) string(dst *string) bool {
	s, ok := d.str()
	if ok {
		*dst = string(s)
	}
	return ok
}

// typ is string for an entry's type: the four types are shared, not made
// for each entry.
func (d *fastDecoder) typ(dst *string) bool {
	s, ok := d.str()
	if !ok {
		return false
	}
	switch string(s) {
	case TypeDir:
		*dst = TypeDir
	case TypeFile:
		*dst = TypeFile
	case TypeSymlink:
		*dst = TypeSymlink
	case TypeHardlink:
		*dst = TypeHardlink
	default:
		*dst = string(s)
	}
	return true
}

// strings takes an array of strings (not null).
func (d *fastDecoder) strings(dst *[]string) bool {
	if !d.take('[') {
		return false
	}
	list := []string{} // encoding/json makes [] an empty list, not nil
	if !d.take(']') {
		for {
			s, ok := d.str()
			if !ok {
				return false
			}
			list = append(list, string(s))
			if d.take(']') {
				break
			}
			if !d.take(',') {
				return false
			}
		}
	}
	*dst = list
	return true
}

// uint takes an integer from 0 to limit written without sign, fraction or
// exponent (and so without leading zeros, as JSON has none).
func (d *fastDecoder) uint(limit uint64) (uint64, bool) {
	d.space()
	start := d.p
	var v uint64
	for ; d.p < len(d.b) && d.b[d.p] >= '0' && d.b[d.p] <= '9'; d.p++ {
		if d.p-start >= 19 { // more digits than limit could need
			return 0, false
		}
		v = v*10 + uint64(d.b[d.p]-'0')
	}
	switch {
	case d.p == start, d.b[start] == '0' && d.p-start > 1, v > limit:
		return 0, false
	case d.p < len(d.b) && (d.b[d.p] == '.' || d.b[d.p] == 'e' || d.b[d.p] == 'E'):
		return 0, false
	}
	return v, true
}
