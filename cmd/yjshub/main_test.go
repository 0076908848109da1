package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yjshub/hub/bus/bustest"
	"yjshub/hub/store/storetest"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCatalogueValidate(t *testing.T) {
	code, out, _ := runCLI(t, "catalogue", "validate")
	if code != 0 || !strings.Contains(out, "40 bundles") {
		t.Fatalf("exit %d: %s", code, out)
	}
	code, out, _ = runCLI(t, "catalogue", "validate", "--json")
	var v struct {
		OK     bool           `json:"ok"`
		Counts map[string]int `json:"counts"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 || !v.OK || v.Counts["bundles"] != 40 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
}

// brokenSeeds copies the loader's small test catalogue and breaks two files.
func brokenSeeds(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "catalogue", "testdata", "base")
	dir := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	write := func(rel, s string) {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("departments.yaml", "departments:\n  - {code: approval, name: 区行政审批局, colour: red}\n  - {code: market, name: 区市场监管局}\n  - {code: city, name: 区城管局}\n")
	write("materials/core.yaml", "materials:\n  - {code: id-card, name: 身份证明}\n")
	return dir
}

func TestCatalogueValidateListsEveryProblem(t *testing.T) {
	dir := brokenSeeds(t)
	code, _, stderr := runCLI(t, "catalogue", "validate", "--seeds", dir)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{`departments.yaml:2: /departments/0: unknown key(s) "colour"`, `unknown material "premises-proof"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, out, _ := runCLI(t, "catalogue", "validate", "--seeds", dir, "--json")
	var v struct {
		OK       bool             `json:"ok"`
		Problems []map[string]any `json:"problems"`
	}
	// The colour, and each material the base matters ask for besides id-card (premises-proof,
	// other-proof): every one, not the first.
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || v.OK || len(v.Problems) != 3 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
}

func TestCatalogueListAndShow(t *testing.T) {
	code, out, _ := runCLI(t, "catalogue", "list")
	if code != 0 || !strings.Contains(out, "城乡居民养老保险关系注销") || !strings.Contains(out, "开酒吧") {
		t.Fatalf("exit %d: %s", code, out)
	}
	code, out, _ = runCLI(t, "catalogue", "show", "34")
	if code != 0 || !strings.Contains(out, "烟草专卖零售许可证核发") || !strings.Contains(out, "（选办）") {
		t.Fatalf("exit %d: %s", code, out)
	}
	code, out, _ = runCLI(t, "catalogue", "show", "open-bar", "--json")
	var b struct {
		Seq int `json:"seq"`
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil || code != 0 || b.Seq != 34 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	code, out, _ = runCLI(t, "catalogue", "show", "tobacco")
	if code != 0 || !strings.Contains(out, "区烟草局") {
		t.Fatalf("exit %d: %s", code, out)
	}
	code, _, stderr := runCLI(t, "catalogue", "show", "no-such-thing")
	if code != 1 || !strings.Contains(stderr, "no bundle, matter or department") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, _ := runCLI(t, "catalogue", "show"); code != 2 {
		t.Fatalf("a missing argument should exit 2, got %d", code)
	}
}

// startServe runs serve in the background and returns its address and a stop function that
// waits for the graceful shutdown and returns serve's error.
func startServe(t *testing.T, o serveOptions) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	o.ready = ready
	o.addr = "127.0.0.1:0"
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	select {
	case addr := <-ready:
		if !o.tls.enabled() {
			waitReady(t, "http://"+addr)
		}
		return addr, func() error { cancel(); return <-errc }
	case err := <-errc:
		cancel()
		t.Fatalf("serve did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("serve did not start within 60s")
	}
	return "", nil
}

// waitReady waits until the hub's /readyz says ready: its consumers join their groups after it
// listens, as a load balancer waits for them too.
func waitReady(t *testing.T, hub string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(hub + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz not ready within 60s: %d %s", res.StatusCode, body)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("/readyz: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling a probe, as an orchestrator does
	}
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

func serveBackends(t *testing.T) map[string]serveOptions {
	backends := map[string]serveOptions{"embedded": {}}
	db, kafka := os.Getenv("YJSHUB_TEST_DATABASE_URL"), os.Getenv("YJSHUB_TEST_KAFKA")
	switch {
	case db != "" && kafka != "":
		// A schema and a Kafka namespace of its own, so runs never see each other's cases
		// or messages; both are dropped when the test ends.
		ns := bustest.Namespace()
		backends["postgres+kafka"] = serveOptions{databaseURL: storetest.PostgresSchemaURL(t), brokers: splitList(kafka), namespace: ns}
		bustest.TidyNamespace(t, splitList(kafka), ns)
	case os.Getenv("YJSHUB_REQUIRE_REAL") != "":
		t.Fatal("YJSHUB_REQUIRE_REAL is set but YJSHUB_TEST_DATABASE_URL or YJSHUB_TEST_KAFKA is not")
	default:
		t.Log("YJSHUB_TEST_DATABASE_URL / YJSHUB_TEST_KAFKA unset: serve runs on the embedded backends only")
	}
	return backends
}

func TestServeAnswersAndShutsDownGracefully(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			o.dataDir = t.TempDir()
			for round := 1; round <= 2; round++ { // the second round reopens the same data
				addr, stop := startServe(t, o)
				var ready struct {
					Status string `json:"status"`
				}
				if code := getJSON(t, "http://"+addr+"/readyz", &ready); code != 200 || ready.Status != "ready" {
					t.Fatalf("round %d: readyz %d %+v", round, code, ready)
				}
				var bundles struct {
					Count int `json:"count"`
				}
				if code := getJSON(t, "http://"+addr+"/api/v1/bundles", &bundles); code != 200 || bundles.Count != 40 {
					t.Fatalf("round %d: bundles %d %+v", round, code, bundles)
				}
				if err := stop(); err != nil {
					t.Fatalf("round %d: shutdown: %v", round, err)
				}
				if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
					t.Fatalf("round %d: still answering after shutdown", round)
				}
			}
		})
	}
}

func TestServeRefusesABrokenCatalogue(t *testing.T) {
	dir := t.TempDir()
	err := serve(context.Background(), serveOptions{seeds: brokenSeeds(t), dataDir: dir, addr: "127.0.0.1:0"},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), `unknown key(s) "colour"`) || !strings.Contains(err.Error(), "premises-proof") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a refused start wrote data: %v", entries)
	}
}
