package kafkaconn_test

import (
	"testing"
	"time"

	kafkaconn "yjshub/connectors/kafka"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// binaryResult is a department's event in the binary mode of the CloudEvents Kafka binding, as
// Java's CloudEventSerializer writes by default: the attributes in ce_ headers, the data alone
// as the value.
func binaryResult(caseID, subcaseID, dept, eventID, typ string) bus.Message {
	return bus.Message{Topic: bus.TopicResult, Key: []byte(caseID), Value: []byte(`{"event_id":"` + eventID + `","type":"` + typ + `"}`),
		Headers: map[string]string{"ce_specversion": "1.0", "ce_id": eventID, "ce_type": event.TypeSubcaseEvent,
			"ce_source": kafkaconn.SourcePrefix + dept, "ce_subject": subcaseID, "ce_time": time.Now().Format(time.RFC3339),
			"content-type": "application/json"}}
}

// A result in binary mode is applied; one that cannot be is a dead letter kept as the
// equivalent structured envelope, which its replay (without the record's headers) reads again.
func TestAResultInBinaryModeIsAppliedAndItsDeadLetterReplays(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		const dept = "market-regulation"
		v := env.Submit("open-drink-shop-individual")
		sc := subcaseAt(t, v, dept)
		res, err := kafkaconn.NewResults(kafkaconn.ResultsConfig{GroupID: env.Group("results")},
			env.Bus, kafkaconn.CaseService(env.Cases), env.Rec, kafkaconn.WithLogger(env.Log))
		if err != nil {
			t.Fatal(err)
		}
		env.Start(res)
		lost := binaryResult(v.ID, "sc_unknown", dept, "lost-"+hubtest.RandomHex(4), event.Received)
		good := binaryResult(v.ID, sc.ID, dept, "bin-"+hubtest.RandomHex(4), event.Received)
		if err := env.Bus.Publish(env.Ctx, lost, good); err != nil {
			t.Fatal(err)
		}
		env.WaitFor("the binary-mode result to be applied", func() bool { return state(env, v.ID, sc.ID) == cases.StateReceived })
		ours := func(f connector.Failure) bool { return string(f.Key) == v.ID }
		env.WaitFor("the unknown sub-case's result to be a dead letter", func() bool { return len(env.Rec.Failures(ours)) == 1 })
		f := env.Rec.Failures(ours)[0]
		kept, mode, _, err := event.DecodeKafka(f.Payload, nil)
		if err != nil || mode != event.ModeStructured || kept.ID != lost.Headers["ce_id"] || kept.Subject != "sc_unknown" ||
			kept.Source != kafkaconn.SourcePrefix+dept || string(kept.Data) != string(lost.Value) {
			t.Errorf("the dead letter keeps %s, read as %s %+v, %v: want the event as a structured envelope", f.Payload, mode, kept, err)
		}
	})
}
