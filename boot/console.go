package boot

import (
	"bytes"
	"regexp"
	"sync"
)

// A Console collects QEMU's serial output for a test to read while the
// machine runs. Both boot tests use it: this package's and the LFS boot in
// lfsproof.
type Console struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// escapes are terminal control sequences (GRUB's menu and readline draw
// with them).
var escapes = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78cM]|\r`)

// Text is the console so far without terminal control sequences.
func (c *Console) Text() string {
	c.mu.Lock()
	raw := c.buf.String()
	c.mu.Unlock()
	return escapes.ReplaceAllString(raw, "")
}
