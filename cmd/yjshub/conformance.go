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
}

func conformanceCommand() *cobra.Command {
	var (
		cfg     conformance.Config
		headers []string
		asJSON  bool
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "conformance --kind restpush|platform --target URL",
		Short: "Check a department's or a platform's own system against its contract, before it goes live",
		Long: `Run the department side of the contract (connectors/CONTRACT.md), or the platform side of the
platform connector's contract (connectors/platform/README.md), against its own implementation and
print what passes and what fails.

For restpush it POSTs sub-cases to --target as the hub would and checks that the department
accepts a well-formed sub-case (2xx), answers a repeated Idempotency-Key with 2xx or 409, refuses
a sub-case without Idempotency-Key, a broken body and a wrong Content-Type with a 4xx, and answers
within --max-response-time. With --callback it also plays the hub's events endpoint on
--callback-addr and checks that the department calls back with valid events in an allowed order
(received → accepted → a decision), and not for refused or repeated sub-cases.

For platform, --target is the platform's pull_url and --push-url its push_url. The kit pulls
the list of applications page by page (--limit items a page, an empty cursor then each
next_cursor), checks every page ({items, next_cursor}, at most limit items, a full page with a
new next_cursor), every item (app_id, submitted_at, body a JSON object or a string holding one),
that app_ids are unique and that pulling again from the same cursors offers the same app_ids;
then it pushes one document of each step (受理 accepted, 补正 supplement, 出件 result, 办结
completed, 退件 rejected, 撤件 withdrawn, 撤销 revoked, in the hub's field names) with an
Idempotency-Key, each of which must be taken (2xx), sends one again (2xx or 409) and, with
--signing-secret, one signed with another secret (must be refused with a 4xx).

Everything sent is marked as test data: the header X-Yjshub-Conformance: true, ids starting with
"conformance-". Exit status 1 when a required check fails.

Example:
  yjshub conformance --kind restpush --target https://tobacco.example.gov.cn/yjs/subcases \
      --department tobacco --header "Authorization: Bearer …" \
      --callback --callback-addr 0.0.0.0:8099 --callback-url http://hub-test.example:8099
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
	f.StringVar(&cfg.Target, "target", "", "the department's endpoint URL, or the platform's pull_url, as the hub would be configured with it")
	f.StringVar(&cfg.PushURL, "push-url", "", "the platform's push_url (with --kind platform)")
	f.IntVar(&cfg.Limit, "limit", 10, "page size asked of the platform (with --kind platform; small, so that paging is checked)")
	f.IntVar(&cfg.MaxPages, "max-pages", 20, "most pages of the platform's list read (with --kind platform)")
	f.StringVar(&cfg.Department, "department", "", "the department's code, as in the connectors file and data.department (required but for --kind platform)")
	f.StringArrayVar(&headers, "header", nil, `header sent with every request, "Name: value" (repeatable; values are never printed)`)
	f.StringVar(&cfg.SigningSecret, "signing-secret", os.Getenv("YJSHUB_SIGNING_SECRET"), "the connector's signing_secret: sign every request and check that bad signatures are refused (env YJSHUB_SIGNING_SECRET)")
	f.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "bound on each request")
	f.DurationVar(&cfg.MaxResponseTime, "max-response-time", 3*time.Second, "longest an answer may take")
	f.BoolVar(&cfg.Callback, "callback", false, "also check the department's callbacks, playing the hub's events endpoint")
	f.StringVar(&cfg.CallbackAddr, "callback-addr", "127.0.0.1:0", "listen address of the events endpoint (with --callback)")
	f.StringVar(&cfg.CallbackURL, "callback-url", "", "base URL the department reaches the events endpoint at (default http://<callback-addr>)")
	f.DurationVar(&cfg.CallbackWait, "callback-wait", 30*time.Second, "how long to wait for the department's events (with --callback)")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object on stdout (every check, its result and reason), for CI")
	f.BoolVar(&quiet, "quiet", false, "print no progress on stderr while the checks run")
	return cmd
}
