package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lfs-lpm/lpm/pkgdb"
	"github.com/lfs-lpm/lpm/ports"
)

func newHistoryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List the commands that changed the root, newest first",
		Long: `history lists every lpm command that changed the root, newest first: one
entry per command, however many transactions it took (an install builds
between its packages), with what it did to each package. An entry's ID is
what lpm undo takes.`,
		Args: argsExactly(0),
		RunE: runHistory,
	}
}

// A historyEntry is one lpm command that changed the root.
type historyEntry struct {
	ID      int64     `json:"id"` // its first transaction's id
	Started time.Time `json:"started"`
	// State is done, rolled back, or partly done when a later
	// transaction of the command failed after earlier ones were done.
	State        string           `json:"state"`
	Command      string           `json:"command"`
	Transactions []int64          `json:"transactions"`
	Packages     []historyPackage `json:"packages"`

	records []pkgdb.TxRecord // oldest first
}

type historyPackage struct {
	Transaction int64  `json:"transaction"`
	Name        string `json:"name"`
	Action      string `json:"action"`
	OldVersion  string `json:"old_version,omitempty"` // none for an install
	NewVersion  string `json:"new_version,omitempty"` // none for a removal
	OldRelease  int    `json:"old_release,omitempty"`
	NewRelease  int    `json:"new_release,omitempty"`
	OldExplicit bool   `json:"old_explicit"`
	NewExplicit bool   `json:"new_explicit"`
}

// commands groups transactions, oldest first, into the commands that made
// them, newest first.
func commands(recs []pkgdb.TxRecord) []*historyEntry {
	byID := map[int64]*historyEntry{}
	var order []*historyEntry
	for _, r := range recs {
		id := r.CommandID
		if id == 0 {
			id = r.ID
		}
		h := byID[id]
		if h == nil {
			command := r.CommandLine
			if command == "" {
				command = r.Command // recorded before lpm kept command lines
			}
			h = &historyEntry{ID: id, Started: r.Started, Command: command, Transactions: []int64{}, Packages: []historyPackage{}}
			byID[id] = h
			order = append(order, h)
		}
		h.records = append(h.records, r)
		h.Transactions = append(h.Transactions, r.ID)
		for _, p := range r.Packages {
			h.Packages = append(h.Packages, historyPackage{Transaction: r.ID, Name: p.Name, Action: action(p),
				OldVersion: p.OldVersion, NewVersion: p.NewVersion, OldRelease: p.OldRelease, NewRelease: p.NewRelease,
				OldExplicit: p.OldExplicit, NewExplicit: p.NewExplicit})
		}
	}
	for _, h := range order {
		done := 0
		for _, r := range h.records {
			if r.State == pkgdb.StateDone {
				done++
			}
		}
		switch {
		case done == len(h.records):
			h.State = pkgdb.StateDone
		case done == 0:
			h.State = h.records[len(h.records)-1].State
		default:
			h.State = "partly done"
		}
	}
	for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
		order[i], order[j] = order[j], order[i]
	}
	return order
}

// action names what a transaction did to a package: the installer
// records any replacement as an upgrade; history tells a downgrade and a
// reinstall (same version and release) from it.
func action(p pkgdb.TxPackage) string {
	if p.Action != "upgrade" {
		return p.Action
	}
	if p.OldVersion == p.NewVersion {
		switch {
		case p.NewRelease < p.OldRelease:
			return "downgrade"
		case p.NewRelease == p.OldRelease:
			return "reinstall"
		}
		return "upgrade"
	}
	old, errOld := ports.ParseVersion(p.OldVersion)
	new, errNew := ports.ParseVersion(p.NewVersion)
	if errOld == nil && errNew == nil && new.LessThan(old) {
		return "downgrade"
	}
	return "upgrade"
}

// commandLine is how history names a command: its name, the flags the
// user set on it and its arguments ("install --rebuild zlib").
func commandLine(cmd *cobra.Command) string {
	parts := []string{cmd.Name()}
	own := cmd.LocalNonPersistentFlags() // not --root, --yes and the like
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if own.Lookup(f.Name) == nil {
			return
		}
		if f.Value.Type() == "bool" && f.Value.String() == "true" {
			parts = append(parts, "--"+f.Name)
		} else {
			parts = append(parts, "--"+f.Name+"="+f.Value.String())
		}
	})
	return strings.Join(append(parts, cmd.Flags().Args()...), " ")
}

// versionText shows a version, with its release when that is what
// changed ("1.0-1 -> 1.0-2").
func versionText(p historyPackage) (old, new string) {
	old, new = p.OldVersion, p.NewVersion
	if old == new && p.OldRelease != p.NewRelease && p.OldRelease > 0 && p.NewRelease > 0 {
		old, new = fmt.Sprintf("%s-%d", old, p.OldRelease), fmt.Sprintf("%s-%d", new, p.NewRelease)
	}
	return old, new
}

func runHistory(cmd *cobra.Command, args []string) error {
	e, db, err := forQuery(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	recs, err := db.History()
	if err != nil {
		return err
	}
	entries := commands(recs)
	if e.cfg.JSON {
		if entries == nil {
			entries = []*historyEntry{}
		}
		return printJSON(entries)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tDATE\tSTATE\tCOMMAND\tCHANGES")
	for _, h := range entries {
		var changes []string
		for _, p := range h.Packages {
			old, new := versionText(p)
			switch p.Action {
			case "install":
				changes = append(changes, "+"+p.Name+" "+new)
			case "remove":
				changes = append(changes, "-"+p.Name+" "+old)
			case "adopt":
				changes = append(changes, "="+p.Name+" "+new+" (adopted)")
			default:
				changes = append(changes, p.Name+" "+old+" -> "+new)
			}
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", h.ID, h.Started.Local().Format("2006-01-02 15:04:05"), h.State, h.Command, strings.Join(changes, ", "))
	}
	return w.Flush()
}
