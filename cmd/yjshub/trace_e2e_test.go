package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/tracing"
	"yjshub/hub/tracing/tracingtest"
)

// tracedDepartment is a department's back office that keeps, per case, the trace context each
// delivery carried: in its traceparent header and in its envelope.
type tracedDepartment struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]received // by case id
}

type received struct {
	header, envelope string // traceparents
	subcaseID        string
	callback         string
}

func newTracedDepartment(t *testing.T) *tracedDepartment {
	d := &tracedDepartment{got: map[string][]received{}}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env event.Envelope
		var data event.SubcaseDispatched
		if json.Unmarshal(body, &env) != nil || json.Unmarshal(env.Data, &data) != nil {
			http.Error(w, `{"message": "not an envelope"}`, http.StatusBadRequest)
			return
		}
		d.mu.Lock()
		d.got[data.CaseID] = append(d.got[data.CaseID], received{header: r.Header.Get("traceparent"), envelope: env.TraceParent,
			subcaseID: data.SubcaseID, callback: data.Callback})
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *tracedDepartment) deliveries(caseID string) []received {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]received(nil), d.got[caseID]...)
}

// waitDelivered waits until the department got the case's sub-case and returns what it got.
func (d *tracedDepartment) waitDelivered(t *testing.T, caseID string) received {
	t.Helper()
	eventually(t, "the department's delivery of case "+caseID, func() bool { return len(d.deliveries(caseID)) > 0 })
	return d.deliveries(caseID)[0]
}

var traceIDForm = regexp.MustCompile(`^[0-9a-f]{32}$`)

// newTraceParent is a platform's trace context: a fresh trace id and span id, sampled.
func newTraceParent(t *testing.T) (traceID, spanID, traceparent string) {
	t.Helper()
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	traceID, spanID = hex.EncodeToString(b[:16]), hex.EncodeToString(b[16:])
	return traceID, spanID, "00-" + traceID + "-" + spanID + "-01"
}

// submitTraced submits an example application, with a traceparent header when one is given.
func submitTraced(t *testing.T, hub, example, traceparent string) cases.CaseView {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, hub+"/api/v1/cases", bytes.NewReader(readExample(t, example)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v cases.CaseView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("submit %s: %d %v", example, resp.StatusCode, err)
	}
	return v
}

// tracedHub runs serve --simulate with the tobacco department at dept and returns the hub's URL
// and the brokers its bus uses.
func tracedHub(t *testing.T, o serveOptions, dept *tracedDepartment) (string, []string) {
	t.Helper()
	o.connectorsFile = filepath.Join(t.TempDir(), "connectors.yaml")
	writeConnectors(t, o.connectorsFile, dept.srv.URL)
	brokers := make(chan []string, 1)
	o.busReady = brokers
	hub, _ := startSimulatedHub(t, o)
	return hub, <-brokers
}

// recordHeaders reads, as a department's system would with kafka-go, the records of topic
// keyed by caseID until want of them are found, and returns their headers.
func recordHeaders(t *testing.T, brokers []string, namespace, topic, caseID string, want int) [][]kafka.Header {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: namespace + topic, GroupID: namespace + "trace-test-" + caseID,
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond, SessionTimeout: 6 * time.Second})
	defer r.Close()
	var out [][]kafka.Header
	for len(out) < want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading %s for case %s (%d of %d found): %v", topic, caseID, len(out), want, err)
		}
		if string(m.Key) == caseID {
			out = append(out, m.Headers)
		}
	}
	return out
}

func traceIDOf(traceparent string) string { return tracing.TraceID(traceparent) }

func spanIDOf(traceparent string) string {
	if sc := tracing.SpanContext(traceparent, ""); sc.IsValid() {
		return sc.SpanID().String()
	}
	return ""
}

