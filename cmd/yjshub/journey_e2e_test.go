package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"yjshub/deptsim"
	"yjshub/hub/cases"
	"yjshub/hub/hubtest"
)

// The applicant's journey, end to end on each backend: one application through the one-time
// notice, the form, intake, a supplement request (补正) and the supplement, approval with its
// e-licence, and the withdrawal of the matter still open — once over the API as a platform
// would call it, once through the platform connector with `yjshub platformsim` on the
// platform's side. The simulated 区市场监管局 asks for a supplement of every sub-case and
// approves once it has it; 区城管局 takes an hour, so its matter is still open to withdraw.
func TestTheApplicantsJourneyOverTheAPIAndThePlatformConnector(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			simCfg := filepath.Join(dir, "simulator.yaml")
			writeFile(t, simCfg, "default: {decision: approve}\ndepartments:\n  market-regulation: {decision: supplement}\n  urban-management: {decision: approve, delay: 1h}\n")
			platformAddr := freeAddr(t)
			o.connectorsFile = filepath.Join(dir, "connectors.yaml")
			writePlatformConnectors(t, o.connectorsFile, "http://"+platformAddr)
			o.simConfig = simCfg
			hub, sim := startSimulatedHub(t, o)

			t.Run("api", func(t *testing.T) { apiJourney(t, hub, sim) })
			t.Run("platform", func(t *testing.T) { platformJourney(t, hub, sim, platformAddr) })
		})
	}
}

func apiJourney(t *testing.T, hub string, sim *deptsim.Simulator) {
	// 一次告知 and the one form, for the choice the application makes.
	choice := "?applicant_type=individual&matters=food-business-licence,outdoor-advertising-approval"
	var notice struct {
		Version   string `json:"version"`
		Matters   []any  `json:"matters"`
		Materials []struct {
			Code string `json:"code"`
		} `json:"materials"`
	}
	if code := getJSON(t, hub+"/api/v1/bundles/open-drink-shop/notice"+choice, &notice); code != 200 || notice.Version == "" || len(notice.Matters) != 2 || len(notice.Materials) == 0 {
		t.Fatalf("the notice: %d %+v", code, notice)
	}
	page := get(t, hub+"/api/v1/bundles/open-drink-shop/notice"+choice+"&format=html")
	if !strings.Contains(page, "<html") || !strings.Contains(page, "开饮品店") {
		t.Fatalf("the printable notice: %.200s", page)
	}
	var form struct {
		Sections []any `json:"sections"`
		Fields   []struct {
			Code string `json:"code"`
		} `json:"fields"`
	}
	if code := getJSON(t, hub+"/api/v1/bundles/open-drink-shop/form"+choice, &form); code != 200 || len(form.Sections) < 2 || len(form.Fields) == 0 {
		t.Fatalf("the form: %d %+v", code, form)
	}

	app := map[string]any{}
	if err := json.Unmarshal(readExample(t, "open-drink-shop-individual"), &app); err != nil {
		t.Fatal(err)
	}
	app["external_ref"] = "API-2026-0001"
	body, _ := json.Marshal(app)
	var v cases.CaseView
	if code := postJSON(t, hub+"/api/v1/cases", body, &v); code != 201 {
		t.Fatalf("submit: %d", code)
	}
	var found cases.CaseList
	if getJSON(t, hub+"/api/v1/cases?external_ref=API-2026-0001", &found); len(found.Items) != 1 || found.Items[0].ID != v.ID {
		t.Fatalf("the case by the platform's number: %+v", found)
	}

	// The platform follows the feed: 受理 with its facts, then the supplement request.
	cursor := ""
	accepted := follow(t, hub, &cursor, v.ID, "accepted")
	if d := accepted.Data; d["accepted_at"] == nil || d["promised_date"] == "" || d["department"] == nil {
		t.Errorf("受理 without 受理时间, 承诺办结日期 or 受理部门: %+v", accepted)
	}
	request := follow(t, hub, &cursor, v.ID, "supplement_requested")
	missing, _ := request.Data["missing"].([]any)
	if len(missing) == 0 || request.Data["reply_to"] != "/api/v1/cases/"+v.ID+"/supplements" {
		t.Fatalf("the supplement request in the feed: %+v", request)
	}
	sup := supplementFor(t, missing)
	var after cases.CaseView
	if code := postJSON(t, hub+"/api/v1/cases/"+v.ID+"/supplements", sup, &after); code != 200 || len(after.Supplements) != 1 {
		t.Fatalf("the supplement: %d %+v", code, after.Supplements)
	}

	// Approved with its e-licence; the outdoor advertising is still with 区城管局.
	approved := follow(t, hub, &cursor, v.ID, "approved")
	if lics, _ := approved.Data["licences"].([]any); len(lics) == 0 {
		t.Fatalf("the approval without its e-licence: %+v", approved)
	}
	cur := waitCase(t, hub, v.ID, "with its e-licence", func(c cases.CaseView) bool { return len(c.Licences) > 0 })
	if cur.State != cases.CaseInProgress {
		t.Fatalf("the case is %s before the withdrawal", cur.State)
	}
	if st := sim.Stats().Departments["market-regulation"]; st.Supplements == 0 {
		t.Errorf("区市场监管局 never received the supplement: %+v", st)
	}

	// The applicant withdraws the open matter: the case completes with what was approved.
	w := []byte(`{"reason": "不再设置户外广告", "matters": ["outdoor-advertising-approval"]}`)
	var done cases.CaseView
	if code := postJSON(t, hub+"/api/v1/cases/"+v.ID+"/withdrawal", w, &done); code != 200 || done.State != cases.CaseCompleted || done.Outcome != cases.OutcomeApproved {
		t.Fatalf("the withdrawal: %d %s %s", code, done.State, done.Outcome)
	}
	follow(t, hub, &cursor, v.ID, "withdrawn")
	eventually(t, "区城管局 told of the withdrawal", func() bool { return sim.Stats().Departments["urban-management"].Withdrawals > 0 })
}

