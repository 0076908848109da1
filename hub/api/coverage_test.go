package api

import (
	"testing"

	"yjshub/hub/store/storetest"
)

// GET /api/v1/bundles/{code}/coverage answers, without a key, the coverage of the bundle's
// department forms as the document describes it: per applicant type the bundle serves, or for
// the one asked; 404 for an unknown bundle, 422 for an applicant type it does not serve.
func TestTheMappingCoverageIsServedAsDocumented(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	srv, _ := sharingServer(t, storetest.OpenSQLite)
	get := func(path string, want int) []byte {
		t.Helper()
		resp, b := exchange(t, srv, "GET", path, "", nil, nil)
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d %s; want %d", path, resp.StatusCode, b, want)
		}
		conforms(t, doc, "GET", "/api/v1/bundles/{code}/coverage", resp, b)
		return b
	}
	var both BundleCoverage
	decode(t, string(get("/api/v1/bundles/34/coverage", 200)), &both)
	if both.Bundle.Code != "open-bar" || len(both.Coverage) != 2 || both.Coverage[0].ApplicantType != "enterprise" || both.Coverage[1].ApplicantType != "individual" {
		t.Fatalf("开酒吧 for both types: %+v", both)
	}
	var one BundleCoverage
	decode(t, string(get("/api/v1/bundles/open-bar/coverage?applicant_type=individual", 200)), &one)
	if len(one.Coverage) != 1 || one.Coverage[0].ApplicantType != "individual" || len(one.Coverage[0].Forms) != 5 {
		t.Fatalf("开酒吧 for individuals: %+v", one)
	}
	for _, f := range one.Coverage[0].Forms {
		if f.Matter.Code == "food-business-licence" && f.Department.Code != "market-regulation" {
			t.Errorf("an individual's food licence is filled in for %s; the catalogue routes it to market-regulation", f.Department.Code)
		}
	}
	// 联合验收 (40) is for enterprises only.
	var joint BundleCoverage
	decode(t, string(get("/api/v1/bundles/joint-acceptance/coverage", 200)), &joint)
	if len(joint.Coverage) != 1 || joint.Coverage[0].ApplicantType != "enterprise" || len(joint.Coverage[0].Forms) == 0 {
		t.Errorf("an enterprise-only bundle: %+v", joint.Coverage)
	}
	var bad ErrorBody
	decode(t, string(get("/api/v1/bundles/40/coverage?applicant_type=individual", 422)), &bad)
	if len(bad.Error.Problems) != 1 || bad.Error.Problems[0].Path != "applicant_type" {
		t.Errorf("an applicant type the bundle does not serve: %+v", bad.Error)
	}
	get("/api/v1/bundles/open-bar/coverage?applicant_type=robot", 422)
	get("/api/v1/bundles/open-pub/coverage", 404)
}