func TestTheTraceOfACaseGoesFromIntakeThroughKafkaToTheDepartment(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			dept := newTracedDepartment(t)
			hub, brokers := tracedHub(t, o, dept)

			t.Run("a platform's traceparent is kept on the case and carried on", func(t *testing.T) {
				traceID, platformSpan, traceparent := newTraceParent(t)
				v := submitTraced(t, hub, "open-bar-individual", traceparent)
				if v.TraceID != traceID {
					t.Errorf("the submission's answer has trace_id %q, want the platform's %s", v.TraceID, traceID)
				}
				got := dept.waitDelivered(t, v.ID)
				if traceIDOf(got.header) != traceID || spanIDOf(got.header) == platformSpan {
					t.Errorf("the department's traceparent header %q: want trace %s, from a span of the hub's", got.header, traceID)
				}
				if traceIDOf(got.envelope) != traceID {
					t.Errorf("the envelope's traceparent %q: want trace %s", got.envelope, traceID)
				}
				var view cases.CaseView
				if code := getJSON(t, hub+"/api/v1/cases/"+v.ID, &view); code != 200 || view.TraceID != traceID {
					t.Errorf("the case view: %d, trace_id %q, want %s", code, view.TraceID, traceID)
				}
				// Every sub-case message of the case carries the trace in its Kafka headers.
				perTopic := map[string]int{}
				for _, sc := range view.Subcases {
					perTopic[bus.SubcaseTopic(sc.Department.Code)]++
				}
				for topic, n := range perTopic {
					for _, hs := range recordHeaders(t, brokers, o.namespace, topic, v.ID, n) {
						sc := trace.SpanContextFromContext(tracing.Extract(context.Background(), tracing.KafkaHeaders{Headers: &hs}))
						if !sc.IsValid() || sc.TraceID().String() != traceID {
							t.Errorf("a record of %s carries the trace context %v, want trace %s", topic, sc, traceID)
						}
					}
				}
			})

			t.Run("a case submitted without one gets a trace of its own", func(t *testing.T) {
				v := submitTraced(t, hub, "open-bar-individual", "")
				if !traceIDForm.MatchString(v.TraceID) || v.TraceID == strings.Repeat("0", 32) {
					t.Fatalf("trace_id %q is not a valid W3C trace id", v.TraceID)
				}
				got := dept.waitDelivered(t, v.ID)
				if traceIDOf(got.header) != v.TraceID || traceIDOf(got.envelope) != v.TraceID {
					t.Errorf("the department got traceparent %q and envelope %q, want trace %s", got.header, got.envelope, v.TraceID)
				}
				other := submitTraced(t, hub, "open-bar-individual", "")
				if other.TraceID == v.TraceID {
					t.Errorf("two cases share trace id %s", v.TraceID)
				}
			})
		})
	}
}

// personalValues are the values of the example's form that are personal data: ID numbers,
// phones, names and addresses.
func personalValues(t *testing.T, example string) []string {
	t.Helper()
	var app struct {
		Form map[string]any `json:"form"`
	}
	if err := json.Unmarshal(readExample(t, example), &app); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k, v := range app.Form {
		s, ok := v.(string)
		if !ok {
			continue
		}
		for _, suffix := range []string{"id_number", "mobile", "name", "address"} {
			if strings.HasSuffix(k, suffix) {
				out = append(out, s)
			}
		}
	}
	if len(out) < 4 {
		t.Fatalf("only %d personal values found in %s", len(out), example)
	}
	return out
}

