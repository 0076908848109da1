// Command openapi-drive drives a hub through a client that oapi-codegen generated from the
// hub's OpenAPI document, as a department's or a platform's Go team would: list the bundles,
// read the one form of the application's bundle, submit the application and read the case it
// became. It is the Go half of cmd/yjshub/generated_clients_test.go, which copies this module
// into a temporary directory, generates the package hubclient beside this file with
// `go tool oapi-codegen` (pinned in go.mod) and runs it against a hub it started. The package
// is never checked in: the test proves that the document as served generates a client that
// compiles and works, which a checked-in copy would not.
//
// Environment: HUB_URL (the hub's base URL), HUB_KEY (a platform client's key), APPLICATION
// (the path of an application file such as examples/open-bar-enterprise.json), IDEMPOTENCY_KEY.
// It prints one JSON line of what it saw, and exits 1 naming every step that went wrong.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"yjshub.example/openapi-drive/hubclient"
)

// summary is what the driver prints: figures the test compares with the hub's own answers.
type summary struct {
	Client     string `json:"client"`
	Bundles    int    `json:"bundles"`
	FormFields int    `json:"form_fields"`
	CaseID     string `json:"case_id"`
	Bundle     string `json:"bundle"`
	State      string `json:"state"`
	Subcases   int    `json:"subcases"`
}

func main() {
	s, err := drive()
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi-drive:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(s)
	fmt.Println(string(out))
}

func drive() (summary, error) {
	s := summary{Client: "oapi-codegen"}
	raw, err := os.ReadFile(os.Getenv("APPLICATION"))
	if err != nil {
		return s, err
	}
	var app hubclient.SubmitCaseJSONRequestBody
	if err := json.Unmarshal(raw, &app); err != nil {
		return s, fmt.Errorf("the application does not decode into the generated Application: %w", err)
	}
	var asRaw struct {
		Bundle string         `json:"bundle"`
		Form   map[string]any `json:"form"`
	}
	if err := json.Unmarshal(raw, &asRaw); err != nil {
		return s, err
	}
	key := os.Getenv("HUB_KEY")
	c, err := hubclient.NewClientWithResponses(os.Getenv("HUB_URL"),
		hubclient.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		hubclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+key)
			return nil
		}))
	if err != nil {
		return s, err
	}
	ctx := context.Background()

	list, err := c.ListBundlesWithResponse(ctx)
	if err != nil {
		return s, fmt.Errorf("list bundles: %w", err)
	}
	if list.JSON200 == nil {
		return s, fmt.Errorf("list bundles: %d %s", list.StatusCode(), list.Body)
	}
	s.Bundles = len(list.JSON200.Bundles)
	if !slices.ContainsFunc(list.JSON200.Bundles, func(b hubclient.Bundle) bool { return b.Code == asRaw.Bundle }) {
		return s, fmt.Errorf("list bundles: %s is not among the %d bundles", asRaw.Bundle, s.Bundles)
	}

	at := app.ApplicantType
	form, err := c.GetOneFormWithResponse(ctx, asRaw.Bundle, &hubclient.GetOneFormParams{ApplicantType: &at})
	if err != nil {
		return s, fmt.Errorf("get the form: %w", err)
	}
	if form.JSON200 == nil {
		return s, fmt.Errorf("get the form: %d %s", form.StatusCode(), form.Body)
	}
	s.FormFields = len(form.JSON200.Fields)
	fields := map[string]bool{}
	for _, f := range form.JSON200.Fields {
		fields[f.Code] = true
	}
	var errs []error
	for code := range asRaw.Form {
		if !fields[code] {
			errs = append(errs, fmt.Errorf("the application's field %s is not a field of the form", code))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s, err
	}

	idem := os.Getenv("IDEMPOTENCY_KEY")
	sub, err := c.SubmitCaseWithResponse(ctx, &hubclient.SubmitCaseParams{IdempotencyKey: &idem}, app)
	if err != nil {
		return s, fmt.Errorf("submit: %w", err)
	}
	if sub.JSON201 == nil {
		return s, fmt.Errorf("submit: %d %s", sub.StatusCode(), sub.Body)
	}

	got, err := c.GetCaseWithResponse(ctx, sub.JSON201.Id)
	if err != nil {
		return s, fmt.Errorf("read the case: %w", err)
	}
	if got.JSON200 == nil {
		return s, fmt.Errorf("read the case: %d %s", got.StatusCode(), got.Body)
	}
	if got.JSON200.Id != sub.JSON201.Id {
		return s, fmt.Errorf("read the case %s: answered case %s", sub.JSON201.Id, got.JSON200.Id)
	}
	s.CaseID = got.JSON200.Id
	s.Bundle = got.JSON200.Bundle.Code
	s.State = string(got.JSON200.State)
	s.Subcases = len(got.JSON200.Subcases)
	return s, nil
}
