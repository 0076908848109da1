package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/spf13/cobra"

	"yjshub/hub/cases"
)

func hubFlag(cmd *cobra.Command, url *string) {
	def := os.Getenv("YJSHUB_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	cmd.Flags().StringVar(url, "hub", def, "the hub's base URL, or host:port (env YJSHUB_URL); the API key, when the hub asks for one, is read from YJSHUB_API_KEY")
	o := new(hubTLSOptions)
	hubTLSFlags(cmd, o)
	withClient := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		// host:port is what a hub prints when it starts; a client that needs a scheme
		// would fail on it with "unsupported protocol scheme".
		u, err := hubBaseURL(*url, o.caFile != "" || o.certFile != "")
		if err != nil {
			return usageError{err}
		}
		*url = u
		return withClient(cmd, args)
	}
}

// apiError is the hub's JSON error shape.
type apiError struct {
	Error struct {
		Status   int    `json:"status"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		Problems []struct {
			Path    string `json:"path"`
			Rule    string `json:"rule"`
			Message string `json:"message"`
		} `json:"problems"`
	} `json:"error"`
}

func (e apiError) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", e.Error.Status, e.Error.Code, e.Error.Message)
	for _, p := range e.Error.Problems {
		fmt.Fprintf(&b, "\n  %s  [%s] %s", p.Path, p.Rule, p.Message)
	}
	return b.String()
}

// apiKeyEnv holds the API key the commands present to the hub (never a flag: a flag shows in
// the process list).
const apiKeyEnv = "YJSHUB_API_KEY"

// defaultHTTPClient calls the hub unless --ca, --cert or --key ask for a client of their own.
var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}

// call sends a request to the hub and decodes a 2xx answer into out; other answers become an
// error carrying the hub's message and problems.
func call(ctx context.Context, method, url string, body []byte, headers map[string]string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key := os.Getenv(apiKeyEnv); key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClientFrom(ctx).Do(req)
	if err != nil {
		return 0, fmt.Errorf("reaching the hub: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		var ae apiError
		if json.Unmarshal(b, &ae) == nil && ae.Error.Code != "" {
			return resp.StatusCode, fmt.Errorf("%s", ae.String())
		}
		return resp.StatusCode, fmt.Errorf("the hub answered %s", resp.Status)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, nil
}

func submitCommand() *cobra.Command {
	var hub, key string
	var asJSON bool
	var retries int
	var uploads uploadOptions
	cmd := &cobra.Command{
		Use:   "submit FILE.json",
		Short: "Submit one application (see examples/) and print the case id",
		Args:  cobra.ExactArgs(1),
		Long: `Submit one application (see examples/) and print the case id.

The file is checked first: JSON syntax and types (with line and column), then the application
schema of its bundle's one form as the hub serves it (every problem by its JSON Pointer). Only
a file without problems is sent.

A material may name a local file instead of a file the hub can fetch:
{"type": "business-licence", "file": "pdf/business-licence.pdf"}, the path relative to the
application (see examples/files/). Each such file is uploaded first (resumable: a run cut off
is resumed by the next, see --upload-state) and the application is sent naming the
material the hub made of it, {"type": …, "id": …}.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			body, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			files, ok := checkApplicationWithFiles(cmd, hub, file, body)
			if !ok {
				return exitError{code: 1}
			}
			if len(files) > 0 {
				if body, err = uploadFiles(cmd, hub, file, body, files, uploads); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					return exitError{code: 1}
				}
			}
			if key == "" {
				// A key of its own, so that sending again after an unclear answer never
				// submits twice.
				key = "cli-" + uuid.NewString()
			}
			headers := map[string]string{"Idempotency-Key": key}
			var v cases.CaseView
			if err := submitWithRetries(cmd, hub+"/api/v1/cases", body, headers, &v, retries); err != nil {
				if unreachable(err) {
					fmt.Fprintln(cmd.ErrOrStderr(), unreachableHint(hub, err))
				} else {
					fmt.Fprintln(cmd.ErrOrStderr(), "submission refused:", err)
				}
				return exitError{code: 1}
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), v)
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.ID)
			statutory := v.Deadline.Statutory + " (statutory)"
			if v.Deadline.Statutory == "" {
				statutory = "no statutory limit"
			}
			if v.Deadline.Provisional {
				statutory += ", provisional: the holiday schedule of that year is not published yet"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d %s: %d matter(s) to %s; number %s; deadline %s (promised), %s\n",
				v.Bundle.Seq, v.Bundle.Name, len(v.Subcases), departmentsOf(v), v.Number, v.Deadline.Promised, statutory)
			return nil
		},
	}
	hubFlag(cmd, &hub)
	cmd.Flags().StringVar(&key, "idempotency-key", "", "send this Idempotency-Key (a repeat returns the first answer); default: a new one per run")
	cmd.Flags().IntVar(&retries, "retries", 5, "send again, with the same Idempotency-Key, after 503, 429 or no answer, this many times at most")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the whole case as JSON")
	uploads.flags(cmd)
	return cmd
}

// checkApplicationFile checks an application file before it is sent and prints every problem
// on standard error; it reports whether the file may be sent. A hub that cannot answer just
// now (5xx) leaves the schema to the submission itself; a hub that does not answer at all is
// reported with how to start one or point at one.
func checkApplicationFile(cmd *cobra.Command, hub, file string, body []byte) bool {
	stderr := cmd.ErrOrStderr()
	app, problems := decodeApplication(body)
	if len(problems) == 0 {
		form, status, err := formOf(cmd.Context(), hub, app)
		switch {
		case err != nil && unreachable(err):
			fmt.Fprintln(stderr, unreachableHint(hub, err))
			return false
		case err != nil && status >= 400 && status < 500:
			fmt.Fprintf(stderr, "%s: the hub has no one form for this application's bundle and applicant type: %v\n", file, err)
			return false
		case err != nil:
			fmt.Fprintf(stderr, "%s: not checked against the form (%v); the hub will check it\n", file, err)
			return true
		}
		if problems, err = schemaProblems(form, body); err != nil {
			fmt.Fprintf(stderr, "%s: not checked against the form: %v\n", file, err)
			return true
		}
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, p.String(file))
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "%s: %d problem(s); nothing was sent\n", file, len(problems))
		return false
	}
	return true
}

func departmentsOf(v cases.CaseView) string {
	seen := map[string]bool{}
	var names []string
	for _, sc := range v.Subcases {
		if !seen[sc.Department.Name] {
			seen[sc.Department.Name] = true
			names = append(names, sc.Department.Name)
		}
	}
	return strings.Join(names, "、")
}

// retryBase is the first wait before sending a submission again; each next wait doubles, up to
// eight times it.
var retryBase = time.Second

// submitWithRetries posts a submission, and sends it again with the same headers (its
// Idempotency-Key) when the hub is saturated or cannot store it just now (503, 429) or did not
// answer, up to retries times, saying so on standard error. Any other refusal is final.
func submitWithRetries(cmd *cobra.Command, url string, body []byte, headers map[string]string, out any, retries int) error {
	wait := retryBase
	for attempt := 0; ; attempt++ {
		status, err := call(cmd.Context(), http.MethodPost, url, body, headers, out)
		if err == nil {
			return nil
		}
		if attempt >= retries || (status != 0 && status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests) {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "the hub cannot take it just now (%v); sending it again in %s (%d of %d)\n", err, wait, attempt+1, retries)
		select {
		case <-cmd.Context().Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 8*retryBase)
	}
}
