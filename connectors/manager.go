package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"yjshub/catalogue"
	"yjshub/hub/blobs"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/inbox"
	"yjshub/hub/licences"
	"yjshub/hub/links"
	"yjshub/hub/store"
)

// Spec is a connector the manager should run: its name, the configuration it was built from
// (a changed configuration restarts it) and how to build it.
type Spec struct {
	Name   string
	Config any
	Build  func() (connector.Connector, error)
}

// Deps are what the connectors need from the hub.
type Deps struct {
	Bus      *bus.Bus
	Recorder connector.Recorder
	// Inbox is the queue restpull departments poll through the API; required for restpull
	// connectors.
	Inbox *inbox.Inbox
	// Store is the hub's SQL store, for kinds that keep state of their own (the platforms'
	// cursors and applications, what platform and supervision connectors pushed).
	Store *store.Store
	// Cases is the case service, for kinds that submit applications or report department
	// events (platform, kafka, restpull, frontdb).
	Cases *cases.Service
	// Catalogue is the loaded catalogue, for kinds that check their configuration against it
	// (platform, supervision).
	Catalogue *catalogue.Catalogue
	// Licences is the e-licence library, for platforms that import licences or tell of
	// revocations.
	Licences *licences.Library
	// Links signs the links to the e-licences' files the hub holds that platforms' result
	// pushes carry, relative to FilesBase (the hub's public URL). Optional: no links.
	Links     *links.Keyring
	FilesBase string
	// DeadLetters counts waiting dead letters per connector name. Optional.
	DeadLetters func(ctx context.Context) (map[string]int64, error)
	// DeadLetterTopic names the Kafka topic mirroring a connector's dead letters; the manager
	// creates it when it starts the connector. Optional.
	DeadLetterTopic func(name string) string
	Logger          *slog.Logger
	// Tracing makes the department connectors' delivery spans. Default: tracing.Default().
	Tracing trace.TracerProvider
	// Blobs keeps the materials' files and AuditRead records each read of one, for the
	// frontdb connectors that write the files into the exchange database (material_files).
	// Optional: without them such a connector does not start, naming why.
	Blobs     blobs.Store
	AuditRead links.Audit
}

// Manager runs connectors, restarts those that fail, pauses and resumes them, applies a new
// connectors file without a restart, and reports their status. It is safe for concurrent use.
type Manager struct {
	deps Deps
	log  *slog.Logger

	mu      sync.Mutex
	ctx     context.Context
	entries map[string]*entry
	wg      sync.WaitGroup
}

type entry struct {
	spec    Spec
	conn    connector.Connector
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	state   string
	lastErr string
}

func (e *entry) setState(state, lastErr string) {
	e.mu.Lock()
	e.state = state
	if lastErr != "" {
		e.lastErr = lastErr
	}
	e.mu.Unlock()
}

// NewManager returns a manager; Start runs it.
func NewManager(deps Deps) *Manager {
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Manager{deps: deps, log: log, entries: map[string]*entry{}}
}

// Start runs the connectors of specs until ctx ends; Wait waits for them to stop.
func (m *Manager) Start(ctx context.Context, specs []Spec) error {
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
	return m.Apply(specs)
}

// Wait blocks until every connector has stopped (after Start's context ended).
func (m *Manager) Wait() { m.wg.Wait() }

