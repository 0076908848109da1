package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"yjshub/hub/api"
	"yjshub/schemas"
)

// schemathesisEnv names the schemathesis executable the contract test runs. Unset, the test
// asks scripts/schemathesis.sh for the one it installed (`make test` and `make contract`
// install it).
const schemathesisEnv = "YJSHUB_SCHEMATHESIS"

// The contract test's schemathesis run, per role. Bounded so that the three runs take about a
// minute on two cores; the seed makes a failure reproducible with the command it prints.
const (
	contractSeed        = "20261127"
	contractMaxExamples = "40"
)

// contractChecks are what schemathesis holds every answer to. All of its checks but one:
//
//	not_a_server_error            no 5xx for any input, valid or not
//	status_code_conformance       every status is one the operation documents
//	content_type_conformance      every body is of a documented media type
//	response_headers_conformance  documented required headers are sent (Location, Cache-Control, WWW-Authenticate …)
//	response_schema_conformance   every body matches its documented schema
//	positive_data_acceptance      data the document calls valid is not refused (see testdata/schemathesis.toml)
//	negative_data_rejection       data the document calls invalid is refused: the document says no more than the hub takes
//	missing_required_header       leaving out a required header is refused
//	unsupported_method            a method the document does not give a path is 405
//	allow_header_conformance      and its Allow lists exactly the document's methods
//	ignored_auth                  a guarded operation refuses a request without a key or with a wrong one
//	use_after_free                a deleted item is gone
//	ensure_resource_availability  an item a POST created can be read back where its links say
//
// Left out: object_level_authorization, which compares two identities' views of one item; each
// run here holds one key.
var contractChecks = strings.Join([]string{
	"not_a_server_error", "status_code_conformance", "content_type_conformance",
	"response_headers_conformance", "response_schema_conformance",
	"positive_data_acceptance", "negative_data_rejection", "missing_required_header",
	"unsupported_method", "allow_header_conformance", "ignored_auth",
	"use_after_free", "ensure_resource_availability",
}, ",")

// schemathesis returns the path of the schemathesis executable, skipping the test when there is
// none (failing it instead when YJSHUB_REQUIRE_REAL is set, so that `make test` cannot pass
// without the contract checked).
func schemathesis(t *testing.T) string {
	t.Helper()
	if exe := os.Getenv(schemathesisEnv); exe != "" {
		return exe
	}
	return installedTool(t, "schemathesis.sh", "schemathesis (or set "+schemathesisEnv+")")
}

// documentOperations counts the operations of the OpenAPI document the hub serves.
func documentOperations(t *testing.T) int {
	t.Helper()
	b, err := schemas.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, item := range doc.Paths {
		for key := range item {
			if slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, key) {
				n++
			}
		}
	}
	return n
}

// stSummary is what the contract test reads from the end of a schemathesis run.
type stSummary struct {
	Operations int // the operations the document has
	Tested     int // those schemathesis tested
	Cases      int // test cases generated: one request each (its ndjson report has one interaction per case)
}

var (
	stSelected = regexp.MustCompile(`(?m)^\s*Selected: \d+/(\d+)\s*$`)
	stTested   = regexp.MustCompile(`(?m)^\s*Tested: (\d+)\s*$`)
	stCases    = regexp.MustCompile(`(?m)^Test cases:\s*\n\s*(\d+) generated`)
)

// parseSummary reads the SUMMARY of a schemathesis run's output.
func parseSummary(out string) (stSummary, error) {
	var s stSummary
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *int
	}{{stSelected, &s.Operations}, {stTested, &s.Tested}, {stCases, &s.Cases}} {
		m := f.re.FindStringSubmatch(out)
		if m == nil {
			return s, errors.New("no " + f.re.String() + " in the summary")
		}
		*f.dst, _ = strconv.Atoi(m[1])
	}
	return s, nil
}

