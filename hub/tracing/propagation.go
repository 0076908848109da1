package tracing

import (
	"context"
	"maps"
	"net/http"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The W3C Trace Context fields, as HTTP headers, Kafka record headers and CloudEvents
// extension attributes name them.
const (
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// propagator reads and writes the W3C Trace Context: the hub speaks that one format on every
// transport, as the CloudEvents distributed tracing extension does.
var propagator = propagation.TraceContext{}

// Extract returns ctx with the remote span context carrier holds, when it holds a valid one;
// otherwise ctx as it is (a malformed traceparent is ignored, as the W3C recommendation says).
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return propagator.Extract(ctx, carrier)
}

// Inject writes ctx's span context into carrier; with none it writes nothing.
func Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	propagator.Inject(ctx, carrier)
}

// ExtractHeaders is [Extract] from message headers as the bus carries them (a Kafka record's
// headers, an outbox message's).
func ExtractHeaders(ctx context.Context, headers map[string]string) context.Context {
	if headers[HeaderTraceParent] == "" {
		return ctx
	}
	return Extract(ctx, propagation.MapCarrier(headers))
}

// HeadersWith returns a copy of headers whose trace context is ctx's: traceparent and
// tracestate replaced, or removed when ctx has no span context. headers is not changed.
func HeadersWith(ctx context.Context, headers map[string]string) map[string]string {
	out := maps.Clone(headers)
	if out == nil {
		out = map[string]string{}
	}
	delete(out, HeaderTraceParent)
	delete(out, HeaderTraceState)
	Inject(ctx, propagation.MapCarrier(out))
	return out
}

// TraceParent returns the traceparent of ctx's span context; "" when it has none.
func TraceParent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	Inject(ctx, c)
	return c[HeaderTraceParent]
}

// TraceState returns the tracestate of ctx's span context; "" when it has none or it is empty.
func TraceState(ctx context.Context) string {
	c := propagation.MapCarrier{}
	Inject(ctx, c)
	return c[HeaderTraceState]
}

// SpanContext parses a traceparent (and its tracestate, which may be ""). The result is
// remote, and invalid when traceparent is empty or malformed.
func SpanContext(traceparent, tracestate string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	c := propagation.MapCarrier{HeaderTraceParent: traceparent}
	if tracestate != "" {
		c[HeaderTraceState] = tracestate
	}
	return trace.SpanContextFromContext(Extract(context.Background(), c))
}

// TraceID returns the trace id (32 lower-case hex digits) of a traceparent; "" when it is
// empty or malformed.
func TraceID(traceparent string) string {
	sc := SpanContext(traceparent, "")
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// Middleware gives each request's context the trace context of its traceparent and tracestate
// headers, for the spans the handlers start (intake, a department's callback) to continue the
// caller's trace. It starts no span of its own and answers nothing.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(HeaderTraceParent) != "" {
			r = r.WithContext(Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
		}
		next.ServeHTTP(w, r)
	})
}

// KafkaHeaders carries a trace context in the headers of a kafka-go record, for a program
// that reads or writes records with kafka-go itself (a Kafka department's system, a test
// reading the hub's topics); the hub's bus hands headers over as a map (see ExtractHeaders).
// Set replaces every header of the key.
type KafkaHeaders struct{ Headers *[]kafka.Header }

var _ propagation.TextMapCarrier = KafkaHeaders{}

// Get returns the value of the last header named key, as the bus reads repeated keys.
func (k KafkaHeaders) Get(key string) string {
	v := ""
	for _, h := range *k.Headers {
		if h.Key == key {
			v = string(h.Value)
		}
	}
	return v
}

// Set replaces the headers named key with one of value.
func (k KafkaHeaders) Set(key, value string) {
	hs := (*k.Headers)[:0:0]
	for _, h := range *k.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	*k.Headers = append(hs, kafka.Header{Key: key, Value: []byte(value)})
}

// Keys lists the header keys, each once, in their order.
func (k KafkaHeaders) Keys() []string {
	var keys []string
	seen := map[string]bool{}
	for _, h := range *k.Headers {
		if !seen[h.Key] {
			seen[h.Key] = true
			keys = append(keys, h.Key)
		}
	}
	return keys
}
