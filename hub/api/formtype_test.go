package api

import (
	"fmt"
	"net/url"
	"testing"

	"yjshub/catalogue"
	"yjshub/seeds"
)

// A bundle open to one applicant type answers its form and notice without applicant_type, as
// if that type were named; a bundle open to both answers 422 naming the parameter.
func TestTheFormOfASingleTypeBundleNeedsNoApplicantType(t *testing.T) {
	srv := newCaseServer(t)
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	var single, both int
	for _, b := range cat.Bundles {
		var types []string
		for _, typ := range []string{catalogue.Enterprise, catalogue.Individual} {
			for _, e := range b.Matters {
				if m, ok := cat.Matter(e.Matter); ok && m.Handles(typ) {
					types = append(types, typ)
					break
				}
			}
		}
		for _, route := range []string{"form", "notice"} {
			path := fmt.Sprintf("/api/v1/bundles/%s/%s", url.PathEscape(b.Code), route)
			switch len(types) {
			case 1:
				var inferred, named struct {
					ApplicantType string `json:"applicant_type"`
				}
				if resp := get(t, srv, "GET", path, &inferred); resp.StatusCode != 200 {
					t.Errorf("%s without applicant_type: status %d, want 200", path, resp.StatusCode)
					continue
				}
				get(t, srv, "GET", path+"?applicant_type="+types[0], &named)
				if inferred.ApplicantType != types[0] || named.ApplicantType != types[0] {
					t.Errorf("%s: applicant type %q inferred, %q named, want %q", path, inferred.ApplicantType, named.ApplicantType, types[0])
				}
			case 2:
				var e ErrorBody
				resp := get(t, srv, "GET", path, &e)
				if resp.StatusCode != 422 || len(e.Error.Problems) != 1 || e.Error.Problems[0].Path != "applicant_type" || e.Error.Problems[0].Rule != "required" {
					t.Errorf("%s of a bundle open to both without applicant_type: %d %+v, want 422 required at applicant_type", path, resp.StatusCode, e.Error.Problems)
				}
			}
		}
		switch len(types) {
		case 1:
			single++
		case 2:
			both++
		}
	}
	if single == 0 || both == 0 {
		t.Fatalf("the catalogue has %d single-type and %d two-type bundles: the test tries neither kind", single, both)
	}
	t.Logf("%d single-type bundles inferred, %d two-type bundles still need applicant_type", single, both)
}
