package api

import (
	"slices"
	"testing"

	"yjshub/hub/store/storetest"
	"yjshub/problem"
)

// A dead-letter query names a state the hub has, or it is 422: a misspelt state would
// otherwise list nothing, as if there were no such letters. Every problem of the query is
// reported at once; an empty state is no filter.
func TestADeadLetterQueryWithAnUnknownStateIs422(t *testing.T) {
	t.Parallel()
	srv, keys := authServer(t, storetest.OpenSQLite)
	for _, tc := range []struct {
		query string
		want  int
		paths []string
	}{
		{"?state=dead", 200, nil},
		{"?state=replayed&limit=5", 200, nil},
		{"?state=", 200, nil},
		{"?state=replyed", 422, []string{"state"}},
		{"?state=DEAD&limit=0", 422, []string{"state", "limit"}},
	} {
		code, body := send(t, srv, "GET", "/api/v1/dlq"+tc.query, keys["ops"], "")
		if code != tc.want {
			t.Errorf("GET /api/v1/dlq%s: %d %s; want %d", tc.query, code, body, tc.want)
			continue
		}
		if tc.want != 422 {
			continue
		}
		var refused ErrorBody
		decode(t, body, &refused)
		var paths []string
		for _, p := range refused.Error.Problems {
			paths = append(paths, p.Path)
			if p.Path == "state" && p.Rule != problem.RuleEnum {
				t.Errorf("GET /api/v1/dlq%s: state's rule %q; want %q", tc.query, p.Rule, problem.RuleEnum)
			}
		}
		if !slices.Equal(paths, tc.paths) {
			t.Errorf("GET /api/v1/dlq%s: problems at %v; want %v", tc.query, paths, tc.paths)
		}
	}
}
