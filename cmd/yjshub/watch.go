package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"yjshub/hub/cases"
)

func watchCommand() *cobra.Command {
	var hub string
	var interval, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "watch CASE_ID",
		Short: "Follow a case live until every matter is decided",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			url := strings.TrimRight(hub, "/") + "/api/v1/cases/" + args[0]
			out := cmd.OutOrStdout()
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			seen := 0
			last := ""
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				var v cases.CaseView
				if _, err := call(ctx, http.MethodGet, url, nil, nil, &v); err != nil {
					if ctx.Err() != nil {
						return fmt.Errorf("stopped watching: %w", ctx.Err())
					}
					return err
				}
				if seen == 0 {
					fmt.Fprintf(out, "%s  %d %s (%s)  deadline %s\n", v.ID, v.Bundle.Seq, v.Bundle.Name, v.ApplicantType, v.Deadline.Promised)
				}
				for _, e := range v.Timeline[seen:] {
					fmt.Fprintf(out, "  %s  %-22s %s\n", e.At.Local().Format("15:04:05.000"), e.Type, e.Detail)
				}
				seen = len(v.Timeline)
				if board := drawBoard(v); board != last {
					fmt.Fprint(out, board)
					last = board
				}
				if v.State == cases.CaseCompleted {
					fmt.Fprintf(out, "completed: %s, %d e-licence(s)\n", v.Outcome, len(v.Licences))
					for _, l := range v.Licences {
						fmt.Fprintf(out, "  %s  %s  %s — %s\n", l.Type, l.Number, l.Issuer, validity(l.ValidFrom, l.ValidUntil))
					}
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("stopped watching: %w", ctx.Err())
				case <-tick.C:
				}
			}
		},
	}
	hubFlag(cmd, &hub)
	cmd.Flags().DurationVar(&interval, "interval", 500*time.Millisecond, "how often to ask the hub")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: never)")
	return cmd
}

func validity(from, until string) string {
	if until == "" {
		return "valid from " + from
	}
	return from + " to " + until
}

// drawBoard draws the sub-cases as a board: one row per matter with a bar of its progress.
func drawBoard(v cases.CaseView) string {
	steps := map[string]int{cases.StateWaiting: 0, cases.StateDispatched: 1, cases.StateReceived: 2, cases.StateAccepted: 3,
		cases.StateSupplementRequested: 3, cases.StateResubmitted: 3, cases.StateSuspended: 3,
		cases.StateApproved: 4, cases.StateRejected: 4, cases.StateCancelled: 4}
	var b strings.Builder
	decided := 0
	rows := [][]string{}
	for _, sc := range v.Subcases {
		n := steps[sc.State]
		if n == 4 {
			decided++
		}
		bar := strings.Repeat("█", n*3) + strings.Repeat("░", (4-n)*3)
		rows = append(rows, []string{"  " + bar, sc.State, sc.Department.Name, sc.MatterName})
	}
	table(&b, rows)
	fmt.Fprintf(&b, "  %d/%d decided\n", decided, len(v.Subcases))
	return b.String()
}
