package outbox_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
	"yjshub/hub/outbox"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/hub/tracing"
)

// A message enqueued with a trace context is published in a dispatch span of its own, a child
// of that context, and its record carries the dispatch's context; a message without one is
// published as it was written, in no span.
func TestTheRelayPublishesATracedMessageInADispatchSpanThatItsRecordCarries(t *testing.T) {
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		intake  = "00f067aa0ba902b7"
	)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	st := storetest.Migrated(storetest.OpenSQLite)(t)
	b, _ := bustest.OpenEmbeddedAt(t, t.TempDir(), 0)
	dept := "tobacco-" + hubtest.RandomHex(4)
	topic := bus.SubcaseTopic(dept)
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	msgs := []store.OutboxMessage{
		{EventID: "ev-traced", Topic: topic, Key: "cs_1", Payload: []byte(`{"n":1}`),
			Headers: map[string]string{"ce_type": "cn.yjshub.subcase.dispatched", "traceparent": "00-" + traceID + "-" + intake + "-01"}},
		{EventID: "ev-plain", Topic: topic, Key: "cs_1", Payload: []byte(`{"n":2}`), Headers: map[string]string{"ce_type": "cn.yjshub.case.updated"}},
	}
	if err := st.InTx(ctx, func(tx *sqlx.Tx) error { return st.EnqueueOutbox(ctx, tx, msgs...) }); err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	relay := outbox.New(st, b, outbox.Config{Tracing: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	if n, err := relay.Flush(ctx); err != nil || n != 2 {
		t.Fatalf("Flush = %d, %v", n, err)
	}

	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Name() != tracing.SpanDispatch {
		t.Fatalf("%d spans ended, want one dispatch: %v", len(spans), spans)
	}
	span := spans[0]
	if span.Parent().SpanID().String() != intake || span.SpanContext().TraceID().String() != traceID {
		t.Errorf("dispatch span %v, parent %v: want a child of the intake %s", span.SpanContext(), span.Parent(), intake)
	}
	want := map[string]string{"yjshub.case.id": "cs_1", "yjshub.department": dept, "messaging.destination.name": topic,
		"yjshub.event.id": "ev-traced", "yjshub.outcome": "published"}
	for _, kv := range span.Attributes() {
		if w, ok := want[string(kv.Key)]; ok && kv.Value.String() != w {
			t.Errorf("attribute %s = %q, want %q", kv.Key, kv.Value.String(), w)
		}
		delete(want, string(kv.Key))
	}
	if len(want) > 0 {
		t.Errorf("dispatch span lacks %v", want)
	}

	var mu sync.Mutex
	got := map[string]map[string]string{}
	readCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- b.Subscribe(readCtx, bus.SubscribeConfig{Topic: topic, GroupID: "trace-read-" + hubtest.RandomHex(6)},
			func(_ context.Context, m bus.Received) error {
				mu.Lock()
				got[string(m.Value)] = m.Headers
				mu.Unlock()
				return nil
			})
	}()
	waitFor(t, ctx, "both records to be read", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	stop()
	if err := <-done; err != nil {
		t.Errorf("Subscribe: %v", err)
	}
	traced, plain := got[`{"n":1}`], got[`{"n":2}`]
	wantParent := "00-" + traceID + "-" + span.SpanContext().SpanID().String() + "-01"
	// Structured mode of the CloudEvents Kafka binding: the content-type says so, and no ce_
	// header makes the record look like binary mode.
	if traced["traceparent"] != wantParent || traced["content-type"] != event.KafkaStructuredContentType || traced["ce_type"] != "" {
		t.Errorf("the traced record's headers %v: want the dispatch's traceparent %s", traced, wantParent)
	}
	if _, ok := plain["traceparent"]; ok || len(plain) != 1 || plain["content-type"] != event.KafkaStructuredContentType {
		t.Errorf("the untraced record's headers %v: want the structured content-type alone", plain)
	}
	// The outbox keeps what was written: the intake's context, not the dispatch's.
	var headers string
	if err := st.DB().GetContext(ctx, &headers, `SELECT headers FROM outbox WHERE event_id = 'ev-traced'`); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(headers, intake) {
		t.Errorf("the outbox row's headers %s lost the intake's span %s", headers, intake)
	}
}
