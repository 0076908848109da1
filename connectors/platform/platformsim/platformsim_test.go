package platformsim_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/platform/platformsim"
	"yjshub/connectors/signing"
)

func post(t *testing.T, url, key string, body []byte, headers map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestWithASecretThePlatformRefusesPushesItCannotVerifyAndReportsTheTakenOnce(t *testing.T) {
	sim := platformsim.New()
	secret := signing.NewSecret()
	sim.VerifySignatures(secret)
	var mu sync.Mutex
	var taken []string
	sim.OnTaken(func(p platformsim.Push) { mu.Lock(); taken = append(taken, p.Key); mu.Unlock() })
	srv := httptest.NewServer(sim)
	defer srv.Close()
	body := []byte(`{"step":"accepted"}`)
	good, _ := signing.New(secret)
	h, _ := good.Sign("k1", time.Now(), body)
	other, _ := signing.New(signing.NewSecret())
	forged, _ := other.Sign("k2", time.Now(), body)

	for _, c := range []struct {
		name    string
		key     string
		headers map[string]string
		want    int
	}{
		{"a signed push is taken", "k1", h, http.StatusOK},
		{"the same push again is taken, but reported once", "k1", h, http.StatusOK},
		{"a push signed with another secret is refused", "k2", forged, http.StatusUnauthorized},
		{"an unsigned push is refused", "k3", nil, http.StatusUnauthorized},
		{"a push without Idempotency-Key is refused", "", h, http.StatusBadRequest},
	} {
		if got := post(t, srv.URL+"/progress", c.key, body, c.headers); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(taken) != 1 || taken[0] != "k1" {
		t.Errorf("OnTaken saw %v, want k1 once", taken)
	}
	if ps := sim.Pushes(); len(ps) != 5 || ps[2].Problem != "the signature does not match the body" {
		t.Errorf("pushes recorded %d, third's problem %q", len(ps), ps[2].Problem)
	}
}

func TestASupplementIsAnsweredWithAFileForEachMaterialAndTheAnswersForFields(t *testing.T) {
	doc := map[string]any{"step": "supplement", "case_id": "cs_1", "supplement": map[string]any{
		"reply_to": "/api/v1/cases/cs_1/supplements",
		"missing":  []any{map[string]any{"material": "floor-plan", "note": "不清"}, map[string]any{"field": "business.area_m2"}, map[string]any{"field": "food.online_sales"}},
	}}
	r, ok, err := platformsim.ReplyToSupplement(doc, map[string]any{"business.area_m2": 42.5}, "https://files.example.org/sim/", time.Now())
	if !ok || err != nil {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	if r.Path != "/api/v1/cases/cs_1/supplements" || len(r.Body.Materials) != 1 || r.Body.Form["business.area_m2"] != 42.5 || len(r.Body.Form) != 1 {
		t.Fatalf("reply %+v", r)
	}
	m := r.Body.Materials[0]
	if m.Type != "floor-plan" || len(m.SHA256) != 64 || m.URI != "https://files.example.org/sim/"+m.SHA256 || m.Size <= 0 {
		t.Errorf("material %+v", m)
	}
	if len(r.Unanswered) != 1 || r.Unanswered[0] != "food.online_sales" {
		t.Errorf("unanswered %v", r.Unanswered)
	}
	if _, ok, _ := platformsim.ReplyToSupplement(map[string]any{"step": "accepted"}, nil, "https://x", time.Now()); ok {
		t.Error("a 受理 was taken for a 补正")
	}
	if _, _, err := platformsim.ReplyToSupplement(map[string]any{"step": "supplement", "BZ": map[string]any{}}, nil, "https://x", time.Now()); err == nil {
		t.Error("a renamed 补正 gave no error")
	}
}

func TestApplicationFilesAreReadInEveryShapeAndEveryProblemIsNamed(t *testing.T) {
	for _, c := range []struct {
		name, file, data string
		want             []string
	}{
		{"an array of items", "a.json", `[{"app_id":"A1","body":{"x":1}},{"app_id":"A2","body":"{\"x\":2}"}]`, []string{"A1", "A2"}},
		{"a page", "p.json", `{"items":[{"app_id":"P1","body":{}}],"next_cursor":""}`, []string{"P1"}},
		{"one item", "i.json", `{"app_id":"I1","submitted_at":"2026-12-01 09:00:00","body":{}}`, []string{"I1"}},
		{"a bare application takes the file's name", "dir/JS-2026-7.json", `{"sqrlx":"2"}`, []string{"JS-2026-7"}},
	} {
		items, err := platformsim.ReadItems(c.file, []byte(c.data))
		if err != nil || len(items) != len(c.want) {
			t.Errorf("%s: %v, %d items", c.name, err, len(items))
			continue
		}
		for i, id := range c.want {
			if items[i].AppID != id {
				t.Errorf("%s: item %d is %q, want %q", c.name, i, items[i].AppID, id)
			}
		}
	}
	_, err := platformsim.ReadItems("bad.json", []byte(`[{"body":{}},{"app_id":"X"}]`))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("item 0: app_id is required")) || !bytes.Contains([]byte(err.Error()), []byte("item 1: body is required")) {
		t.Errorf("err %v, want both items' problems", err)
	}
}
