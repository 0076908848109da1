package conformance_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/connectors/conformance"
	"yjshub/connectors/platform/platformsim"
	"yjshub/connectors/signing"
)

// platformChecks are the platform kind's checks, in the order of the report.
func platformChecks() []string {
	ids := []string{conformance.CheckPullPage, conformance.CheckPullItems, conformance.CheckPullPaging, conformance.CheckPullUnique, conformance.CheckPullStable}
	for _, s := range conformance.PlatformSteps {
		ids = append(ids, conformance.CheckPushPrefix+s)
	}
	return append(ids, conformance.CheckPushRepeated, conformance.CheckPushSignature, conformance.CheckResponseTime)
}

func everyPlatform(result string) map[string]string { return each(platformChecks(), result) }

func TestThePlatformSimulatorPassesEveryPlatformCheck(t *testing.T) {
	t.Parallel()
	sim := platformsim.New()
	for i := range 5 {
		sim.Offer(fmt.Sprintf("JS-%d", i), time.Now(), json.RawMessage(`{"sqrlx":"2"}`))
	}
	secret := signing.NewSecret()
	sim.VerifySignatures(secret)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	r := run(t, conformance.Config{Kind: conformance.KindPlatform, Target: srv.URL + "/applications?appkey=k-S3cr3t", PushURL: srv.URL + "/progress",
		SigningSecret: secret, Limit: 2})
	wantResults(t, r, everyPlatform(conformance.Pass))
	if !r.Passed {
		t.Error("Passed = false")
	}
	if c, _ := r.Check(conformance.CheckPullPage); !strings.HasPrefix(c.Reason, "3 page(s), 5 item(s)") {
		t.Errorf("pull-page reason %q, want three pages read", c.Reason)
	}
	// Every step was taken once, then one again, and the forged one refused.
	steps := map[string]int{}
	for _, p := range sim.Pushes() {
		if p.Header.Get(conformance.HeaderConformance) != "true" || !strings.Contains(p.Key, conformance.IDPrefix) {
			t.Errorf("push %s is not marked as test data", p.Key)
		}
		steps[fmt.Sprint(p.Doc["step"])]++
	}
	if len(sim.Taken()) != len(conformance.PlatformSteps) || len(sim.Pushes()) != len(conformance.PlatformSteps)+2 || steps["supplement"] != 1 {
		t.Errorf("%d taken, %d pushes (%v)", len(sim.Taken()), len(sim.Pushes()), steps)
	}
	var text strings.Builder
	_ = r.WriteText(&text)
	if !strings.Contains(text.String(), "the platform meets the contract") || strings.Contains(text.String(), "S3cr3t") {
		t.Errorf("report:\n%s", text.String())
	}
}

// brokenPlatform offers a list whose ids change on every pull and a full page without a next
// cursor, takes any signature, and refuses 撤件.
func brokenPlatform(t *testing.T) *httptest.Server {
	var pulls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/applications":
			n := pulls.Add(1)
			items := []map[string]any{
				{"app_id": fmt.Sprintf("A-%d", n), "submitted_at": "2026-12-01 09:00:00", "body": map[string]any{"x": 1}},
				{"app_id": "B", "submitted_at": "yesterday", "body": []int{1}},
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "next_cursor": ""})
		case "/progress":
			var doc map[string]any
			_ = json.NewDecoder(r.Body).Decode(&doc)
			if doc["step"] == "withdrawn" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"message":"unknown status"}`))
				return
			}
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestABrokenPlatformFailsTheRightChecks(t *testing.T) {
	t.Parallel()
	srv := brokenPlatform(t)
	r := run(t, conformance.Config{Kind: conformance.KindPlatform, Target: srv.URL + "/applications", PushURL: srv.URL + "/progress",
		SigningSecret: signing.NewSecret(), Limit: 2})
	want := everyPlatform(conformance.Pass)
	for _, id := range []string{conformance.CheckPullItems, conformance.CheckPullPaging, conformance.CheckPullStable,
		conformance.CheckPushPrefix + "withdrawn", conformance.CheckPushSignature} {
		want[id] = conformance.Fail
	}
	wantResults(t, r, want)
	if r.Passed {
		t.Error("Passed = true for a broken platform")
	}
	for id, reason := range map[string]string{
		conformance.CheckPullItems:                "page 1 item 1: submitted_at",
		conformance.CheckPullPaging:               "full but next_cursor is empty",
		conformance.CheckPullStable:               `item 0 was "A-1" and is now "A-2"`,
		conformance.CheckPushPrefix + "withdrawn": `400 Bad Request`,
		conformance.CheckPushSignature:            "accepted",
	} {
		if c, _ := r.Check(id); !strings.Contains(c.Reason, reason) {
			t.Errorf("%s: reason %q, want it to say %q", id, c.Reason, reason)
		}
	}
}

func TestThePlatformKindNeedsItsPushURL(t *testing.T) {
	t.Parallel()
	_, err := conformance.Run(t.Context(), conformance.Config{Kind: conformance.KindPlatform, Target: "https://p.example/apps", Callback: true})
	if err == nil || !strings.Contains(err.Error(), "push URL") || !strings.Contains(err.Error(), "callback: only for the restpush kind") {
		t.Errorf("err %v, want the missing push URL and the callback named", err)
	}
}
