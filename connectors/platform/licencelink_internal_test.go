package platform

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"yjshub/connectors/casepush"
	"yjshub/hub/auth"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
	"yjshub/hub/links"
)

// A result pushes, with each licence whose file the hub holds, a link to that file signed for
// the platform, the case and the library (file_link), beside the file's uri and hash; a
// licence given by uri alone, or a connector without the hub's link keys, pushes none.
func TestAResultPushesALinkToEachLicenceFileTheHubHolds(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		cfg := testConfigs(t)["jiangsu"]
		cfg.setDefaults()
		keys := links.Ephemeral()
		c := &Connector{cfg: cfg, tables: tables{st: env.Store, platform: "jiangsu"}, links: keys, filesBase: "https://hub.example.gov",
			log: env.Log}
		if err := c.tables.storeApplication(env.Ctx, outcome{appID: "JS-L", caseID: "cs_l", state: appSubmitted, reported: reportDone}); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)
		sum := strings.Repeat("ab", 32)
		held := event.Licence{Type: "食品经营许可证", Number: "JY-HELD", HolderID: "91320707MA1XXXXXX1", HolderIDType: "uscc",
			File: event.LicenceFile{SHA256: sum, Format: "pdf", Size: 100, ObjectID: "mo_" + strings.Repeat("0", 32)}}
		byURI := event.Licence{Type: "食品经营许可证", Number: "JY-URI", HolderID: "91320707MA1XXXXXX1", HolderIDType: "uscc",
			File: event.LicenceFile{SHA256: sum, Format: "ofd", URI: "https://dept.example/licence.ofd"}}
		v := &cases.CaseView{ID: "cs_l", State: cases.CaseInProgress, Bundle: event.BundleRef{Seq: 30, Code: "open-drink-shop", Name: "开饮品店"},
			Subcases: []cases.SubcaseView{{ID: "sc_food", MatterCode: "food-business-licence", MatterName: "食品经营许可", State: cases.StateApproved,
				Department: cases.DepartmentRef{Code: "market-regulation", Name: "区市场监管局"}}},
			Licences: []cases.LicenceView{{Licence: held, SubcaseID: "sc_food"}, {Licence: byURI, SubcaseID: "sc_food"}},
			Timeline: []cases.TimelineEntry{{At: at, SubcaseID: "sc_food", Type: cases.StateApproved}},
		}
		c.cases = caseBook{v}
		p := planner{c}
		result := func() []map[string]any {
			t.Helper()
			doc := p.document(v, "JS-L", stepOf(t, p, v, stepResult))
			r, _ := doc["result"].(map[string]any)
			lics, _ := r["licences"].([]map[string]any)
			if len(lics) != 2 {
				t.Fatalf("result %v, want two licences", doc)
			}
			return lics
		}
		lics := result()
		link, _ := lics[0]["file_link"].(string)
		if _, has := lics[1]["file_link"]; has || !strings.HasPrefix(link, "https://hub.example.gov/api/v1/files/"+sum+"?") {
			t.Fatalf("licences %v: want a link to the held file under the hub's URL, none for the uri", lics)
		}
		req := httptest.NewRequest(http.MethodGet, strings.TrimPrefix(link, "https://hub.example.gov"), nil)
		claims, err := keys.Verify(req.WithContext(auth.WithClient(req.Context(), auth.Client{Name: "jiangsu", Role: auth.RolePlatform})))
		if err != nil || claims.Department != "jiangsu" || claims.Case != "cs_l" || claims.Via != "library" {
			t.Errorf("the link verifies as %+v, %v; want jiangsu, cs_l, via library", claims, err)
		}
		body, err := json.Marshal(cfg.Outbound.apply(p.document(v, "JS-L", stepOf(t, p, v, stepResult))))
		if err != nil || !strings.Contains(string(body), `"file_link":"https://hub.example.gov/api/v1/files/`) {
			t.Errorf("the pushed body %s carries no file_link", body)
		}

		c.links = nil
		if _, has := result()[0]["file_link"]; has {
			t.Error("without the hub's link keys a link is pushed")
		}
	})
}

// stepOf is the planned step of name for case v.
func stepOf(t *testing.T, p planner, v *cases.CaseView, name string) casepush.Step {
	t.Helper()
	steps, err := p.Steps(t.Context(), summary(v))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no %s step among %v", name, steps)
	return casepush.Step{}
}
