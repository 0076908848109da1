package connectors

import (
	"errors"
	"log/slog"
	"sort"

	"yjshub/connectors/frontdb"
	kafkaconn "yjshub/connectors/kafka"
	"yjshub/connectors/platform"
	"yjshub/connectors/restpull"
	"yjshub/connectors/restpush"
	"yjshub/connectors/supervision"
	"yjshub/hub/connector"
)

// Kinds of department connector.
const (
	KindRestPush = "restpush"
	KindRestPull = "restpull"
	KindFrontDB  = "frontdb"
	KindKafka    = "kafka"
)

// departmentKinds is every kind of department connector, in the order their problems are
// reported. Parse and Specs know the kinds only through this table. Adding a kind is its
// package (connectors/<kind>), a field of Department keyed by the kind's name, an entry here,
// its settings in schemas/connectors/connectors.schema.json and its name among the status
// API's kinds (schemas/openapi.yaml); schema_test.go fails until they agree. README.md has the
// checklist.
var departmentKinds = []departmentKind{
	kindEntry[restpush.Config]{
		kind:          KindRestPush,
		settings:      func(d *Department) **restpush.Config { return &d.RestPush },
		setDepartment: func(c *restpush.Config, code string) { c.Department = code },
		validate:      (*restpush.Config).Validate,
		build: func(c restpush.Config, deps Deps, log *slog.Logger) (connector.Connector, error) {
			return restpush.New(c, deps.Bus, deps.Recorder, restpush.WithLogger(log), restpush.WithTracerProvider(deps.Tracing))
		},
	},
	kindEntry[restpull.Config]{
		kind:          KindRestPull,
		optional:      true, // every setting has a default
		settings:      func(d *Department) **restpull.Config { return &d.RestPull },
		setDepartment: func(c *restpull.Config, code string) { c.Department = code },
		validate:      (*restpull.Config).Validate,
		build: func(c restpull.Config, deps Deps, log *slog.Logger) (connector.Connector, error) {
			return restpull.New(c, deps.Bus, deps.Inbox, deps.Recorder, restpull.WithLogger(log), restpull.WithTracerProvider(deps.Tracing))
		},
	},
	kindEntry[frontdb.Config]{
		kind:          KindFrontDB,
		settings:      func(d *Department) **frontdb.Config { return &d.FrontDB },
		setDepartment: func(c *frontdb.Config, code string) { c.Department = code },
		validate:      (*frontdb.Config).Validate,
		build: func(c frontdb.Config, deps Deps, log *slog.Logger) (connector.Connector, error) {
			if deps.Cases == nil {
				return nil, errors.New("frontdb: the case service is required to apply results")
			}
			return frontdb.New(c, deps.Bus, deps.Recorder, deps.Cases, frontdb.WithLogger(log), frontdb.WithTracerProvider(deps.Tracing),
				frontdb.WithMaterialFiles(deps.Blobs, deps.AuditRead))
		},
	},
	// A kafka department is one connector like the others (following the department's own
	// group); the results consumer that applies the events of every kafka department is one
	// connector for them all, so it is not an entry's: Specs adds it (ResultsConfigOf) and
	// checkPlatforms checks that their results_group agree.
	kindEntry[kafkaconn.Config]{
		kind:          KindKafka,
		requiredWhy:   "group_id names the department's consumer group",
		settings:      func(d *Department) **kafkaconn.Config { return &d.Kafka },
		setDepartment: func(c *kafkaconn.Config, code string) { c.Department = code },
		validate:      (*kafkaconn.Config).Validate,
		build: func(c kafkaconn.Config, deps Deps, log *slog.Logger) (connector.Connector, error) {
			return kafkaconn.New(c, deps.Bus, deps.Recorder, kafkaconn.WithLogger(log), kafkaconn.WithTracerProvider(deps.Tracing))
		},
	},
}

// departmentKind is what Parse and Specs ask of a kind of department connector; kindEntry is
// its one implementation, for any kind's Config type.
type departmentKind interface {
	// name is the kind's name: the value of departments.<code>.kind, the key of its settings,
	// and the prefix of its connectors' names (<kind>:<code>).
	name() string
	// present reports whether d holds settings of this kind.
	present(d *Department) bool
	// check completes and validates the settings of d, a department of this kind: absent
	// settings are a *missingSettings or, when the kind allows it, all defaults; their
	// department is set from code, the department's key. The error is the Config's Validate,
	// its messages naming the settings by their YAML keys.
	check(d *Department, code string) error
	// spec is the connector running d's settings of this kind; ok is false when it has none.
	spec(d *Department, code string, deps Deps, log *slog.Logger) (s Spec, ok bool)
}

