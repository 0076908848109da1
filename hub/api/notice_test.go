package api

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/net/html"

	"yjshub/catalogue"
	"yjshub/seeds"
)

const barNotice = "/api/v1/bundles/open-bar/notice?applicant_type=enterprise"

func TestTheNoticeListsMattersAndEveryMaterialOnce(t *testing.T) {
	doc := apiDoc(t)
	srv := newTestServer(t)
	resp, b := exchange(t, srv, "GET", barNotice, "", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	conforms(t, doc, "GET", "/api/v1/bundles/{code}/notice", resp, b)
	var n Notice
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	if len(n.Version) != 64 || resp.Header.Get("ETag") != `"`+n.Version+`"` {
		t.Fatalf("version %q, ETag %q", n.Version, resp.Header.Get("ETag"))
	}
	if len(n.Matters) != 5 || n.Bundle.Seq != 34 {
		t.Fatalf("matters %d, bundle %+v", len(n.Matters), n.Bundle)
	}
	for _, m := range n.Matters {
		if m.Department.Code == "" || m.Department.Name == "" || !m.PromisedLimit.Set() ||
			!(m.StatutoryLimit.Set() && m.StatutoryLimit.Basis != "" || m.StatutoryLimit.Kind == catalogue.LimitNone && m.StatutoryLimit.Note != "") {
			t.Errorf("%s: incomplete %+v", m.Code, m)
		}
		switch m.Code {
		case "public-venue-fire-safety-inspection":
			if m.Fee == nil || m.Fee.Amount != 0 || !strings.Contains(m.Fee.Basis, "行政许可法") {
				t.Errorf("the fire inspection's fee = %+v", m.Fee)
			}
		case "outdoor-advertising-approval":
			if !m.Optional || !m.Conditional {
				t.Errorf("the outdoor sign is offered, not chosen: %+v", m)
			}
		}
		if m.Fee == nil || (!m.Fee.Unknown && m.Fee.Basis == "") {
			t.Errorf("%s: every matter states its fee with its basis, or says it is unknown: %+v", m.Code, m.Fee)
		}
	}
	seen := map[string]bool{}
	byCode := map[string]NoticeMaterial{}
	for _, m := range n.Materials {
		if seen[m.Code] {
			t.Errorf("%s listed twice", m.Code)
		}
		seen[m.Code] = true
		byCode[m.Code] = m
		if m.MaxFiles < 1 || len(m.Matters) == 0 {
			t.Errorf("%s: %+v", m.Code, m)
		}
	}
	if lic := byCode["business-licence"]; !lic.Exempt || !lic.Required || len(lic.Matters) != 5 || lic.FormLabel == "" {
		t.Errorf("business-licence = %+v; every matter asks it, an e-licence spares it", lic)
	}
	if c := byCode["fire-safety-commitment"]; c.Required || len(c.Conditions) != 1 || c.Conditions[0].When != "fire.commitment == true" {
		t.Errorf("fire-safety-commitment = %+v; want required on 告知承诺 only", c)
	}
	if _, ok := byCode["id-card"]; ok {
		t.Error("an enterprise's notice lists the individual's ID card")
	}
}

func TestTheNoticeAnswers304ToItsOwnETagAndChangesWithTheChoice(t *testing.T) {
	srv := newTestServer(t)
	resp, b := exchange(t, srv, "GET", barNotice, "", nil, nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	for _, h := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp, b = exchange(t, srv, "GET", barNotice, "", nil, map[string]string{"If-None-Match": h})
		if resp.StatusCode != 304 || len(b) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %q", h, resp.StatusCode, b)
		}
	}
	resp, _ = exchange(t, srv, "GET", barNotice, "", nil, map[string]string{"If-None-Match": `"stale"`})
	if resp.StatusCode != 200 {
		t.Errorf("a stale ETag: %d", resp.StatusCode)
	}
	chosen := barNotice + "&matters=food-business-licence,tobacco-retail-licence,public-venue-fire-safety-inspection"
	resp, _ = exchange(t, srv, "GET", chosen, "", nil, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("another choice of matters kept the ETag: %d %s", resp.StatusCode, resp.Header.Get("ETag"))
	}
	again, _ := exchange(t, srv, "GET", barNotice, "", nil, nil)
	if again.Header.Get("ETag") != etag {
		t.Error("the same notice got another version")
	}
}

