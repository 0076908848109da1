package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"yjshub/hub/cases"
)

func deadlinesCommand() *cobra.Command {
	var hub, department string
	var within int
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "deadlines",
		Short: "Open sub-cases against their promised and statutory limits, worst first",
		Long: `List the sub-cases at departments that are not decided yet, by standing: refused for good by
the department's system (推送失败: a dead letter to replay, whatever its dates), past the statutory
limit (法定时限), past the promised limit (承诺时限), not yet confirmed by the department's system
(未送达: in flight or being retried), due within --within working days, on track, or paused
(suspended, or waiting for the applicant's supplement). The bar shows how much of the promised
limit has been used. Without --all the on-track and the paused are not listed; the counts always
cover every open sub-case. Exit 1 when any is past its statutory limit or refused for good.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if department != "" {
				q.Set("department", department)
			}
			q.Set("within", strconv.Itoa(within))
			if all {
				q.Set("all", "true")
			}
			var w cases.DeadlineWatch
			if _, err := call(cmd.Context(), http.MethodGet, strings.TrimRight(hub, "/")+"/api/v1/deadlines?"+q.Encode(), nil, nil, &w); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "deadlines refused:", err)
				return exitError{code: 1}
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), w); err != nil {
					return err
				}
			} else {
				printDeadlines(cmd.OutOrStdout(), w)
			}
			if w.Counts[cases.StandingOverdueStatutory] > 0 || w.Counts[cases.StandingDeliveryFailed] > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	hubFlag(cmd, &hub)
	cmd.Flags().StringVar(&department, "department", "", "one department's sub-cases (a department's key sees only its own)")
	cmd.Flags().IntVar(&within, "within", 3, "working days ahead that count as due soon (1-60)")
	cmd.Flags().BoolVar(&all, "all", false, "list every open sub-case, not only the overdue and the due soon")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the answer as JSON")
	return cmd
}

// standingLabels are the standings as the table shows them.
var standingLabels = map[string]string{
	cases.StandingDeliveryFailed:   "✗  推送失败",
	cases.StandingUndelivered:      "…  未送达",
	cases.StandingOverdueStatutory: "!! 超法定时限",
	cases.StandingOverduePromised:  "!  超承诺时限",
	cases.StandingDueSoon:          "   即将到期",
	cases.StandingOnTrack:          "   正常",
	cases.StandingPaused:           "   暂停计时",
}

func printDeadlines(w io.Writer, dw cases.DeadlineWatch) {
	c := dw.Counts
	fmt.Fprintf(w, "as of %s: %d refused by the department's system, %d past the statutory limit, %d past the promised limit, %d not yet delivered, %d due within %d working days, %d on track, %d paused\n",
		dw.AsOf, c[cases.StandingDeliveryFailed], c[cases.StandingOverdueStatutory], c[cases.StandingOverduePromised], c[cases.StandingUndelivered],
		c[cases.StandingDueSoon], dw.Within, c[cases.StandingOnTrack], c[cases.StandingPaused])
	if len(dw.Items) == 0 {
		fmt.Fprintln(w, "nothing to list")
		return
	}
	rows := [][]string{{"", "剩余工作日 承诺/法定", "承诺时限已用", "部门", "事项", "一件事", "承诺/法定到期", "推送", "子件"}}
	for _, it := range dw.Items {
		used := it.PromisedDays - it.DaysLeft
		statutoryLeft, statutoryDue := "—", "无法定时限"
		if it.StatutoryDaysLeft != nil {
			statutoryLeft, statutoryDue = fmt.Sprint(*it.StatutoryDaysLeft), it.Deadlines.Statutory
		}
		if it.Deadlines.Provisional {
			statutoryDue += "（暂按周一至周五计）"
		}
		rows = append(rows, []string{standingLabels[it.Standing], fmt.Sprintf("%d / %s", it.DaysLeft, statutoryLeft),
			fmt.Sprintf("%s %d/%d", bar(min(max(used, 0), it.PromisedDays), it.PromisedDays), max(used, 0), it.PromisedDays),
			it.Department.Name, it.Matter.Name, it.Bundle.Name, it.Deadlines.Promised + " / " + statutoryDue,
			deliveryLabel(it.Delivery), it.SubcaseID})
	}
	table(w, rows)
}

// deliveryLabel names a delivery state in Chinese.
func deliveryLabel(state string) string {
	if l, ok := cases.DeliveryLabels[state]; ok {
		return l
	}
	return state
}
