package connectors

import (
	"fmt"
	"sort"

	kafkaconn "yjshub/connectors/kafka"
)

// checkPlatforms validates the parts of a connectors file that are not one department each:
// the platforms, the supervision platform, and the one results consumer every kafka
// department shares. It sets each platform's name from its key. Each problem comes with the
// path of YAML keys it is about.
func checkPlatforms(f *File) []pathError {
	var errs []pathError
	names := make([]string, 0, len(f.Platforms))
	for n := range f.Platforms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := f.Platforms[n]
		at := []string{"platforms", n}
		if p.Name != "" && p.Name != n {
			errs = append(errs, pathError{append(at[:2:2], "name"), fmt.Errorf("%q differs from the key; leave it out", p.Name)})
		}
		p.Name = n
		if err := p.Validate(); err != nil {
			errs = append(errs, pathError{at, err})
		}
		f.Platforms[n] = p
	}
	if f.Supervision != nil {
		if err := f.Supervision.Validate(); err != nil {
			errs = append(errs, pathError{[]string{"supervision"}, err})
		}
	}
	// One results consumer serves every kafka department: their results_group and
	// results_concurrency must agree.
	codes := make([]string, 0, len(f.Departments))
	for code, d := range f.Departments {
		if d.Kind == KindKafka && d.Kafka != nil {
			codes = append(codes, code)
		}
	}
	sort.Strings(codes)
	group, concurrency, first := "", 0, ""
	for _, code := range codes {
		g := f.Departments[code].Kafka.ResultsGroup
		if g == "" {
			g = kafkaconn.DefaultResultsGroup
		}
		n := f.Departments[code].Kafka.ResultsConcurrency
		if n == 0 {
			n = kafkaconn.DefaultConcurrency
		}
		if first == "" {
			group, concurrency, first = g, n, code
			continue
		}
		at := []string{"departments", code, KindKafka}
		if g != group {
			errs = append(errs, pathError{append(at[:3:3], "results_group"),
				fmt.Errorf("%q differs from %q of departments.%s; one results consumer serves every kafka department", g, group, first)})
		}
		if n != concurrency {
			errs = append(errs, pathError{append(at[:3:3], "results_concurrency"),
				fmt.Errorf("%d differs from %d of departments.%s; one results consumer serves every kafka department", n, concurrency, first)})
		}
	}
	return errs
}

// kafkaDepartments returns the configuration of every kafka department, sorted by code.
func kafkaDepartments(f *File) []kafkaconn.Config {
	var out []kafkaconn.Config
	for _, d := range f.Departments {
		if d.Kind == KindKafka && d.Kafka != nil {
			out = append(out, *d.Kafka)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Department < out[j].Department })
	return out
}
