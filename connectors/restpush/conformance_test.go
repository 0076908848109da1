package restpush_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"yjshub/connectors/connectortest"
	"yjshub/connectors/delivery"
	"yjshub/connectors/restpush"
	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
)

// TestConformance runs the connector conformance suite on the embedded broker and, when
// YJSHUB_TEST_KAFKA names one, on Apache Kafka.
func TestConformance(t *testing.T) {
	features := connectortest.Features{
		Retries:           true,
		Breaker:           true,
		PermanentFailures: true,
		Ordered:           true,
		Restartable:       true,
		// Department events come back through the hub's API, not through the connector.
		ResultsFlowBack: false,
	}
	connectortest.RunOnEach(t, features, connectortest.Backends(t, "yjshub-restpush-test"),
		func(t *testing.T, env connectortest.Env, b *bus.Bus, _ connectortest.Backend) connectortest.Harness {
			return newSuiteHarness(t, b, env)
		})
}

// suiteHarness is a REST push department for the conformance suite: an HTTP server that
// applies each sub-case once per Idempotency-Key and fails as it is told.
type suiteHarness struct {
	*connectortest.HarnessBase
	env connectortest.Env
	srv *httptest.Server
}

// suiteTimeout is the connector's attempt timeout in the suite: what a Timeout failure costs,
// and long enough that a loaded machine's answers do not time out.
const suiteTimeout = time.Second

func newSuiteHarness(t *testing.T, b *bus.Bus, env connectortest.Env) *suiteHarness {
	h := &suiteHarness{HarnessBase: connectortest.NewHarnessBase(t, b), env: env}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *suiteHarness) NewConnector(t *testing.T) connector.Connector {
	c, err := restpush.New(restpush.Config{
		Department: h.Department(),
		Endpoint:   h.srv.URL + "/yjs/subcases",
		Timeout:    suiteTimeout,
		Retry:      delivery.RetryConfig{InitialInterval: 5 * time.Millisecond, MaxInterval: 50 * time.Millisecond},
		Breaker:    restpush.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: 400 * time.Millisecond},
	}, h.Bus(), h.env.Recorder, restpush.WithLogger(h.env.Logger))
	if err != nil {
		t.Fatalf("restpush.New: %v", err)
	}
	return c
}

func (h *suiteHarness) Report(t *testing.T, _ string, _ event.DepartmentEvent) {
	t.Fatalf("restpush: department events come back through the hub's API, not the connector")
}

// serve is the department's endpoint.
func (h *suiteHarness) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body) // read first, so that a client that goes away cancels r.Context()
	if err != nil {
		return
	}
	rec := connectortest.ReceivedFrom(r.Header.Get(delivery.HeaderIdempotency), body)
	rec.Failed = h.Take()
	repeat := h.Saw(rec)

	switch rec.Failed {
	case connectortest.Transient5xx:
		// A careless back office: its error page quotes the request.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "upstream error while handling %s", body)
	case connectortest.Timeout:
		<-r.Context().Done() // answers only once the connector has given up
	case connectortest.Reset:
		connectortest.ResetConnection(w)
	case connectortest.Permanent4xx:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": connectortest.RefusalMessage})
	default:
		w.Header().Set("Content-Type", "application/json")
		if repeat {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"status":"duplicate"}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"accepted"}`)
	}
}
