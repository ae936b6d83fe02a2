package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRunningPhasesShareTheBoardOneLineEach(t *testing.T) {
	master, slave := openPTY(t)
	done := make(chan []byte)
	go func() {
		var buf bytes.Buffer
		buf.ReadFrom(master)
		done <- buf.Bytes()
	}()
	p := &Printer{Out: slave, Board: true}
	a := p.StartPhase("libgreet-1.1.0-1: build")
	b := p.StartPhase("mkbanner-0.3.0-1: build")
	a.Line("cc -c greet.c")
	b.Line("cc -c mkbanner.c")
	time.Sleep(3 * boardRefresh)
	p.Printf("fetching hello-1.0.0.tar.bz2")
	bar := p.Start("fetching x.tar.gz", 10, Bytes)
	bar.Add(10)
	bar.Finish(nil)
	a.Finish(nil)
	b.Finish(nil)
	slave.Close()
	out := string(<-done)
	t.Logf("output: %q", out)
	for _, want := range []string{
		"libgreet-1.1.0-1: build 0.", "cc -c greet.c",
		"mkbanner-0.3.0-1: build 0.", "cc -c mkbanner.c",
		"\x1b[2A\r", // both lines redrawn together
		"fetching hello-1.0.0.tar.bz2\r\n",
		"fetched x.tar.gz: 10 B in ", // a bar is a plain line on the board
		"libgreet-1.1.0-1: build: done in ", "mkbanner-0.3.0-1: build: done in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if p.drawn != 0 || len(p.phases) != 0 {
		t.Errorf("the board is left with %d lines and %d phases", p.drawn, len(p.phases))
	}
}
