// Package progress owns how lpm tells a person that slow work is moving:
// downloads, extraction and other counted tasks, and build phases, whose
// size nobody knows (phase.go).
//
// On a terminal it draws a live bar (github.com/cheggaaa/pb/v3). Anywhere
// else — a log file, a pipe, CI — it prints exactly two plain lines per
// task, one when it starts and one when it ends, so logs stay readable and
// diffable. It must never emit carriage returns or escape codes to something
// that is not a terminal, never print in quiet mode, and never fail the work
// it reports on: every method is safe on a nil *Printer or nil *Bar.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/mattn/go-isatty"
)

// Unit says what a task counts.
type Unit int

const (
	Bytes Unit = iota // sizes print as KiB, MiB, ... with a rate
	Items             // counts print as n/total
)

// Printer reports tasks to Out (os.Stderr when nil).
type Printer struct {
	Out        io.Writer
	Quiet      bool // print nothing at all
	ForcePlain bool // plain lines even on a terminal
	Color      bool // "warning:" in yellow (the caller decides: a terminal, no NO_COLOR)
	// Board shows every running phase on a line of its own on a terminal
	// (builds running side by side; board.go), and bars as plain lines.
	Board bool

	mu  sync.Mutex       // keeps lines from concurrent tasks whole
	now func() time.Time // tests pin the clock; nil means time.Now

	phases    []*Phase      // on the board, in the order they started
	drawn     int           // lines of the board on the screen
	stopBoard chan struct{} // ends the redraws
}

// Bar is one running task. A nil *Bar is valid and does nothing, so callers
// that were handed no progress reporting need no checks.
type Bar struct {
	p     *Printer // nil when quiet
	label string
	total int64
	unit  Unit
	start time.Time
	done  atomic.Int64
	live  *pb.ProgressBar // nil in plain mode
	once  sync.Once
}

func (p *Printer) out() io.Writer {
	if p.Out == nil {
		return os.Stderr
	}
	return p.Out
}

func (p *Printer) clock() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

// terminal reports whether live bars may be drawn: only onto a real tty,
// because anything else would collect \r and escape codes in its log.
func (p *Printer) terminal() bool {
	if p.ForcePlain {
		return false
	}
	f, ok := p.out().(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// Start begins a task. label reads as an action in progress, such as
// "fetching zlib-1.3.1.tar.gz"; total <= 0 means the size is unknown.
func (p *Printer) Start(label string, total int64, unit Unit) *Bar {
	if p == nil {
		return nil
	}
	if total < 0 {
		total = 0
	}
	b := &Bar{label: label, total: total, unit: unit}
	if p.Quiet {
		return b
	}
	b.p = p
	b.start = p.clock()
	if p.terminal() && !p.Board {
		b.live = newLive(p.out(), label, total, unit)
		return b
	}
	line := label
	if total > 0 {
		line += " (" + p.amount(total, unit) + ")"
	}
	p.line(line)
	return b
}

func newLive(w io.Writer, label string, total int64, unit Unit) *pb.ProgressBar {
	tmpl := `{{string . "prefix"}} {{counters . }} {{bar . }} {{percent . }}`
	if unit == Bytes {
		tmpl += ` {{speed . }} {{rtime . "ETA %s"}}`
	}
	bar := pb.New64(total)
	bar.SetWriter(w)
	bar.SetTemplateString(tmpl)
	bar.Set("prefix", label)
	bar.Set(pb.Terminal, true)
	bar.Set(pb.Bytes, unit == Bytes)
	bar.SetMaxWidth(100)
	return bar.Start()
}

// Add records n more bytes or items done.
func (b *Bar) Add(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.done.Add(n)
	if b.live != nil {
		b.live.Add64(n)
	}
}

// Proxy returns a reader that counts every byte read from r into the bar.
// On a nil bar it returns r itself.
func (b *Bar) Proxy(r io.Reader) io.Reader {
	if b == nil {
		return r
	}
	return &proxyReader{r: r, b: b}
}

type proxyReader struct {
	r io.Reader
	b *Bar
}

func (pr *proxyReader) Read(buf []byte) (int, error) {
	n, err := pr.r.Read(buf)
	pr.b.Add(int64(n))
	return n, err
}

// Finish ends the task; a non-nil err makes the final line say it failed.
// Only the first call has any effect.
func (b *Bar) Finish(err error) {
	if b == nil {
		return
	}
	b.once.Do(func() { b.finish(err) })
}

func (b *Bar) finish(err error) {
	if b.p == nil {
		return
	}
	elapsed := b.p.clock().Sub(b.start)
	done := b.done.Load()
	if b.live != nil {
		if err != nil {
			b.live.Set(pb.CleanOnFinish, true) // the failure line below replaces the bar
		}
		b.live.Finish()
	}
	if err != nil {
		b.p.line(fmt.Sprintf("%s: failed after %s: %v", b.label, duration(elapsed), oneLine(err.Error())))
		return
	}
	if b.live != nil {
		return // the finished bar already shows the totals
	}
	line := fmt.Sprintf("%s%s in %s", summary(b.label), b.p.amount(done, b.unit), duration(elapsed))
	if b.unit == Bytes && elapsed >= time.Millisecond {
		rate := int64(float64(done) / elapsed.Seconds())
		line += ", " + size(rate) + "/s"
	}
	b.p.line(line)
}

// Printf prints one plain log line unless quiet.
func (p *Printer) Printf(format string, args ...any) {
	if p == nil || p.Quiet {
		return
	}
	p.line(fmt.Sprintf(format, args...))
}

// line writes s as exactly one line. Embedded newlines and carriage returns
// (from error text, say) are flattened so a log line stays one line.
func (p *Printer) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s = oneLine(s)
	if rest, ok := strings.CutPrefix(s, "warning: "); ok && p.Color {
		s = "\033[1;33mwarning:\033[0m " + rest
	}
	board := p.drawn > 0
	p.eraseBoard()
	io.WriteString(p.out(), s+"\n")
	if board || len(p.phases) > 0 {
		p.drawBoard()
	}
}

func oneLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

func (p *Printer) amount(n int64, unit Unit) string {
	if unit == Bytes {
		return size(n)
	}
	if n == 1 {
		return "1 item"
	}
	return fmt.Sprintf("%d items", n)
}

// pastTense turns the leading verb of a label into its past form, so that
// "fetching x" ends as "fetched x: ...". Only verbs lpm uses are listed;
// any other label ends as "label: done, ...".
var pastTense = map[string]string{
	"building":    "built",
	"checking":    "checked",
	"copying":     "copied",
	"downloading": "downloaded",
	"extracting":  "extracted",
	"fetching":    "fetched",
	"hashing":     "hashed",
	"installing":  "installed",
	"merging":     "merged",
	"packing":     "packed",
	"removing":    "removed",
	"unpacking":   "unpacked",
	"verifying":   "verified",
}

// summary is the start of a task's final line, up to the amount done.
func summary(label string) string {
	verb, rest, _ := strings.Cut(label, " ")
	if past, ok := pastTense[verb]; ok {
		return strings.TrimSpace(past+" "+rest) + ": "
	}
	return label + ": done, "
}

// size formats a byte count with IEC units and one decimal: "1.4 MiB".
func size(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

func duration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
