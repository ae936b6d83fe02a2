package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	pkgrepo "github.com/lfs-lpm/lpm/repo"
)

func newRepoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repo",
		Short: "Make binary package repositories for other machines",
	}
	create := &cobra.Command{
		Use:   "create DIR",
		Short: "Index and sign the package archives in DIR (or the package cache's, with --from-cache)",
		Long: `repo create writes DIR/index.json, listing every .lpm archive in DIR
with its name, version, release, build hash, dependencies, provides,
sonames, size and sha256, a serial number one above the last index's and an
expiry, and signs it (DIR/index.json.minisig, minisign's format) with the
key from lpm key generate. Serve DIR with any static HTTP server; clients
list its URL and public key in [[repository]] in lpm.toml. Run it again
after adding archives, and before the index expires.`,
		Example: `  lpm key generate /root/lpm-repo.key
  lpm repo create /srv/lpm --from-cache --key /root/lpm-repo.key
  minisign -Vm /srv/lpm/index.json -p /root/lpm-repo.key.pub`,
		Args: cobra.ExactArgs(1),
		RunE: runRepoCreate,
	}
	create.Flags().String("key", "", "the secret key to sign with (lpm key generate)")
	create.Flags().Bool("from-cache", false, "copy the package cache's archives into DIR first")
	create.Flags().Duration("expires", 30*24*time.Hour, "how long clients accept the index")
	cmd.AddCommand(create)
	return cmd
}

func newKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Keys that sign repository indexes",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "generate FILE",
		Short: "Make a signing key pair: FILE (secret, mode 0600) and FILE.pub",
		Long: `key generate makes an ed25519 key pair in minisign's formats: the secret
key in FILE, not encrypted (keep it on the machine that builds), and the
public key in FILE.pub, whose second line is what clients put in
[[repository]] key = "...". minisign -G -W makes keys lpm reads too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := pkgrepo.GenerateKey(args[0])
			if err != nil {
				return err
			}
			fmt.Printf("public key (for [[repository]] key in lpm.toml): %s\n", pub.String())
			return nil
		},
	})
	return cmd
}

func runRepoCreate(cmd *cobra.Command, args []string) error {
	e, err := newEnv(cmd)
	if err != nil {
		return err
	}
	dir := args[0]
	keyFile, _ := cmd.Flags().GetString("key")
	if keyFile == "" {
		return fmt.Errorf("repo create %s: name the signing key with --key (lpm key generate FILE makes one)", dir)
	}
	key, err := pkgrepo.ReadKey(keyFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("repository %s: %w", dir, err)
	}
	if fromCache, _ := cmd.Flags().GetBool("from-cache"); fromCache {
		files, err := filepath.Glob(filepath.Join(e.cfg.Packages, "*.lpm"))
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := copyArchive(f, filepath.Join(dir, filepath.Base(f))); err != nil {
				return fmt.Errorf("repository %s: copying %s: %w", dir, f, err)
			}
		}
	}
	validFor, _ := cmd.Flags().GetDuration("expires")
	ix, skipped, err := pkgrepo.Create(dir, key, validFor, time.Now())
	if err != nil {
		return err
	}
	for _, s := range skipped {
		e.out.Printf("warning: %s has no build hash (built by an older lpm); left out of the index, rebuild it to publish it", s)
	}
	e.out.Printf("repository %s: %d archives, serial %d, expires %s", dir, len(ix.Entries), ix.Serial, ix.Expires.Format(time.RFC3339))
	return nil
}

// copyArchive copies an archive into the repository directory, a hard
// link where it can be, through a temp name so the index never lists a
// part of a file.
func copyArchive(from, to string) error {
	if _, err := os.Stat(to); err == nil {
		os.Remove(to + ".tmp")
	}
	if err := os.Link(from, to+".tmp"); err != nil {
		in, err := os.Open(from)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
	return os.Rename(to+".tmp", to)
}
