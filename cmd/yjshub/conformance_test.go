package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"yjshub/connectors/conformance"
	"yjshub/deptsim"
)

func TestConformanceWithoutDepartmentSaysItIsRequired(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"restpush", "restpull", "frontdb", "kafka"} {
		code, _, stderr := runCLI(t, "conformance", "--kind", kind, "--target", "http://127.0.0.1:1/x")
		if code != 2 || !strings.Contains(stderr, "--department is required with --kind "+kind) {
			t.Errorf("--kind %s without --department: exit %d, %q", kind, code, stderr)
		}
	}
	code, _, stderr := runCLI(t, "conformance", "--kind", "kafka", "--department", "tax", "--target", "127.0.0.1:1")
	if code != 2 || !strings.Contains(stderr, "--group is required") {
		t.Errorf("--kind kafka without --group: exit %d, %q", code, stderr)
	}
}

// --json prints one object with every check on stdout, progress goes to stderr, and the exit
// status says whether the department meets the contract.
func TestConformanceJSONForCIAndProgressOnStderr(t *testing.T) {
	t.Parallel()
	sim, err := deptsim.New(deptsim.Config{}, deptsim.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	good := httptest.NewServer(sim)
	t.Cleanup(func() {
		_ = sim.Close()
		good.Close()
	})
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)

	for _, tc := range []struct {
		name, target string
		code         int
	}{
		{"the simulator", good.URL + "/departments/tobacco/subcases", 0},
		{"a URL that answers 404 to everything", notFound.URL, 1},
	} {
		code, stdout, stderr := runCLI(t, "conformance", "--kind", "restpush", "--department", "tobacco", "--target", tc.target, "--json")
		var report conformance.Report
		if err := json.Unmarshal([]byte(stdout), &report); err != nil {
			t.Fatalf("%s: stdout is not one JSON object (%v): %s", tc.name, err, stdout)
		}
		if code != tc.code || report.Passed != (tc.code == 0) || len(report.Checks) < 10 {
			t.Errorf("%s: exit %d, passed %v, %d checks; want exit %d", tc.name, code, report.Passed, len(report.Checks), tc.code)
		}
		for _, c := range report.Checks {
			if c.Result == "" || c.Reason == "" {
				t.Errorf("%s: check %s has no result or reason", tc.name, c.ID)
			}
			if c.Result != conformance.Skip && !strings.Contains(stderr, c.Title) {
				t.Errorf("%s: stderr shows no progress of %s:\n%s", tc.name, c.ID, stderr)
			}
		}
	}
}
