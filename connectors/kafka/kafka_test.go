package kafkaconn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	kafkaconn "yjshub/connectors/kafka"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
	"yjshub/schemas"
)

// resultMessage is what a department publishes to yjs.result about a sub-case.
func resultMessage(t *testing.T, caseID, subcaseID, dept string, ev event.DepartmentEvent) bus.Message {
	t.Helper()
	env, err := event.New(ev.EventID, event.TypeSubcaseEvent, subcaseID, time.Now(), ev)
	if err != nil {
		t.Fatal(err)
	}
	env.Source = kafkaconn.SourcePrefix + dept
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return bus.Message{Topic: bus.TopicResult, Key: []byte(caseID), Value: raw,
		Headers: map[string]string{"ce_type": event.TypeSubcaseEvent, "ce_id": ev.EventID}}
}

// department is a department's back office consuming its topic in its own group. For every
// sub-case of the cases it follows it calls take before the offset is committed.
type department struct {
	code, group string
	mu          sync.Mutex
	got         []event.SubcaseDispatched
}

func startDepartment(t *testing.T, env *hubtest.Env, code, group string, cases []string, take func(d event.SubcaseDispatched)) *department {
	t.Helper()
	d := &department{code: code, group: group}
	env.Bus.DeclareForeignGroup(group) // the department's own group: no namespace before it
	ctx, cancel := context.WithCancel(env.Ctx)
	done := make(chan error, 1)
	go func() {
		done <- env.Bus.Subscribe(ctx, bus.SubscribeConfig{Topic: bus.SubcaseTopic(code), GroupID: group}, func(_ context.Context, m bus.Received) error {
			var e event.Envelope
			var data event.SubcaseDispatched
			if json.Unmarshal(m.Value, &e) != nil || json.Unmarshal(e.Data, &data) != nil || !slices.Contains(cases, data.CaseID) {
				return nil // a sub-case of another case
			}
			d.mu.Lock()
			d.got = append(d.got, data)
			d.mu.Unlock()
			if take != nil {
				take(data)
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the department's consumer: %v", err)
		}
	})
	return d
}

func subcaseAt(t *testing.T, v *cases.CaseView, dept string) cases.SubcaseView {
	t.Helper()
	for _, sc := range v.Subcases {
		if sc.Department.Code == dept {
			return sc
		}
	}
	t.Fatalf("case %s has no sub-case at %s", v.ID, dept)
	return cases.SubcaseView{}
}

func state(env *hubtest.Env, caseID, subcaseID string) string {
	v, err := env.Cases.Get(env.Ctx, caseID)
	if err != nil {
		return ""
	}
	for _, sc := range v.Subcases {
		if sc.ID == subcaseID {
			return sc.State
		}
	}
	return ""
}

func TestAKafkaDepartmentTakesItsSubcasesAndItsResultsDecideThem(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		const dept = "market-regulation"
		v := env.Submit("open-drink-shop-individual")
		sc := subcaseAt(t, v, dept)
		cfg := kafkaconn.Config{Department: dept, GroupID: env.Group("scjg-approval"), TrackGroup: env.Group("track"),
			ResultsGroup: env.Group("results"), PollInterval: 20 * time.Millisecond}
		c, err := kafkaconn.New(cfg, env.Bus, env.Rec, kafkaconn.WithLogger(env.Log))
		if err != nil {
			t.Fatal(err)
		}
		rc, ok := kafkaconn.ResultsConfigOf([]kafkaconn.Config{cfg})
		if !ok || rc.GroupID != cfg.ResultsGroup || !slices.Equal(rc.Departments, []string{dept}) {
			t.Fatalf("ResultsConfigOf = %+v, %v", rc, ok)
		}
		res, err := kafkaconn.NewResults(rc, env.Bus, kafkaconn.CaseService(env.Cases), env.Rec, kafkaconn.WithLogger(env.Log))
		if err != nil {
			t.Fatal(err)
		}
		env.Start(c)
		env.Start(res)

		// The department takes the sub-case, then reports on it — the approval twice, as a
		// department unsure whether its first send went through does.
		var published []bus.Message
		var pubMu sync.Mutex
		startDepartment(t, env, dept, cfg.GroupID, []string{v.ID}, func(d event.SubcaseDispatched) {
			evs := env.ApproveEvents(v, sc)
			evs = append(evs, evs[len(evs)-1])
			for _, ev := range evs {
				m := resultMessage(t, d.CaseID, d.SubcaseID, dept, ev)
				if err := env.Bus.Publish(env.Ctx, m); err != nil {
					t.Errorf("publish a result: %v", err)
				}
				pubMu.Lock()
				published = append(published, m)
				pubMu.Unlock()
			}
		})
		env.WaitFor("the sub-case to be approved", func() bool { return state(env, v.ID, sc.ID) == cases.StateApproved })
		env.WaitFor("the department's commit to be recorded as the delivery", func() bool {
			for _, d := range env.Rec.Deliveries(v.ID) {
				if d.SubcaseID == sc.ID {
					return true
				}
			}
			return false
		})

		got := env.Case(v.ID)
		if len(got.Licences) != 1 || got.Licences[0].SubcaseID != sc.ID {
			t.Errorf("licences %+v, want the one the department issued", got.Licences)
		}
		d := env.Rec.Deliveries(v.ID)[0]
		if d.Connector != "kafka:"+dept || d.Department != dept || d.EventID == "" || d.At.IsZero() {
			t.Errorf("recorded delivery %+v", d)
		}
		st := c.Status()
		if st.Name != "kafka:"+dept || st.Kind != "kafka" || st.Department != dept || st.Topic != bus.SubcaseTopic(dept) ||
			st.Group != cfg.GroupID || st.Delivered < 1 {
			t.Errorf("department connector status %+v", st)
		}
		if f := env.Rec.Failures(func(f connector.Failure) bool { return f.CaseID == v.ID }); len(f) != 0 {
			t.Errorf("dead letters %+v, want none: a repeated event is harmless", f[0].Reason)
		}
		env.WaitFor("the department and the hub to have committed everything", func() bool {
			dl, err1 := env.Bus.Lag(env.Ctx, cfg.GroupID, bus.SubcaseTopic(dept))
			rl, err2 := env.Bus.Lag(env.Ctx, cfg.ResultsGroup, bus.TopicResult)
			return err1 == nil && err2 == nil && dl.Total == 0 && rl.Total == 0
		})

		// Committed: the repeated approval has been applied too, harmlessly.
		rs := res.Status()
		if rs.Topic != bus.TopicResult || rs.Group != cfg.ResultsGroup || rs.Delivered < 4 || rs.Name != "kafka:results" {
			t.Errorf("results status %+v, want 4 events applied (one twice)", rs)
		}

		// The other matter, decided by a REST department, completes the case.
		env.Approve(v, subcaseAt(t, v, "urban-management"))
		if got := env.Case(v.ID); got.State != cases.CaseCompleted || got.Outcome != cases.OutcomeApproved {
			t.Errorf("case %s %s, want completed and approved", got.State, got.Outcome)
		}

		// What the department published is what the schemas describe.
		envelope, err := schemas.Compile("events/envelope.schema.json")
		if err != nil {
			t.Fatal(err)
		}
		pubMu.Lock()
		for _, m := range published {
			doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(m.Value))
			if err := envelope.Validate(doc); err != nil {
				t.Errorf("a result message does not match the envelope schema: %v", err)
			}
		}
		pubMu.Unlock()

		holder, _ := env.Cases.Holder(env.Ctx, v.ID)
		for _, secret := range []string{holder.ID, holder.Name} {
			if strings.Contains(env.Logs.String(), secret) {
				t.Errorf("the logs contain the applicant's personal data")
			}
		}
	})
}

