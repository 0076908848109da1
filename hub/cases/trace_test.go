package cases_test

import (
	"context"
	"encoding/json"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/hub/tracing"
)

const (
	platformTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	platformSpan   = "00f067aa0ba902b7"
	platformParent = "00-" + platformTrace + "-" + platformSpan + "-01"
)

// eachTraced runs a test on every store backend with a service whose spans a recorder keeps.
func eachTraced(t *testing.T, fn func(t *testing.T, st *store.Store, svc *cases.Service, spans *tracetest.SpanRecorder)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, CallbackBase: "http://hub.test", Tracing: tp})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, st, hs.Cases, rec)
		})
	}
}

// ended returns the ended spans called name.
func ended(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// dispatchedTraces returns, per sub-case dispatched through the outbox, the traceparent of its
// record's headers and of its envelope.
func dispatchedTraces(t *testing.T, st *store.Store) map[string][2]string {
	t.Helper()
	pending, err := st.PendingOutbox(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	for _, m := range pending {
		if m.Headers["ce_type"] != event.TypeSubcaseDispatched {
			continue
		}
		var env event.Envelope
		if err := json.Unmarshal(m.Payload, &env); err != nil {
			t.Fatal(err)
		}
		out[env.Subject] = [2]string{m.Headers[tracing.HeaderTraceParent], env.TraceParent}
	}
	return out
}

func TestACaseKeepsItsIntakesTraceAndEveryDispatchCarriesIt(t *testing.T) {
	eachTraced(t, func(t *testing.T, st *store.Store, svc *cases.Service, rec *tracetest.SpanRecorder) {
		ctx := tracing.ExtractHeaders(context.Background(), map[string]string{"traceparent": platformParent})
		app, hash := example(t, "marine-fishery-chain-enterprise")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		intake := ended(rec, tracing.SpanIntake)
		if len(intake) != 1 {
			t.Fatalf("%d intake spans, want 1", len(intake))
		}
		in := intake[0]
		if in.Parent().SpanID().String() != platformSpan || in.SpanContext().TraceID().String() != platformTrace {
			t.Errorf("intake span %v with parent %v: want a child of the platform's span", in.SpanContext(), in.Parent())
		}
		if attr(in, "yjshub.case.id") != v.ID || attr(in, "yjshub.bundle") != v.Bundle.Code || attr(in, "yjshub.outcome") != "accepted" {
			t.Errorf("intake span attributes %v", in.Attributes())
		}
		if v.TraceID != platformTrace {
			t.Errorf("the case's trace_id %q, want the platform's %s", v.TraceID, platformTrace)
		}
		intakeParent := tracing.TraceParent(trace.ContextWithSpanContext(context.Background(), in.SpanContext()))
		dispatched := dispatchedTraces(t, st)
		if len(dispatched) == 0 {
			t.Fatal("nothing dispatched")
		}
		for id, tp := range dispatched {
			if tp[0] != intakeParent || tp[1] != intakeParent {
				t.Errorf("sub-case %s dispatched with header %q and envelope %q, want the intake's %s", id, tp[0], tp[1], intakeParent)
			}
		}

		// A matter released later, when its prerequisite is approved, carries the same trace.
		var fishing cases.SubcaseView
		for i := 0; i < 5 && fishing.State != cases.StateDispatched; i++ {
			cur, _ := svc.Get(context.Background(), v.ID)
			for _, sc := range cur.Subcases {
				if sc.State == cases.StateDispatched {
					approve(t, svc, cur, sc, i)
				}
			}
			cur, _ = svc.Get(context.Background(), v.ID)
			for _, sc := range cur.Subcases {
				if sc.MatterCode == "fishing-licence" {
					fishing = sc
				}
			}
		}
		if fishing.State != cases.StateDispatched {
			t.Fatalf("fishing-licence never dispatched: %s", fishing.State)
		}
		if tp := dispatchedTraces(t, st)[fishing.ID]; tp[0] != intakeParent || tp[1] != intakeParent {
			t.Errorf("the released sub-case carries header %q and envelope %q, want the intake's %s", tp[0], tp[1], intakeParent)
		}
	})
}

func TestADepartmentEventContinuesItsCallersTraceOrElseTheCases(t *testing.T) {
	eachTraced(t, func(t *testing.T, st *store.Store, svc *cases.Service, rec *tracetest.SpanRecorder) {
		app, hash := example(t, "open-bar-individual")
		v, _, err := svc.Submit(context.Background(), app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		in := ended(rec, tracing.SpanIntake)[0].SpanContext()
		if in.TraceID().String() != v.TraceID || in.IsRemote() {
			t.Fatalf("intake %v, case trace_id %s", in, v.TraceID)
		}
		sc := v.Subcases[0]
		apply := func(ctx context.Context, id, typ string) error {
			_, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: id, Type: typ})
			return err
		}
		// received and accepted are written in a batch; a suspension on its own (eventbatch.go).
		for _, typ := range []string{event.Received, event.Accepted, event.Suspended} {
			if err := apply(context.Background(), "ev-"+typ, typ); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
		}
		deptCtx := tracing.ExtractHeaders(context.Background(), map[string]string{"traceparent": platformParent})
		if err := apply(deptCtx, "ev-resumed", event.Resumed); err != nil {
			t.Fatalf("resumed: %v", err)
		}
		if err := apply(context.Background(), "ev-approved-too-soon", "no-such-type"); err == nil {
			t.Fatal("an event of an unknown type was applied")
		}

		spans := ended(rec, tracing.SpanDepartmentEvent)
		if len(spans) != 5 {
			t.Fatalf("%d department event spans, want 5", len(spans))
		}
		for i, typ := range []string{event.Received, event.Accepted, event.Suspended} {
			s := spans[i]
			if s.Parent().SpanID() != in.SpanID() || s.SpanContext().TraceID() != in.TraceID() {
				t.Errorf("%s without a trace context: parent %v, want the case's intake %v", typ, s.Parent(), in)
			}
			if attr(s, "yjshub.case.id") != v.ID || attr(s, "yjshub.subcase.id") != sc.ID || attr(s, "yjshub.event.type") != typ ||
				attr(s, "yjshub.department") != sc.Department.Code || attr(s, "yjshub.outcome") != "applied" {
				t.Errorf("%s span attributes %v", typ, s.Attributes())
			}
		}
		resumed := spans[3]
		if resumed.Parent().SpanID().String() != platformSpan || resumed.SpanContext().TraceID().String() != platformTrace {
			t.Errorf("resumed with the department's trace context: parent %v, want its span %s", resumed.Parent(), platformSpan)
		}
		if links := resumed.Links(); len(links) != 1 || links[0].SpanContext.SpanID() != in.SpanID() {
			t.Errorf("resumed in another trace links %v, want the case's intake %v", links, in)
		}
		refused := spans[4]
		if attr(refused, "yjshub.outcome") != "refused" || attr(refused, "yjshub.event.type") != "" || attr(refused, "yjshub.case.id") != "" {
			t.Errorf("an event refused unread names what it was given: %v", refused.Attributes())
		}
	})
}