// kindEntry describes a kind whose settings are a C (the kind's Config) held by a Department.
type kindEntry[C any] struct {
	// kind is the kind's name (see departmentKind.name).
	kind string
	// optional says the settings may be left out: every one has a default. Otherwise a
	// department of the kind without them is a problem, explained by requiredWhy if set.
	optional    bool
	requiredWhy string
	// settings is where a Department holds the kind's settings: its field keyed by kind.
	settings func(d *Department) **C
	// setDepartment sets the settings' department code, which the connectors file gives as
	// the key.
	setDepartment func(c *C, code string)
	// validate reports every problem of the settings (the Config's Validate).
	validate func(c *C) error
	// build makes the connector from settings Parse has checked.
	build func(c C, deps Deps, log *slog.Logger) (connector.Connector, error)
}

func (k kindEntry[C]) name() string { return k.kind }

func (k kindEntry[C]) present(d *Department) bool { return *k.settings(d) != nil }

func (k kindEntry[C]) check(d *Department, code string) error {
	s := k.settings(d)
	if *s == nil {
		if !k.optional {
			return &missingSettings{kind: k.kind, why: k.requiredWhy}
		}
		*s = new(C)
	}
	k.setDepartment(*s, code)
	return k.validate(*s)
}

func (k kindEntry[C]) spec(d *Department, code string, deps Deps, log *slog.Logger) (Spec, bool) {
	s := *k.settings(d)
	if s == nil {
		return Spec{}, false
	}
	cfg := *s
	return Spec{Name: k.kind + ":" + code, Config: cfg, Build: func() (connector.Connector, error) {
		return k.build(cfg, deps, log)
	}}, true
}

// kindNamed returns the kind of department connector called name, or nil.
func kindNamed(name string) departmentKind {
	for _, k := range departmentKinds {
		if k.name() == name {
			return k
		}
	}
	return nil
}

// kindNames lists the kinds a department may use, for error messages.
func kindNames() []string {
	names := make([]string, len(departmentKinds))
	for i, k := range departmentKinds {
		names[i] = k.name()
	}
	return names
}

// Specs turns a connectors file (and the departments to simulate, each with the restpush
// configuration that reaches the simulator) into the connectors to run. This is the one place
// where connectors are wired: the departments' through departmentKinds, then the ones that
// are not one department each.
func Specs(f *File, deps Deps, simulated map[string]restpush.Config) []Spec {
	var specs []Spec
	add := func(name string, cfg any, build func() (connector.Connector, error)) {
		specs = append(specs, Spec{Name: name, Config: cfg, Build: build})
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if f != nil {
		for code, d := range f.Departments {
			if k := kindNamed(d.Kind); k != nil {
				if s, ok := k.spec(&d, code, deps, logger); ok {
					specs = append(specs, s)
				}
			}
		}
		// One consumer of yjs.result applies the events of every kafka department.
		if rc, ok := kafkaconn.ResultsConfigOf(kafkaDepartments(f)); ok {
			add(kafkaconn.ResultsName, rc, func() (connector.Connector, error) {
				if deps.Cases == nil {
					return nil, errors.New("kafka results: the case service is required to apply results")
				}
				return kafkaconn.NewResults(rc, deps.Bus, kafkaconn.CaseService(deps.Cases), deps.Recorder, kafkaconn.WithLogger(logger))
			})
		}
		for name, p := range f.Platforms {
			cfg := p
			add(platform.Kind+":"+name, cfg, func() (connector.Connector, error) {
				pd := platform.Deps{Bus: deps.Bus, Store: deps.Store, Catalogue: deps.Catalogue, Recorder: deps.Recorder,
					Links: deps.Links, FilesBase: deps.FilesBase}
				if deps.Cases != nil { // a nil *cases.Service is not a nil interface
					pd.Cases = deps.Cases
				}
				if deps.Licences != nil {
					pd.Licences = deps.Licences
				}
				return platform.New(cfg, pd, platform.WithLogger(logger))
			})
		}
		if f.Supervision != nil {
			cfg := *f.Supervision
			add(supervision.Name, cfg, func() (connector.Connector, error) {
				sd := supervision.Deps{Bus: deps.Bus, Store: deps.Store, Catalogue: deps.Catalogue, Recorder: deps.Recorder}
				if deps.Cases != nil {
					sd.Cases = deps.Cases
				}
				return supervision.New(cfg, sd, supervision.WithLogger(logger))
			})
		}
	}
	for code, cfg := range simulated {
		if f != nil {
			if _, configured := f.Departments[code]; configured {
				continue
			}
		}
		cfg := cfg
		add(KindRestPush+":"+code, cfg, func() (connector.Connector, error) {
			return restpush.New(cfg, deps.Bus, deps.Recorder, restpush.WithLogger(logger), restpush.WithTracerProvider(deps.Tracing))
		})
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	return specs
}
