package archive

import "github.com/klauspost/compress/zstd"

// defaultWindow is what Window answers when the first frame's header
// cannot be read: the most lpm ever wrote.
const defaultWindow = 8 << 20

// Window is the zstd window of the archive's first frame, which is the
// history a decoder of it holds while Walk runs: 4 MiB for what lpm
// writes now, 8 MiB for older archives, the content's size for a small
// one. An installer sizes its memory by it.
func (r *Reader) Window() int64 {
	buf := make([]byte, zstd.HeaderMaxSize)
	n, _ := r.f.ReadAt(buf, 0)
	var h zstd.Header
	if err := h.Decode(buf[:n]); err != nil {
		return defaultWindow
	}
	w := h.WindowSize
	if h.SingleSegment {
		w = h.FrameContentSize
	}
	return int64(min(w, maxWindow))
}
