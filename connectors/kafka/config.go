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
)

// Config configures the kafka kind for one department. Fields left zero take the defaults
// stated on each; [New] applies them and then validates.
type Config struct {
	// Department is the department's code; it consumes bus.SubcaseTopic(Department).
	// Required (the connectors file sets it from the department's key).
	Department string `yaml:"department" json:"department"`

	// GroupID is the department's own consumer group on its topic: the group whose lag and
	// committed offsets the hub reports. Required: the hub cannot guess it.
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
	return errors.Join(errs...)
}

// ResultsConfig configures the results consumer.
type ResultsConfig struct {
	// GroupID is the hub's consumer group on yjs.result. Default "yjshub-results".
	GroupID string `json:"group_id"`
	// Departments lists the departments whose events are taken: an event whose source names
	// another department is a dead letter. Empty: any department of the catalogue.
	Departments []string `json:"departments"`
}

// ResultsConfigOf returns the results consumer's configuration for the kafka departments of a
// connectors file; ok is false when there are none. Their ResultsGroup must agree (the
// connectors file checks it): the first one's is used.
func ResultsConfigOf(depts []Config) (cfg ResultsConfig, ok bool) {
	for _, d := range depts {
		d.setDefaults()
		if !ok {
			cfg.GroupID = d.ResultsGroup
		}
		ok = true
		cfg.Departments = append(cfg.Departments, d.Department)
	}
	slices.Sort(cfg.Departments)
	return cfg, ok
}