func TestASubcaseCountsAsDeliveredOnlyOnceTheDepartmentCommitsIt(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		const dept = "market-regulation"
		v := env.Submit("open-drink-shop-individual")
		sc := subcaseAt(t, v, dept)
		cfg := kafkaconn.Config{Department: dept, GroupID: env.Group("slow-dept"), TrackGroup: env.Group("track"), PollInterval: 10 * time.Millisecond}
		// The hub's recorder records the delivery in the case flow.
		rec := connector.RecorderFuncs{DeliveredFunc: func(ctx context.Context, d connector.Delivery) error {
			if err := env.Cases.RecordDelivered(ctx, connector.Delivery{EventID: d.EventID, CaseID: d.CaseID, SubcaseID: d.SubcaseID,
				Department: d.Department, Status: d.Status, Attempts: d.Attempts, At: d.At}); err != nil {
				return err
			}
			return env.Rec.Delivered(ctx, d)
		}}
		c, err := kafkaconn.New(cfg, env.Bus, rec, kafkaconn.WithLogger(env.Log))
		if err != nil {
			t.Fatal(err)
		}
		env.Start(c)
		var early atomic.Bool
		startDepartment(t, env, dept, cfg.GroupID, []string{v.ID}, func(d event.SubcaseDispatched) {
			// The hub's connector holds the message, waiting for the department's commit …
			env.WaitFor("the connector to wait on the sub-case", func() bool { return c.Status().InFlight == 1 })
			// … and has recorded nothing yet, since the department has not committed.
			early.Store(len(env.Rec.Deliveries(v.ID)) > 0)
		})
		env.WaitFor("the delivery to be recorded after the commit", func() bool { return len(env.Rec.Deliveries(v.ID)) == 1 })
		if early.Load() {
			t.Errorf("the sub-case was recorded as delivered before the department committed it")
		}
		if d := env.Rec.Deliveries(v.ID)[0]; d.SubcaseID != sc.ID {
			t.Errorf("delivery of %s, want %s", d.SubcaseID, sc.ID)
		}
		view := env.Case(v.ID)
		if subcaseAt(t, view, dept).DeliveredAt == nil {
			t.Errorf("the case does not show the sub-case delivered")
		}
		took := false
		for _, e := range view.Timeline {
			took = took || (e.SubcaseID == sc.ID && e.Type == "delivered" && e.Detail == sc.Department.Name+" system took it")
		}
		if !took {
			t.Errorf("the timeline does not say the department's system took the sub-case: %+v", view.Timeline)
		}
	})
}

