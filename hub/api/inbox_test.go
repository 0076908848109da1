package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"yjshub/hub/inbox"
)

// fakeInbox answers as the test tells it and keeps what it was asked.
type fakeInbox struct {
	items []inbox.Item
	err   error

	dept, id, lease string
	max             int
	visibility      time.Duration
}

func (f *fakeInbox) Lease(_ context.Context, dept string, max int, visibility time.Duration) ([]inbox.Item, error) {
	f.dept, f.max, f.visibility = dept, max, visibility
	return f.items, f.err
}

func (f *fakeInbox) Ack(_ context.Context, dept, id, lease string) error {
	f.dept, f.id, f.lease = dept, id, lease
	return f.err
}

func inboxServer(t *testing.T, in Inbox) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newServer(t, Config{Inbox: in, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestInboxPollPassesItsParametersAndReturnsTheItems(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 11, 27, 1, 30, 30, 0, time.UTC)
	in := &fakeInbox{items: []inbox.Item{{ID: "ev-1", Lease: "ls_1", LeaseUntil: until, Attempts: 1,
		Message: json.RawMessage(`{"id":"ev-1","data":{"form":{"<b>":"&"}}}`)}}}
	srv := inboxServer(t, in)
	for _, tc := range []struct {
		query      string
		max        int
		visibility time.Duration
	}{
		{"", 10, 0},
		{"?max=3&visibility=45", 3, 45 * time.Second},
		{"?max=100&visibility=2m", 100, 2 * time.Minute},
	} {
		code, body := do(t, srv, http.MethodGet, "/api/v1/departments/rsj/inbox"+tc.query, "")
		if code != http.StatusOK || in.dept != "rsj" || in.max != tc.max || in.visibility != tc.visibility {
			t.Errorf("%q: HTTP %d, asked for %s max %d visibility %v; want max %d visibility %v",
				tc.query, code, in.dept, in.max, in.visibility, tc.max, tc.visibility)
		}
		want := `[{"id":"ev-1","lease":"ls_1","lease_until":"2026-11-27T01:30:30Z","attempts":1,"message":{"id":"ev-1","data":{"form":{"<b>":"&"}}}}]` + "\n"
		if body != want {
			t.Errorf("%q: body\n%s\nwant\n%s", tc.query, body, want)
		}
	}
	in.items = nil
	if code, body := do(t, srv, http.MethodGet, "/api/v1/departments/rsj/inbox", ""); code != http.StatusOK || body != "[]\n" {
		t.Errorf("an empty inbox: HTTP %d %s, want 200 []", code, body)
	}
}

func TestInboxErrorsMapToStatuses(t *testing.T) {
	t.Parallel()
	in := &fakeInbox{}
	srv := inboxServer(t, in)
	for _, tc := range []struct {
		name         string
		err          error
		method, path string
		body         string
		status       int
		code         string
	}{
		{"an unknown department", fmt.Errorf("%w %q", inbox.ErrUnknownDepartment, "x"), http.MethodGet, "/api/v1/departments/x/inbox", "", 404, CodeNotFound},
		{"a visibility above the maximum", &inbox.InvalidError{Param: "visibility", Message: "must be from 1s to 5m0s"}, http.MethodGet, "/api/v1/departments/rsj/inbox?visibility=6m", "", 422, CodeUnprocessable},
		{"a negative max", nil, http.MethodGet, "/api/v1/departments/rsj/inbox?max=-1", "", 422, CodeUnprocessable},
		{"a visibility of zero", nil, http.MethodGet, "/api/v1/departments/rsj/inbox?visibility=0s", "", 422, CodeUnprocessable},
		{"an unknown item", fmt.Errorf("%w: item", inbox.ErrNotFound), http.MethodPost, "/api/v1/departments/rsj/inbox/ev-9/ack", `{"lease":"ls_1"}`, 404, CodeNotFound},
		{"a stale lease", fmt.Errorf("%w: item", inbox.ErrStaleLease), http.MethodPost, "/api/v1/departments/rsj/inbox/ev-1/ack", `{"lease":"ls_1"}`, 409, CodeConflict},
		{"an ack that is not JSON", nil, http.MethodPost, "/api/v1/departments/rsj/inbox/ev-1/ack", `lease=ls_1`, 422, CodeUnprocessable},
		{"an ack too large", nil, http.MethodPost, "/api/v1/departments/rsj/inbox/ev-1/ack", `{"lease":"` + strings.Repeat("x", maxAckBody) + `"}`, 413, CodeTooLarge},
		{"a store failure", errors.New("store: connection refused"), http.MethodPost, "/api/v1/departments/rsj/inbox/ev-1/ack", `{"lease":"ls_1"}`, 500, CodeInternal},
	} {
		in.err = tc.err
		code, body := do(t, srv, tc.method, tc.path, tc.body)
		var eb ErrorBody
		if err := json.Unmarshal([]byte(body), &eb); err != nil || code != tc.status || eb.Error.Code != tc.code {
			t.Errorf("%s: HTTP %d %s, want %d %s", tc.name, code, body, tc.status, tc.code)
		}
		if strings.Contains(body, "connection refused") {
			t.Errorf("%s: the answer shows the internal error: %s", tc.name, body)
		}
	}
	in.err = nil
	if code, _ := do(t, srv, http.MethodPost, "/api/v1/departments/rsj/inbox/ev-1/ack", `{"lease":"ls_7"}`); code != 200 ||
		in.dept != "rsj" || in.id != "ev-1" || in.lease != "ls_7" {
		t.Errorf("ack: HTTP %d, acked %s/%s under %q", code, in.dept, in.id, in.lease)
	}
}

func TestInboxRoutesAreMountedOnlyWithAnInbox(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newServer(t, Config{Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	if code, _ := do(t, srv, http.MethodGet, "/api/v1/departments/rsj/inbox", ""); code != http.StatusNotFound {
		t.Errorf("without an inbox: HTTP %d, want 404", code)
	}
}
