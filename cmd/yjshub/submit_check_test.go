package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"yjshub/mapping"
)

// formHub is a hub that serves the one forms of the embedded catalogue as the real one does,
// and hands submissions to post; it counts the submissions it received.
func formHub(t *testing.T, post http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	mux, posts := formMux(t, post)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, posts
}

// formMux is formHub's paths, for a test hub that serves more.
func formMux(t *testing.T, post http.HandlerFunc) (*http.ServeMux, *atomic.Int32) {
	t.Helper()
	cat, err := loadCatalogue("")
	if err != nil {
		t.Fatal(err)
	}
	var posts atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/bundles/{bundle}/form", func(w http.ResponseWriter, r *http.Request) {
		b, ok := cat.Bundle(r.PathValue("bundle"))
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"status":404,"code":"not_found","message":"no such bundle"}}`))
			return
		}
		var matters []string
		if m := r.URL.Query().Get("matters"); m != "" {
			matters = strings.Split(m, ",")
		}
		f, err := mapping.BuildOneForm(cat, b, r.URL.Query().Get("applicant_type"), matters)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error":{"status":422,"code":"invalid","message":"no such form"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f)
	})
	mux.HandleFunc("POST /api/v1/cases", func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		post(w, r)
	})
	return mux, &posts
}

func created(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"id":"cs_1","bundle":{"seq":30,"name":"开饮品店"},"subcases":[],"deadline":{}}`))
}

// editedExample writes an example with edit applied to its decoded JSON.
func editedExample(t *testing.T, name string, edit func(app map[string]any)) string {
	t.Helper()
	var app map[string]any
	if err := json.Unmarshal(readExample(t, name), &app); err != nil {
		t.Fatal(err)
	}
	edit(app)
	b, err := json.MarshalIndent(app, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return writeApp(t, string(b))
}

func writeApp(t *testing.T, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.json")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSubmitPlacesJSONMistakesByFileLineAndColumnAndSendsNothing(t *testing.T) {
	hub, posts := formHub(t, created)
	for _, tc := range []struct {
		name, doc, where, what string
	}{
		{"a missing comma", "{\n  \"bundle\": \"open-drink-shop\"\n  \"applicant_type\": \"individual\"\n}", ":3:3:", "JSON syntax"},
		{"a trailing comma", "{\n  \"bundle\": \"open-drink-shop\",\n}", ":3:1:", "JSON syntax"},
		{"a file cut short", "{\n  \"bundle\": \"open-", ":2:", "ends in the middle"},
		{"a list where the form is an object", "{\n  \"bundle\": \"open-drink-shop\",\n  \"form\": [1, 2]\n}", ":3:", "form: a JSON array where the application has an object"},
		{"a YAML file", "bundle: open-drink-shop\n", ":1:1:", "JSON syntax"},
		{"an empty file", "", ":1:1:", "empty"},
		{"no bundle", "{\"applicant_type\": \"individual\", \"form\": {}}", ": /bundle:", "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeApp(t, tc.doc)
			code, _, stderr := runCLI(t, "submit", "--hub", hub.URL, path)
			if code != 1 || !strings.Contains(stderr, path+tc.where) || !strings.Contains(stderr, tc.what) {
				t.Errorf("exit %d, want 1 and %q at %q:\n%s", code, tc.what, path+tc.where, stderr)
			}
		})
	}
	if n := posts.Load(); n != 0 {
		t.Errorf("%d submissions sent; a file with problems is not sent", n)
	}
}

