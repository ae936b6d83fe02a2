package progress

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/cheggaaa/pb/v3"
)

// A Phase is one step of a long job whose size nobody knows in advance,
// such as a build's configure or make: a percentage would be a guess, so
// it shows what a person waiting needs instead, the step, the time spent,
// and the last line of output. On a terminal that is one line redrawn in
// place; anywhere else it is a line when the step starts, one every few
// minutes while it runs (so a CI log of a long gcc build does not look
// hung), and one when it ends; the output itself belongs in the build log.
// A nil *Phase is valid and does nothing.
type Phase struct {
	p     *Printer // nil when quiet
	label string
	start time.Time
	live  *pb.ProgressBar // nil in plain mode
	board bool            // on the Printer's board
	once  sync.Once

	mu    sync.Mutex
	last  string        // the latest output line, in plain mode
	ended bool          // no heartbeat after the end line
	stop  chan struct{} // ends the plain mode's heartbeat
}

// heartbeat is how often a running phase says so off a terminal; tests
// shorten it.
var heartbeat = 5 * time.Minute

func init() {
	// The last line takes whatever width the label and the clock leave,
	// cut to fit, so the line never wraps and the redraw stays in place.
	pb.RegisterElement("lastline", pb.ElementFunc(func(s *pb.State, _ ...string) string {
		line, _ := s.Get("line").(string)
		return pb.StripString(line, s.AdaptiveElWidth())
	}), true)
}

// StartPhase begins a step labelled like "zlib-1.3.1-1: build".
func (p *Printer) StartPhase(label string) *Phase {
	if p == nil {
		return nil
	}
	ph := &Phase{label: label}
	if p.Quiet {
		return ph
	}
	ph.p = p
	ph.start = p.clock()
	if p.onBoard() {
		ph.board = true
		p.addPhase(ph)
		return ph
	}
	if p.terminal() {
		bar := pb.New64(0)
		bar.SetWriter(p.out())
		bar.SetTemplateString(`{{string . "prefix"}} {{etime . }} {{lastline . }}`)
		bar.Set("prefix", label)
		bar.Set(pb.Terminal, true)
		// The finished step is said in a plain line, the same as off a
		// terminal, so the redrawn line is wiped rather than left behind.
		bar.Set(pb.CleanOnFinish, true)
		bar.SetMaxWidth(120)
		ph.live = bar.Start()
		return ph
	}
	p.line(label)
	ph.stop = make(chan struct{})
	go ph.beat(heartbeat)
	return ph
}

func (ph *Phase) beat(every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ph.stop:
			return
		case <-tick.C:
			ph.mu.Lock()
			if !ph.ended {
				line := fmt.Sprintf("%s: running for %s", ph.label, duration(ph.p.clock().Sub(ph.start)))
				if ph.last != "" {
					line += "; last line: " + ph.last
				}
				ph.p.line(line)
			}
			ph.mu.Unlock()
		}
	}
}

// Line records the latest line of the step's output. Control characters
// (a compiler's colours, carriage returns) are dropped: they would move
// the cursor of the line being redrawn.
func (ph *Phase) Line(s string) {
	switch {
	case ph == nil || ph.p == nil:
	case ph.live != nil:
		ph.live.Set("line", printable(s))
	default:
		ph.mu.Lock()
		ph.last = printable(s)
		ph.mu.Unlock()
	}
}

// Finish ends the step; a non-nil err says it failed. Only the first call
// has any effect.
func (ph *Phase) Finish(err error) {
	if ph == nil {
		return
	}
	ph.once.Do(func() {
		if ph.p == nil {
			return
		}
		if ph.live != nil {
			ph.live.Finish()
		}
		if ph.board {
			ph.p.dropPhase(ph)
		}
		if ph.stop != nil {
			ph.mu.Lock()
			ph.ended = true
			ph.mu.Unlock()
			close(ph.stop)
		}
		elapsed := duration(ph.p.clock().Sub(ph.start))
		if err != nil {
			ph.p.line(fmt.Sprintf("%s: failed after %s: %v", ph.label, elapsed, oneLine(err.Error())))
			return
		}
		ph.p.line(fmt.Sprintf("%s: done in %s", ph.label, elapsed))
	})
}

// escape matches a terminal escape sequence (CSI, as in gcc's colours).
var escape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

func printable(s string) string {
	s = escape.ReplaceAllString(strings.TrimSpace(s), "")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:] // what a terminal would show of a line redrawn with \r
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
