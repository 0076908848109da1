package kafkaconn

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"yjshub/hub/bus"
	"yjshub/hub/event"
)

// A department's result continues the trace its record header names, else its event's
// traceparent attribute: in the envelope in structured mode, the ce_traceparent header in
// binary mode.
func TestAResultCarriesItsTraceContextInItsHeaderOrItsEnvelope(t *testing.T) {
	const (
		header   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		envelope = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	)
	for _, tc := range []struct {
		name string
		m    bus.Received
		want string // span id
	}{
		{"the record's header comes first", bus.Received{Headers: map[string]string{"traceparent": header},
			Value: []byte(`{"traceparent": "` + envelope + `"}`)}, "00f067aa0ba902b7"},
		{"without a header, the envelope's extension", bus.Received{Value: []byte(`{"specversion": "1.0", "id": "x", "traceparent": "` + envelope + `"}`)}, "b7ad6b7169203331"},
		{"binary mode: the ce_traceparent attribute", bus.Received{Headers: map[string]string{"ce_specversion": "1.0", "ce_traceparent": envelope},
			Value: []byte(`{}`)}, "b7ad6b7169203331"},
		{"neither: no context, the event joins the case's trace", bus.Received{Value: []byte(`{"id": "x"}`)}, ""},
		{"a malformed one is ignored", bus.Received{Headers: map[string]string{"traceparent": "00-zz"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _, _, _ := event.DecodeKafka(tc.m.Value, tc.m.Headers)
			sc := trace.SpanContextFromContext(traceContext(context.Background(), tc.m, env.TraceParent))
			got := ""
			if sc.IsValid() {
				got = sc.SpanID().String()
			}
			if got != tc.want {
				t.Errorf("span %q, want %q", got, tc.want)
			}
		})
	}
}