func TestSubmitNamesEveryProblemTheFormFindsAndSendsNothing(t *testing.T) {
	hub, posts := formHub(t, created)
	path := editedExample(t, "open-drink-shop-individual", func(app map[string]any) {
		form := app["form"].(map[string]any)
		delete(form, "applicant.name")
		form["contact.mobile"] = "151-0518-1234"
		form["contact.nickname"] = "小李"
		form["business.area_m2"] = "large"
		var kept []any
		for _, m := range app["materials"].([]any) {
			if m.(map[string]any)["type"] != "application-form" {
				kept = append(kept, m)
			}
		}
		app["materials"] = kept
	})
	code, _, stderr := runCLI(t, "submit", "--hub", hub.URL, path)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, stderr)
	}
	for _, want := range []string{
		path + ": /form/applicant.name: required",
		path + ": /form/contact.mobile: ",
		`"contact.nickname"`,
		path + ": /form/business.area_m2: a JSON string where the form wants number",
		path + `: /materials: has 0 item(s) with type "application-form", fewer than 1`,
		"nothing was sent",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "151-0518-1234") {
		t.Errorf("a value of the form is printed:\n%s", stderr)
	}
	if n := posts.Load(); n != 0 {
		t.Errorf("%d submissions sent", n)
	}

	// A bundle the hub does not have is refused with the hub's word, before anything is sent.
	path = editedExample(t, "open-drink-shop-individual", func(app map[string]any) { app["bundle"] = "open-space-station" })
	if code, _, stderr := runCLI(t, "submit", "--hub", hub.URL, path); code != 1 || !strings.Contains(stderr, "404 not_found") || posts.Load() != 0 {
		t.Errorf("unknown bundle: exit %d, %d sent:\n%s", code, posts.Load(), stderr)
	}

	// Every example passes the check and is sent.
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*.json"))
	for _, ex := range examples {
		if code, _, stderr := runCLI(t, "submit", "--hub", hub.URL, ex); code != 0 {
			t.Errorf("%s: exit %d:\n%s", filepath.Base(ex), code, stderr)
		}
	}
	if n := posts.Load(); int(n) != len(examples) || n == 0 {
		t.Errorf("%d submissions for %d examples", n, len(examples))
	}
}

func TestSubmitToAHubThatIsDownSaysHowToStartOneOrPointAtOne(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	example := filepath.Join("..", "..", "examples", "open-drink-shop-individual.json")
	code, _, stderr := runCLI(t, "submit", "--hub", addr, example)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"no hub answers at http://" + addr, "make run", "yjshub serve", "--hub", "YJSHUB_URL"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestSubmitTakesHostAndPortForTheHub(t *testing.T) {
	hub, posts := formHub(t, created)
	hostPort := strings.TrimPrefix(hub.URL, "http://")
	example := filepath.Join("..", "..", "examples", "open-drink-shop-individual.json")
	code, out, stderr := runCLI(t, "submit", "--hub", hostPort, example)
	if code != 0 || strings.TrimSpace(out) != "cs_1" || posts.Load() != 1 {
		t.Fatalf("--hub %s: exit %d, %q, %d sent:\n%s", hostPort, code, out, posts.Load(), stderr)
	}
	t.Setenv("YJSHUB_URL", hostPort)
	if code, _, stderr := runCLI(t, "submit", example); code != 0 || posts.Load() != 2 {
		t.Fatalf("YJSHUB_URL=%s: exit %d:\n%s", hostPort, code, stderr)
	}
}

func TestHubBaseURL(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		secure   bool
		want     string
	}{
		{"host and port are taken as http", "localhost:8080", false, "http://localhost:8080"},
		{"host and port with --ca are taken as https", "hub.example:8443", true, "https://hub.example:8443"},
		{"a URL is kept, its trailing slash dropped", "https://hub.example/", false, "https://hub.example"},
		{"an http URL stays http even with --ca", "http://127.0.0.1:8080", true, "http://127.0.0.1:8080"},
		{"an IPv6 address and port", "[::1]:8080", false, "http://[::1]:8080"},
		{"another scheme is refused", "ftp://hub.example", false, ""},
		{"nothing is refused", "", false, ""},
		{"a query is refused", "localhost:8080?x=1", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hubBaseURL(tc.in, tc.secure)
			if tc.want == "" {
				if err == nil {
					t.Errorf("%q: %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}
