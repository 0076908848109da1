// Package connectors holds what every connector kind shares: the deployment's connectors file,
// which says for each department how the hub reaches its back office, and the department
// contract (CONTRACT.md). Each kind lives in its own folder (restpush/, …) with its config,
// its code and its tests.
package connectors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"

	"yjshub/connectors/restpush"
)

// Kinds of connector.
const (
	KindRestPush = "restpush"
)

// File is a deployment's connectors file:
//
//	departments:
//	  tobacco:
//	    kind: restpush
//	    endpoint: https://tobacco.example.gov.cn/yjs/subcases
//	    timeout: 10s
//	    headers: {Authorization: "Bearer …"}
//	    retry: {initial_interval: 200ms, max_interval: 30s}
//	    breaker: {consecutive_failures: 5, open_timeout: 30s}
type File struct {
	Departments map[string]Department `yaml:"departments"`
}

// Department is how the hub reaches one department's back office.
type Department struct {
	// Kind is the connector kind: restpush.
	Kind string `yaml:"kind"`
	// RestPush is the configuration of a restpush connector; its department is the map key.
	RestPush restpush.Config `yaml:",inline"`
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
		if known != nil && !known(code) {
			errs = append(errs, fmt.Errorf("%s: departments.%s: not a department of the catalogue", name, code))
		}
		switch d.Kind {
		case KindRestPush:
			d.RestPush.Department = code
			if err := d.RestPush.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s: departments.%s: %w", name, code, err))
			}
		case "":
			errs = append(errs, fmt.Errorf("%s: departments.%s.kind: required (restpush)", name, code))
		default:
			errs = append(errs, fmt.Errorf("%s: departments.%s.kind: unknown kind %q (known: restpush)", name, code, d.Kind))
		}
		f.Departments[code] = d
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &f, nil
}
