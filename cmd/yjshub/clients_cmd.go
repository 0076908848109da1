package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"yjshub/connectors/signing"
	"yjshub/hub/auth"
)

func clientsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Make API keys and check the clients file that 'serve --clients' reads",
	}
	cmd.AddCommand(clientsNewCommand(), clientsCheckCommand())
	return cmd
}

func clientsNewCommand() *cobra.Command {
	var c auth.FileClient
	var role, seedsDir string
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Make a fresh API key and print it with the clients-file entry that holds its hash",
		Long: `Make a fresh API key for a client of the hub and print it once, with the entry to add to the
clients file. The file holds only the key's SHA-256: hand the key to the client (it sends it as
"Authorization: Bearer <key>") and keep it nowhere else.

Roles: platform (submits applications, follows cases, consents and prefill), department (reports on
its own sub-cases, polls its own inbox, revokes its own licences; needs --department), operator
(connectors, dead letters, reports).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalogue(seedsDir)
			if err != nil {
				return fmt.Errorf("loading the catalogue: %w", err)
			}
			key, hash := auth.NewKey()
			c.Role, c.KeySHA256 = auth.Role(role), hash
			// The entry is checked as the file will be, so that a bad one never reaches it.
			if _, err := auth.Parse(fmt.Appendf(nil, "clients:\n  - {name: %q, role: %q, department: %q, key_sha256: %q}\n",
				c.Name, c.Role, c.Department, c.KeySHA256), departmentCodes(cat)); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "# API key of %s — shown once; give it to the client:\n%s\n\n", c.Name, key)
			fmt.Fprintf(out, "# add to the clients file under clients:\n  - name: %s\n    role: %s\n", c.Name, c.Role)
			if c.Department != "" {
				fmt.Fprintf(out, "    department: %s\n", c.Department)
			}
			fmt.Fprintf(out, "    key_sha256: %s\n", c.KeySHA256)
			return nil
		},
	}
	cmd.Flags().StringVar(&c.Name, "name", "", "the client's name (a-z 0-9 . _ -), e.g. jiangsu-platform")
	cmd.Flags().StringVar(&role, "role", "", "platform, department or operator")
	cmd.Flags().StringVar(&c.Department, "department", "", "the department code a department client acts for")
	seedsFlag(cmd, &seedsDir)
	return cmd
}

func clientsCheckCommand() *cobra.Command {
	var seedsDir string
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a clients file as serve would, listing every problem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalogue(seedsDir)
			if err != nil {
				return fmt.Errorf("loading the catalogue: %w", err)
			}
			cs, err := auth.Load(args[0], departmentCodes(cat))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d clients, no problems\n", args[0], cs.Len())
			return nil
		},
	}
	seedsFlag(cmd, &seedsDir)
	return cmd
}

func signingSecretCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "signing-secret",
		Short: "Print a fresh secret for signing deliveries (a connector's signing_secret)",
		Long: `Print a fresh secret ("whsec_" and 32 random bytes, base64) for a restpush connector's
signing_secret. Give the same secret to the department: it verifies every delivery's
webhook-signature (Standard Webhooks) with it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), signing.NewSecret())
			return nil
		},
	}
}