func TestTheSpansOfACaseAreExportedOverOTLPAsOneTrace(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			collector := tracingtest.NewCollector(t)
			dept := newTracedDepartment(t)
			o.connectorsFile = filepath.Join(t.TempDir(), "connectors.yaml")
			writeConnectors(t, o.connectorsFile, dept.srv.URL)
			o.otelEndpoint = collector.URL()
			o.simulate, o.dataDir = true, t.TempDir()
			addr, stop := startServe(t, o)
			hub := "http://" + addr
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					_ = stop()
				}
			})

			traceID, platformSpan, traceparent := newTraceParent(t)
			v := submitTraced(t, hub, "open-bar-individual", traceparent)
			got := dept.waitDelivered(t, v.ID)
			// The department continues the trace in its callback: a span of its own, a child of
			// the delivery's.
			_, deptSpan, _ := newTraceParent(t)
			callback := fmt.Sprintf("00-%s-%s-01", traceID, deptSpan)
			req, _ := http.NewRequest(http.MethodPost, got.callback, strings.NewReader(`{"event_id": "tobacco-1", "type": "received"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("traceparent", callback)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("the department's callback: %d", resp.StatusCode)
			}
			waitCase(t, hub, v.ID, "with the tobacco delivery recorded", func(v cases.CaseView) bool {
				for _, sc := range v.Subcases {
					if sc.ID == got.subcaseID {
						return sc.DeliveredAt != nil && sc.State == cases.StateReceived
					}
				}
				return false
			})
			stopped = true
			if err := stop(); err != nil { // exports what is left
				t.Fatalf("shutdown: %v", err)
			}
			if errs := collector.Errors(); len(errs) > 0 {
				t.Fatalf("the receiver refused the exporter's requests: %v", errs)
			}

			var intake, dispatch, deliver, deptEvent []tracingtest.Span
			for _, s := range collector.Spans() {
				if s.TraceID != traceID {
					continue
				}
				if s.Resource["service.name"] != "yjshub" || !strings.HasPrefix(s.Resource["service.instance.id"], "hub_") {
					t.Errorf("span %s: resource %v", s.Name, s.Resource)
				}
				switch {
				case s.Name == tracing.SpanIntake && s.Attributes["yjshub.case.id"] == v.ID:
					intake = append(intake, s)
				case s.Name == tracing.SpanDispatch && s.Attributes["yjshub.department"] == "tobacco":
					dispatch = append(dispatch, s)
				case s.Name == "restpush.deliver" && s.Attributes["yjshub.subcase.id"] == got.subcaseID:
					deliver = append(deliver, s)
				case s.Name == tracing.SpanDepartmentEvent && s.Attributes["yjshub.subcase.id"] == got.subcaseID:
					deptEvent = append(deptEvent, s)
				}
			}
			if len(intake) != 1 || len(dispatch) != 1 || len(deliver) != 1 || len(deptEvent) != 1 {
				t.Fatalf("spans of trace %s: %d intake, %d tobacco dispatch, %d tobacco delivery, %d department event; want one each",
					traceID, len(intake), len(dispatch), len(deliver), len(deptEvent))
			}
			if intake[0].ParentSpanID != platformSpan {
				t.Errorf("intake's parent %s, want the platform's span %s", intake[0].ParentSpanID, platformSpan)
			}
			if dispatch[0].ParentSpanID != intake[0].SpanID {
				t.Errorf("dispatch's parent %s, want intake %s", dispatch[0].ParentSpanID, intake[0].SpanID)
			}
			if deliver[0].ParentSpanID != dispatch[0].SpanID {
				t.Errorf("delivery's parent %s, want dispatch %s", deliver[0].ParentSpanID, dispatch[0].SpanID)
			}
			if spanIDOf(got.header) != deliver[0].SpanID {
				t.Errorf("the department's traceparent names span %s, want the delivery's %s", spanIDOf(got.header), deliver[0].SpanID)
			}
			if deptEvent[0].ParentSpanID != deptSpan {
				t.Errorf("the department event's parent %s, want the callback's span %s", deptEvent[0].ParentSpanID, deptSpan)
			}
			if a := deliver[0].Attributes; a["http.response.status_code"] != "200" || a["yjshub.outcome"] != "delivered" || a["yjshub.case.id"] != v.ID {
				t.Errorf("delivery span attributes %v", a)
			}
			if a := deptEvent[0].Attributes; a["yjshub.event.type"] != "received" || a["yjshub.outcome"] != "applied" {
				t.Errorf("department event span attributes %v", a)
			}
			exported := collector.Received()
			for _, pd := range personalValues(t, "open-bar-individual") {
				if bytes.Contains(exported, []byte(pd)) {
					t.Errorf("the exported spans contain the applicant's %q", pd)
				}
			}
		})
	}
}

// TestServeRefusesABadOTLPEndpoint: the flag's problems stop the start, every one named, before
// anything runs, and without the credentials in the URL.
func TestServeRefusesABadOTLPEndpoint(t *testing.T) {
	o := serveOptions{otelEndpoint: "ftp://collector-user:s3cretpw@/v1/traces?x=1", dataDir: t.TempDir(), addr: "127.0.0.1:0"}
	err := serve(context.Background(), o, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("serve started with a bad --otel-endpoint")
	}
	for _, want := range []string{"--otel-endpoint", "http or https", "no host", "credentials", "query"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("%v: shows the password", err)
	}
	if entries, _ := os.ReadDir(o.dataDir); len(entries) > 0 {
		t.Errorf("serve made %d entries in its data directory before refusing", len(entries))
	}
}
