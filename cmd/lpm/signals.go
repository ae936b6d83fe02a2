package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Signals. lpm survives kill -9 at any moment (the journal), but a Ctrl-C,
// a closed ssh session or a closed output pipe should not leave even that
// to the next lpm's recovery, nor skip the hooks (ldconfig, grub.cfg) of
// a transaction that committed. So, as pacman does in its commit phase:
// while a transaction or its hooks run, SIGINT, SIGTERM and SIGHUP are
// noted, and lpm stops once they are done (exit 128+signal); a closed
// pipe is ignored from the first transaction on. Outside them, each acts as it always does.

var interrupt struct {
	sync.Mutex
	held    int       // transactions and hook runs under way
	pending os.Signal // the first signal that came while held
	// transacted: a transaction began. A closed output pipe is ignored
	// from then on, so that what follows it (its hooks, the plan's next
	// steps) is not cut short by a line lpm prints between them.
	transacted bool
}

// watchSignals takes over SIGINT, SIGTERM, SIGHUP and SIGPIPE for the
// rest of the process.
func watchSignals() {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		for sig := range ch {
			interrupt.Lock()
			switch {
			case sig == syscall.SIGPIPE && interrupt.transacted:
				// Output is gone; the transaction is not.
			case interrupt.held == 0:
				dieBy(sig.(syscall.Signal))
			case interrupt.pending == nil:
				interrupt.pending = sig
				fmt.Fprintf(os.Stderr, "lpm: %v: finishing the transaction under way first (it is never left half-done); lpm stops after it\n", sig)
			}
			interrupt.Unlock()
		}
	}()
}

// holdSignals defers the signals watchSignals takes until release. A
// signal that came meanwhile is acted on by stopIfInterrupted.
func holdSignals() (release func()) {
	interrupt.Lock()
	interrupt.held++
	interrupt.transacted = true
	interrupt.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			interrupt.Lock()
			interrupt.held--
			interrupt.Unlock()
		})
	}
}

// stopIfInterrupted ends lpm when a signal came while a transaction or
// its hooks ran and none runs now: called once hooks have run, and as
// the command returns.
func stopIfInterrupted() {
	interrupt.Lock()
	defer interrupt.Unlock()
	if interrupt.pending == nil || interrupt.held > 0 {
		return
	}
	stopProfile()
	fmt.Fprintf(os.Stderr, "lpm: stopped after the transaction, on %v\n", interrupt.pending)
	os.Exit(128 + int(interrupt.pending.(syscall.Signal)))
}

// dieBy ends lpm as the signal's default action would.
func dieBy(sig syscall.Signal) {
	stopProfile()
	signal.Reset(sig)
	syscall.Kill(os.Getpid(), sig)
	// A signal the process blocks would arrive late; exit as it would.
	os.Exit(128 + int(sig))
}
