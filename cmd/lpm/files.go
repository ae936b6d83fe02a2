package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newFilesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "files PORT",
		Short: "List the files an installed package owns",
		Args:  argsExactly(1),
		RunE:  runFiles,
	}
}

type fileResult struct {
	Path   string `json:"path"`
	Type   string `json:"type"`
	Mode   string `json:"mode"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	Link   string `json:"link,omitempty"`
}

func runFiles(cmd *cobra.Command, args []string) error {
	e, db, err := forQuery(cmd)
	if err != nil {
		return err
	}
	defer db.Close()
	name, err := installedName(db, args[0])
	if err != nil {
		return fmt.Errorf("files %w", err)
	}
	files, err := db.Files(name)
	if err != nil {
		return err
	}
	results := []fileResult{}
	for _, f := range files {
		results = append(results, fileResult{Path: "/" + f.Path, Type: f.Type, Mode: fmt.Sprintf("%04o", f.Mode), Size: f.Size, SHA256: f.SHA256, Link: f.Link})
	}
	if e.cfg.JSON {
		return printJSON(results)
	}
	w := bufio.NewWriter(os.Stdout)
	for _, r := range results {
		switch r.Type {
		case "dir":
			fmt.Fprintln(w, r.Path+"/")
		case "symlink":
			fmt.Fprintf(w, "%s -> %s\n", r.Path, r.Link)
		default:
			fmt.Fprintln(w, r.Path)
		}
	}
	return w.Flush()
}