func TestResultsThatCanNeverBeAppliedAreDeadLetteredWithoutBlockingThePartition(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		const dept = "market-regulation"
		v := env.Submit("open-drink-shop-individual")
		sc := subcaseAt(t, v, dept)
		other := subcaseAt(t, v, "urban-management")
		// A conflict is a dead letter at once here; TestAResultAheadOfItsPredecessorIsAppliedAfterIt retries.
		res, err := kafkaconn.NewResults(kafkaconn.ResultsConfig{GroupID: env.Group("results"), Departments: []string{dept, "urban-management"}, ConflictRetry: -1},
			env.Bus, kafkaconn.CaseService(env.Cases), env.Rec, kafkaconn.WithLogger(env.Log))
		if err != nil {
			t.Fatal(err)
		}
		id := func(s string) string { return s + "-" + hubtest.RandomHex(4) }
		msg := func(subject, source string, ev event.DepartmentEvent) bus.Message {
			return resultMessage(t, v.ID, subject, source, ev)
		}
		wrongType := msg(sc.ID, dept, event.DepartmentEvent{EventID: id("t"), Type: event.Received})
		wrongType.Value = bytes.Replace(wrongType.Value, []byte(event.TypeSubcaseEvent), []byte(event.TypeCaseUpdated), 1)
		unknownField := msg(sc.ID, dept, event.DepartmentEvent{EventID: id("u"), Type: event.Received})
		unknownField.Value = bytes.Replace(unknownField.Value, []byte(`"type":"received"`), []byte(`"type":"received","licence":[]`), 1)
		dupKey := msg(sc.ID, dept, event.DepartmentEvent{EventID: id("d"), Type: event.Received})
		dupKey.Value = bytes.Replace(dupKey.Value, []byte(`"type":"received"`), []byte(`"type":"received","type":"rejected"`), 1)
		nul := msg(sc.ID, dept, event.DepartmentEvent{EventID: id("z"), Type: event.Received})
		nul.Value = bytes.Replace(nul.Value, []byte(`"type":"received"`), []byte(`"type":"received","note":"a\u0000b"`), 1)
		badSource := msg(sc.ID, dept, event.DepartmentEvent{EventID: id("s"), Type: event.Received})
		badSource.Value = bytes.Replace(badSource.Value, []byte(kafkaconn.SourcePrefix+dept), []byte("scjg-system"), 1)
		cases_ := []struct {
			name   string
			m      bus.Message
			reason string
		}{
			{"not JSON and no content-type", bus.Message{Topic: bus.TopicResult, Key: []byte(v.ID), Value: []byte(`{"specversion":"1.0","id":`)}, "undecodable message: unknown CloudEvents encoding"},
			{"structured mode, not JSON", bus.Message{Topic: bus.TopicResult, Key: []byte(v.ID), Value: []byte(`{"specversion":"1.0","id":`),
				Headers: map[string]string{"content-type": event.KafkaStructuredContentType}}, "undecodable message: structured mode: the value is not a JSON event envelope"},
			{"structured mode in another event format", bus.Message{Topic: bus.TopicResult, Key: []byte(v.ID), Value: []byte(`x`),
				Headers: map[string]string{"content-type": "application/cloudevents+avro"}}, `undecodable message: structured mode with event format "application/cloudevents+avro"`},
			{"binary mode with data that is not JSON", bus.Message{Topic: bus.TopicResult, Key: []byte(v.ID), Value: []byte(`approved`),
				Headers: map[string]string{"content-type": "text/plain", "ce_specversion": "1.0", "ce_id": id("b"), "ce_source": kafkaconn.SourcePrefix + dept,
					"ce_type": event.TypeSubcaseEvent}}, `undecodable message: binary mode: the data's content-type "text/plain" is not JSON`},
			{"binary mode without its required attributes", bus.Message{Topic: bus.TopicResult, Key: []byte(v.ID), Value: []byte(`{}`),
				Headers: map[string]string{"ce_specversion": "0.3"}}, `undecodable message: binary mode: no ce_id, ce_source, ce_type` + "\n" + `binary mode: ce_specversion "0.3" is not 1.0`},
			{"another type", wrongType, "undecodable message: type"},
			{"data that is not a department event", unknownField, "undecodable message: the data is not a department event"},
			{"a key given twice", dupKey, `undecodable message: structured mode: duplicate at "/data/type"`},
			{"a control character", nul, `undecodable message: structured mode: control_character at "/data/note"`},
			{"a source that names no department", badSource, "undecodable message: the source is not /departments/"},
			{"a department that does not report through Kafka", msg(sc.ID, "tobacco", event.DepartmentEvent{EventID: id("k"), Type: event.Received}), `department "tobacco" does not report through Kafka`},
			{"an unknown sub-case", msg("sc_unknown", dept, event.DepartmentEvent{EventID: id("n"), Type: event.Received}), "unknown sub-case"},
			{"another department's sub-case", msg(sc.ID, "urban-management", event.DepartmentEvent{EventID: id("o"), Type: event.Received}), "the sub-case is handled by another department"},
			{"an illegal transition", msg(sc.ID, dept, event.DepartmentEvent{EventID: id("c"), Type: event.Approved}), "conflict: a approved event cannot follow state dispatched"},
			{"an invalid event", msg(sc.ID, dept, event.DepartmentEvent{EventID: id("v"), Type: event.Rejected}), "invalid request: /reason: required"},
		}
		var msgs []bus.Message
		for _, c := range cases_ {
			msgs = append(msgs, c.m)
		}
		good := msg(sc.ID, dept, event.DepartmentEvent{EventID: id("g"), Type: event.Received})
		goodOther := msg(other.ID, "urban-management", event.DepartmentEvent{EventID: id("g"), Type: event.Received})
		msgs = append(msgs, good, goodOther)
		if err := env.Bus.Publish(env.Ctx, msgs...); err != nil { // one key: one partition, in this order
			t.Fatal(err)
		}
		env.Start(res)
		env.WaitFor("the events after the poison ones to be applied", func() bool {
			return state(env, v.ID, sc.ID) == cases.StateReceived && state(env, v.ID, other.ID) == cases.StateReceived
		})
		ours := func(f connector.Failure) bool { return string(f.Key) == v.ID }
		failures := env.Rec.Failures(ours)
		if len(failures) != len(cases_) {
			t.Fatalf("%d dead letters, want %d", len(failures), len(cases_))
		}
		for i, c := range cases_ {
			f := failures[i]
			if !strings.HasPrefix(f.Reason, c.reason) {
				t.Errorf("%s: reason %q, want it to start with %q", c.name, f.Reason, c.reason)
			}
			if f.Connector != "kafka:results" || f.Topic != bus.TopicResult || !bytes.Equal(f.Payload, c.m.Value) || f.CaseID != v.ID || f.SubcaseID != "" {
				t.Errorf("%s: failure %+v", c.name, f.Delivery)
			}
			if i > 0 && f.Offset <= failures[i-1].Offset {
				t.Errorf("%s: offset %d does not follow %d", c.name, f.Offset, failures[i-1].Offset)
			}
		}
		if st := res.Status(); st.Failed < int64(len(cases_)) || st.LastErrorMessage == "" {
			t.Errorf("status %+v", st)
		}
		env.WaitFor("every offset to be committed", func() bool {
			l, err := env.Bus.Lag(env.Ctx, env.Group("results"), bus.TopicResult)
			return err == nil && l.Total == 0
		})
	})
}

