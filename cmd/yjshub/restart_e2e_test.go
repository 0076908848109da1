package main

import (
	"path/filepath"
	"strings"
	"testing"

	"yjshub/hub/cases"
)

// TestMakeRunTwiceCompletesEveryExampleBothTimes is `make run`, every example submitted,
// Ctrl-C, `make run` again on the same data directory and every example submitted again: the
// hub on its embedded backends with the simulated departments of examples/simulator.yaml.
// The restarted simulator must not issue a licence number the hub already holds for another
// case (it would be refused 409 and the case would never complete).
func TestMakeRunTwiceCompletesEveryExampleBothTimes(t *testing.T) {
	examples, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.json"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	o := serveOptions{simulate: true, simConfig: filepath.Join("..", "..", "examples", "simulator.yaml"), dataDir: t.TempDir()}
	licences := map[string]string{} // number → case id
	for round := 1; round <= 2; round++ {
		hub, stop := startServe(t, o)
		url := "http://" + hub
		ids := make([]string, len(examples))
		for i, path := range examples {
			name := strings.TrimSuffix(filepath.Base(path), ".json")
			var v cases.CaseView
			if code := postJSON(t, url+"/api/v1/cases", readExample(t, name), &v); code != 201 {
				_ = stop()
				t.Fatalf("run %d: submitting %s: %d", round, name, code)
			}
			ids[i] = v.ID
		}
		for i, id := range ids {
			v := waitCase(t, url, id, "completed", func(v cases.CaseView) bool { return v.State == cases.CaseCompleted })
			for _, l := range v.Licences {
				if other, ok := licences[l.Number]; ok && other != id {
					t.Errorf("run %d: %s: licence %s issued for case %s too", round, filepath.Base(examples[i]), l.Number, other)
				}
				licences[l.Number] = id
			}
		}
		if err := stop(); err != nil {
			t.Fatalf("run %d: shutdown: %v", round, err)
		}
	}
	if len(licences) == 0 {
		t.Error("no licence issued in either run: the test would not notice repeated numbers")
	}
}