func platformJourney(t *testing.T, hub string, sim *deptsim.Simulator, addr string) {
	// The platform's side runs as `yjshub platformsim`, offering one application in its own
	// layout and answering every 补正 at the hub.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	stderr := &hubtest.SyncBuffer{}
	go func() {
		done <- runContext(ctx, []string{"platformsim", "--addr", addr, "--generate", "1", "--format", "jiangsu",
			"--example", filepath.Join("..", "..", "examples", "open-drink-shop-individual.json"), "--hub", hub}, io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("platformsim exited %d", code)
		}
	})

	var found cases.CaseList
	eventually(t, "the platform's application taken in", func() bool {
		getJSON(t, hub+"/api/v1/cases?external_ref=SIM-jiangsu-0001", &found)
		return len(found.Items) == 1
	})
	caseID := found.Items[0].ID
	var order []string // the keys pushed, in the order the platform took them
	pushes := func() map[string]map[string]any {
		var list []struct {
			Key    string
			Doc    map[string]any
			Status int
		}
		getJSON(t, "http://"+addr+"/pushes", &list)
		out := map[string]map[string]any{}
		order = order[:0]
		for _, p := range list {
			if p.Status < 300 {
				out[p.Key] = p.Doc
				order = append(order, p.Key)
			}
		}
		return out
	}
	key := "platform:jiangsu:" + caseID + ":"
	var got map[string]map[string]any
	eventually(t, "受理, 补正 and 出件 pushed to the platform", func() bool {
		got = pushes()
		return got[key+"accepted"] != nil && hasPrefix(got, key+"supplement:") && hasPrefix(got, key+"result:")
	})
	if acc := got[key+"accepted"]; acc["accepted_at"] == nil || acc["promised_date"] == "" || acc["department"] == nil {
		t.Errorf("the 受理 push: %v", acc)
	}
	for k, doc := range got {
		if strings.HasPrefix(k, key+"result:") {
			res, _ := doc["result"].(map[string]any)
			if lics, _ := res["licences"].([]any); res["state"] != cases.StateApproved || len(lics) == 0 {
				t.Errorf("the 出件 push: %v", doc)
			}
		}
	}
	v := waitCase(t, hub, caseID, "supplemented by the platform", func(c cases.CaseView) bool { return len(c.Supplements) == 1 })
	if v.ExternalRef != "SIM-jiangsu-0001" {
		t.Errorf("external_ref %q", v.ExternalRef)
	}

	// The applicant withdraws the open matter on the platform: 撤件 and 办结 are pushed.
	w := []byte(`{"reason": "不再设置户外广告", "matters": ["outdoor-advertising-approval"]}`)
	if code := postJSON(t, hub+"/api/v1/cases/"+caseID+"/withdrawal", w, nil); code != 200 {
		t.Fatalf("the withdrawal: %d", code)
	}
	eventually(t, "撤件 and 办结 pushed to the platform", func() bool {
		got = pushes()
		return hasPrefix(got, key+"withdrawn:") && got[key+"completed"] != nil
	})
	withdrawnAt := slices.IndexFunc(order, func(k string) bool { return strings.HasPrefix(k, key+"withdrawn:") })
	if completedAt := slices.Index(order, key+"completed"); withdrawnAt > completedAt {
		t.Errorf("办结 was pushed before 撤件: %v", order)
	}
	if out := stderr.String(); !strings.Contains(out, "platformsim: supplemented") {
		t.Errorf("platformsim did not say it supplemented the case:\n%s", out)
	}
}

