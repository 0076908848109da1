package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"yjshub/hub/deadletter"
)

func dlqCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect and replay dead letters: messages a connector could not deliver for good",
	}
	cmd.AddCommand(dlqListCommand(), dlqReplayCommand())
	return cmd
}

func listDeadLetters(cmd *cobra.Command, hub, connectorName, state string, limit int) ([]deadletter.Letter, error) {
	q := url.Values{}
	if connectorName != "" {
		q.Set("connector", connectorName)
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("limit", fmt.Sprint(limit))
	var out struct {
		DeadLetters []deadletter.Letter `json:"dead_letters"`
	}
	_, err := call(cmd.Context(), http.MethodGet, strings.TrimRight(hub, "/")+"/api/v1/dlq?"+q.Encode(), nil, nil, &out)
	return out.DeadLetters, err
}

func dlqListCommand() *cobra.Command {
	var hub, connectorName, state string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			letters, err := listDeadLetters(cmd, hub, connectorName, state, limit)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), letters)
			}
			rows := [][]string{{"ID", "CONNECTOR", "STATE", "SINCE", "SUB-CASE", "REASON"}}
			for _, l := range letters {
				rows = append(rows, []string{l.ID, l.Connector, l.State, l.CreatedAt.Local().Format("01-02 15:04:05"), l.SubcaseID, l.Reason})
			}
			table(cmd.OutOrStdout(), rows)
			fmt.Fprintf(cmd.OutOrStdout(), "%d dead letter(s)\n", len(letters))
			return nil
		},
	}
	hubFlag(cmd, &hub)
	cmd.Flags().StringVar(&connectorName, "connector", "", "only this connector (e.g. restpush:tobacco)")
	cmd.Flags().StringVar(&state, "state", "dead", "dead, replayed, or empty for all")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many (1-1000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func dlqReplayCommand() *cobra.Command {
	var hub, connectorName string
	var all bool
	cmd := &cobra.Command{
		Use:   "replay [ID ...]",
		Short: "Publish dead letters again to the topic they came from (--all: every waiting one)",
		RunE: func(cmd *cobra.Command, args []string) error {
			ids := args
			if all {
				if len(args) > 0 {
					return usageError{fmt.Errorf("give ids or --all, not both")}
				}
				letters, err := listDeadLetters(cmd, hub, connectorName, deadletter.StateDead, 1000)
				if err != nil {
					return err
				}
				for _, l := range letters {
					ids = append(ids, l.ID)
				}
			}
			if len(ids) == 0 {
				if !all {
					return usageError{fmt.Errorf("name the dead letters to replay, or --all")}
				}
				fmt.Fprintln(cmd.OutOrStdout(), "no dead letters waiting")
				return nil
			}
			bar := progressbar.NewOptions(len(ids),
				progressbar.OptionSetWriter(cmd.ErrOrStderr()),
				progressbar.OptionSetDescription("replaying"),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionClearOnFinish())
			var failed []string
			for _, id := range ids {
				_, err := call(cmd.Context(), http.MethodPost, strings.TrimRight(hub, "/")+"/api/v1/dlq/"+url.PathEscape(id)+"/replay", []byte("{}"), nil, nil)
				if err != nil {
					failed = append(failed, id+": "+err.Error())
				}
				_ = bar.Add(1)
			}
			_ = bar.Finish()
			fmt.Fprintf(cmd.OutOrStdout(), "replayed %d of %d\n", len(ids)-len(failed), len(ids))
			for _, f := range failed {
				fmt.Fprintln(cmd.ErrOrStderr(), "  failed:", f)
			}
			if len(failed) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	hubFlag(cmd, &hub)
	cmd.Flags().BoolVar(&all, "all", false, "replay every waiting dead letter (of --connector, if given)")
	cmd.Flags().StringVar(&connectorName, "connector", "", "with --all: only this connector")
	return cmd
}
