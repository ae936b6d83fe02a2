package builder

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The sandbox's network. A sandboxed build runs in a network namespace of
// its own holding only a loopback interface, as Portage's network-sandbox
// does: sources were fetched before the build, and a build that reaches
// the network is a build that is not reproducible. The one exception is
// distcc: for each TCP host of build.distcc_hosts lpm listens on the
// namespace's 127.0.0.1 and forwards each connection to that host, so the
// build reaches those addresses and nothing else, and DISTCC_HOSTS inside
// names the forwarders.

// A forward is one distcc host reached from inside the namespace.
type forward struct {
	to string // HOST:PORT outside
	ln net.Listener
}

// startIsolated starts cmd in a new network namespace with lo up and a
// forwarder for each TCP host of the distcc host list; prepare gets the
// list rewritten to the forwarders, to put into cmd's environment, just
// before cmd starts. It returns a function that stops the forwarders. The
// namespace is made on a thread of its own, which forks cmd (so cmd
// inherits it) and then ends with its goroutine: no other goroutine ever
// runs in it.
func startIsolated(cmd *exec.Cmd, hosts string, prepare func(hosts string)) (func(), error) {
	specs, targets, err := distccTargets(hosts)
	if err != nil {
		return nil, err
	}
	type started struct {
		fwds []*forward
		err  error
	}
	ch := make(chan started)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		var s started
		defer func() { ch <- s }()
		if s.err = unix.Unshare(unix.CLONE_NEWNET); s.err != nil {
			s.err = fmt.Errorf("making the build's network namespace: %w", s.err)
			return
		}
		if s.err = loopbackUp(); s.err != nil {
			return
		}
		for _, to := range targets {
			ln, err := net.Listen("tcp", "127.0.0.1:0") // a socket of the new namespace
			if err != nil {
				s.err = fmt.Errorf("listening for distcc host %s in the build's network namespace: %w", to, err)
				return
			}
			s.fwds = append(s.fwds, &forward{to: to, ln: ln})
		}
		// Each TCP host becomes its forwarder, keeping its limit and
		// options.
		rewritten := make([]string, 0, len(specs))
		k := 0
		for _, sp := range specs {
			if sp.target == "" {
				rewritten = append(rewritten, sp.text)
				continue
			}
			rewritten = append(rewritten, s.fwds[k].ln.Addr().String()+sp.rest)
			k++
		}
		prepare(strings.Join(rewritten, " "))
		s.err = cmd.Start()
	}()
	s := <-ch
	stop := func() {
		for _, f := range s.fwds {
			f.ln.Close()
		}
	}
	if s.err != nil {
		stop()
		return nil, s.err
	}
	for _, f := range s.fwds {
		go f.serve()
	}
	return stop, nil
}

func (f *forward) serve() {
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return // closed when the phase ended
		}
		go func() {
			defer in.Close()
			out, err := net.Dial("tcp", f.to) // from the host's namespace
			if err != nil {
				return // distcc then compiles locally, and says so
			}
			defer out.Close()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				io.Copy(out, in)
				out.(*net.TCPConn).CloseWrite()
				wg.Done()
			}()
			io.Copy(in, out)
			in.(*net.TCPConn).CloseWrite()
			wg.Wait()
		}()
	}
}

// loopbackUp brings up lo in the current thread's network namespace:
// builds and test suites talk to 127.0.0.1.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing up lo in the build's network namespace: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up lo in the build's network namespace: %w", err)
	}
	return nil
}

// A hostSpec is one word of distcc's host list.
type hostSpec struct {
	text   string // as written
	target string // HOST:PORT for a TCP host, "" for anything else
	rest   string // "/LIMIT,OPTIONS" after the address
}

// distccTargets reads distcc's host list (man distcc, HOST
// SPECIFICATIONS): "localhost" compiles locally, HOST[:PORT][/LIMIT][,OPT]
// is a TCP host (port 3632 by default), and options such as --randomize
// pass through. Hosts over ssh (@HOST) and zeroconf need more than one
// address and are refused under the sandbox.
func distccTargets(hosts string) ([]hostSpec, []string, error) {
	var specs []hostSpec
	var targets []string
	for _, word := range strings.Fields(hosts) {
		sp := hostSpec{text: word}
		switch {
		case strings.HasPrefix(word, "--") || word == "localhost" || strings.HasPrefix(word, "localhost/"):
		case strings.HasPrefix(word, "@") || strings.Contains(word, "@") || strings.HasPrefix(word, "+"):
			return nil, nil, fmt.Errorf("build.distcc_hosts: %q (ssh or zeroconf) cannot be reached from the build sandbox; list TCP hosts (HOST[:PORT][/LIMIT]) or set build.sandbox = false", word)
		default:
			addr := word
			if i := strings.IndexAny(word, "/,"); i >= 0 {
				addr, sp.rest = word[:i], word[i:]
			}
			if !strings.Contains(addr, ":") {
				addr += ":3632"
			}
			sp.target = addr
			targets = append(targets, addr)
		}
		specs = append(specs, sp)
	}
	return specs, targets, nil
}
