package archive

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// frameStream reads the tar stream of the frames a walk wants, one frame
// after another: Read returns io.EOF at the end of each, and next moves
// on to the following one.
//
// When the walk skips most entries (an upgrade), it decompresses in a
// goroutine of its own, a few chunks ahead, so that on two cores
// decompression runs beside the walk's tar reading, hashing and writing
// instead of before them: the walk of an upgrade of the bench's L, whose
// changes are spread over every frame, took 190 ms of CPU, 110 of them in
// zstd. The decoder itself stays synchronous (zstd's own concurrency,
// which decodes blocks in goroutines, made that walk a third slower). A
// walk that writes every entry (an install) waits for its writers' system
// calls more than for zstd; it decompresses as it reads, as before, and
// holds no chunks.
type frameStream struct {
	r      *Reader
	frames []int // the frames to read, in order
	k      int   // which of them Read reads
	dec    *zstd.Decoder
	br     *bufio.Reader
	err    error // why the stream cannot go on

	// Decompressing ahead: the chunks come from the decoding goroutine
	// through out and go back through free.
	ahead bool
	out   chan chunk
	free  chan []byte
	stop  chan struct{}
	done  chan struct{}
	cur   chunk // the chunk Read reads
	off   int   // how much of cur it has read
	pos   int64 // how much of the frame Read and Seek have taken
}

// A chunk is up to aheadChunk bytes of a frame's tar stream. The last
// chunk of a frame has err io.EOF; a decoding failure ends the frame, and
// the decoding, with that error.
type chunk struct {
	b   []byte
	err error
}

// aheadChunk is the size of a chunk, aheadChunks how many are decoded
// before the walk reads them: 5 buffers, 1.25 MiB in all, beside the
// decoder's window. Chunks of 128 KiB cost the walk a tenth more CPU in
// hand-overs than chunks of 512.
const (
	aheadChunk  = 256 << 10
	aheadChunks = 4
)

// streamFrames starts reading the frames of r numbered in frames, ahead
// of the caller when ahead is set. The caller calls close when done.
func (r *Reader) streamFrames(frames []int, ahead bool) *frameStream {
	s := &frameStream{r: r, frames: frames, ahead: ahead, br: bufio.NewReaderSize(nil, 32<<10)}
	if !ahead {
		s.err = s.start(0)
		return s
	}
	s.out = make(chan chunk, aheadChunks)
	s.free = make(chan []byte, aheadChunks+1)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	for range cap(s.free) {
		s.free <- make([]byte, aheadChunk)
	}
	go s.decode()
	return s
}

// start points the decoder at the i-th frame to read.
func (s *frameStream) start(i int) error {
	if i >= len(s.frames) {
		return io.EOF
	}
	fr := s.r.frames[s.frames[i]]
	s.br.Reset(io.NewSectionReader(s.r.f, fr.offset, fr.size))
	if s.dec == nil {
		var err error
		s.dec, err = newDecoder(s.br, s.r.path)
		return err
	}
	if err := s.dec.Reset(s.br); err != nil {
		return fmt.Errorf("read package %s: %w", s.r.path, err)
	}
	return nil
}

// decode is the goroutine decompressing ahead.
func (s *frameStream) decode() {
	defer close(s.done)
	for i := range s.frames {
		if err := s.start(i); err != nil {
			s.send(chunk{err: err})
			return
		}
		for {
			var buf []byte
			select {
			case buf = <-s.free:
			case <-s.stop:
				return
			}
			n, err := io.ReadFull(s.dec, buf)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			if !s.send(chunk{b: buf[:n], err: err}) || err != nil && err != io.EOF {
				return
			}
			if err == io.EOF {
				break
			}
		}
	}
}

// send hands c to the walk, unless the walk stopped.
func (s *frameStream) send(c chunk) bool {
	select {
	case s.out <- c:
		return true
	case <-s.stop:
		return false
	}
}

// Read reads the current frame; at its end it returns io.EOF until next
// moves on.
func (s *frameStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if !s.ahead {
		return s.dec.Read(p)
	}
	for s.off == len(s.cur.b) {
		if s.cur.err != nil {
			return 0, s.cur.err
		}
		s.recycle()
		s.cur = <-s.out
	}
	n := copy(p, s.cur.b[s.off:])
	s.off += n
	s.pos += int64(n)
	return n, nil
}

// errNoSeek: a stream that is not decompressed ahead cannot skip, and
// archive/tar then reads what it skips.
var errNoSeek = errors.New("the stream cannot seek")

// Seek skips forward in the current frame (io.SeekCurrent only), up to
// its end: archive/tar skips the content a walk does not want so, and
// what was decompressed ahead is dropped rather than copied out (for
// L's upgrade, 85% of 276 MiB). It returns how much of the frame has
// been taken.
func (s *frameStream) Seek(offset int64, whence int) (int64, error) {
	if !s.ahead || whence != io.SeekCurrent || offset < 0 || s.err != nil {
		return -1, errNoSeek
	}
	for offset > 0 {
		if s.off == len(s.cur.b) {
			if s.cur.err != nil {
				break // the frame's end, which Read reports
			}
			s.recycle()
			s.cur = <-s.out
			continue
		}
		n := min(offset, int64(len(s.cur.b)-s.off))
		s.off += int(n)
		s.pos += n
		offset -= n
	}
	return s.pos, nil
}

// recycle gives the current chunk's buffer back to the decoding.
func (s *frameStream) recycle() {
	if s.cur.b != nil {
		s.free <- s.cur.b[:cap(s.cur.b)]
	}
	s.cur, s.off = chunk{}, 0
}

// next moves Read to the following frame. The walk has read the current
// one to its end.
func (s *frameStream) next() {
	s.k++
	if !s.ahead {
		s.err = s.start(s.k)
		return
	}
	for s.cur.err == nil { // not to its end after all: skip the rest
		s.recycle()
		s.cur = <-s.out
	}
	if s.cur.err != io.EOF {
		s.err = s.cur.err // the decoding stopped there
	}
	s.recycle()
	s.pos = 0
}

// close stops the decoding and waits for it, so that nothing reads the
// archive or holds its decoder once the walk returns.
func (s *frameStream) close() {
	if s.ahead {
		close(s.stop)
		<-s.done
	}
	if s.dec != nil {
		releaseDecoder(s.dec)
	}
}
