package progress

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// steppedClock returns a clock that starts at a fixed instant and moves by
// step on every reading, so a task's start and finish are step apart.
func steppedClock(step time.Duration) func() time.Time {
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		now := t
		t = t.Add(step)
		return now
	}
}

func TestPlainLines(t *testing.T) {
	tests := []struct {
		name  string
		run   func(p *Printer)
		lines []string
	}{
		{
			name: "a download with a known size prints a start and a finish line with the rate",
			run: func(p *Printer) {
				b := p.Start("fetching zlib-1.3.1.tar.gz", 1468006, Bytes)
				b.Add(1468006)
				b.Finish(nil)
			},
			lines: []string{
				"fetching zlib-1.3.1.tar.gz (1.4 MiB)",
				"fetched zlib-1.3.1.tar.gz: 1.4 MiB in 0.3s, 4.7 MiB/s",
			},
		},
		{
			name: "a download of unknown size prints no size at the start but the real count at the end",
			run: func(p *Printer) {
				b := p.Start("fetching x.tar", 0, Bytes)
				io.Copy(io.Discard, b.Proxy(strings.NewReader("0123456789")))
				b.Finish(nil)
			},
			lines: []string{
				"fetching x.tar",
				"fetched x.tar: 10 B in 0.3s, 33 B/s",
			},
		},
		{
			name: "items count as items and have no rate",
			run: func(p *Printer) {
				b := p.Start("checking ports", 3, Items)
				b.Add(1)
				b.Add(2)
				b.Finish(nil)
			},
			lines: []string{
				"checking ports (3 items)",
				"checked ports: 3 items in 0.3s",
			},
		},
		{
			name: "a failed task says failed and carries the error on the same line",
			run: func(p *Printer) {
				b := p.Start("fetching y.tar.gz", 100, Bytes)
				b.Add(40)
				b.Finish(errors.New("connection reset\nby peer\r"))
			},
			lines: []string{
				"fetching y.tar.gz (100 B)",
				"fetching y.tar.gz: failed after 0.3s: connection reset by peer",
			},
		},
		{
			name: "a label with an unknown verb ends with done",
			run: func(p *Printer) {
				b := p.Start("stripping binaries", 2, Items)
				b.Add(2)
				b.Finish(nil)
			},
			lines: []string{
				"stripping binaries (2 items)",
				"stripping binaries: done, 2 items in 0.3s",
			},
		},
		{
			name: "finishing twice prints the final line once",
			run: func(p *Printer) {
				b := p.Start("extracting a.tar", 1, Items)
				b.Finish(nil)
				b.Finish(errors.New("late"))
			},
			lines: []string{
				"extracting a.tar (1 item)",
				"extracted a.tar: 0 items in 0.3s",
			},
		},
		{
			name: "printf prints one line and adds the newline",
			run: func(p *Printer) {
				p.Printf("warning: %s verified by md5 only (weak); add sha256", "z.tar")
			},
			lines: []string{"warning: z.tar verified by md5 only (weak); add sha256"},
		},
		{
			name: "long tasks print minutes",
			run: func(p *Printer) {
				p.now = steppedClock(95 * time.Second)
				b := p.Start("building gcc", 1, Items)
				b.Add(1)
				b.Finish(nil)
			},
			lines: []string{
				"building gcc (1 item)",
				"built gcc: 1 item in 1m35s",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := &Printer{Out: &buf, now: steppedClock(300 * time.Millisecond)}
			tt.run(p)
			out := buf.String()
			if strings.ContainsAny(out, "\r\x1b") {
				t.Fatalf("plain output holds a carriage return or escape: %q", out)
			}
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.lines, "\n") {
				t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.lines, "\n"))
			}
		})
	}
}

func TestQuietPrintsNothingButStillCounts(t *testing.T) {
	var buf bytes.Buffer
	p := &Printer{Out: &buf, Quiet: true}
	b := p.Start("fetching a", 10, Bytes)
	n, err := io.Copy(io.Discard, b.Proxy(strings.NewReader("abcdef")))
	if err != nil || n != 6 {
		t.Fatalf("copy through quiet proxy: n=%d err=%v", n, err)
	}
	b.Finish(errors.New("boom"))
	p.Printf("hello")
	if buf.Len() != 0 {
		t.Fatalf("quiet printer wrote %q", buf.String())
	}
	if got := b.done.Load(); got != 6 {
		t.Fatalf("quiet bar counted %d bytes, want 6", got)
	}
}

func TestNilPrinterAndBarAreHarmless(t *testing.T) {
	var p *Printer
	b := p.Start("fetching a", 1, Bytes)
	if b != nil {
		t.Fatalf("nil printer returned a bar")
	}
	b.Add(5)
	r := strings.NewReader("x")
	if b.Proxy(r) != io.Reader(r) {
		t.Fatalf("nil bar's proxy is not the reader itself")
	}
	b.Finish(nil)
	p.Printf("nothing")
}

func TestAFileThatIsNotATerminalGetsPlainLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	p := &Printer{Out: f}
	b := p.Start("fetching big.tar.xz", 4096, Bytes)
	b.Add(4096)
	b.Finish(nil)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := string(data)
	if strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("log file holds a carriage return or escape: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "fetching big.tar.xz (4.0 KiB)" || !strings.HasPrefix(lines[1], "fetched big.tar.xz: 4.0 KiB in ") {
		t.Fatalf("log file lines: %q", lines)
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"},
		{3 << 30, "3.0 GiB"},
	}
	for _, tt := range tests {
		if got := size(tt.n); got != tt.want {
			t.Errorf("size(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestWarningsAreYellowOnlyWhenColorIsOn(t *testing.T) {
	var plain, colored bytes.Buffer
	(&Printer{Out: &plain}).Printf("warning: %s is weak", "md5")
	(&Printer{Out: &colored, Color: true}).Printf("warning: %s is weak", "md5")
	(&Printer{Out: &colored, Color: true}).Printf("fetched z.tar")
	if plain.String() != "warning: md5 is weak\n" {
		t.Errorf("without colour: %q", plain.String())
	}
	if colored.String() != "\033[1;33mwarning:\033[0m md5 is weak\nfetched z.tar\n" {
		t.Errorf("with colour: %q", colored.String())
	}
}
