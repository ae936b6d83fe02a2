package progress

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAPhaseOffATerminalIsAStartAndAnEndLine(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		lines []string
	}{
		{"a phase that succeeds says how long it took", nil, []string{
			"zlib-1.3.1-1: build",
			"zlib-1.3.1-1: build: done in 1m30s",
		}},
		{"a phase that fails says after how long, and why", errors.New("exit status 2"), []string{
			"zlib-1.3.1-1: build",
			"zlib-1.3.1-1: build: failed after 1m30s: exit status 2",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := &Printer{Out: &out, now: steppedClock(90 * time.Second)}
			ph := p.StartPhase("zlib-1.3.1-1: build")
			ph.Line("gcc -O2 -c adler32.c")
			ph.Line("\x1b[01;31merror\x1b[0m: boom")
			ph.Finish(tt.err)
			ph.Finish(nil) // only the first Finish counts
			if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tt.lines, "\n") {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.lines, "\n"))
			}
		})
	}
}

func TestAQuietOrNilPhasePrintsNothing(t *testing.T) {
	var out bytes.Buffer
	ph := (&Printer{Out: &out, Quiet: true}).StartPhase("x: build")
	ph.Line("a line")
	ph.Finish(nil)
	var none *Phase
	none.Line("a line")
	none.Finish(errors.New("x"))
	if out.Len() != 0 {
		t.Errorf("quiet printed %q", out.String())
	}
}

func TestAPhaseOnATerminalShowsTheLastLineInPlaceAndEndsCleanly(t *testing.T) {
	master, slave := openPTY(t)
	done := make(chan []byte)
	go func() {
		var buf bytes.Buffer
		buf.ReadFrom(master)
		done <- buf.Bytes()
	}()
	p := &Printer{Out: slave}
	ph := p.StartPhase("zlib-1.3.1-1: build")
	ph.Line("gcc -O2 -c \x1b[01mdeflate.c\x1b[0m\r")
	time.Sleep(450 * time.Millisecond) // pb redraws every 200ms
	ph.Finish(nil)
	slave.Close()
	out := string(<-done)
	t.Logf("output: %q", out)
	if !strings.Contains(out, "\rzlib-1.3.1-1: build ") || !strings.Contains(out, "gcc -O2 -c deflate.c") {
		t.Errorf("the live line lacks the phase or the last log line: %q", out)
	}
	if strings.Contains(out, "%") || strings.Contains(out, "\x1b[01m") {
		t.Errorf("the live line shows a percentage or the build's escape codes: %q", out)
	}
	lines := strings.Split(strings.TrimRight(out, "\r\n"), "\n")
	last := strings.TrimSpace(lines[len(lines)-1][strings.LastIndex(lines[len(lines)-1], "\r")+1:])
	if !strings.HasPrefix(last, "zlib-1.3.1-1: build: done in ") || !strings.HasSuffix(out, "\n") {
		t.Errorf("the phase does not end on a clean done line: last %q in %q", last, out)
	}
}

func TestALongPhaseOffATerminalSaysItIsStillRunning(t *testing.T) {
	defer func(d time.Duration) { heartbeat = d }(heartbeat)
	heartbeat = 40 * time.Millisecond
	var out syncBuffer
	p := &Printer{Out: &out}
	ph := p.StartPhase("gcc-14.2.0-1: build")
	ph.Line("make[3]: Entering directory '/build/gcc'")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "running for") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	ph.Finish(nil)
	time.Sleep(100 * time.Millisecond) // no beat may follow the end line
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) < 3 || lines[0] != "gcc-14.2.0-1: build" || !strings.HasPrefix(lines[len(lines)-1], "gcc-14.2.0-1: build: done in ") {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines[1 : len(lines)-1] {
		if !strings.HasPrefix(l, "gcc-14.2.0-1: build: running for ") || !strings.HasSuffix(l, "; last line: make[3]: Entering directory '/build/gcc'") {
			t.Errorf("heartbeat line %q", l)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the heartbeat's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
