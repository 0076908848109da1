package connectors

import (
	"os"
	"slices"
	"strings"
	"testing"

	"yjshub/hub/hubtest"
)

// kafkaAndSupervisionFile follows platform/testdata/platforms.yaml to make a connectors file of
// kafka departments, platforms and supervision (the schema test checks it too).
const kafkaAndSupervisionFile = `
departments:
  market-regulation:
    kind: kafka
    kafka: {group_id: scjg-approval}
  tobacco:
    kind: kafka
    kafka: {group_id: yc-approval, results_group: yjshub-results, poll_interval: 5s, concurrency: 4, results_concurrency: 8}
supervision:
  endpoint: https://jg.lyg.example/api/records
  mask_holder_id: true
  supervising: {food-business-licence: market-regulation}
`

func TestTheConnectorsFileConfiguresKafkaPlatformsAndSupervision(t *testing.T) {
	platforms, err := os.ReadFile("platform/testdata/platforms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(platforms) + kafkaAndSupervisionFile
	f, err := Parse([]byte(doc), "connectors.yaml", nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if k := f.Departments["market-regulation"].Kafka; k == nil || k.Department != "market-regulation" || k.GroupID != "scjg-approval" {
		t.Errorf("kafka department = %+v", k)
	}
	if k := f.Departments["tobacco"].Kafka; k == nil || k.Concurrency != 4 || k.ResultsConcurrency != 8 {
		t.Errorf("kafka department with its concurrency = %+v", k)
	}
	if p := f.Platforms["lianyungang"]; p.Name != "lianyungang" || p.Level != "municipal" || len(p.Inbound) == 0 {
		t.Errorf("platform = %+v", p)
	}
	if s := f.Supervision; s == nil || s.Supervising["food-business-licence"] != "market-regulation" {
		t.Errorf("supervision = %+v", s)
	}
	var names []string
	for _, s := range Specs(f, Deps{}, nil) {
		names = append(names, s.Name)
		if _, err := s.Build(); err == nil && !strings.HasPrefix(s.Name, "kafka:") {
			t.Errorf("%s built without the store and the case service", s.Name)
		}
	}
	want := []string{"kafka:market-regulation", "kafka:results", "kafka:tobacco", "platform:jiangsu", "platform:lianyungang", "supervision:platform"}
	if !slices.Equal(names, want) {
		t.Errorf("specs %q, want %q", names, want)
	}

	// With the hub's dependencies every one of them builds.
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		deps := Deps{Bus: env.Bus, Store: env.Store, Catalogue: env.Services.Catalogue, Cases: env.Cases, Licences: env.Services.Licences, Recorder: env.Rec}
		for _, s := range Specs(f, deps, nil) {
			c, err := s.Build()
			if err != nil {
				t.Errorf("%s: %v", s.Name, err)
				continue
			}
			if st := c.Status(); st.Name != s.Name {
				t.Errorf("%s reports itself as %q", s.Name, st.Name)
			} else if st.History == nil || st.History.StepSeconds != 60 {
				t.Errorf("%s reports no history of the last hour: %+v", s.Name, st.History)
			}
		}
	})
}

func TestKafkaPlatformAndSupervisionProblemsAreReportedAtOnce(t *testing.T) {
	t.Parallel()
	const doc = `
departments:
  market-regulation:
    kind: kafka
  tobacco:
    kind: kafka
    kafka: {results_group: yjshub-results}
  health:
    kind: kafka
    kafka: {group_id: wjw, results_group: other-results, results_concurrency: 4, concurrency: 65}
  fire-rescue:
    kind: restpush
    restpush: {endpoint: "https://x.example/"}
    kafka: {group_id: x}
platforms:
  jiangsu:
    name: lianyungang
    pull_url: https://user:pw-S3cr3t@x.example/pull
    inbound: []
supervision:
  endpoint: "ftp://jg.example/records"
  retry: {jitter: 2}
`
	_, err := Parse([]byte(doc), "connectors.yaml", nil)
	if err == nil {
		t.Fatal("Parse: nil error")
	}
	for _, want := range []string{
		"departments.market-regulation.kafka: required for kind kafka",
		"departments.tobacco.kafka.group_id: required",
		`departments.tobacco.kafka.results_group: "yjshub-results" differs from "other-results" of departments.health`,
		"departments.tobacco.kafka.results_concurrency: 8 differs from 4 of departments.health",
		"departments.health.kafka.concurrency: 65 is not from 1 to 64",
		"departments.fire-rescue.kafka: settings for another kind",
		`platforms.jiangsu.name: "lianyungang" differs from the key`,
		"platforms.jiangsu.push_url: required",
		"no rule maps to bundle",
		"supervision.endpoint:",
		"retry.jitter",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if strings.Contains(err.Error(), "pw-S3cr3t") {
		t.Errorf("the error shows a password:\n%v", err)
	}
	if t.Failed() {
		t.Logf("error:\n%v", err)
	}
}
