package kafkaconn

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"yjshub/hub/bus"
)

// Defaults.
const (
	// DefaultResultsGroup is the hub's consumer group on yjs.result.
	DefaultResultsGroup = "yjshub-results"
	// trackGroupPrefix names the hub's group that follows a department's progress.
	trackGroupPrefix    = "yjshub-kafka-"
	defaultPollInterval = 2 * time.Second
	// DefaultConcurrency is how many messages each of the hub's consumers of the kind handles
	// at once when its concurrency is not set.
	DefaultConcurrency = 8
	maxConcurrency     = 64
	// DefaultConflictRetry is how long a department event whose transition is not legal yet
	// (ahead of its predecessor) is tried again before it is a dead letter.
	DefaultConflictRetry = 2 * time.Minute
)

// Config configures the kafka kind for one department. Fields left zero take the defaults
// stated on each; [New] applies them and then validates.
type Config struct {
	// Department is the department's code; it consumes bus.SubcaseTopic(Department).
	// Required (the connectors file sets it from the department's key).
	Department string `yaml:"department" json:"department"`

	// GroupID is the department's own consumer group on its topic: the group whose lag and
	// committed offsets the hub reports. It is used exactly as written: the bus's namespace
	// prefixes only the hub's own names. Required: the hub cannot guess it.
	GroupID string `yaml:"group_id" json:"group_id"`

	// ResultsGroup is the hub's consumer group on yjs.result, shared by every kafka
	// department of the deployment (one results consumer serves them all). Default
	// "yjshub-results".
	ResultsGroup string `yaml:"results_group,omitempty" json:"results_group,omitempty"`

	// TrackGroup is the hub's own group on the department's topic, in which it keeps its
	// place while following the department's commits. Default "yjshub-kafka-<department>".
	TrackGroup string `yaml:"track_group,omitempty" json:"track_group,omitempty"`

	// PollInterval is how often the department's committed offsets are read while a
	// sub-case waits to be taken. Default 2s.
	PollInterval time.Duration `yaml:"poll_interval,omitempty" json:"poll_interval,omitempty"`

	// Concurrency is how many of the department's sub-cases each hub instance follows at once
	// in TrackGroup: waits for the department's commit of, and records as delivered. One
	// case's sub-cases are still followed one at a time, in order (they share its key);
	// offsets are committed in batches once recorded. Default 8; 1 follows one at a time.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`

	// ResultsConcurrency is how many department events each hub instance's results consumer
	// applies at once, the same for every kafka department (one results consumer serves them
	// all). One case's events are still applied one at a time, in order (they share its key);
	// offsets are committed in batches once applied or dead-lettered. Default 8; 1 applies one
	// event at a time.
	ResultsConcurrency int `yaml:"results_concurrency,omitempty" json:"results_concurrency,omitempty"`

	// ResultsConflictRetry is how long the results consumer tries again (at once, then after
	// 250ms doubling to 5s) an event whose transition is not legal yet, before it is a dead letter:
	// an event published ahead of its predecessor (producers that partition the case id
	// differently put one case on two partitions) is applied once the predecessor is. One
	// results consumer serves every kafka department: the longest of theirs holds. Default 2m.
	ResultsConflictRetry time.Duration `yaml:"results_conflict_retry,omitempty" json:"results_conflict_retry,omitempty"`
}

func (c *Config) setDefaults() {
	if c.ResultsGroup == "" {
		c.ResultsGroup = DefaultResultsGroup
	}
	if c.TrackGroup == "" && c.Department != "" {
		c.TrackGroup = trackGroupPrefix + c.Department
	}
	if c.PollInterval == 0 {
		c.PollInterval = defaultPollInterval
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.ResultsConcurrency == 0 {
		c.ResultsConcurrency = DefaultConcurrency
	}
	if c.ResultsConflictRetry == 0 {
		c.ResultsConflictRetry = DefaultConflictRetry
	}
}

// Validate reports every problem in c at once. Zero values that have a default are accepted.
func (c *Config) Validate() error {
	var errs []error
	if c.Department == "" {
		errs = append(errs, errors.New("department: required"))
	} else if err := bus.ValidateTopic(bus.SubcaseTopic(c.Department)); err != nil {
		errs = append(errs, fmt.Errorf("department: %q does not make a topic name: %w", c.Department, err))
	}
	groups := []struct{ name, v string }{{"group_id", c.GroupID}, {"results_group", c.ResultsGroup}, {"track_group", c.TrackGroup}}
	for _, g := range groups {
		if g.v != "" && strings.TrimSpace(g.v) != g.v {
			errs = append(errs, fmt.Errorf("%s: %q has leading or trailing space", g.name, g.v))
		}
	}
	switch {
	case c.GroupID == "":
		errs = append(errs, errors.New("group_id: required: the department's own consumer group on its topic"))
	case c.GroupID == c.ResultsGroup, c.GroupID == c.TrackGroup,
		c.TrackGroup == "" && c.Department != "" && c.GroupID == trackGroupPrefix+c.Department,
		c.ResultsGroup == "" && c.GroupID == DefaultResultsGroup:
		errs = append(errs, fmt.Errorf("group_id: %q is one of the hub's own groups; the department needs a group of its own", c.GroupID))
	}
	if c.TrackGroup != "" && c.TrackGroup == c.ResultsGroup {
		errs = append(errs, fmt.Errorf("track_group: %q is the results group", c.TrackGroup))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll_interval: %v is negative", c.PollInterval))
	}
	if c.ResultsConflictRetry < 0 {
		errs = append(errs, fmt.Errorf("results_conflict_retry: %v is negative", c.ResultsConflictRetry))
	}
	errs = append(errs, validateConcurrency("concurrency", c.Concurrency), validateConcurrency("results_concurrency", c.ResultsConcurrency))
	return errors.Join(errs...)
}

// validateConcurrency checks a concurrency setting; 0 means the default.
func validateConcurrency(name string, n int) error {
	if n < 0 || n > maxConcurrency {
		return fmt.Errorf("%s: %d is not from 1 to %d", name, n, maxConcurrency)
	}
	return nil
}

// ResultsConfig configures the results consumer.
type ResultsConfig struct {
	// GroupID is the hub's consumer group on yjs.result. Default "yjshub-results".
	GroupID string `json:"group_id"`
	// Concurrency is how many events are applied at once, by each hub instance; one case's
	// events still one at a time, in order. Default 8; from 1 to 64.
	Concurrency int `json:"concurrency"`
	// ConflictRetry is how long an event whose transition is not legal yet is tried again
	// before it is a dead letter (Config.ResultsConflictRetry). Default 2m; negative: never.
	ConflictRetry time.Duration `json:"conflict_retry"`
	// Departments lists the departments whose events are taken: an event whose source names
	// another department is a dead letter. Empty: any department of the catalogue.
	Departments []string `json:"departments"`
}

// ResultsConfigOf returns the results consumer's configuration for the kafka departments of a
// connectors file; ok is false when there are none. Their ResultsGroup and ResultsConcurrency
// must agree (the connectors file checks it): the first one's are used.
func ResultsConfigOf(depts []Config) (cfg ResultsConfig, ok bool) {
	for _, d := range depts {
		d.setDefaults()
		if !ok {
			cfg.GroupID = d.ResultsGroup
			cfg.Concurrency = d.ResultsConcurrency
		}
		if !ok || d.ResultsConflictRetry > cfg.ConflictRetry {
			cfg.ConflictRetry = d.ResultsConflictRetry
		}
		ok = true
		cfg.Departments = append(cfg.Departments, d.Department)
	}
	slices.Sort(cfg.Departments)
	return cfg, ok
}