// follow reads the feed from cursor until a step of type typ of the case, long-polling.
func follow(t *testing.T, hub string, cursor *string, caseID, typ string) cases.FeedEntry {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var f cases.Feed
		if code := getJSON(t, hub+"/api/v1/events?wait=5&after="+*cursor, &f); code != 200 {
			t.Fatalf("the feed: %d", code)
		}
		for _, e := range f.Items {
			*cursor = e.Cursor
			if e.CaseID == caseID && e.Type == typ {
				return e
			}
		}
		*cursor = f.Next
	}
	t.Fatalf("no %s step of %s in the feed within 60s", typ, caseID)
	return cases.FeedEntry{}
}

// supplementFor answers a supplement request's items: a new file for each material.
func supplementFor(t *testing.T, missing []any) []byte {
	t.Helper()
	var mats []map[string]any
	form := map[string]any{}
	for i, m := range missing {
		item := m.(map[string]any)
		if code, ok := item["material"].(string); ok {
			mats = append(mats, map[string]any{"type": code, "filename": fmt.Sprintf("supplement-%d.pdf", i), "size": 1024,
				"sha256": strings.Repeat(fmt.Sprintf("%x", i%16), 64), "uri": fmt.Sprintf("https://files.example.org/supplement-%d.pdf", i)})
		} else {
			t.Fatalf("the simulated department asked for a field; the test answers materials only: %v", item)
		}
	}
	b, _ := json.Marshal(map[string]any{"materials": mats, "form": form, "note": "已补正"})
	return b
}

func hasPrefix(m map[string]map[string]any, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// writePlatformConnectors writes a connectors file with the jiangsu platform of the connector's
// tests, pointed at base, its documents in the hub's own field names (which platformsim reads).
func writePlatformConnectors(t *testing.T, path, base string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "connectors", "platform", "testdata", "platforms.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Platforms map[string]map[string]any `yaml:"platforms"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	js := f.Platforms["jiangsu"]
	for _, k := range []string{"licences_url", "licence_fields", "headers"} {
		delete(js, k)
	}
	js["pull_url"], js["push_url"], js["poll_interval"] = base+"/applications", base+"/progress", "200ms"
	js["outbound"] = map[string]any{}
	js["retry"] = map[string]any{"initial_interval": "50ms", "max_interval": "500ms"}
	out, err := yaml.Marshal(map[string]any{"platforms": map[string]any{"jiangsu": js}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(out))
}
