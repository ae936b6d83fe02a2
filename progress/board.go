package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cheggaaa/pb/v3"
	"golang.org/x/sys/unix"
)

// The board: when several builds run at once on a terminal, each running
// phase keeps one line at the bottom of the screen (label, time, last
// output line), redrawn together, and every other line is printed above
// them. pb's Pool draws several bars but cannot print a log line above
// them, so the board draws its own few lines, with pb's cell counting.
// Off a terminal the board is off and phases are plain lines.

// boardRefresh is how often the board is redrawn.
var boardRefresh = 200 * time.Millisecond

// onBoard reports whether phases go on the board.
func (p *Printer) onBoard() bool { return p.Board && p.terminal() }

// addPhase puts a phase on the board, starting the redraws with the first.
func (p *Printer) addPhase(ph *Phase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phases = append(p.phases, ph)
	if len(p.phases) == 1 {
		p.stopBoard = make(chan struct{})
		go p.redraw(p.stopBoard)
	}
	p.drawBoard()
}

// dropPhase takes a finished phase off the board.
func (p *Printer) dropPhase(ph *Phase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, q := range p.phases {
		if q == ph {
			p.phases = append(p.phases[:i], p.phases[i+1:]...)
			break
		}
	}
	if len(p.phases) == 0 && p.stopBoard != nil {
		close(p.stopBoard)
		p.stopBoard = nil
	}
	p.drawBoard()
}

func (p *Printer) redraw(stop chan struct{}) {
	tick := time.NewTicker(boardRefresh)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			p.mu.Lock()
			p.drawBoard()
			p.mu.Unlock()
		}
	}
}

// eraseBoard moves up over the lines drawn and clears them; p.mu is held.
func (p *Printer) eraseBoard() {
	if p.drawn > 0 {
		fmt.Fprintf(p.out(), "\x1b[%dA\r\x1b[J", p.drawn)
		p.drawn = 0
	}
}

// drawBoard draws one line per running phase; p.mu is held.
func (p *Printer) drawBoard() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r", p.drawn)
	}
	width := p.width() - 1
	for _, ph := range p.phases {
		ph.mu.Lock()
		line := fmt.Sprintf("%s %s %s", ph.label, duration(p.clock().Sub(ph.start)), ph.last)
		ph.mu.Unlock()
		b.WriteString(pb.StripString(line, width))
		b.WriteString("\x1b[K\n")
	}
	if len(p.phases) < p.drawn {
		b.WriteString("\x1b[J")
	}
	p.drawn = len(p.phases)
	io.WriteString(p.out(), b.String())
}

// width is the terminal's width, 80 if it does not say.
func (p *Printer) width() int {
	if f, ok := p.out().(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return 80
}
