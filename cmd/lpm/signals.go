package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Signals. lpm survives kill -9 at any moment (the journal), but a Ctrl-C,
// a closed ssh session or a closed output pipe should not leave even that
// to the next lpm's recovery, nor skip the hooks (ldconfig, grub.cfg) of
// a transaction that committed. So, as pacman does in its commit phase:
// while a transaction or its hooks run, SIGINT, SIGTERM and SIGHUP are
// noted, and lpm stops once they are done (exit 128+signal). Outside
// them, each acts as it always does.
//
// lpm asks for these signals as its first transaction begins, and keeps
// them. A closed pipe on stdout or stderr ends a Go program by SIGPIPE
// unless it asks for SIGPIPE itself, so from then on what follows a
// transaction (its hooks, a plan's next steps) is not cut short by a
// line lpm prints: such writes just fail. Before it, "lpm files big |
// head" ends as any Unix command does. (Asking for SIGPIPE, rather than
// ignoring it, keeps it at its default in the programs lpm runs: an
// ignored signal is inherited across exec, a caught one not.)

// signalGrace is how long after a transaction ended a signal still counts
// as one that came during it (see released).
const signalGrace = 200 * time.Millisecond

var interrupt struct {
	sync.Mutex
	ch      chan os.Signal
	held    int       // transactions and hook runs under way
	pending os.Signal // the first signal that came while held
	// released is when held last went to 0. The runtime hands a signal
	// over to the watching goroutine a moment after it came: one that
	// reaches it just after a transaction ended most likely came during
	// it, and waits for the next stopIfInterrupted too.
	released time.Time
}

// watch takes over SIGINT, SIGTERM, SIGHUP and SIGPIPE for the rest of
// the process; holdSignals calls it, with interrupt locked, as the first
// transaction begins. Not before: a query never needs it, and its
// watching goroutine takes a thread of its own, half a millisecond of
// every lpm owns.
func watch() {
	interrupt.ch = make(chan os.Signal, 8)
	signal.Notify(interrupt.ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		for sig := range interrupt.ch {
			interrupt.Lock()
			switch {
			case sig == syscall.SIGPIPE:
				// Output is gone; the transaction is not.
			case interrupt.held == 0 && time.Since(interrupt.released) > signalGrace:
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
	if interrupt.ch == nil {
		watch()
	}
	interrupt.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			interrupt.Lock()
			interrupt.held--
			if interrupt.held == 0 {
				interrupt.released = time.Now()
			}
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
