package connectors

import (
	"strings"
	"testing"
	"time"
)

// restPullAndFrontDBFile is a connectors file of restpull and frontdb departments (the schema
// test checks it too).
const restPullAndFrontDBFile = `
departments:
  rsj:
    kind: restpull
    restpull:
      max_attempts: 5
      default_visibility: 1m
      concurrency: 4
  tobacco:
    kind: restpull
  market:
    kind: frontdb
    frontdb:
      driver: pgx
      dsn: postgres://hub:pw-S3cr3t@10.0.8.20/qzk
      schema: yjs
      migrate: false
      poll_interval: 5s
      concurrency: 16
`

func TestTheConnectorsFileConfiguresRestPullAndFrontDB(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(restPullAndFrontDBFile), "connectors.yaml", nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	rsj := f.Departments["rsj"].RestPull
	if rsj == nil || rsj.Department != "rsj" || rsj.MaxAttempts != 5 || rsj.DefaultVisibility != time.Minute || rsj.Concurrency != 4 {
		t.Errorf("rsj = %+v", rsj)
	}
	if tob := f.Departments["tobacco"].RestPull; tob == nil || tob.Department != "tobacco" {
		t.Errorf("a restpull department without settings = %+v, want the defaults", tob)
	}
	m := f.Departments["market"].FrontDB
	if m == nil || m.Department != "market" || m.Driver != "pgx" || m.Schema != "yjs" || m.Migrate == nil || *m.Migrate ||
		m.PollInterval != 5*time.Second || m.Concurrency != 16 {
		t.Errorf("market = %+v", m)
	}

	specs := Specs(f, Deps{}, nil)
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "frontdb:market restpull:rsj restpull:tobacco" {
		t.Errorf("specs %q", got)
	}
	for _, s := range specs {
		// Without a bus, an inbox or the case service nothing can be built, and the errors say so.
		if _, err := s.Build(); err == nil || strings.Contains(err.Error(), "pw-S3cr3t") {
			t.Errorf("Build %s without its dependencies: %v", s.Name, err)
		}
	}
}

func TestTheConnectorsFileReportsEveryProblemOfRestPullAndFrontDB(t *testing.T) {
	t.Parallel()
	const doc = `
departments:
  rsj:
    kind: restpull
    restpull:
      max_attempts: -1
      concurrency: -2
  market:
    kind: frontdb
  tax:
    kind: frontdb
    frontdb:
      driver: oracle
      dsn: postgres://hub:pw-S3cr3t@db/qzk
      subcase_table: "in; DROP TABLE x"
      concurrency: 100
  wrong:
    kind: restpush
    restpush: {endpoint: "https://x.example/"}
    restpull: {}
`
	_, err := Parse([]byte(doc), "connectors.yaml", nil)
	if err == nil {
		t.Fatal("Parse: nil error")
	}
	for _, want := range []string{
		"departments.rsj.restpull.max_attempts: -1 is negative",
		"concurrency: -2 is not from 1 to 64",
		"concurrency: 100 is not from 1 to 64",
		"departments.market.frontdb: required for kind frontdb",
		`departments.tax.frontdb.driver: "oracle"`,
		`subcase_table: "in; DROP TABLE x"`,
		`departments.wrong.restpull: settings for another kind than "restpush"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "pw-S3cr3t") {
		t.Errorf("error shows the DSN's password:\n%v", err)
	}
}
