package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yjshub/connectors/platform/platformsim"
)

func TestPlatformsimOffersGeneratedApplicationsAndAnswersASupplementAtTheHub(t *testing.T) {
	type got struct {
		path, auth string
		body       map[string]any
	}
	hubCalls := make(chan got, 1)
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		hubCalls <- got{r.URL.Path, r.Header.Get("Authorization"), body}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	defer hub.Close()
	t.Setenv(apiKeyEnv, "yjk_platformsim_test")
	dir := t.TempDir()
	answers := filepath.Join(dir, "answers.yaml")
	if err := os.WriteFile(answers, []byte("business.area_m2: 36\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := platformsimOptions{addr: "127.0.0.1:0", generate: 2, example: filepath.Join("..", "..", "examples", "open-drink-shop-individual.json"),
		format: "jiangsu", hub: hub.URL, answers: answers, filesURL: "https://files.example.org/sim"}
	sim, err := o.build(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/applications?limit=10")
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Items []platformsim.Item }
	_ = json.NewDecoder(resp.Body).Decode(&page)
	_ = resp.Body.Close()
	if len(page.Items) != 2 || page.Items[1].AppID != "SIM-jiangsu-0002" || !bytes.Contains(page.Items[0].Body, []byte(`"sxxx"`)) {
		t.Fatalf("offered %+v, want two applications in the jiangsu layout", page.Items)
	}

	doc := `{"step":"supplement","case_id":"cs_9","supplement":{"reply_to":"/api/v1/cases/cs_9/supplements",` +
		`"missing":[{"material":"floor-plan"},{"field":"business.area_m2"}]}}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/progress", strings.NewReader(doc))
	req.Header.Set("Idempotency-Key", "platform:jiangsu:cs_9:supplement:sc_1:1")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %v %v", resp, err)
	}
	select {
	case g := <-hubCalls:
		mats, _ := g.body["materials"].([]any)
		form, _ := g.body["form"].(map[string]any)
		if g.path != "/api/v1/cases/cs_9/supplements" || g.auth != "Bearer yjk_platformsim_test" || len(mats) != 1 || form["business.area_m2"] != float64(36) {
			t.Errorf("the hub got %+v", g)
		}
		if m := mats[0].(map[string]any); m["type"] != "floor-plan" || !strings.HasPrefix(m["uri"].(string), "https://files.example.org/sim/") {
			t.Errorf("material %v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the simulator did not supplement the case at the hub")
	}
}

func TestPlatformsimNamesEveryBadFlag(t *testing.T) {
	o := platformsimOptions{format: "x", generate: -1, secret: "abc", hub: "ftp://h", filesURL: "http://insecure", applications: "/nonexistent"}
	_, err := o.build(context.Background(), slog.New(slog.DiscardHandler))
	for _, w := range []string{"--format", "--generate", "--signing-secret", "--hub", "--files-url", "--applications"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %s", err, w)
		}
	}
}
