package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"yjshub/connectors"
)

// connectorsCommand is `yjshub connectors`: the deployment's connectors file, without a hub.
func connectorsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connectors",
		Short: "Check a connectors file (see connectors/README.md) before a hub runs it",
	}
	cmd.AddCommand(connectorsCheckCommand())
	return cmd
}

func connectorsCheckCommand() *cobra.Command {
	var seeds string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check FILE...",
		Short: "Report every problem of connectors files, with line and column, as serve would refuse them",
		Long: `Check connectors files as serve does at startup and on reload, without a hub: every
problem at once, each as FILE:LINE:COLUMN: PATH: MESSAGE in the file's own keys, with the
nearest key, department (of the catalogue) or kind when one is mistyped. Exits 1 when a file
has problems.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalogue(seeds)
			if err != nil {
				return fmt.Errorf("loading the catalogue: %w", err)
			}
			codes := departmentCodes(cat)
			type report struct {
				File     string               `json:"file"`
				OK       bool                 `json:"ok"`
				Problems []connectors.Problem `json:"problems"`
			}
			var reports []report
			failed := false
			for _, path := range args {
				r := report{File: path, Problems: []connectors.Problem{}}
				f, err := connectors.LoadChecked(path, codes)
				var ce *connectors.CheckError
				switch {
				case errors.As(err, &ce):
					r.Problems = ce.Problems
				case err != nil:
					r.Problems = []connectors.Problem{{Rule: "unreadable", Message: err.Error()}}
				}
				r.OK = err == nil
				failed = failed || !r.OK
				reports = append(reports, r)
				if asJSON {
					continue
				}
				out, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
				if r.OK {
					supervision := "off"
					if f.Supervision != nil {
						supervision = "on"
					}
					fmt.Fprintf(out, "%s: ok (%d department(s), %d platform(s), supervision %s)\n",
						path, len(f.Departments), len(f.Platforms), supervision)
					continue
				}
				for _, p := range r.Problems {
					fmt.Fprintf(stderr, "%s:%s\n", path, p)
				}
				fmt.Fprintf(stderr, "%s: %d problem(s)\n", path, len(r.Problems))
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(reports); err != nil {
					return err
				}
			}
			if failed {
				return exitError{code: 1}
			}
			return nil
		},
	}
	seedsFlag(cmd, &seeds)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the problems of every file as JSON (file, ok, problems: line, column, path, rule, message)")
	return cmd
}