// Apply brings the running connectors in line with specs: new ones start, removed ones stop,
// ones whose configuration changed restart, unchanged ones keep running (and stay paused if
// paused). Every connector is built before any is touched, so a spec that fails to build
// changes nothing.
func (m *Manager) Apply(specs []Spec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx == nil {
		return errors.New("connectors: Apply before Start")
	}
	built := map[string]connector.Connector{}
	var errs []error
	want := map[string]Spec{}
	for _, s := range specs {
		want[s.Name] = s
		if old, ok := m.entries[s.Name]; ok && reflect.DeepEqual(old.spec.Config, s.Config) {
			continue
		}
		c, err := s.Build()
		if err != nil {
			errs = append(errs, fmt.Errorf("connector %s: %w", s.Name, err))
			continue
		}
		built[s.Name] = c
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for name, e := range m.entries {
		if _, keep := want[name]; !keep || built[name] != nil {
			m.stopLocked(e)
			delete(m.entries, name)
			m.log.Info("connector stopped", "connector", name, "reason", map[bool]string{true: "configuration changed", false: "removed"}[keep])
		}
	}
	for name, c := range built {
		e := &entry{spec: want[name], conn: c}
		m.entries[name] = e
		m.startLocked(e)
		m.log.Info("connector started", "connector", name)
	}
	return nil
}

func (m *Manager) startLocked(e *entry) {
	ctx, cancel := context.WithCancel(m.ctx)
	e.cancel = cancel
	e.done = make(chan struct{})
	e.setState(connector.StateRunning, "")
	if m.deps.DeadLetterTopic != nil && m.deps.Bus != nil {
		tctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
		if err := m.deps.Bus.EnsureTopics(tctx, bus.TopicSpec{Name: m.deps.DeadLetterTopic(e.spec.Name)}); err != nil {
			m.log.Warn("creating the dead-letter topic", "connector", e.spec.Name, "error", err)
		}
		tcancel()
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(e.done)
		for {
			err := e.conn.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			msg := "stopped without an error"
			if err != nil {
				msg = err.Error()
			}
			e.setState(connector.StateFailed, msg)
			m.log.Warn("connector failed; restarting", "connector", e.spec.Name, "error", msg)
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			e.setState(connector.StateRunning, "")
		}
	}()
}

func (m *Manager) stopLocked(e *entry) {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

// Pause stops a connector without forgetting it: its messages wait on Kafka.
func (m *Manager) Pause(name string) (connector.Status, error) {
	m.mu.Lock()
	e, ok := m.entries[name]
	if ok {
		m.stopLocked(e)
		e.setState(connector.StatePaused, "")
	}
	m.mu.Unlock()
	if !ok {
		return connector.Status{}, fmt.Errorf("%w: %s", connector.ErrUnknown, name)
	}
	m.log.Info("connector paused", "connector", name)
	return m.Status(context.Background(), name)
}

// Resume runs a paused connector again.
func (m *Manager) Resume(name string) (connector.Status, error) {
	m.mu.Lock()
	e, ok := m.entries[name]
	if ok && e.cancel == nil {
		m.startLocked(e)
	}
	m.mu.Unlock()
	if !ok {
		return connector.Status{}, fmt.Errorf("%w: %s", connector.ErrUnknown, name)
	}
	m.log.Info("connector resumed", "connector", name)
	return m.Status(context.Background(), name)
}

// Names lists the connectors, sorted.
func (m *Manager) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.entries))
	for n := range m.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Statuses reports every connector.
func (m *Manager) Statuses(ctx context.Context) []connector.Status {
	var dead map[string]int64
	if m.deps.DeadLetters != nil {
		dead, _ = m.deps.DeadLetters(ctx)
	}
	var out []connector.Status
	for _, n := range m.Names() {
		if s, err := m.status(ctx, n, dead); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// Status reports one connector.
func (m *Manager) Status(ctx context.Context, name string) (connector.Status, error) {
	var dead map[string]int64
	if m.deps.DeadLetters != nil {
		dead, _ = m.deps.DeadLetters(ctx)
	}
	return m.status(ctx, name, dead)
}

func (m *Manager) status(ctx context.Context, name string, dead map[string]int64) (connector.Status, error) {
	m.mu.Lock()
	e, ok := m.entries[name]
	m.mu.Unlock()
	if !ok {
		return connector.Status{}, fmt.Errorf("%w: %s", connector.ErrUnknown, name)
	}
	s := e.conn.Status()
	s.Name = name
	e.mu.Lock()
	s.State = e.state
	if s.LastErrorMessage == "" && e.lastErr != "" {
		s.LastErrorMessage = e.lastErr
	}
	e.mu.Unlock()
	if dead != nil {
		s.DeadLetters = dead[name]
	}
	if s.Topic != "" && s.Group != "" && m.deps.Bus != nil {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if lag, err := m.deps.Bus.Lag(lctx, s.Group, s.Topic); err == nil {
			s.Lag = lag.Total
		}
		cancel()
	}
	return s, nil
}
