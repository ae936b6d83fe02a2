package main

import (
	"archive/tar"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// distccLog is distccd's log file.
type distccLog string

func (l distccLog) String() string {
	data, _ := os.ReadFile(string(l))
	return string(data)
}

// startDistccd runs Debian's distccd on 127.0.0.1 only and returns its
// address and its log.
func startDistccd(t *testing.T) (string, distccLog) {
	t.Helper()
	bin, err := exec.LookPath("distccd")
	if err != nil {
		t.Skip("distccd is not installed (apt-get install distcc)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// A file, not a pipe: distccd's forked workers hold it open.
	logFile, err := os.Create(t.TempDir() + "/distccd.log")
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	log := distccLog(logFile.Name())
	cmd := exec.Command(bin, "--daemon", "--no-detach", "--listen", "127.0.0.1", "--port", fmt.Sprint(port),
		"--allow", "127.0.0.1", "--jobs", "2", "--log-stderr", "--log-level", "info")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// distccd drops root for its own user, which needs a TMPDIR it may
	// write (t.TempDir is root's alone).
	tmp, err := os.MkdirTemp("", "lpm-distccd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// distccd and its workers are one process group of their own.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 50 {
			t.Fatalf("distccd does not listen on %s:\n%s", addr, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return addr, log
}

// calcPort writes a port whose source, a real tarball, compiles two C
// files separately (distcc sends compiles, not links, to its hosts).
func calcPort(t *testing.T) string {
	t.Helper()
	tree, src := t.TempDir(), t.TempDir()
	sum := writeTarGz(t, filepath.Join(src, "calc-1.0.tar.gz"), []tarEntry{
		{name: "calc-1.0/", typ: tar.TypeDir},
		{name: "calc-1.0/main.c", body: "int twice(int);\nint main(void) { return twice(0); }\n"},
		{name: "calc-1.0/util.c", body: "int twice(int x) { return 2 * x; }\n"},
		{name: "calc-1.0/Makefile", body: "calc: main.o util.o\n\t$(CC) -o $@ main.o util.o\n%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n"},
	})
	writePort(t, tree, "calc", fmt.Sprintf(`name = "calc"
version = "1.0"
[[source]]
url = "file://%s/calc-1.0.tar.gz"
sha256 = "%s"
[build]
style = "make"
check = './calc'
install = 'install -Dm755 calc "$DESTDIR/usr/bin/calc"'
`, src, sum))
	return tree
}

func TestBuildsCompileThroughDistccUnlessThePortOptsOut(t *testing.T) {
	addr, log := startDistccd(t)
	r := newRoot(t, calcPort(t))
	conf, _ := os.ReadFile(r.path("etc/lpm/lpm.toml"))
	conf = append(conf, fmt.Sprintf("distcc_hosts = \"%s/4\"\n", addr)...)
	if err := os.WriteFile(r.path("etc/lpm/lpm.toml"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := r.lpm("build", "calc")
	buildLog, _ := os.ReadFile(r.path("var/log/lpm/build/calc-1.0.log"))
	if code != 0 {
		t.Fatalf("build through distcc failed:\n%s\n%s\n%s", out, errOut, buildLog)
	}
	if !strings.Contains(errOut, "compiling through distcc on "+addr+"/4 (4 jobs)") {
		t.Errorf("lpm does not say it compiles through distcc:\n%s", errOut)
	}
	if !strings.Contains(string(buildLog), "distcc cc -O2 -pipe -c -o main.o main.c") {
		t.Errorf("the build did not run the compiler as distcc cc:\n%s", buildLog)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(log.String(), "COMPILE_OK") < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, f := range []string{"main.c", "util.c"} {
		found := false
		for _, line := range strings.Split(log.String(), "\n") {
			found = found || strings.Contains(line, "COMPILE_OK") && strings.Contains(line, f)
		}
		if !found {
			t.Errorf("distccd's log shows no compile of %s:\n%s\nbuild log:\n%s", f, log, buildLog)
		}
	}

	// A port with distcc = false builds with the local compiler.
	tree := t.TempDir()
	writePort(t, tree, "local", `name = "local"
version = "1.0"
[build]
distcc = false
build = 'echo "int main(void){return 0;}" > local.c && ${CC:-cc} -c local.c && ${CC:-cc} -o local local.o && echo "CC is ${CC:-unset}"'
install = 'install -Dm755 local "$DESTDIR/usr/bin/local"'
`)
	r.ports = append([]string{tree}, r.ports...)
	before := strings.Count(log.String(), "COMPILE_OK")
	r.ok("build", "local")
	localLog, _ := os.ReadFile(r.path("var/log/lpm/build/local-1.0.log"))
	if !strings.Contains(string(localLog), "CC is unset") {
		t.Errorf("a port with distcc = false got CC set:\n%s", localLog)
	}
	if after := strings.Count(log.String(), "COMPILE_OK"); after != before {
		t.Errorf("a port with distcc = false sent %d compiles to distccd", after-before)
	}
}

func TestASandboxedBuildReachesNoNetworkButItsDistccHosts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the sandbox needs root")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	reached := make(chan bool, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
			reached <- true
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	tree := t.TempDir()
	writePort(t, tree, "probe", fmt.Sprintf(`name = "probe"
version = "1.0"
[build]
build = 'if (exec 3<>/dev/tcp/127.0.0.1/%d) 2>/dev/null; then echo "probe: reached"; else echo "probe: unreachable"; fi'
install = 'mkdir -p "$DESTDIR/usr/share/probe"; echo > "$DESTDIR/usr/share/probe/x"'
`, port))
	r := newRoot(t, tree)
	r.ok("build", "probe")
	buildLog, _ := os.ReadFile(r.path("var/log/lpm/build/probe-1.0.log"))
	if !strings.Contains(string(buildLog), "probe: unreachable") {
		t.Errorf("a sandboxed build reached a port on the host's 127.0.0.1:\n%s", buildLog)
	}
	select {
	case <-reached:
		t.Errorf("the host's listener got a connection from the build")
	case <-time.After(200 * time.Millisecond):
	}
}
