package inbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"yjshub/hub/auth"
	"yjshub/hub/event"
	"yjshub/hub/links"
)

func TestALeaseSignsTheMaterialsLinksAfreshForTheLeasingDepartment(t *testing.T) {
	onEachStore(t, func(t *testing.T, f *inboxFixture) {
		keys := links.Ephemeral().WithClock(f.clock.now)
		in, err := New(f.st, f.rec.recorder(), WithClock(f.clock.now), WithLinks(keys, "https://hub.test/", 0))
		if err != nil {
			t.Fatal(err)
		}
		in.Serve(f.cfg)
		held := strings.Repeat("ab", 32)
		stale := "https://hub.test/api/v1/files/" + held + "?case=cs-1&dept=rsj&exp=1&kid=k1&sig=x"
		data := event.SubcaseDispatched{CaseID: "cs-1", SubcaseID: "sc-1", Department: f.dept, Form: map[string]any{"SFZHM": "11010519491231002X"},
			Materials: []event.MaterialRef{
				{Type: "id-card", SHA256: held, Size: 10, URI: stale, ContentType: "application/pdf", LinkExpiresAt: &time.Time{}},
				{Type: "photo", SHA256: strings.Repeat("cd", 32), Size: 10, URI: "https://files.example.org/p.jpg"},
			}}
		env, err := event.New("ev-1", event.TypeSubcaseDispatched, "sc-1", f.clock.now(), data)
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(env)
		if _, err := in.Put(t.Context(), f.dept, Entry{ID: "ev-1", CaseID: "cs-1", SubcaseID: "sc-1", Payload: payload, Topic: "yjs.subcase.rsj", Partition: 1}); err != nil {
			t.Fatal(err)
		}

		leaseOnce := func() event.MaterialRef {
			t.Helper()
			items, err := in.Lease(t.Context(), f.dept, 1, time.Second)
			if err != nil || len(items) != 1 {
				t.Fatalf("lease: %d items, %v", len(items), err)
			}
			var got struct {
				ID   string                  `json:"id"`
				Data event.SubcaseDispatched `json:"data"`
			}
			if err := json.Unmarshal(items[0].Message, &got); err != nil {
				t.Fatal(err)
			}
			if got.ID != "ev-1" || got.Data.Form["SFZHM"] != "11010519491231002X" || len(got.Data.Materials) != 2 {
				t.Fatalf("message %s: want the stored one", items[0].Message)
			}
			if ext := got.Data.Materials[1]; ext.URI != "https://files.example.org/p.jpg" || ext.LinkExpiresAt != nil {
				t.Fatalf("an external material's uri was changed: %+v", ext)
			}
			return got.Data.Materials[0]
		}
		verify := func(uri, dept string) (links.Claims, error) {
			r := httptest.NewRequest(http.MethodGet, strings.TrimPrefix(uri, "https://hub.test"), nil)
			r = r.WithContext(auth.WithClient(r.Context(), auth.Client{Name: dept, Role: auth.RoleDepartment, Department: dept}))
			return keys.Verify(r)
		}

		first := leaseOnce()
		if first.URI == stale || !first.LinkExpiresAt.Equal(f.clock.now().Add(links.MaxTTL)) {
			t.Fatalf("link %s expiring %v: want a fresh one expiring %v", first.URI, first.LinkExpiresAt, f.clock.now().Add(links.MaxTTL))
		}
		c, err := verify(first.URI, f.dept)
		if err != nil || c.Case != "cs-1" || c.Subcase != "sc-1" || c.Via != "restpull" || c.SHA256 != held {
			t.Fatalf("the department's fresh link: %+v, %v", c, err)
		}
		if _, err := verify(first.URI, "hrss"); !errors.Is(err, links.ErrForbidden) {
			t.Fatalf("another department used the link: %v", err)
		}

		f.clock.advance(time.Hour) // the lease ran out; the next poll gets the item again
		second := leaseOnce()
		if second.URI == first.URI || !second.LinkExpiresAt.Equal(f.clock.now().Add(links.MaxTTL)) {
			t.Fatalf("the second lease's link %s expiring %v: want one signed at the lease", second.URI, second.LinkExpiresAt)
		}
	})
}
