// Package connectors holds what the hub's connectors share: the deployment's connectors file,
// which says for each department (and each platform, and the supervision platform) how the hub
// reaches it, the manager that runs, pauses, resumes and reloads the connectors, and the
// department contract (CONTRACT.md). Each kind lives in its own folder with its config, its
// code and its tests, and is wired here, in one place (build in manager.go).
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

// Kinds of department connector.
const (
	KindRestPush = "restpush"
	KindRestPull = "restpull"
	KindFrontDB  = "frontdb"
	KindKafka    = "kafka"
)

// departmentKinds lists the kinds a department may use, for error messages.
var departmentKinds = []string{KindRestPush, KindRestPull, KindFrontDB, KindKafka}

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
// kind, and the key of that kind holds its settings.
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
		set := map[string]bool{KindRestPush: d.RestPush != nil, KindRestPull: d.RestPull != nil, KindFrontDB: d.FrontDB != nil, KindKafka: d.Kafka != nil}
		for k, present := range set {
			if present && k != d.Kind {
				errs = append(errs, fmt.Errorf("%s.%s: settings for another kind than %q", at, k, d.Kind))
			}
		}
		switch d.Kind {
		case KindRestPush:
			if d.RestPush == nil {
				errs = append(errs, fmt.Errorf("%s.restpush: required for kind restpush", at))
				break
			}
			d.RestPush.Department = code
			if err := d.RestPush.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s.restpush: %w", at, err))
			}
		case KindRestPull:
			if d.RestPull == nil {
				d.RestPull = &restpull.Config{} // every setting has a default
			}
			d.RestPull.Department = code
			if err := d.RestPull.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s.restpull: %w", at, err))
			}
		case KindFrontDB:
			if d.FrontDB == nil {
				errs = append(errs, fmt.Errorf("%s.frontdb: required for kind frontdb", at))
				break
			}
			d.FrontDB.Department = code
			if err := d.FrontDB.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s.frontdb: %w", at, err))
			}
		case KindKafka:
			if d.Kafka == nil {
				errs = append(errs, fmt.Errorf("%s.kafka: required for kind kafka (group_id names the department's consumer group)", at))
				break
			}
			d.Kafka.Department = code
			if err := d.Kafka.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s.kafka: %w", at, err))
			}
		case "":
			errs = append(errs, fmt.Errorf("%s.kind: required (one of %v)", at, departmentKinds))
		default:
			errs = append(errs, fmt.Errorf("%s.kind: unknown kind %q (one of %v)", at, d.Kind, departmentKinds))
		}
		f.Departments[code] = d
	}
	errs = append(errs, checkPlatforms(&f, name)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &f, nil
}
