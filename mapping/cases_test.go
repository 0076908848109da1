package mapping

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// mappingCase is testdata/<matter>[@<variant>]/input.json.
type mappingCase struct {
	ApplicantType string  `json:"applicant_type"`
	Form          Form    `json:"form"`
	Results       Results `json:"results"`
}

// TestMappingCases maps every case under testdata and compares the department form with
// want.json: a missing, different or extra key fails. The folder name is the matter code,
// optionally followed by @ and a variant.
func TestMappingCases(t *testing.T) {
	cat := seedCatalogue(t)
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "input.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no mapping cases under testdata")
	}
	covered := map[string]bool{}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		name := filepath.Base(dir)
		code, _, _ := strings.Cut(name, "@")
		t.Run(name, func(t *testing.T) {
			m, ok := cat.Matter(code)
			if !ok {
				t.Fatalf("folder %s names no matter of the catalogue", name)
			}
			var c mappingCase
			decodeFile(t, in, &c)
			if !m.Handles(c.ApplicantType) {
				t.Fatalf("matter %s is not open to %q applicants", code, c.ApplicantType)
			}
			covered[m.Department.For(c.ApplicantType)] = true
			covered[m.Department.Default] = true

			var want map[string]any
			decodeFile(t, filepath.Join(dir, "want.json"), &want)

			got, problems := Map(m, c.ApplicantType, c.Form, c.Results)
			for _, p := range problems {
				t.Errorf("unexpected problem %s %s: %s", p.Path, p.Rule, p.Message)
			}
			got = jsonRoundTrip(t, got)
			for k, w := range want {
				g, ok := got[k]
				switch {
				case !ok:
					t.Errorf("department field %s is missing; want %v", k, w)
				case !reflect.DeepEqual(g, w):
					t.Errorf("department field %s = %v (%T); want %v (%T)", k, g, g, w, w)
				}
			}
			var extra []string
			for k := range got {
				if _, ok := want[k]; !ok {
					extra = append(extra, k)
				}
			}
			sort.Strings(extra)
			for _, k := range extra {
				t.Errorf("department field %s = %v is not in want.json", k, got[k])
			}
		})
	}

	t.Run("every department that handles a matter has a case", func(t *testing.T) {
		handles := map[string]bool{}
		for _, m := range cat.Matters {
			handles[m.Department.Default] = true
			for _, d := range m.Department.ByApplicantType {
				handles[d] = true
			}
		}
		if len(handles) < 10 {
			t.Fatalf("only %d departments handle matters", len(handles))
		}
		for _, d := range cat.Departments {
			if handles[d.Code] && !covered[d.Code] {
				t.Errorf("no mapping case for a matter of department %s", d.Code)
			}
		}
	})
}

// decodeFile decodes JSON with numbers kept as json.Number, as intake decodes requests.
func decodeFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if m, ok := v.(*map[string]any); ok {
		*m = jsonRoundTrip(t, *m)
	}
}

// jsonRoundTrip normalises values (json.Number, float64, int) to what encoding/json decodes,
// so that 120.5 from a const and 120.5 from a form compare equal.
func jsonRoundTrip(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
