// Command yjshub is the integration hub of 一件事一次办: `yjshub serve` runs the hub,
// `yjshub catalogue` checks and shows the catalogue of bundles, matters and departments.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// exitError carries a process exit code out of a command whose message is already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run builds the command tree, runs it and returns the process exit code: 0 on success,
// 1 when the work failed, 2 when the command line was wrong.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context: its end stops a long-running command as a signal would.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "yjshub",
		Short:         "The integration hub of 一件事一次办: one application, every department's back office",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCommand(), benchCommand(), catalogueCommand(), submitCommand(), watchCommand(), deptsimCommand(), platformsimCommand(), dlqCommand(), reportCommand(), conformanceCommand(), clientsCommand(), signingSecretCommand(), auditCommand(), deadlinesCommand(), pseudonymCommand(), connectorsCommand())

	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case isUsageError(err):
		fmt.Fprintf(stderr, "yjshub: %v\nRun 'yjshub --help' for usage.\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "yjshub: %v\n", err)
	return 1
}

// usageError marks a wrong command line.
type usageError struct{ error }

func isUsageError(err error) bool {
	var ue usageError
	if errors.As(err, &ue) {
		return true
	}
	// cobra's own argument and flag errors.
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires ", "flag needs an argument", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
