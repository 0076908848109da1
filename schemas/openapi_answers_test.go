package schemas

import (
	"slices"
	"sort"
	"testing"
)

// Every operation documents the answers the hub gives before or beside its own work: an
// authenticated one 401 (no key, answered before the body is read), 429 (rate_limited) and
// 503 (unavailable, saturated), both with Retry-After; one with a body 413 (too_large); one
// with query parameters or a body 422 (NUL and other control characters are refused there).
func TestEveryOperationDocumentsTheAnswersOfLimitsAndLoad(t *testing.T) {
	doc := loadOpenAPI(t, OpenAPI())
	var ops []string
	missing := map[string][]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			at := method + " " + path
			ops = append(ops, at)
			xr, err := xRoles(op)
			if err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			var want []string
			if !slices.Contains(xr, "public") {
				want = append(want, "401", "429", "503")
			}
			if op.RequestBody != nil {
				want = append(want, "413", "422")
			}
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value.In == "query" {
					want = append(want, "422")
				}
			}
			for _, code := range want {
				if op.Responses.Value(code) == nil && !slices.Contains(missing[at], code) {
					missing[at] = append(missing[at], code)
				}
			}
		}
	}
	sort.Strings(ops)
	for _, at := range ops {
		sort.Strings(missing[at])
		if len(missing[at]) > 0 {
			t.Errorf("%s does not document %v", at, missing[at])
		}
	}

	for name, header := range map[string]bool{"RateLimited": true, "Unavailable": false} {
		resp := doc.Components.Responses[name]
		if resp == nil || resp.Value.Headers["Retry-After"] == nil {
			t.Errorf("components/responses/%s has no Retry-After header", name)
			continue
		}
		if got := resp.Value.Headers["Retry-After"].Value.Required; got != header {
			t.Errorf("components/responses/%s: Retry-After required %v; want %v", name, got, header)
		}
	}
	detail := doc.Components.Schemas["ErrorDetail"].Value
	for _, code := range []string{"too_large", "rate_limited", "unavailable", "unprocessable"} {
		if !slices.Contains(detail.Properties["code"].Value.Enum, any(code)) {
			t.Errorf("ErrorDetail.code does not list %s", code)
		}
	}
	if p := detail.Properties["problems_omitted"]; p == nil || !p.Value.Type.Is("integer") || slices.Contains(detail.Required, "problems_omitted") {
		t.Error("ErrorDetail needs an optional integer problems_omitted")
	}
}
