package platform

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/connectors/platform/platformsim"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
	"yjshub/hub/licences"
	"yjshub/problem"
)

func testLicence() event.Licence {
	return event.Licence{Type: "食品经营许可证", Number: "JY13207070000101", Holder: "连云港海韵餐饮管理有限公司",
		HolderID: "91350100M000100Y43", HolderIDType: "uscc", Issuer: "连云港市赣榆区行政审批局", IssuerCode: "11320707MB1234567X",
		IssuedAt: "2024-03-01", ValidFrom: "2024-03-01", ValidUntil: "2029-02-28",
		File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://dzzz.example.gov.cn/f/1.ofd", Format: "ofd", Size: 1024}}
}

func TestEachPlatformsLicenceMapsToTheHubsLicence(t *testing.T) {
	cat := hubtest.Catalogue(t)
	cfgs := testConfigs(t)
	for name, format := range map[string]platformsim.LicenceFormat{"jiangsu": platformsim.JiangsuLicence, "lianyungang": platformsim.LianyungangLicence} {
		t.Run(name, func(t *testing.T) {
			cfg := cfgs[name]
			cfg.setDefaults()
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			m := newLicenceMapper(cfg.LicenceFields, cat)
			if err := m.check(); err != nil {
				t.Fatalf("check against the catalogue: %v", err)
			}
			want := testLicence()
			body, err := format.Encode(want)
			if err != nil {
				t.Fatal(err)
			}
			got, problems := m.Map(body)
			if len(problems) != 0 {
				t.Fatalf("problems: %+v", problems)
			}
			switch name {
			case "jiangsu":
				want.TypeCode = "JSZZ0101"
			case "lianyungang":
				want.IssuerCode = ""
				if !strings.Contains(string(body), `"FZRQ":"2024-03-01 00:00:00"`) || !strings.Contains(string(body), `"ZZWJDX":"1024"`) {
					t.Fatalf("the municipal layout writes times of day and sizes as text: %s", body)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("mapped to\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLicenceDatesAreReadInTheLayoutsTheContractAccepts(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a date stays as it is", "2026-12-01", "2026-12-01"},
		{"a time of day in China is dropped", "2026-12-01 23:59:59", "2026-12-01"},
		{"RFC 3339 in China Standard Time", "2026-12-01T08:00:00+08:00", "2026-12-01"},
		{"RFC 3339 in UTC is the day in China", "2026-12-01T16:30:00Z", "2026-12-02"},
		{"fractions of a second are accepted", "2026-12-01T01:02:03.5+08:00", "2026-12-01"},
		{"slashes are not a layout of the contract", "2026/12/01", ""},
		{"digits only are not either", "20261201", ""},
		{"nor an impossible day", "2026-02-30", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := licenceDate(tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("licenceDate(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}

func TestLicenceMappingProblemsNameThePlatformsFieldsAndNoValues(t *testing.T) {
	cat := hubtest.Catalogue(t)
	jiangsu := newLicenceMapper(testConfigs(t)["jiangsu"].LicenceFields, cat)
	body := []byte(`{"zzxx": {"zzlxdm": "JSZZ9999", "bfrq": "2024/03/01", "yxqqsrq": "2024-03-01", "yxqjzrq": "", "bfjg": "某局"},
		"czzt": {"mc": "张明", "dm": "11010519491231002X", "dmlx": 111},
		"wj": {"zy": "AB", "dz": "https://x.example/1.ofd", "gs": "DOCX", "dx": "big"}}`)
	lic, problems := jiangsu.Map(body)
	want := []Problem{
		{Path: "zzxx.zzlxdm", HubPath: "/type", Rule: RuleValueMap},
		{Path: "zzxx.zzbh", HubPath: "/number", Rule: problem.RuleRequired},
		{Path: "zzxx.bfrq", HubPath: "/issued_at", Rule: problem.RuleDate},
		{Path: "wj.gs", HubPath: "/file/format", Rule: RuleValueMap},
		{Path: "wj.dx", HubPath: "/file/size", Rule: problem.RuleType},
	}
	if len(problems) != len(want) {
		t.Fatalf("problems %+v, want %+v", problems, want)
	}
	for i, w := range want {
		p := problems[i]
		if p.Path != w.Path || p.HubPath != w.HubPath || p.Rule != w.Rule || p.Message == "" {
			t.Errorf("problem %d = %+v, want %+v", i, p, w)
		}
		for _, value := range []string{"JSZZ9999", "2024/03/01", "DOCX", "big", "张明", "11010519491231002X"} {
			if strings.Contains(p.Message, value) {
				t.Errorf("problem %d repeats a value: %q", i, p.Message)
			}
		}
	}
	if lic.HolderIDType != "resident_id" || lic.ValidUntil != "" || lic.File.SHA256 != "ab" {
		t.Errorf("a numeric code, an empty date (no expiry) and an upper-case hash: %+v", lic)
	}
	for hub, want := range map[string]string{"/holder_id": "czzt.dm", "/file/sha256": "wj.zy", "/origin": ""} {
		if got := jiangsu.platformPath(hub); got != want {
			t.Errorf("platformPath(%s) = %q, want %q", hub, got, want)
		}
	}

	// A licence type given by name is checked against the catalogue when the item comes.
	lianyungang := newLicenceMapper(testConfigs(t)["lianyungang"].LicenceFields, cat)
	body, err := platformsim.LianyungangLicence.Encode(event.Licence{Type: "机动车驾驶证", Number: "1", Holder: "x", HolderID: "y", HolderIDType: "resident_id",
		Issuer: "z", IssuedAt: "2024-01-01", ValidFrom: "2024-01-01", File: event.LicenceFile{SHA256: strings.Repeat("0", 64), URI: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ps := lianyungang.Map(body); len(ps) != 1 || ps[0].Path != "ZZMC" || ps[0].Rule != RuleLicenceType || strings.Contains(ps[0].Message, "机动车驾驶证") {
		t.Errorf("an unknown licence type: %+v", ps)
	}
	for _, body := range []string{`not json`, `[1]`} {
		if _, ps := lianyungang.Map([]byte(body)); len(ps) != 1 || ps[0].Rule != problem.RuleJSON {
			t.Errorf("Map(%s) = %+v, want one %s problem", body, ps, problem.RuleJSON)
		}
	}
}

func TestLicenceFieldsAreValidatedWithLicencesURL(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want []string
	}{
		{"licence fields without a URL", func(c *Config) { c.LicencesURL = "" }, []string{"licence_fields: only with licences_url"}},
		{"a URL without licence fields", func(c *Config) { c.LicenceFields = nil },
			[]string{"licence_fields: no rule fills type", "licence_fields: no rule fills file.format"}},
		{"an http URL", func(c *Config) { c.LicencesURL = "ftp://u:pw-S3cret@x.example/l" }, []string{`licences_url: "ftp://x.example/l": scheme "ftp" is not http or https`}},
		{"fields of the hub's licence only, from a path or a constant", func(c *Config) {
			c.LicenceFields["colour"] = LicenceRule{From: "ys"}
			c.LicenceFields["holder"] = LicenceRule{From: "a", Const: "b"}
			c.LicenceFields["issuer"] = LicenceRule{From: "a..b"}
			delete(c.LicenceFields, "number")
		}, []string{"licence_fields.colour: not a field of the hub's e-licence", "licence_fields.holder: give either from or const",
			`licence_fields.issuer.from: "a..b" is not a dotted path`, "licence_fields: no rule fills number"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfigs(t)["jiangsu"]
			tc.edit(&c)
			c.setDefaults()
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "pw-S3cret") || strings.Contains(err.Error(), "REPLACED") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestLicenceFieldsAreCheckedAgainstTheCatalogue(t *testing.T) {
	rules := map[string]LicenceRule{}
	for k, v := range testConfigs(t)["jiangsu"].LicenceFields {
		rules[k] = v
	}
	rules["type"] = LicenceRule{From: "lx", Values: map[string]any{"A": "食品经营许可证", "B": "营业执照", "C": "机动车驾驶证", "D": "社会保障卡", "E": "江苏省投资项目备案证"}}
	rules["holder_id_type"] = LicenceRule{From: "t", Values: map[string]any{"1": "uscc", "9": "driving_licence"}}
	rules["file.format"] = LicenceRule{Const: "docx"}
	rules["valid_until"] = LicenceRule{Const: "forever"}
	rules["file.size"] = LicenceRule{From: "dx", Values: map[string]any{"big": "large"}}
	err := newLicenceMapper(rules, hubtest.Catalogue(t)).check()
	if err == nil {
		t.Fatal("check: nil")
	}
	for _, w := range []string{`licence_fields.type.values["C"]: 机动车驾驶证 is not a licence type of the catalogue`,
		`licence_fields.holder_id_type.values["9"]: driving_licence is not uscc or resident_id or residence_permit_hmt or foreign_permanent_resident or passport`, "licence_fields.file.format.const: docx is not ofd or pdf",
		"licence_fields.valid_until.const: forever is not a date", `licence_fields.file.size.values["big"]: large is not a whole number`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	// What matters issue (a licence, a filing certificate) and what materials may be given as
	// (营业执照 is issued by no matter of the catalogue) are licence types.
	for _, known := range []string{"食品经营许可证", "营业执照", "社会保障卡", "江苏省投资项目备案证"} {
		if strings.Contains(err.Error(), known) {
			t.Errorf("%s is refused:\n%v", known, err)
		}
	}
}

// failingImporter fails while fail is set, with an error that is neither a validation error
// nor a conflict (the store is down); else it imports into lib.
type failingImporter struct {
	lib   *licences.Library
	fail  atomic.Bool
	calls atomic.Int64
}

func (f *failingImporter) Import(ctx context.Context, lic event.Licence, origin string) (*licences.Licence, bool, error) {
	f.calls.Add(1)
	if f.fail.Load() {
		return nil, false, errors.New("database is locked")
	}
	return f.lib.Import(ctx, lic, origin)
}

func TestAnImportThatFailsLeavesTheCursorAndRecordsNothing(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		sim := platformsim.New()
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		for i, n := range []string{"JY13207070000201", "JY13207070000202"} {
			l := testLicence()
			l.Number = n
			body, err := platformsim.JiangsuLicence.Encode(l)
			if err != nil {
				t.Fatal(err)
			}
			sim.OfferLicence("JS-T"+string(rune('1'+i)), body)
		}
		cfg := testConfigs(t)["jiangsu"]
		cfg.PullURL, cfg.PushURL, cfg.LicencesURL = srv.URL+"/applications", srv.URL+"/progress", srv.URL+"/licences"
		cfg.GroupID, cfg.Timeout = env.Group("platform-jiangsu"), 5*time.Second
		c, err := New(cfg, deps(env))
		if err != nil {
			t.Fatal(err)
		}
		imp := &failingImporter{lib: env.Services.Licences}
		imp.fail.Store(true)
		c.library = imp

		_, err = c.pullOnce(env.Ctx, c.lics)
		if err == nil || !strings.Contains(err.Error(), "database is locked") {
			t.Fatalf("pullOnce = %v, want the store's error", err)
		}
		if cur, _ := c.tables.cursor(env.Ctx, licenceCursors); cur != "" || imp.calls.Load() != 1 {
			t.Fatalf("cursor %q after %d imports, want none stored after the first failed", cur, imp.calls.Load())
		}
		if n := len(env.Rec.Failures(nil)); n != 0 || c.licCounts.rejected.Load() != 0 {
			t.Fatalf("a passing failure was recorded as a rejection (%d dead letters)", n)
		}

		imp.fail.Store(false)
		if _, err := c.pullOnce(env.Ctx, c.lics); err != nil {
			t.Fatal(err)
		}
		if cur, _ := c.tables.cursor(env.Ctx, licenceCursors); cur != "p2" || c.licCounts.imported.Load() != 2 {
			t.Errorf("cursor %q with %d imported, want p2 with both", cur, c.licCounts.imported.Load())
		}
	})
}

// FuzzLicenceMapping feeds the licence mapping any document: it never panics, every problem
// names a hub field and a rule, and what it maps without problems has the fields a licence
// needs, its dates written YYYY-MM-DD.
func FuzzLicenceMapping(f *testing.F) {
	body, err := platformsim.JiangsuLicence.Encode(testLicence())
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(body), `{}`, `null`, `{"zzxx": []}`, `{"zzxx": {"bfrq": 20240301}}`, `{"wj": {"dx": -1}}`} {
		f.Add([]byte(seed))
	}
	m := newLicenceMapper(testConfigs(f)["jiangsu"].LicenceFields, hubtest.Catalogue(f))
	f.Fuzz(func(t *testing.T, body []byte) {
		lic, problems := m.Map(body)
		for _, p := range problems {
			if p.Rule == "" || (p.HubPath == "" && p.Rule != problem.RuleJSON) {
				t.Fatalf("a problem without a field or a rule: %+v", p)
			}
		}
		if len(problems) > 0 {
			return
		}
		if lic.Type == "" || lic.Number == "" || lic.HolderID == "" || lic.File.URI == "" {
			t.Fatalf("mapped without problems but incomplete: %+v", lic)
		}
		for _, d := range []string{lic.IssuedAt, lic.ValidFrom} {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				t.Fatalf("a date written %q", d)
			}
		}
	})
}

func TestAMalformedItemIsADeadLetterAndDoesNotHoldUpThePage(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		pages := map[string]string{
			"/applications": `{"items": [{"app_id": 5, "body": {}}], "next_cursor": "a1"}`,
			"/licences":     `{"items": [{"licence_id": ["L"], "body": {}}, "text"], "next_cursor": "l1"}`,
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, pages[r.URL.Path])
		}))
		t.Cleanup(srv.Close)
		cfg := testConfigs(t)["jiangsu"]
		cfg.PullURL, cfg.PushURL, cfg.LicencesURL = srv.URL+"/applications", srv.URL+"/progress", srv.URL+"/licences"
		cfg.GroupID, cfg.Timeout = env.Group("platform-jiangsu"), 5*time.Second
		c, err := New(cfg, deps(env))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []*feed{c.apps, c.lics} {
			if _, err := c.pullOnce(env.Ctx, f); err != nil {
				t.Fatalf("%s: %v", f.what, err)
			}
		}
		if cur, _ := c.tables.cursor(env.Ctx, appCursors); cur != "a1" {
			t.Errorf("applications' cursor %q, want a1", cur)
		}
		if cur, _ := c.tables.cursor(env.Ctx, licenceCursors); cur != "l1" {
			t.Errorf("licences' cursor %q, want l1", cur)
		}
		topics := map[string]int{}
		for _, f := range env.Rec.Failures(nil) {
			topics[f.Topic]++
		}
		if topics["platform:jiangsu"] != 1 || topics["platform:jiangsu:licences"] != 2 || c.licCounts.rejected.Load() != 2 {
			t.Errorf("dead letters by topic %v, %d licences rejected; want one application and two licences", topics, c.licCounts.rejected.Load())
		}
	})
}

// deps are the connector's dependencies on env's hub.
func deps(env *hubtest.Env) Deps {
	return Deps{Bus: env.Bus, Store: env.Store, Catalogue: env.Services.Catalogue, Cases: env.Cases,
		Licences: env.Services.Licences, Recorder: env.Rec}
}
