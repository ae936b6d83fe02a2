package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lfs-lpm/lpm/pkgdb"
)

func newHistoryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List the transactions made on the root",
		Args:  cobra.NoArgs,
		RunE:  runHistory,
	}
}

type historyResult struct {
	ID       int64             `json:"id"`
	Started  time.Time         `json:"started"`
	State    string            `json:"state"`
	Command  string            `json:"command"`
	Packages []pkgdb.TxPackage `json:"packages"`
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
	results := []historyResult{}
	for _, r := range recs {
		results = append(results, historyResult{ID: r.ID, Started: r.Started, State: r.State, Command: r.Command, Packages: r.Packages})
	}
	if e.cfg.JSON {
		return printJSON(results)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tDATE\tSTATE\tCHANGES")
	for _, r := range results {
		var changes []string
		for _, p := range r.Packages {
			switch p.Action {
			case "install":
				changes = append(changes, "+"+p.Name+" "+p.NewVersion)
			case "remove":
				changes = append(changes, "-"+p.Name+" "+p.OldVersion)
			default:
				changes = append(changes, p.Name+" "+p.OldVersion+" -> "+p.NewVersion)
			}
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", r.ID, r.Started.Local().Format("2006-01-02 15:04:05"), r.State, strings.Join(changes, ", "))
	}
	return w.Flush()
}
