package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"yjshub/deptsim"
	"yjshub/hub"
	"yjshub/hub/api"
	"yjshub/hub/cases"
)

// startSimulatedHub runs serve --simulate on a backend and returns its URL and simulator.
func startSimulatedHub(t *testing.T, o serveOptions) (string, *deptsim.Simulator) {
	t.Helper()
	o.simulate = true
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	simc := make(chan *deptsim.Simulator, 1)
	o.simulator = simc
	addr, stop := startServe(t, o)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return "http://" + addr, <-simc
}

func postJSON(t *testing.T, url string, body []byte, out any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitCompletedAndDelivered waits, beyond completion, until every sub-case's delivery is
// recorded: a department may call back, and so complete the case, before the connector has
// recorded the 2xx that answered its push.
func waitCompletedAndDelivered(t *testing.T, hub, id string) cases.CaseView {
	t.Helper()
	return waitCase(t, hub, id, "completed with every delivery recorded", func(v cases.CaseView) bool {
		if v.State != cases.CaseCompleted {
			return false
		}
		for _, sc := range v.Subcases {
			if sc.DeliveredAt == nil {
				return false
			}
		}
		return true
	})
}

// waitCase polls the case until done says so or the deadline passes. A 503 (the hub is taking
// as many requests as it takes, the departments' callbacks among them) is polled again, as a
// platform does after Retry-After.
func waitCase(t *testing.T, hub, id, what string, done func(cases.CaseView) bool) cases.CaseView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var v cases.CaseView
		code := getJSON(t, hub+"/api/v1/cases/"+id, &v)
		if code != 200 && code != 503 {
			t.Fatalf("GET case: %d", code)
		}
		if code == 200 && done(v) {
			return v
		}
		select {
		case <-ctx.Done():
			t.Fatalf("case %s not %s within 60s: %+v", id, what, v.Subcases)
		case <-tick.C:
		}
	}
}

func reached(sim *deptsim.Simulator, v cases.CaseView) []string {
	st := sim.Stats()
	set := map[string]bool{}
	for _, sc := range v.Subcases {
		if s, ok := st.Subcases[sc.ID]; ok && s.Deliveries > 0 {
			set[s.Department] = true
		}
	}
	var out []string
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func TestEndToEndOpenBar(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			hub, sim := startSimulatedHub(t, o)

			var ent cases.CaseView
			if code := postJSON(t, hub+"/api/v1/cases", readExample(t, "open-bar-enterprise"), &ent); code != 201 {
				t.Fatalf("submit enterprise: %d", code)
			}
			var ind cases.CaseView
			if code := postJSON(t, hub+"/api/v1/cases", readExample(t, "open-bar-individual"), &ind); code != 201 {
				t.Fatalf("submit individual: %d", code)
			}
			ent = waitCompletedAndDelivered(t, hub, ent.ID)
			ind = waitCompletedAndDelivered(t, hub, ind.ID)

			if got := strings.Join(reached(sim, ent), ","); got != "admin-approval,fire-rescue,tobacco,urban-management" {
				t.Errorf("enterprise 开酒吧 reached %s", got)
			}
			if got := strings.Join(reached(sim, ind), ","); got != "fire-rescue,market-regulation,tobacco" {
				t.Errorf("individual 开酒吧 without the optional matter reached %s", got)
			}
			for _, v := range []cases.CaseView{ent, ind} {
				if v.Outcome != cases.OutcomeApproved || len(v.Licences) == 0 {
					t.Errorf("case %s: outcome %s with %d e-licences", v.ID, v.Outcome, len(v.Licences))
				}
				for _, l := range v.Licences {
					if l.HolderID == "" || l.Number == "" || l.File.SHA256 == "" {
						t.Errorf("incomplete e-licence %+v", l)
					}
				}
				for _, sc := range v.Subcases {
					if sc.DeliveredAt == nil {
						t.Errorf("%s: no delivery recorded", sc.MatterCode)
					}
				}
				// Each material once, referenced by every sub-case that needs it.
				seen := map[string]bool{}
				for _, m := range v.Materials {
					if seen[m.Type] {
						t.Errorf("material %s stored twice", m.Type)
					}
					seen[m.Type] = true
				}
			}
			stats := sim.Stats().Subcases
			for _, v := range []cases.CaseView{ent, ind} {
				for _, sc := range v.Subcases {
					if n := stats[sc.ID].Deliveries; n != 1 {
						t.Errorf("sub-case %s (%s) delivered %d times", sc.ID, sc.MatterCode, n)
					}
				}
			}
		})
	}
}

