package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"yjshub/hub/pseudonym"
)

// pseudonymPath is the keyring file: --pseudonym-keys, else pseudonym.key in the data dir.
func pseudonymPath(file, dataDir string) string {
	if file != "" {
		return file
	}
	return filepath.Join(dataDir, pseudonym.FileName)
}

// openPseudonyms reads serve's keyring of holder pseudonyms, making it (one fresh key, mode
// 0600) on the first start.
func openPseudonyms(o serveOptions, logger *slog.Logger) (*pseudonym.Keyring, error) {
	path := pseudonymPath(o.pseudonymKeys, o.dataDir)
	keys, created, err := pseudonym.Open(path)
	if err != nil {
		return nil, err
	}
	if created {
		logger.Info("pseudonym keyring created: keep it secret and give every hub instance on this database the same file", "path", path, "key", keys.Current())
	} else {
		logger.Info("pseudonym keyring loaded", "path", path, "current", keys.Current(), "keys", len(keys.IDs()))
	}
	return keys, nil
}

func pseudonymCommand() *cobra.Command {
	var dataDir, file string
	cmd := &cobra.Command{
		Use:   "pseudonym",
		Short: "Show, rotate and retire the keys of holder pseudonyms (the audit log's subjects, consents' holders)",
		Long: `Holders appear in the audit log and in consents only as keyed pseudonyms: HMAC-SHA256 of the
USCC or resident ID number under a key of the hub, prefixed with the key's id (k1:…). serve
makes the keyring on its first start (--data-dir/pseudonym.key, mode 0600) and reads it on every
later start; every hub instance on the same database needs the same file.

rotate adds a key and makes it the one new pseudonyms are made with; the older keys stay, so
consents given and audit rows written before still match their holder. retire removes an old
key: what it made matches nobody any more (answer to a key that may have leaked, once the
consents it made have expired, at most 24 hours after the rotation). Restart serve after either.`,
	}
	for _, sub := range []*cobra.Command{
		{
			Use:   "list",
			Short: "List the keyring's key ids, oldest first, and the current one (never the keys)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				keys, err := pseudonym.Load(pseudonymPath(file, dataDir))
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "keys %s; current %s\n", strings.Join(keys.IDs(), ", "), keys.Current())
				return nil
			},
		},
		{
			Use:   "rotate",
			Short: "Add a fresh key and make it current; older keys still match what they made",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				keys, err := pseudonym.Rotate(pseudonymPath(file, dataDir))
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "current key %s (keys %s); restart every hub instance to use it\n", keys.Current(), strings.Join(keys.IDs(), ", "))
				return nil
			},
		},
		{
			Use:   "retire KEY_ID",
			Short: "Remove an old key: the pseudonyms it made match nobody any more",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				keys, err := pseudonym.Retire(pseudonymPath(file, dataDir), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "retired %s; keys %s; restart every hub instance\n", args[0], strings.Join(keys.IDs(), ", "))
				return nil
			},
		},
	} {
		sub.Flags().StringVar(&dataDir, "data-dir", "./data", "serve's data directory, which holds "+pseudonym.FileName)
		sub.Flags().StringVar(&file, "pseudonym-keys", "", "the keyring file, when serve is given --pseudonym-keys")
		cmd.AddCommand(sub)
	}
	return cmd
}
