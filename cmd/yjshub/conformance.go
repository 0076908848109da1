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

func conformanceCommand() *cobra.Command {
	var (
		cfg     conformance.Config
		headers []string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "conformance --kind restpush --target URL",
		Short: "Check a department's own system against the department contract, before it goes live",
		Long: `Run the department side of the contract (connectors/CONTRACT.md) against a department's own
implementation and print what passes and what fails.

For restpush it POSTs sub-cases to --target as the hub would and checks that the department
accepts a well-formed sub-case (2xx), answers a repeated Idempotency-Key with 2xx or 409, refuses
a sub-case without Idempotency-Key, a broken body and a wrong Content-Type with a 4xx, and answers
within --max-response-time. With --callback it also plays the hub's events endpoint on
--callback-addr and checks that the department calls back with valid events in an allowed order
(received → accepted → a decision), and not for refused or repeated sub-cases.

Everything sent is marked as test data: the header X-Yjshub-Conformance: true, ids starting with
"conformance-". Exit status 1 when a required check fails.

Example:
  yjshub conformance --kind restpush --target https://tobacco.example.gov.cn/yjs/subcases \
      --department tobacco --header "Authorization: Bearer …" \
      --callback --callback-addr 0.0.0.0:8099 --callback-url http://hub-test.example:8099`,
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
			if cfg.Target == "" {
				return usageError{fmt.Errorf("--target is required: the department's endpoint URL")}
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
	f.StringVar(&cfg.Kind, "kind", conformance.KindRestPush, "connector kind whose department side is checked ("+strings.Join(conformance.Kinds, ", ")+")")
	f.StringVar(&cfg.Target, "target", "", "the department's endpoint URL, as the hub would be configured with it")
	f.StringVar(&cfg.Department, "department", "conformance", "department code the sub-cases carry in data.department")
	f.StringArrayVar(&headers, "header", nil, `header sent with every request, "Name: value" (repeatable; values are never printed)`)
	f.StringVar(&cfg.SigningSecret, "signing-secret", os.Getenv("YJSHUB_SIGNING_SECRET"), "the connector's signing_secret: sign every request and check that bad signatures are refused (env YJSHUB_SIGNING_SECRET)")
	f.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "bound on each request")
	f.DurationVar(&cfg.MaxResponseTime, "max-response-time", 3*time.Second, "longest an answer may take")
	f.BoolVar(&cfg.Callback, "callback", false, "also check the department's callbacks, playing the hub's events endpoint")
	f.StringVar(&cfg.CallbackAddr, "callback-addr", "127.0.0.1:0", "listen address of the events endpoint (with --callback)")
	f.StringVar(&cfg.CallbackURL, "callback-url", "", "base URL the department reaches the events endpoint at (default http://<callback-addr>)")
	f.DurationVar(&cfg.CallbackWait, "callback-wait", 30*time.Second, "how long to wait for the department's events (with --callback)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON, for tools")
	return cmd
}
