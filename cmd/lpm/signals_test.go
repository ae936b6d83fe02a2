package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// A Ctrl-C, SIGTERM or SIGHUP that comes while a transaction runs lets it
// finish (and its hooks run); lpm stops after it with 128+signal, and the
// next lpm has nothing to recover. (The runtime hands a signal to lpm's
// watcher a moment after it came: when lpm is done and exits first, it
// exits 0, its work done, and nothing was cut short either way.)
func TestASignalMidTransactionLetsItFinishThenStops(t *testing.T) {
	for _, tt := range []struct {
		point string
		sig   syscall.Signal
	}{
		{"journaled:1:INT", syscall.SIGINT},
		{"staged:1:TERM", syscall.SIGTERM},
		{"committed:1:HUP", syscall.SIGHUP},
	} {
		t.Run(tt.point, func(t *testing.T) {
			r := newRoot(t)
			r.ok("install", "--file", configPackage(t, "c", "1.0", "one\n"))
			cmd := exec.Command(lpmBin, "--root", r.dir, "--yes", "install", "--file", configPackage(t, "c", "2.0", "two\n"))
			cmd.Env = append(os.Environ(), "LPM_CONFIG=", "LPM_TEST_CRASH="+tt.point)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			switch {
			case err == nil:
			case errors.As(err, &ee) && ee.ExitCode() == 128+int(tt.sig):
				if !strings.Contains(string(out), "finishing the transaction under way first") || !strings.Contains(string(out), "stopped after the transaction") {
					t.Errorf("lpm did not say it finished the transaction first:\n%s", out)
				}
			default:
				t.Fatalf("lpm install with %s: %v, want exit %d (or 0)\n%s", tt.point, err, 128+int(tt.sig), out)
			}
			if live, _ := os.ReadFile(r.path("etc/c.conf")); string(live) != "two\n" {
				t.Errorf("etc/c.conf after the signal: %q, want the new version's", live)
			}
			_, errOut, _ := r.lpm("list")
			if strings.Contains(errOut, "recovered") {
				t.Errorf("the next lpm had to recover the transaction: %s", errOut)
			}
			if got := r.ok("list"); !strings.Contains(got, "2.0-1") {
				t.Errorf("lpm list after the signal:\n%s\nwant c 2.0-1", got)
			}
		})
	}
}

// lpm install ... | head: the pipe lpm writes to closes while the
// transaction runs. The transaction finishes; lpm is not killed by
// SIGPIPE halfway through it.
func TestAClosedOutputPipeDoesNotCutATransactionShort(t *testing.T) {
	r := newRoot(t)
	r.ok("install", "--file", configPackage(t, "c", "1.0", "one\n"))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close() // every write lpm makes fails with EPIPE
	cmd := exec.Command(lpmBin, "--root", r.dir, "--yes", "install", "--file", configPackage(t, "c", "2.0", "two\n"))
	cmd.Env = append(os.Environ(), "LPM_CONFIG=")
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Run()
	pw.Close()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signal() == syscall.SIGPIPE {
		t.Errorf("lpm was killed by SIGPIPE")
	}
	_, errOut, _ := r.lpm("list")
	if strings.Contains(errOut, "recovered") {
		t.Errorf("the next lpm had to recover the transaction: %s", errOut)
	}
	if live, _ := os.ReadFile(r.path("etc/c.conf")); string(live) != "two\n" {
		t.Errorf("etc/c.conf: %q, want the new version's", live)
	}
}