// flakyHub fails ApplyEvent once with an error that may pass, for one case.
type flakyHub struct {
	caseID, dept string
	calls        atomic.Int32
	applied      atomic.Int32
}

func (h *flakyHub) Department(_ context.Context, caseID, _ string) (string, error) {
	if caseID != h.caseID {
		return "", cases.ErrNotFound
	}
	return h.dept, nil
}

func (h *flakyHub) ApplyEvent(context.Context, string, event.DepartmentEvent) error {
	if h.calls.Add(1) == 1 {
		return errors.New("store unavailable")
	}
	h.applied.Add(1)
	return nil
}

func TestAResultThatFailsForAPassingReasonIsAppliedAgainNotDeadLettered(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		hub := &flakyHub{caseID: "cs_" + hubtest.RandomHex(8), dept: "market-regulation"}
		group := env.Group("results")
		res, err := kafkaconn.NewResults(kafkaconn.ResultsConfig{GroupID: group}, env.Bus, hub, env.Rec, kafkaconn.WithLogger(env.Log))
		if err != nil {
			t.Fatal(err)
		}
		m := resultMessage(t, hub.caseID, "sc_"+hubtest.RandomHex(8), hub.dept, event.DepartmentEvent{EventID: "ev-1", Type: event.Received})
		if err := env.Bus.Publish(env.Ctx, m); err != nil {
			t.Fatal(err)
		}
		r := env.Start(res)
		env.WaitFor("the event to be applied on the second try", func() bool { return hub.applied.Load() == 1 })
		errs := r.RunErrors()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "store unavailable") {
			t.Errorf("Run returned %v, want the store's error once", errs)
		}
		if f := env.Rec.Failures(func(f connector.Failure) bool { return string(f.Key) == hub.caseID }); len(f) != 0 {
			t.Errorf("dead-lettered %q; an error that may pass must be retried", f[0].Reason)
		}
		if n := hub.calls.Load(); n != 2 {
			t.Errorf("ApplyEvent called %d times, want 2", n)
		}
	})
}
