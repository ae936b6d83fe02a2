package progress

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns both ends of a fresh pseudo-terminal, or skips the test
// where the machine has none (some containers).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("pty number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pty slave: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m, s
}

func TestATerminalGetsALiveBarUnlessPlainIsForced(t *testing.T) {
	tests := []struct {
		name       string
		forcePlain bool
		wantLive   bool
	}{
		{"a terminal gets a live bar", false, true},
		{"a terminal with ForcePlain gets plain lines", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, slave := openPTY(t)
			done := make(chan []byte)
			go func() {
				var buf bytes.Buffer
				buf.ReadFrom(master) // ends with EIO once the slave closes
				done <- buf.Bytes()
			}()
			p := &Printer{Out: slave, ForcePlain: tt.forcePlain}
			b := p.Start("fetching t.tar.gz", 2048, Bytes)
			b.Add(2048)
			b.Finish(nil)
			slave.Close()
			out := string(<-done)
			t.Logf("output: %q", out)
			live := strings.Contains(out, "\r") && strings.Contains(out, "t.tar.gz") && !strings.Contains(out, "fetched t.tar.gz")
			if live != tt.wantLive {
				t.Fatalf("live bar = %v, want %v; output %q", live, tt.wantLive, out)
			}
			if !tt.wantLive && !strings.Contains(out, "fetched t.tar.gz: 2.0 KiB in ") {
				t.Fatalf("plain output lacks the finish line: %q", out)
			}
		})
	}
}