// TestTheNoticePageIsPrintableHTMLWithEverythingEscaped renders the notice of a catalogue
// whose texts hold markup: the page must show them as text, and list every matter and material.
func TestTheNoticePageIsPrintableHTMLWithEverythingEscaped(t *testing.T) {
	const evil = `<script>alert("x")</script>&`
	m := fstest.MapFS{}
	err := fs.WalkDir(seeds.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(seeds.FS, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	m["materials/core.yaml"].Data = bytes.Replace(m["materials/core.yaml"].Data,
		[]byte("description: 营业执照副本或电子营业执照"), []byte("description: '"+evil+"'"), 1)
	cat, err := catalogue.Load(m, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newServer(t, Config{Catalogue: cat}))
	t.Cleanup(srv.Close)

	for _, ask := range []struct {
		path   string
		header map[string]string
	}{
		{barNotice + "&format=html", nil},
		{barNotice, map[string]string{"Accept": "text/html,application/xhtml+xml;q=0.9"}},
	} {
		resp, b := exchange(t, srv, "GET", ask.path, "", nil, ask.header)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", ask.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if bytes.Contains(b, []byte("<script>")) || !bytes.Contains(b, []byte("&lt;script&gt;")) {
			t.Error("the material's description was not escaped")
		}
		root, err := html.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		var scripts, externals int
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				switch n.Data {
				case "script":
					scripts++
				case "link", "img":
					externals++
				}
			}
			if n.Type == html.TextNode {
				texts = append(texts, n.Data)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(root)
		text := strings.Join(texts, "")
		if scripts != 0 || externals != 0 {
			t.Errorf("the page has %d scripts and %d external resources; it must stand alone", scripts, externals)
		}
		for _, want := range []string{"开酒吧", "一次告知", "公众聚集场所投入使用、营业前消防安全检查", "区消防救援大队", "不收费", "营业执照", evil, "免交", "原件", "@media print"} {
			if !strings.Contains(text, want) {
				t.Errorf("the page does not say %q", want)
			}
		}
	}
}

func TestTheFormAndTheNoticeRefuseAChoiceIntakeRefuses(t *testing.T) {
	srv := newCaseServer(t)
	for _, route := range []string{"form", "notice"} {
		for _, c := range []struct {
			query, path, rule string
		}{
			{"applicant_type=enterprise&matters=outdoor-advertising-approval", "matters", "required_matter"},
			{"applicant_type=enterprise&matters=food-business-licence,food-business-licence,prepackaged-food-sales-filing,tobacco-retail-licence,public-venue-fire-safety-inspection", "matters", "duplicate"},
			{"applicant_type=robot", "applicant_type", "enum"},
			{"applicant_type=enterprise&matters=fire-acceptance", "matters", "unknown_matter"},
		} {
			var e ErrorBody
			resp := get(t, srv, "GET", "/api/v1/bundles/open-bar/"+route+"?"+c.query, &e)
			found := false
			for _, p := range e.Error.Problems {
				found = found || p.Path == c.path && p.Rule == c.rule
			}
			if resp.StatusCode != http.StatusUnprocessableEntity || !found {
				t.Errorf("%s?%s: %d %+v; want 422 with %s %s", route, c.query, resp.StatusCode, e.Error.Problems, c.path, c.rule)
			}
		}
	}
}

func TestMaterialsAreServedWithTheMattersThatAskForThem(t *testing.T) {
	doc := apiDoc(t)
	srv := newTestServer(t)
	resp, b := exchange(t, srv, "GET", "/api/v1/materials", "", nil, nil)
	conforms(t, doc, "GET", "/api/v1/materials", resp, b)
	var list struct {
		Count     int            `json:"count"`
		Materials []MaterialView `json:"materials"`
	}
	if err := json.Unmarshal(b, &list); err != nil || list.Count == 0 || list.Count != len(list.Materials) {
		t.Fatalf("%v %d", err, list.Count)
	}
	resp, b = exchange(t, srv, "GET", "/api/v1/materials/staff-health-certificates", "", nil, nil)
	conforms(t, doc, "GET", "/api/v1/materials/{code}", resp, b)
	var one map[string]any
	_ = json.Unmarshal(b, &one)
	if one["max_files"].(float64) < 2 || one["spec"] == "" || one["form_label"] != "原件、复印件或电子件均可" || len(one["matters"].([]any)) == 0 {
		t.Errorf("staff-health-certificates = %v", one)
	}
	resp, b = exchange(t, srv, "GET", "/api/v1/materials/no-such", "", nil, nil)
	if resp.StatusCode != 404 {
		t.Errorf("an unknown material: %d %s", resp.StatusCode, b)
	}
	conforms(t, doc, "GET", "/api/v1/materials/{code}", resp, b)
}
