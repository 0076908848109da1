package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"yjshub/hub/api"
	"yjshub/hub/sharing"
)

func reportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Reports from a running hub",
	}
	cmd.AddCommand(reportReuseCommand())
	return cmd
}

func reportReuseCommand() *cobra.Command {
	var hub, from, to string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reuse",
		Short: "Fields and materials asked vs. supplied from shared data (免填免交), per bundle and overall",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if from != "" {
				q.Set("from", from)
			}
			if to != "" {
				q.Set("to", to)
			}
			var rep sharing.ReuseReport
			if _, err := call(cmd.Context(), http.MethodGet, strings.TrimRight(hub, "/")+"/api/v1/reports/reuse?"+q.Encode(), nil, nil, &rep); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "report refused:", err)
				return exitError{code: 1}
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			printReuse(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	hubFlag(cmd, &hub)
	cmd.Flags().StringVar(&from, "from", "", "first day of the period, YYYY-MM-DD (China)")
	cmd.Flags().StringVar(&to, "to", "", "last day of the period, YYYY-MM-DD (China)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// barWidth is the width of a share bar in terminal cells.
const barWidth = 20

// bar draws a share of whole as a bar of block characters, in eighths of a cell.
func bar(part, whole int) string {
	if whole <= 0 {
		return strings.Repeat("░", barWidth)
	}
	eighths := part * barWidth * 8 / whole
	if eighths > barWidth*8 {
		eighths = barWidth * 8
	}
	full, rest := eighths/8, eighths%8
	var b strings.Builder
	b.WriteString(strings.Repeat("█", full))
	cells := full
	if rest > 0 {
		b.WriteRune([]rune("▏▎▍▌▋▊▉")[rest-1])
		cells++
	}
	b.WriteString(strings.Repeat("░", barWidth-cells))
	return b.String()
}

func share(part, whole int, pct float64) string {
	return fmt.Sprintf("%s %5.1f%%", bar(part, whole), pct)
}

// printReuse prints the report as a table, one row per bundle and a total.
func printReuse(w io.Writer, rep sharing.ReuseReport) {
	if rep.From != "" || rep.To != "" {
		fmt.Fprintf(w, "period: %s to %s\n", or(rep.From, "the first case"), or(rep.To, "today"))
	}
	if len(rep.Bundles) == 0 {
		fmt.Fprintln(w, "no applications yet: nothing to report")
		return
	}
	rows := [][]string{{"序号", "一件事", "办件", "预填办件", "字段 预填/应填", "免填", "材料 证照/应交", "免交", "预填 准/拒"}}
	row := func(seq, name string, f sharing.ReuseFigures) []string {
		return []string{seq, name, strconv.Itoa(f.Cases), strconv.Itoa(f.CasesPrefilled),
			fmt.Sprintf("%d/%d", f.FieldsPrefilled, f.FieldsAsked), share(f.FieldsPrefilled, f.FieldsAsked, f.FieldsPrefilledPercent),
			fmt.Sprintf("%d/%d", f.MaterialsFromLicences, f.MaterialsAsked), share(f.MaterialsFromLicences, f.MaterialsAsked, f.MaterialsFromLicencesPercent),
			fmt.Sprintf("%d/%d", f.PrefillsGranted, f.PrefillsRefused)}
	}
	for _, b := range rep.Bundles {
		rows = append(rows, row(strconv.Itoa(b.Bundle.Seq), b.Bundle.Name, b.ReuseFigures))
	}
	rows = append(rows, row("", "合计", rep.Overall))
	table(w, rows)
}

func auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The audit log of shared personal data (prefill, consent)",
	}
	cmd.AddCommand(auditVerifyCommand())
	return cmd
}

func auditVerifyCommand() *cobra.Command {
	var hub string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain end to end; exit 1 when it is broken",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var v api.AuditVerification
			if _, err := call(cmd.Context(), http.MethodGet, strings.TrimRight(hub, "/")+"/api/v1/audit/verify", nil, nil, &v); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "verification refused:", err)
				return exitError{code: 1}
			}
			if !v.Intact {
				fmt.Fprintf(cmd.OutOrStdout(), "BROKEN at row %d (%s); %d rows before it hold\n", v.BrokenAt, v.Reason, v.Rows)
				return exitError{code: 1}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "intact: %d rows, each linked to the one before and matching its hash\n", v.Rows)
			return nil
		},
	}
	hubFlag(cmd, &hub)
	return cmd
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
