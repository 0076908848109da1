// Package tracingtest is an OTLP/HTTP receiver for tests: it takes what an exporter posts to
// /v1/traces, decodes it with the OTLP protocol's own generated types
// (go.opentelemetry.io/proto/otlp), and keeps the spans and the bytes as they arrived.
package tracingtest

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// Span is an exported span, flattened for assertions.
type Span struct {
	TraceID, SpanID, ParentSpanID string // hex; ParentSpanID "" for a root
	Name                          string
	Kind                          string
	// Attributes are the span's attributes, Resource its resource's, each value as text.
	Attributes, Resource map[string]string
	// Links are the span contexts the span links to, as "traceid/spanid".
	Links []string
	// StatusCode is "STATUS_CODE_UNSET", "STATUS_CODE_OK" or "STATUS_CODE_ERROR".
	StatusCode string
}

// Collector receives OTLP/HTTP protobuf exports. It is safe for concurrent use.
type Collector struct {
	srv *httptest.Server

	mu     sync.Mutex
	spans  []Span
	bodies [][]byte // decompressed request bodies
	errs   []error
}

// NewCollector starts a receiver that t closes when it ends.
func NewCollector(t testing.TB) *Collector {
	c := &Collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(c.receive))
	t.Cleanup(c.srv.Close)
	return c
}

// URL is the receiver's base URL (spans are posted to URL + /v1/traces).
func (c *Collector) URL() string { return c.srv.URL }

func (c *Collector) receive(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, err error) {
		c.mu.Lock()
		c.errs = append(c.errs, err)
		c.mu.Unlock()
		http.Error(w, err.Error(), status)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		fail(http.StatusNotFound, fmt.Errorf("%s %s: not the OTLP/HTTP traces path", r.Method, r.URL.Path))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		fail(http.StatusUnsupportedMediaType, fmt.Errorf("content type %q, not application/x-protobuf", ct))
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(http.StatusBadRequest, err)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		fail(http.StatusBadRequest, fmt.Errorf("not an ExportTraceServiceRequest: %w", err))
		return
	}
	var spans []Span
	for _, rs := range req.GetResourceSpans() {
		res := attributes(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := Span{TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentSpanID: hex.EncodeToString(s.GetParentSpanId()), Name: s.GetName(), Kind: s.GetKind().String(),
					Attributes: attributes(s.GetAttributes()), Resource: res, StatusCode: s.GetStatus().GetCode().String()}
				for _, l := range s.GetLinks() {
					sp.Links = append(sp.Links, hex.EncodeToString(l.GetTraceId())+"/"+hex.EncodeToString(l.GetSpanId()))
				}
				spans = append(spans, sp)
			}
		}
	}
	c.mu.Lock()
	c.spans = append(c.spans, spans...)
	c.bodies = append(c.bodies, raw)
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func attributes(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = x.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = fmt.Sprint(x.IntValue)
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = fmt.Sprint(x.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			m[kv.GetKey()] = fmt.Sprint(x.DoubleValue)
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}

// Spans returns the spans received so far, in the order they arrived.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Received returns every request body received so far, decompressed, joined: the bytes a
// test searches for what must never be exported.
func (c *Collector) Received() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Join(c.bodies, nil)
}

// Errors returns the problems with the requests received (wrong path, media type, body).
func (c *Collector) Errors() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}
