package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"yjshub/hub/tracing"
	"yjshub/hub/tracing/tracingtest"
)

const (
	traceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentID    = "00f067aa0ba902b7"
	traceparent = "00-" + traceID + "-" + parentID + "-01"
)

var traceparentForm = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`)

func TestTheDefaultProviderMakesValidSampledTraceIDsWithoutAnExporter(t *testing.T) {
	tr := tracing.Tracer(nil)
	_, a := tr.Start(context.Background(), "a")
	_, b := tr.Start(context.Background(), "b")
	defer a.End()
	defer b.End()
	for _, s := range []trace.Span{a, b} {
		sc := s.SpanContext()
		if !sc.IsValid() || !sc.IsSampled() {
			t.Errorf("span context %v: valid %t, sampled %t", sc, sc.IsValid(), sc.IsSampled())
		}
	}
	if a.SpanContext().TraceID() == b.SpanContext().TraceID() {
		t.Errorf("two roots share trace id %s", a.SpanContext().TraceID())
	}
}

func TestAChildContinuesTheTraceItsHeadersCarry(t *testing.T) {
	ctx := tracing.ExtractHeaders(context.Background(), map[string]string{"traceparent": traceparent, "ce_id": "ev_1"})
	ctx, span := tracing.Tracer(nil).Start(ctx, "child")
	defer span.End()
	out := tracing.HeadersWith(ctx, map[string]string{"ce_id": "ev_1", "traceparent": "stale", "tracestate": "stale=1"})
	got := out["traceparent"]
	if !traceparentForm.MatchString(got) || tracing.TraceID(got) != traceID || strings.Contains(got, parentID) {
		t.Errorf("traceparent %q: want trace %s with the child's own span id", got, traceID)
	}
	if out["ce_id"] != "ev_1" || out["tracestate"] != "" {
		t.Errorf("headers %v: the other headers kept, the stale tracestate dropped", out)
	}
	if tracing.TraceParent(ctx) != got {
		t.Errorf("TraceParent %q, headers %q", tracing.TraceParent(ctx), got)
	}
	if none := tracing.HeadersWith(context.Background(), map[string]string{"traceparent": traceparent}); len(none) != 0 {
		t.Errorf("without a span context the trace headers are removed: %v", none)
	}
}

func TestMalformedTraceParentsAreIgnored(t *testing.T) {
	for _, tp := range []string{"", "garbage", "00-" + traceID + "-" + parentID, "00-00000000000000000000000000000000-" + parentID + "-01",
		"00-" + traceID + "-0000000000000000-01", "ff-" + traceID + "-" + parentID + "-01"} {
		if id := tracing.TraceID(tp); id != "" {
			t.Errorf("TraceID(%q) = %q, want none", tp, id)
		}
		ctx := tracing.ExtractHeaders(context.Background(), map[string]string{"traceparent": tp})
		if trace.SpanContextFromContext(ctx).IsValid() {
			t.Errorf("%q extracted as a valid span context", tp)
		}
	}
	if sc := tracing.SpanContext(traceparent, "vendor=x"); !sc.IsValid() || !sc.IsRemote() || sc.TraceState().Get("vendor") != "x" {
		t.Errorf("SpanContext(%q) = %v", traceparent, sc)
	}
}

func TestTheMiddlewareGivesTheRequestItsCallersTraceContext(t *testing.T) {
	var got trace.SpanContext
	h := tracing.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = trace.SpanContextFromContext(r.Context())
	}))
	for _, tc := range []struct {
		name, header, want string
	}{
		{"a valid traceparent is taken", traceparent, traceID},
		{"a malformed traceparent is ignored", "00-nope", ""},
		{"no traceparent, no context", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = trace.SpanContext{}
			r := httptest.NewRequest(http.MethodPost, "/api/v1/cases", nil)
			if tc.header != "" {
				r.Header.Set("Traceparent", tc.header)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			id := ""
			if got.IsValid() {
				id = got.TraceID().String()
				if !got.IsRemote() || got.SpanID().String() != parentID {
					t.Errorf("span context %v: want the remote parent %s", got, parentID)
				}
			}
			if id != tc.want {
				t.Errorf("trace id %q, want %q", id, tc.want)
			}
		})
	}
}

func TestKafkaHeadersCarryTheTraceContextOfAKafkaGoRecord(t *testing.T) {
	ctx := tracing.ExtractHeaders(context.Background(), map[string]string{"traceparent": traceparent})
	hs := []kafka.Header{{Key: "ce_id", Value: []byte("ev_1")}, {Key: "traceparent", Value: []byte("stale")}, {Key: "traceparent", Value: []byte("stale too")}}
	tracing.Inject(ctx, tracing.KafkaHeaders{Headers: &hs})
	n := 0
	for _, h := range hs {
		if h.Key == "traceparent" {
			n++
			if string(h.Value) != traceparent {
				t.Errorf("traceparent header %q, want %q", h.Value, traceparent)
			}
		}
	}
	if n != 1 || hs[0].Key != "ce_id" {
		t.Errorf("headers %v: want ce_id kept and one traceparent", hs)
	}
	back := trace.SpanContextFromContext(tracing.Extract(context.Background(), tracing.KafkaHeaders{Headers: &hs}))
	if back.TraceID().String() != traceID || back.SpanID().String() != parentID {
		t.Errorf("extracted %v", back)
	}
}

func TestAnEndpointIsCheckedWholeAndNeverShownWithItsCredentials(t *testing.T) {
	err := tracing.Config{Endpoint: "ftp://user:s3cret@/x?token=s3cret"}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"scheme must be http or https", "no host", "credentials do not belong", "query or fragment"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("%v: shows the secret", err)
	}
	for _, ok := range []string{"", "http://collector:4318", "https://otel.example/custom/v1/traces"} {
		if err := (tracing.Config{Endpoint: ok}).Validate(); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// export makes spans on a provider of cfg, shuts it down (which exports them) and returns what
// the collector received.
func export(t *testing.T, c *tracingtest.Collector, cfg tracing.Config) (*tracing.Provider, []tracingtest.Span) {
	t.Helper()
	p, err := tracing.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := tracing.Tracer(p.TracerProvider())
	ctx, parent := tr.Start(context.Background(), tracing.SpanIntake)
	_, child := tr.Start(ctx, tracing.SpanDispatch)
	child.End()
	parent.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if errs := c.Errors(); len(errs) > 0 {
		t.Fatalf("the receiver refused requests: %v", errs)
	}
	return p, c.Spans()
}

func TestSpansAreExportedOverOTLPHTTPToTheConfiguredEndpoint(t *testing.T) {
	c := tracingtest.NewCollector(t)
	p, spans := export(t, c, tracing.Config{Endpoint: c.URL(), InstanceID: "hub_1"})
	if p.Exporting() != c.URL()+"/v1/traces" {
		t.Errorf("Exporting() = %q", p.Exporting())
	}
	if len(spans) != 2 {
		t.Fatalf("%d spans exported, want 2: %+v", len(spans), spans)
	}
	byName := map[string]tracingtest.Span{}
	for _, s := range spans {
		byName[s.Name] = s
		if s.Resource["service.name"] != "yjshub" || s.Resource["service.instance.id"] != "hub_1" {
			t.Errorf("span %s: resource %v", s.Name, s.Resource)
		}
	}
	in, out := byName[tracing.SpanIntake], byName[tracing.SpanDispatch]
	if in.TraceID != out.TraceID || out.ParentSpanID != in.SpanID || in.ParentSpanID != "" {
		t.Errorf("intake %+v and dispatch %+v: want dispatch a child of intake in one trace", in, out)
	}
}

func TestTheStandardEnvironmentVariablesNameTheEndpoint(t *testing.T) {
	c := tracingtest.NewCollector(t)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.URL()}
	getenv := func(k string) string { return env[k] }
	// The exporter reads the process's environment itself.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.URL())
	if _, spans := export(t, c, tracing.Config{Getenv: getenv}); len(spans) != 2 {
		t.Errorf("%d spans exported through OTEL_EXPORTER_OTLP_ENDPOINT, want 2", len(spans))
	}

	env["OTEL_TRACES_EXPORTER"] = "none"
	p, err := tracing.New(context.Background(), tracing.Config{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	if p.Exporting() != "" {
		t.Errorf("OTEL_TRACES_EXPORTER=none still exports to %s", p.Exporting())
	}
	if _, s := tracing.Tracer(p.TracerProvider()).Start(context.Background(), "x"); !s.SpanContext().IsValid() {
		t.Error("a provider that exports nothing makes no valid span contexts")
	}
}
