// Package connectors holds what the hub's connectors share: the deployment's connectors file,
// which says for each department (and each platform, and the supervision platform) how the hub
// reaches it, the manager that runs, pauses, resumes and reloads the connectors, and the
// department contract (CONTRACT.md). Each kind lives in its own folder with its config, its
// code and its tests, and is wired here, in one place: the table of department kinds and
// Specs, in kinds.go.
package connectors

import (
	"fmt"
	"os"

	"yjshub/connectors/frontdb"
	kafkaconn "yjshub/connectors/kafka"
	"yjshub/connectors/platform"
	"yjshub/connectors/restpull"
	"yjshub/connectors/restpush"
	"yjshub/connectors/supervision"
)

// File is a deployment's connectors file:
//
//	departments:
//	  tobacco:
//	    kind: restpush
//	    restpush:
//	      endpoint: https://tobacco.example.gov.cn/yjs/subcases
//	      timeout: 10s
//	      headers: {Authorization: "Bearer …"}
//	      retry: {initial_interval: 200ms, max_interval: 30s}
//	      breaker: {consecutive_failures: 5, open_timeout: 30s}
//
// Its JSON Schema, for editors and tools, is schemas/connectors/connectors.schema.json.
type File struct {
	Departments map[string]Department `yaml:"departments"`
	// Platforms are the integrated platforms applications come from and results go back to
	// (江苏政务服务网 "一件事", 连云港市政务服务一体化平台), by name; see connectors/platform.
	Platforms map[string]platform.Config `yaml:"platforms,omitempty"`
	// Supervision is the 互联网+监管 platform approvals are recorded at; see
	// connectors/supervision. Absent: no supervision records are pushed.
	Supervision *supervision.Config `yaml:"supervision,omitempty"`
}

// Department is how the hub reaches one department's back office: Kind names the connector
// kind, and the key of that kind holds its settings. It has one field per entry of
// departmentKinds (kinds.go), keyed by the kind's name.
type Department struct {
	Kind     string            `yaml:"kind"`
	RestPush *restpush.Config  `yaml:"restpush,omitempty"`
	RestPull *restpull.Config  `yaml:"restpull,omitempty"`
	FrontDB  *frontdb.Config   `yaml:"frontdb,omitempty"`
	Kafka    *kafkaconn.Config `yaml:"kafka,omitempty"`
}

// Load reads a connectors file strictly (unknown keys are errors) and checks it against the
// departments the catalogue knows; every problem is reported at once, with its line and
// column, as a *CheckError. LoadChecked also suggests a department for a mistyped one.
func Load(path string, known func(dept string) bool) (*File, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, path, known)
}

func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("connectors file: %w", err)
	}
	return b, nil
}

// Parse is Load on bytes already read; name labels the problems.
func Parse(b []byte, name string, known func(dept string) bool) (*File, error) {
	return parse(b, name, known, nil)
}
