package deptsim_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"yjshub/deptsim"
)

func TestTheZeroConfigIsValid(t *testing.T) {
	var c deptsim.Config
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := deptsim.New(c); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := deptsim.Config{
		Default: deptsim.DeptConfig{Decision: "maybe"},
		Departments: map[string]deptsim.DeptConfig{
			"health":  {FailureRate: 1.5, Delay: -time.Second, FailureStatus: 200},
			"housing": {FailureStatus: 409, FailureRate: -0.1},
			"":        {},
		},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`default.decision: "maybe" is not one of approve, reject, supplement`,
		"departments.health.failure_rate: 1.5 is not between 0 and 1",
		"departments.health.delay: -1s is negative",
		"departments.health.failure_status: 200 is not an HTTP error status",
		"departments.housing.failure_status: 409",
		"departments.housing.failure_rate: -0.1",
		`departments."": not a department code`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if _, newErr := deptsim.New(c); newErr == nil || !strings.Contains(newErr.Error(), err.Error()) {
		t.Errorf("New: %v, want the same problems", newErr)
	}
}

func TestParseConfigDecodesYAMLStrictly(t *testing.T) {
	c, err := deptsim.ParseConfig([]byte(`
default:
  delay: 500ms
departments:
  tobacco:
    decision: reject
    failure_rate: 0.25
    failure_status: 502
    seed: 7
`))
	if err != nil {
		t.Fatal(err)
	}
	want := deptsim.DeptConfig{Decision: "reject", FailureRate: 0.25, FailureStatus: 502, Seed: 7}
	if c.Default.Delay != 500*time.Millisecond || c.Departments["tobacco"] != want {
		t.Errorf("parsed %+v", c)
	}

	if _, err := deptsim.ParseConfig([]byte("default:\n  decison: reject\n")); err == nil || !strings.Contains(err.Error(), "decison") {
		t.Errorf("unknown key: %v", err)
	}
	_, err = deptsim.ParseConfig([]byte("default:\n  decision: perhaps\n  failure_rate: 2\n"))
	if err == nil || !strings.Contains(err.Error(), "perhaps") || !strings.Contains(err.Error(), "failure_rate") {
		t.Errorf("invalid values: %v, want both problems", err)
	}
	if c, err := deptsim.ParseConfig(nil); err != nil || c.Default != (deptsim.DeptConfig{}) {
		t.Errorf("empty document: %+v, %v", c, err)
	}
}

func TestDeptConfigJSONTakesDelayAsADurationString(t *testing.T) {
	var d deptsim.DeptConfig
	if err := json.Unmarshal([]byte(`{"decision":"supplement","delay":"250ms"}`), &d); err != nil {
		t.Fatal(err)
	}
	if d.Delay != 250*time.Millisecond || d.Decision != deptsim.DecisionSupplement {
		t.Errorf("decoded %+v", d)
	}
	if err := json.Unmarshal([]byte(`{"delay":1000000}`), &d); err != nil || d.Delay != time.Millisecond {
		t.Errorf("nanoseconds: %+v, %v", d, err)
	}
	if err := json.Unmarshal([]byte(`{"delay":"soon"}`), &d); err == nil {
		t.Error("a delay of \"soon\" was accepted")
	}
	if err := json.Unmarshal([]byte(`{"dealy":"1s"}`), &d); err == nil {
		t.Error("an unknown key was accepted")
	}
	b, err := json.Marshal(deptsim.Config{Default: deptsim.DeptConfig{Delay: 2 * time.Second}})
	if err != nil || !strings.Contains(string(b), `"delay":"2s"`) {
		t.Errorf("marshalled %s, %v", b, err)
	}
	var back deptsim.Config
	if err := json.Unmarshal(b, &back); err != nil || back.Default.Delay != 2*time.Second {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
