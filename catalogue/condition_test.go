package catalogue

import (
	"encoding/json"
	"testing"
)

func TestAConditionalMaterialHoldsExactlyWhenItsConditionIsTrue(t *testing.T) {
	cat, err := Load(baseFS(t), "base")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := cat.Matter("food-licence")
	need := m.Materials[2]
	if need.Material != "other-proof" || !need.Conditional() {
		t.Fatalf("need = %+v, want the conditional other-proof", need)
	}
	if got := need.WhenInputs(); len(got) != 1 || got[0] != "business.area_m2" {
		t.Fatalf("when inputs = %v", got)
	}
	for _, c := range []struct {
		name string
		form map[string]any
		at   string
		want bool
	}{
		{"a large enterprise premises", map[string]any{"business.area_m2": json.Number("120")}, Enterprise, true},
		{"a small premises", map[string]any{"business.area_m2": 80.0}, Enterprise, false},
		{"an individual", map[string]any{"business.area_m2": 120.0}, Individual, false},
		{"no area at all", map[string]any{}, Enterprise, false},
		{"an area of the wrong type", map[string]any{"business.area_m2": "big"}, Enterprise, false},
	} {
		if got := need.Holds(c.form, c.at); got != c.want {
			t.Errorf("%s: Holds = %v, want %v", c.name, got, c.want)
		}
	}
	if !m.Materials[0].Holds(nil, Enterprise) {
		t.Error("a need without a condition must always hold")
	}
	mat, _ := cat.Material("other-proof")
	if mat.Files() != 3 || mat.Copies != 2 || mat.Spec == "" || mat.FormLabel() != "复印件" {
		t.Errorf("other-proof = %+v (files %d, label %q)", mat, mat.Files(), mat.FormLabel())
	}
	if id, _ := cat.Material("id-card"); id.Files() != DefaultMaxFiles {
		t.Errorf("a material without max_files takes %d files", id.Files())
	}
}