func TestEndToEndRefusals(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			hub, sim := startSimulatedHub(t, o)
			base := readExample(t, "open-bar-enterprise")
			edit := func(fn func(m map[string]any)) []byte {
				var m map[string]any
				_ = json.Unmarshal(base, &m)
				fn(m)
				b, _ := json.Marshal(m)
				return b
			}
			cases_ := []struct {
				name, path, rule string
				body             []byte
			}{
				{"invalid ID number", "/form/enterprise.legal_rep.id_number", "gb11643",
					edit(func(m map[string]any) {
						m["form"].(map[string]any)["enterprise.legal_rep.id_number"] = "110105194912310021"
					})},
				{"bad USCC", "/form/enterprise.uscc", "gb32100",
					edit(func(m map[string]any) { m["form"].(map[string]any)["enterprise.uscc"] = "91350100M000100Y44" })},
				{"dropped required matter", "/matters", "required_matter",
					edit(func(m map[string]any) {
						m["matters"] = slices.DeleteFunc(m["matters"].([]any), func(c any) bool { return c == "tobacco-retail-licence" })
					})},
				{"neither of an either-or group", "/matters", "either_or",
					edit(func(m map[string]any) {
						m["matters"] = slices.DeleteFunc(m["matters"].([]any), func(c any) bool { return c == "food-business-licence" })
					})},
				{"unknown bundle", "/bundle", "unknown_bundle",
					edit(func(m map[string]any) { m["bundle"] = "open-casino" })},
			}
			for _, c := range cases_ {
				var body struct {
					Error struct {
						Status   int `json:"status"`
						Problems []struct {
							Path, Rule, Message string
						} `json:"problems"`
					} `json:"error"`
				}
				if code := postJSON(t, hub+"/api/v1/cases", c.body, &body); code != 422 {
					t.Errorf("%s: status %d", c.name, code)
					continue
				}
				found := false
				for _, p := range body.Error.Problems {
					found = found || (p.Path == c.path && p.Rule == c.rule)
				}
				if !found {
					t.Errorf("%s: no problem at %s (%s): %+v", c.name, c.path, c.rule, body.Error.Problems)
				}
			}
			if n := len(sim.Stats().Subcases); n != 0 {
				t.Errorf("refused applications reached departments: %d sub-cases", n)
			}
		})
	}
}

func TestSubmitAndWatch(t *testing.T) {
	hub, _ := startSimulatedHub(t, serveOptions{})
	code, out, stderr := runCLI(t, "submit", "--hub", hub, filepath.Join("..", "..", "examples", "open-drink-shop-individual.json"))
	id := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(id, "cs_") || !strings.Contains(stderr, "开饮品店") {
		t.Fatalf("submit: exit %d, %q, %q", code, out, stderr)
	}
	code, out, stderr = runCLI(t, "watch", "--hub", hub, "--interval", "20ms", "--timeout", "60s", id)
	if code != 0 || !strings.Contains(out, "completed: approved") || !strings.Contains(out, "2/2 decided") || !strings.Contains(out, "食品经营许可证") {
		t.Fatalf("watch: exit %d\n%s\n%s", code, out, stderr)
	}
	// A file that is not JSON is refused where it is, before anything is sent.
	code, _, stderr = runCLI(t, "submit", "--hub", hub, filepath.Join("..", "..", "catalogue", "testdata", "base", "departments.yaml"))
	if code != 1 || !strings.Contains(stderr, "departments.yaml:1:1: JSON syntax") {
		t.Fatalf("a bad file: exit %d: %s", code, stderr)
	}
}

// apiServer is the HTTP API on the hub's services as serve wires it, without connectors.
func apiServer(t *testing.T, hs *hub.Services) *api.Server {
	t.Helper()
	s, err := api.New(api.Config{Catalogue: hs.Catalogue, Cases: hs.Cases, Forms: hs.Forms, Sharing: hs.Sharing,
		Licences: hs.Licences, Audit: hs.Audit})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
