package kafkaconn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/connectortest"
	kafkaconn "yjshub/connectors/kafka"
	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// TestConformance runs the connector conformance suite for the kafka kind on the embedded
// broker and, when YJSHUB_TEST_KAFKA names one, on Apache Kafka.
//
// The department consumes its topic itself: it retries by not committing, and refuses a
// sub-case by reporting it rejected, so the hub has no retries, breaker or permanent failures
// of its own to check for this kind.
func TestConformance(t *testing.T) {
	t.Parallel()
	features := connectortest.Features{Ordered: true, Restartable: true, ResultsFlowBack: true,
		Unsupported: []connectortest.FailMode{connectortest.Timeout, connectortest.Reset, connectortest.Permanent4xx}}
	backends := []struct {
		name    string
		brokers []string
	}{{name: "embedded"}}
	addrs := os.Getenv(hubtest.EnvKafka)
	if addrs == "" && os.Getenv(hubtest.EnvRequireReal) != "" {
		t.Fatalf("%s is set but %s is not: this run must cover Apache Kafka", hubtest.EnvRequireReal, hubtest.EnvKafka)
	}
	if addrs != "" {
		backends = append(backends, struct {
			name    string
			brokers []string
		}{"kafka", strings.Split(addrs, ",")})
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			connectortest.Run(t, features, func(t *testing.T, env connectortest.Env) connectortest.Harness {
				b := env.Bus
				if b == nil {
					cfg := bus.Config{Brokers: be.brokers, ClientID: "yjshub-kafka-conformance"}
					if len(be.brokers) == 0 {
						cfg.DataDir = t.TempDir()
					} else {
						cfg.Namespace = hubtest.Namespace(hubtest.RandomHex(6)) // yjs.result of this check only
					}
					var err error
					if b, err = bus.Open(t.Context(), cfg); err != nil {
						t.Fatalf("open the bus: %v", err)
					}
					t.Cleanup(func() { _ = b.Close() })
					bustest.Tidy(t, b)
				}
				return newSuiteHarness(t, b, env)
			})
		})
	}
}

// suiteHarness is a department that speaks Kafka: it consumes its topic in its own group,
// applies each sub-case once per envelope id, and publishes its events to yjs.result.
type suiteHarness struct {
	b            *bus.Bus
	dept         string
	group        string
	resultsGroup string
	env          connectortest.Env
	faults       connectortest.Faults

	mu      sync.Mutex
	got     []connectortest.Received
	applied map[string]bool
	caseOf  map[string]string // sub-case → case
}

func newSuiteHarness(t *testing.T, b *bus.Bus, env connectortest.Env) *suiteHarness {
	h := &suiteHarness{b: b, dept: "t-" + hubtest.RandomHex(6), env: env, applied: map[string]bool{}, caseOf: map[string]string{}}
	h.group, h.resultsGroup = "dept-"+h.dept, "results-"+h.dept
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: bus.SubcaseTopic(h.dept), Partitions: 3}, bus.TopicSpec{Name: bus.TopicResult}); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}

	// The department's consumer runs for the whole check, as a back office does; a failure
	// it injects leaves the message uncommitted and it consumes again.
	b.DeclareForeignGroup(h.group) // the department's own group: no namespace before it
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for rctx.Err() == nil {
			_ = b.Subscribe(rctx, bus.SubscribeConfig{Topic: bus.SubcaseTopic(h.dept), GroupID: h.group}, h.consume)
		}
	}()
	t.Cleanup(func() { stop(); <-done })
	return h
}

func (h *suiteHarness) consume(_ context.Context, m bus.Received) error {
	var env event.Envelope
	_ = json.Unmarshal(m.Value, &env)
	rec := connectortest.ReceivedFrom(env.ID, m.Value)
	rec.Failed = h.faults.Take()
	h.mu.Lock()
	h.got = append(h.got, rec)
	if rec.Failed == 0 {
		h.applied[rec.Key] = true
		h.caseOf[rec.SubcaseID] = rec.CaseID
	}
	h.mu.Unlock()
	if rec.Failed != 0 {
		return fmt.Errorf("the back office failed (%v)", rec.Failed)
	}
	return nil
}

func (h *suiteHarness) Bus() *bus.Bus      { return h.b }
func (h *suiteHarness) Department() string { return h.dept }

func (h *suiteHarness) NewConnector(t *testing.T) connector.Connector {
	cfg := kafkaconn.Config{Department: h.dept, GroupID: h.group, ResultsGroup: h.resultsGroup, PollInterval: 10 * time.Millisecond}
	c, err := kafkaconn.New(cfg, h.b, h.env.Recorder, kafkaconn.WithLogger(h.env.Logger))
	if err != nil {
		t.Fatalf("kafkaconn.New: %v", err)
	}
	rc, _ := kafkaconn.ResultsConfigOf([]kafkaconn.Config{cfg})
	r, err := kafkaconn.NewResults(rc, h.b, suiteHub{h}, h.env.Recorder, kafkaconn.WithLogger(h.env.Logger))
	if err != nil {
		t.Fatalf("kafkaconn.NewResults: %v", err)
	}
	return pair{c, r}
}

func (h *suiteHarness) Received() []connectortest.Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

func (h *suiteHarness) FailNext(mode connectortest.FailMode, n int) { h.faults.FailNext(mode, n) }

// Report publishes ev to yjs.result as the contract says: keyed by the case id, from
// /departments/<dept>, about the sub-case.
func (h *suiteHarness) Report(t *testing.T, subcaseID string, ev event.DepartmentEvent) {
	h.mu.Lock()
	caseID := h.caseOf[subcaseID]
	h.mu.Unlock()
	if err := h.b.Publish(t.Context(), resultMessage(t, caseID, subcaseID, h.dept, ev)); err != nil {
		t.Fatalf("publish the result: %v", err)
	}
}

// suiteHub brings events to the suite's sink; the department handles every sub-case it took.
type suiteHub struct{ h *suiteHarness }

func (s suiteHub) ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) error {
	return s.h.env.Events.ApplyEvent(ctx, subcaseID, ev)
}

func (s suiteHub) Department(_ context.Context, caseID, subcaseID string) (string, error) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if c, ok := s.h.caseOf[subcaseID]; ok && c == caseID {
		return s.h.dept, nil
	}
	return "", cases.ErrNotFound
}

// pair runs a department's connector and the results consumer as one connector, as the hub
// runs them side by side.
type pair struct {
	dept    *kafkaconn.Connector
	results *kafkaconn.Results
}

func (p pair) Run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- p.dept.Run(ctx) }()
	go func() { errc <- p.results.Run(ctx) }()
	first := <-errc
	cancel()
	second := <-errc
	if parent.Err() != nil {
		return nil
	}
	if err := errors.Join(first, second); err != nil {
		return err
	}
	return errors.New("stopped before its context ended")
}

func (p pair) Status() connector.Status { return p.dept.Status() }
