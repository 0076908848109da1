// Package connectors holds what the hub's connectors share: the deployment's connectors file,
// which says for each department (and each platform, and the supervision platform) how the hub
// reaches it, the manager that runs, pauses, resumes and reloads the connectors, and the
// department contract (CONTRACT.md). Each kind lives in its own folder with its config, its
// code and its tests, and is wired here, in one place: the table of department kinds and
// Specs, in kinds.go.
package connectors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"

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
// departments the catalogue knows; every problem is reported at once.
func Load(path string, known func(dept string) bool) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("connectors file: %w", err)
	}
	return Parse(b, path, known)
}

// Parse is Load on bytes already read; name labels the problems.
func Parse(b []byte, name string, known func(dept string) bool) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	codes := make([]string, 0, len(f.Departments))
	for code := range f.Departments {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		d := f.Departments[code]
		at := fmt.Sprintf("%s: departments.%s", name, code)
		if known != nil && !known(code) {
			errs = append(errs, fmt.Errorf("%s: not a department of the catalogue", at))
		}
		for _, k := range departmentKinds {
			if k.name() != d.Kind && k.present(&d) {
				errs = append(errs, fmt.Errorf("%s.%s: settings for another kind than %q", at, k.name(), d.Kind))
			}
		}
		switch k := kindNamed(d.Kind); {
		case k != nil:
			if err := k.check(&d, code, at); err != nil {
				errs = append(errs, err)
			}
		case d.Kind == "":
			errs = append(errs, fmt.Errorf("%s.kind: required (one of %v)", at, kindNames()))
		default:
			errs = append(errs, fmt.Errorf("%s.kind: unknown kind %q (one of %v)", at, d.Kind, kindNames()))
		}
		f.Departments[code] = d
	}
	errs = append(errs, checkPlatforms(&f, name)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &f, nil
}
