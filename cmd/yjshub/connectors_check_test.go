package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var checkTestdata = filepath.Join("..", "..", "connectors", "testdata", "check")

func TestConnectorsCheckListsEveryProblemWithLineAndColumnAndExits1(t *testing.T) {
	typos := filepath.Join(checkTestdata, "typos.yaml")
	code, out, stderr := runCLI(t, "connectors", "check", typos)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing on stdout", code, out)
	}
	for _, want := range []string{
		typos + `:3:3: departments.tobaco: "tobaco" is not a department of the catalogue; did you mean "tobacco"?`,
		typos + `:7:7: departments.tobaco.restpush.timout: unknown key "timout"; did you mean "timeout"?`,
		typos + `:10:11: departments.fire-rescue.kind: "restpsh" is not a kind of connector`,
		`did you mean "restpush"?`,
		typos + `:17:1: platfroms: unknown key "platfroms"; did you mean "platforms"?`,
		typos + ": 8 problem(s)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	// Several files at once: each is reported, and one with problems fails the run.
	good := filepath.Join(t.TempDir(), "connectors.yaml")
	writeFile(t, good, "departments:\n  tobacco:\n    kind: restpush\n    restpush: {endpoint: \"https://tobacco.example.gov.cn/yjs/subcases\", timeout: 10s}\n")
	code, out, stderr = runCLI(t, "connectors", "check", good, filepath.Join(checkTestdata, "types.yaml"))
	if code != 1 || !strings.Contains(out, good+": ok (1 department(s)") || !strings.Contains(stderr, "types.yaml: 5 problem(s)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if code, out, stderr := runCLI(t, "connectors", "check", good); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("a good file: exit %d\n%s\n%s", code, out, stderr)
	}
	if code, _, _ := runCLI(t, "connectors", "check"); code != 2 {
		t.Errorf("no file: exit %d, want 2", code)
	}
	if code, _, stderr := runCLI(t, "connectors", "check", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 || !strings.Contains(stderr, "no such file") {
		t.Errorf("a missing file: exit %d: %s", code, stderr)
	}
}

func TestConnectorsCheckJSON(t *testing.T) {
	settings := filepath.Join(checkTestdata, "settings.yaml")
	code, out, _ := runCLI(t, "connectors", "check", "--json", settings)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var reports []struct {
		File     string `json:"file"`
		OK       bool   `json:"ok"`
		Problems []struct {
			Line, Column int
			Path, Rule   string
			Message      string
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(checkTestdata, "settings.want"))
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || reports[0].OK || len(reports[0].Problems) != strings.Count(string(want), "\n") {
		t.Fatalf("reports %+v", reports)
	}
	for _, p := range reports[0].Problems {
		if p.Line == 0 || p.Column == 0 || p.Path == "" || p.Rule == "" {
			t.Errorf("problem without its place or rule: %+v", p)
		}
	}
}

// serve refuses a connectors file with the problems connectors check reports, before it
// writes anything.
func TestServeRefusesAConnectorsFileWithTheCheckProblems(t *testing.T) {
	dir := t.TempDir()
	typos := filepath.Join(checkTestdata, "typos.yaml")
	err := serve(context.Background(), serveOptions{connectorsFile: typos, dataDir: dir, addr: "127.0.0.1:0"},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("serve started")
	}
	_, _, stderr := runCLI(t, "connectors", "check", typos)
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasSuffix(line, "problem(s)") {
			continue
		}
		if !strings.Contains(err.Error(), line) {
			t.Errorf("serve's error lacks %q:\n%v", line, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a refused start wrote data: %v", entries)
	}
}
