package main

import (
	"context"
	"errors"
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
			var v cases.CaseView
			gaveUp := func() error {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
					if v.ID == "" {
						return fmt.Errorf("gave up after %s: the hub did not answer for case %s", timeout, args[0])
					}
					return fmt.Errorf("gave up after %s: case %s is still %s (%s)", timeout, v.ID, v.State, standing(v))
				}
				return fmt.Errorf("stopped watching: %w", ctx.Err())
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				var next cases.CaseView
				if _, err := call(ctx, http.MethodGet, url, nil, nil, &next); err != nil {
					if ctx.Err() != nil {
						return gaveUp()
					}
					return err
				}
				v = next
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
					return gaveUp()
				case <-tick.C:
				}
			}
		},
	}
	hubFlag(cmd, &hub)
	cmd.Flags().DurationVar(&interval, "interval", 500*time.Millisecond, "how often to ask the hub")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long with a non-zero exit, saying where the case stands (0: never)")
	return cmd
}

func validity(from, until string) string {
	if until == "" {
		return "valid from " + from
	}
	return from + " to " + until
}

// subcaseStatus is a sub-case's state as the board shows it: a sub-case whose delivery failed
// for good shows delivery_failed with its dead letter, one being retried its attempts and next
// try, rather than dispatched like one in flight.
func subcaseStatus(sc cases.SubcaseView) string {
	d := sc.Delivery
	switch {
	case d == nil || sc.State != cases.StateDispatched && d.State != cases.DeliveryFailed:
		return sc.State
	case d.State == cases.DeliveryFailed:
		return fmt.Sprintf("delivery_failed (dead letter %s: %s)", d.DeadLetterID, d.LastError)
	case d.State == cases.DeliveryRetrying:
		next := ""
		if d.NextAttemptAt != nil {
			next = ", next " + d.NextAttemptAt.Local().Format("15:04:05")
		}
		return fmt.Sprintf("dispatched, retrying (%d attempts, %s%s)", d.Attempts, d.LastError, next)
	}
	return sc.State
}

// standing says in a few words where a case's matters stand.
func standing(v cases.CaseView) string {
	decided, failed, retrying := 0, 0, 0
	for _, sc := range v.Subcases {
		switch {
		case sc.State == cases.StateApproved || sc.State == cases.StateRejected || sc.State == cases.StateCancelled || sc.State == cases.StateWithdrawn:
			decided++
		case sc.Delivery != nil && sc.Delivery.State == cases.DeliveryFailed:
			failed++
		case sc.Delivery != nil && sc.Delivery.State == cases.DeliveryRetrying:
			retrying++
		}
	}
	out := fmt.Sprintf("%d/%d decided", decided, len(v.Subcases))
	if failed > 0 {
		out += fmt.Sprintf(", %d delivery failed for good: replay the dead letter (yjshub dlq)", failed)
	}
	if retrying > 0 {
		out += fmt.Sprintf(", %d being retried", retrying)
	}
	return out
}

// drawBoard draws the sub-cases as a board: one row per matter with a bar of its progress.
func drawBoard(v cases.CaseView) string {
	steps := map[string]int{cases.StateWaiting: 0, cases.StateDispatched: 1, cases.StateReceived: 2, cases.StateAccepted: 3,
		cases.StateSupplementRequested: 3, cases.StateResubmitted: 3, cases.StateSuspended: 3,
		cases.StateApproved: 4, cases.StateRejected: 4, cases.StateCancelled: 4}
	var b strings.Builder
	rows := [][]string{}
	for _, sc := range v.Subcases {
		n := steps[sc.State]
		bar := strings.Repeat("█", n*3) + strings.Repeat("░", (4-n)*3)
		if sc.Delivery != nil && sc.Delivery.State == cases.DeliveryFailed {
			bar = strings.Repeat("✗", 12)
		}
		rows = append(rows, []string{"  " + bar, subcaseStatus(sc), sc.Department.Name, sc.MatterName})
	}
	table(&b, rows)
	fmt.Fprintf(&b, "  %s\n", standing(v))
	return b.String()
}
