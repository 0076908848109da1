package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"yjshub/connectors/conformance"
)

// targetHelp says what --target is, by kind.
var targetHelp = map[string]string{
	conformance.KindRestPush: "the department's endpoint URL, as in the connectors file",
	conformance.KindPlatform: "the platform's pull_url",
	conformance.KindFrontDB:  "the exchange database's DSN (postgres://… or a SQLite file)",
	conformance.KindKafka:    "the hub's Kafka brokers, host:port[,host:port…]",
}

func conformanceCommand() *cobra.Command {
	var (
		cfg     conformance.Config
		headers []string
		asJSON  bool
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "conformance --kind restpush|restpull|frontdb|kafka|platform --department CODE [--target …]",
		Short: "Check a department's or a platform's own system against its contract, before it goes live",
		Long: `Run the hub's side of the contract (connectors/CONTRACT.md, the kind's README) against a
department's own system, or the platform side of the platform connector's contract
(connectors/platform/README.md), and print what passes and what fails. Every check can fail:
a system that is down, answers 404 to everything or accepts anything fails what it has not
shown. Progress goes to stderr as the checks run (--quiet for none); the report to stdout, as a
table or, with --json, as one JSON object with every check, its result and reason, for CI.

--department (the department's code, as in the connectors file) is required for every kind
but platform.

restpush   --target is the department's endpoint. The kit POSTs sub-cases as the hub would and
           checks that a well-formed one is accepted (2xx), a repeated Idempotency-Key answered
           2xx or 409, and that it refuses — with exactly the status the contract asks for and
           a JSON reason — a sub-case without Idempotency-Key (400), a body that is not an
           envelope (400), a wrong Content-Type (415) and, with --signing-secret, a wrong or
           stale signature (401); a refusal counts only from a department that accepted the
           well-formed sub-case. Every request must get an answer within --max-response-time.
           With --callback the kit plays the events endpoint on --callback-addr and checks the
           department's events: valid, in an allowed order, none for refused deliveries.
restpull   The kit plays the hub's inbox and events endpoint on --callback-addr (reached at
           --callback-url); point the department's client at it. It checks that the client
           polls its own inbox with bounds the hub takes, acknowledges under the current lease,
           handles a redelivered item (its first ack answered 409) without a second effect and
           reports valid events in order.
frontdb    --target is the exchange database's DSN (postgres://… or a SQLite file; --driver
           to say which). The kit writes a sub-case into the staging table and checks that the
           department's system picks it up (picked_up_at), writes valid results in an allowed
           order and leaves the hub's rows and columns alone; then marks the results processed.
kafka      --target is the hub's Kafka brokers, --group the department's group_id. The kit
           publishes a sub-case to yjs.subcase.<department> (structured CloudEvents) and checks
           that the group commits past it and that the results on yjs.result are CloudEvents the
           hub takes (structured or binary; type, source, subject, the case id as key) carrying
           valid events in an allowed order.
platform   --target is the platform's pull_url and --push-url its push_url. The kit pulls the
           list of applications page by page and checks pages, items, paging and stable app_ids;
           then it pushes one document of each step (受理, 补正, 出件, 办结, 退件, 撤件, 撤销),
           one again and, with --signing-secret, one wrongly signed.

Everything sent is marked as test data: the header X-Yjshub-Conformance: true (HTTP), ids
starting with "conformance-". Exit status 1 when a required check fails.

Examples:
  yjshub conformance --kind restpush --department tobacco \
      --target https://tobacco.example.gov.cn/yjs/subcases --header "Authorization: Bearer …" \
      --signing-secret "$SECRET" --callback --callback-addr 0.0.0.0:8099 --callback-url http://hub-test.example:8099
  yjshub conformance --kind restpull --department fire-rescue --callback-addr 0.0.0.0:8099 --wait 2m
  yjshub conformance --kind frontdb --department market-supervision --target "postgres://kit:…@10.0.8.20/qzk"
  yjshub conformance --kind kafka --department market-regulation --group scjg-approval-system \
      --target kafka-1.example:9092,kafka-2.example:9092 --json > conformance.json
  yjshub conformance --kind platform --target "https://yjs.example.gov.cn/api/yjs/applications?appkey=…" \
      --push-url https://yjs.example.gov.cn/api/yjs/progress --signing-secret "$SECRET"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, h := range headers {
				name, value, ok := strings.Cut(h, ":")
				if !ok {
					return usageError{fmt.Errorf("--header %q: want \"Name: value\"", strings.TrimSpace(name))}
				}
				if cfg.Headers == nil {
					cfg.Headers = map[string]string{}
				}
				cfg.Headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
			}
			if cfg.Target == "" && cfg.Kind != conformance.KindRestPull {
				return usageError{fmt.Errorf("--target is required with --kind %s: %s", cfg.Kind, targetHelp[cfg.Kind])}
			}
			if cfg.Kind != conformance.KindPlatform && cfg.Department == "" {
				return usageError{fmt.Errorf("--department is required with --kind %s: the department's code as the hub names it (data.department, the connectors file); "+
					"the department's system refuses sub-cases for another department, so without it every check would fail for the wrong reason", cfg.Kind)}
			}
			if cfg.Kind == conformance.KindKafka && cfg.Group == "" {
				return usageError{fmt.Errorf("--group is required with --kind kafka: the department's consumer group, group_id of its connectors file, exactly as its system commits under it")}
			}
			if cfg.Kind == conformance.KindPlatform && cfg.PushURL == "" {
				return usageError{fmt.Errorf("--push-url is required with --kind platform: the platform's push_url")}
			}
			if !quiet {
				// Progress goes to stderr, so that --json on stdout stays one document.
				cfg.Progress = cmd.ErrOrStderr()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			report, err := conformance.Run(ctx, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				err = report.WriteJSON(out)
			} else {
				err = report.WriteText(out)
			}
			if err != nil {
				return err
			}
			if !report.Passed {
				return exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Kind, "kind", conformance.KindRestPush, "connector kind whose other side is checked ("+strings.Join(conformance.Kinds, ", ")+")")
	f.StringVar(&cfg.Target, "target", "", "restpush: the department's endpoint URL; frontdb: the exchange database's DSN; kafka: the brokers; platform: the pull_url")
	f.StringVar(&cfg.PushURL, "push-url", "", "the platform's push_url (with --kind platform)")
	f.IntVar(&cfg.Limit, "limit", 10, "page size asked of the platform (with --kind platform; small, so that paging is checked)")
	f.IntVar(&cfg.MaxPages, "max-pages", 20, "most pages of the platform's list read (with --kind platform)")
	f.StringVar(&cfg.Department, "department", "", "the department's code, as in the connectors file and data.department (required but for --kind platform)")
	f.StringArrayVar(&headers, "header", nil, `header sent with every request, "Name: value" (repeatable; values are never printed)`)
	f.StringVar(&cfg.SigningSecret, "signing-secret", os.Getenv("YJSHUB_SIGNING_SECRET"), "the connector's signing_secret: sign every request and check that bad signatures are refused (env YJSHUB_SIGNING_SECRET)")
	f.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "bound on each request")
	f.DurationVar(&cfg.MaxResponseTime, "max-response-time", 3*time.Second, "longest an answer may take")
	f.BoolVar(&cfg.Callback, "callback", false, "also check the department's callbacks, playing the hub's events endpoint")
	f.StringVar(&cfg.CallbackAddr, "callback-addr", "127.0.0.1:0", "listen address of the kit's events endpoint (restpush with --callback) and inbox (restpull)")
	f.StringVar(&cfg.CallbackURL, "callback-url", "", "base URL the department reaches the kit at (default http://<callback-addr>)")
	f.DurationVar(&cfg.CallbackWait, "wait", 30*time.Second, "how long to wait for the department: its events, polls, picked-up rows, commits and results")
	f.DurationVar(&cfg.CallbackWait, "callback-wait", 30*time.Second, "the same as --wait")
	f.StringVar(&cfg.Group, "group", "", "kafka: the department's consumer group (group_id of its connectors file)")
	f.StringVar(&cfg.Namespace, "namespace", "", "kafka: the hub's bus namespace, put before the topic names")
	f.StringVar(&cfg.Driver, "driver", "", "frontdb: pgx or sqlite (default: pgx for a postgres:// DSN)")
	f.StringVar(&cfg.SubcaseTable, "subcase-table", "", "frontdb: the staging table (default yjs_subcase_in)")
	f.StringVar(&cfg.ResultTable, "result-table", "", "frontdb: the result table (default yjs_result_out)")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object on stdout (every check, its result and reason), for CI")
	f.BoolVar(&quiet, "quiet", false, "print no progress on stderr while the checks run")
	return cmd
}