// The hub keeps to the OpenAPI document it serves, for every role: schemathesis reads
// GET /api/v1/openapi.json from a hub started as `serve` starts it (a clients file with one key
// per role, the simulated back office, every route mounted) and sends each operation valid and
// invalid requests with each role's key. Every answer must be one the document describes, and
// every refusal and acceptance one it promises; any failure fails the test with schemathesis'
// report, which shows how to reproduce it. The hub runs on the embedded store and broker: the
// contract is the HTTP layer's, and the backends have suites of their own.
func TestContractSchemathesisFindsTheHubKeepingToItsDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("the contract test runs schemathesis for about a minute")
	}
	exe := schemathesis(t)
	config, err := filepath.Abs(filepath.Join("testdata", "schemathesis.toml"))
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := filepath.Abs(filepath.Join("testdata", "schemathesis_hooks.py"))
	if err != nil {
		t.Fatal(err)
	}
	// schemathesis leaves out the operation that serves the document it reads
	// (GET /api/v1/openapi.json, which hub/api's tests hold to the document).
	operations := documentOperations(t) - 1

	var o serveOptions
	o.clientsFile = filepath.Join(t.TempDir(), "clients.yaml")
	// Rates high enough that schemathesis reaches the handlers rather than the limiter (429 is
	// documented everywhere, and hub/api's tests hold the limiter to it).
	o.limits = api.Limits{RatePerSecond: 2000, Burst: 4000, AnonymousRatePerSecond: 2000, AnonymousBurst: 4000}
	// A long poll of the feed holds a request up to ?wait= seconds when nothing is new; a hub
	// may end it sooner, and this one does at once, so that thousands of examples take seconds.
	o.feedMaxWait = time.Millisecond
	roles := []string{"platform", "department:tobacco", "operator"}
	keys := writeClients(t, o.clientsFile, roles...)
	hub, _ := startSimulatedHub(t, o)

	for _, role := range roles {
		t.Run(strings.ReplaceAll(role, ":", "-"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			args := []string{"--config-file", config, "run", hub + "/api/v1/openapi.json",
				"--url", hub, "--header", "Authorization: Bearer " + keys[role],
				"--checks", contractChecks, "--max-examples", contractMaxExamples, "--seed", contractSeed,
				"--workers", "1", "--continue-on-failure", "--generation-database", "none", "--no-color"}
			cmd := exec.CommandContext(ctx, exe, args...)
			cmd.Dir = t.TempDir() // whatever it writes stays out of the tree
			cmd.Env = append(os.Environ(), "NO_COLOR=1", "COLUMNS=200", "SCHEMATHESIS_HOOKS="+hooks)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			sum, perr := parseSummary(string(out))
			switch {
			case ctx.Err() != nil:
				t.Fatalf("schemathesis did not finish within 5 minutes:\n%s", out)
			case err != nil:
				shown := strings.ReplaceAll(strings.Join(args, " "), keys[role], "$KEY")
				t.Errorf("schemathesis as %s: %v: the hub and schemas/openapi.yaml disagree (output below)\nrun: %s %s\n%s", role, err, exe, shown, out)
			case perr != nil:
				t.Errorf("schemathesis as %s: %v\n%s", role, perr, out)
			}
			if perr != nil {
				return
			}
			t.Logf("schemathesis as %s: %d requests (test cases) to %d of %d operations in %s, seed %s",
				role, sum.Cases, sum.Tested, sum.Operations, time.Since(start).Round(time.Second), contractSeed)
			if sum.Operations != operations || sum.Tested != operations {
				t.Errorf("schemathesis tested %d of %d operations; the document has %d besides its own", sum.Tested, sum.Operations, operations)
			}
			if sum.Cases < 10*operations {
				t.Errorf("schemathesis sent only %d requests for %d operations", sum.Cases, operations)
			}
		})
	}
}

// The summary of a schemathesis 4 run is read for the operations and the requests; output
// without one is an error, not zero requests.
func TestParseSummaryReadsASchemathesisRun(t *testing.T) {
	out := "=== SUMMARY ===\n\nAPI Operations:\n  Selected: 32/32\n  Tested: 31\n\nTest Phases:\n  ✅ Examples\n\n" +
		"Test cases:\n  2147 generated, 2147 passed, 16 skipped\n\nSeed: 20261127\n\n=== 2 warnings in 19.92s ===\n"
	got, err := parseSummary(out)
	if want := (stSummary{Operations: 32, Tested: 31, Cases: 2147}); err != nil || got != want {
		t.Errorf("parseSummary: %+v, %v; want %+v", got, err, want)
	}
	if _, err := parseSummary("Error: connection refused\n"); err == nil {
		t.Error("parseSummary of a run without a summary: no error")
	}
}
