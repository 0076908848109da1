package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"yjshub/connectors/conformance"
	"yjshub/hub/event"
)

var kafkaIDs = []string{
	conformance.CheckKafkaProduce, conformance.CheckKafkaCommit, conformance.CheckKafkaResults,
	conformance.CheckCallbackArrives, conformance.CheckCallbackValid, conformance.CheckCallbackOrder,
}

const (
	kafkaDept  = "market-regulation"
	kafkaGroup = "scjg-approval-system"
)

func everyKafka(result string) map[string]string { return each(kafkaIDs, result) }

// cluster is a Kafka cluster for one test with the department's topic and yjs.result under
// namespace: the embedded fake broker, or the real one of YJSHUB_TEST_KAFKA.
type cluster struct {
	brokers   []string
	namespace string
}

func fakeCluster(t *testing.T) cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "yjs.subcase."+kafkaDept, "yjs.result"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return cluster{brokers: c.ListenAddrs()}
}

// realCluster creates the topics under a namespace of their own on YJSHUB_TEST_KAFKA.
func realCluster(t *testing.T) cluster {
	t.Helper()
	addr := os.Getenv("YJSHUB_TEST_KAFKA")
	if addr == "" {
		if os.Getenv("YJSHUB_REQUIRE_REAL") != "" {
			t.Fatal("YJSHUB_REQUIRE_REAL is set but YJSHUB_TEST_KAFKA is not (make services)")
		}
		t.Skip("YJSHUB_TEST_KAFKA is not set")
	}
	c := cluster{brokers: strings.Split(addr, ","), namespace: fmt.Sprintf("kit%d.", time.Now().UnixNano())}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	for _, name := range []string{c.namespace + "yjs.subcase." + kafkaDept, c.namespace + "yjs.result"} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 3, 1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			t.Fatalf("create topic %s: error %d", rt.Topic, rt.ErrorCode)
		}
	}
	t.Cleanup(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...))
		if err != nil {
			return
		}
		defer cl.Close()
		del := kmsg.NewPtrDeleteTopicsRequest()
		// TopicNames for the request's older versions, Topics for v6 and later.
		del.TopicNames = []string{c.namespace + "yjs.subcase." + kafkaDept, c.namespace + "yjs.result"}
		for _, name := range del.TopicNames {
			dt := kmsg.NewDeleteTopicsRequestTopic()
			dt.Topic = kmsg.StringPtr(name)
			del.Topics = append(del.Topics, dt)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = del.RequestWith(ctx, cl)
	})
	return c
}

// kafkaFlaws are what a broken department system does wrong.
type kafkaFlaws struct {
	group    string // the group it consumes in (default kafkaGroup)
	noCommit bool
	binary   bool     // publishes results in binary mode
	noHeader bool     // structured, but without the content-type header
	source   string   // the envelope's source (default /departments/<dept>)
	keyed    string   // the key (default the case id)
	types    []string // the events it reports (default received, accepted, rejected)
}

// kafkaDepartment is a department system written for these tests: it consumes its sub-cases in
// a consumer group and publishes results to yjs.result, as flaws say.
func kafkaDepartment(t *testing.T, c cluster, f kafkaFlaws) func(ctx context.Context) {
	return func(ctx context.Context) {
		if f.group == "" {
			f.group = kafkaGroup
		}
		if f.types == nil {
			f.types = []string{"received", "accepted", "rejected"}
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ConsumerGroup(f.group),
			kgo.ConsumeTopics(c.namespace+"yjs.subcase."+kafkaDept), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Close()
		for ctx.Err() == nil {
			fetches := cl.PollFetches(ctx)
			var taken []*kgo.Record
			fetches.EachRecord(func(r *kgo.Record) {
				var env event.Envelope
				var data event.SubcaseDispatched
				if json.Unmarshal(r.Value, &env) != nil || json.Unmarshal(env.Data, &data) != nil {
					return
				}
				for i, typ := range f.types {
					ev := map[string]any{"event_id": fmt.Sprintf("k-%s-%d", data.SubcaseID, i), "type": typ, "reason": "测试"}
					if typ != "rejected" {
						delete(ev, "reason")
					}
					publish(ctx, t, cl, c, f, data, ev)
				}
				taken = append(taken, r)
			})
			if !f.noCommit && len(taken) > 0 {
				_ = cl.CommitRecords(ctx, taken...)
			}
		}
	}
}

func publish(ctx context.Context, t *testing.T, cl *kgo.Client, c cluster, f kafkaFlaws, data event.SubcaseDispatched, ev map[string]any) {
	source := "/departments/" + kafkaDept
	if f.source != "" {
		source = f.source
	}
	key := data.CaseID
	if f.keyed != "" {
		key = f.keyed
	}
	body, _ := json.Marshal(ev)
	rec := &kgo.Record{Topic: c.namespace + "yjs.result", Key: []byte(key)}
	id := ev["event_id"].(string)
	if f.binary {
		rec.Value = body
		for k, v := range map[string]string{"ce_specversion": "1.0", "ce_id": id, "ce_type": event.TypeSubcaseEvent, "ce_source": source,
			"ce_subject": data.SubcaseID, "content-type": "application/json"} {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	} else {
		rec.Value, _ = json.Marshal(map[string]any{"specversion": "1.0", "id": id, "type": event.TypeSubcaseEvent, "source": source,
			"subject": data.SubcaseID, "datacontenttype": "application/json", "data": json.RawMessage(body)})
		if !f.noHeader {
			rec.Headers = []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/cloudevents+json; charset=utf-8")}}
		}
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil && ctx.Err() == nil {
		t.Errorf("department: publish: %v", err)
	}
}

func runKafka(t *testing.T, c cluster, wait time.Duration, system func(ctx context.Context)) *conformance.Report {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	if system != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			system(ctx)
		}()
	}
	r := run(t, conformance.Config{Kind: conformance.KindKafka, Target: strings.Join(c.brokers, ","), Namespace: c.namespace,
		Department: kafkaDept, Group: kafkaGroup, CallbackWait: wait, Timeout: 3 * time.Second})
	cancel()
	wg.Wait()
	return r
}

func TestAGoodKafkaDepartmentPassesEveryCheck(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(t *testing.T) cluster{"embedded": fakeCluster, "kafka": realCluster} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := open(t)
			r := runKafka(t, c, 20*time.Second, kafkaDepartment(t, c, kafkaFlaws{}))
			wantResults(t, r, everyKafka(conformance.Pass))
		})
	}
}

func TestKafkaDepartmentsFailExactlyTheChecksOfWhatTheyDoWrong(t *testing.T) {
	t.Parallel()
	results := []string{conformance.CheckKafkaResults, conformance.CheckCallbackArrives, conformance.CheckCallbackValid, conformance.CheckCallbackOrder}
	for _, tc := range []struct {
		name   string
		down   bool
		flaws  *kafkaFlaws // nil: no system runs
		fail   []string
		reason map[string]string
	}{
		{name: "a cluster that is down", down: true, fail: kafkaIDs},
		{name: "a department that is down", fail: kafkaIDs[1:], reason: map[string]string{
			conformance.CheckKafkaCommit: "has committed nothing", conformance.CheckKafkaResults: "nothing to judge",
		}},
		{name: "a department that commits under the hub-prefixed group", flaws: &kafkaFlaws{group: "yjshub." + kafkaGroup},
			fail: []string{conformance.CheckKafkaCommit}, reason: map[string]string{conformance.CheckKafkaCommit: "exactly"}},
		{name: "a department that never commits", flaws: &kafkaFlaws{noCommit: true}, fail: []string{conformance.CheckKafkaCommit}},
		{name: "a department that publishes in binary mode", flaws: &kafkaFlaws{binary: true}},
		{name: "a department that publishes structured without content-type", flaws: &kafkaFlaws{noHeader: true},
			reason: map[string]string{conformance.CheckKafkaResults: "without the header content-type"}},
		{name: "a department that names another source", flaws: &kafkaFlaws{source: "/departments/health"},
			fail: results, reason: map[string]string{conformance.CheckKafkaResults: `source "/departments/health"`}},
		{name: "a department that keys results by sub-case", flaws: &kafkaFlaws{keyed: "not-the-case"},
			fail: results, reason: map[string]string{conformance.CheckKafkaResults: "the key is not the case id"}},
		{name: "a department that reports received after its decision", flaws: &kafkaFlaws{types: []string{"rejected", "received"}},
			fail: []string{conformance.CheckCallbackOrder}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c cluster
			if tc.down {
				c = cluster{brokers: []string{strings.TrimSuffix(strings.TrimPrefix(downTarget(t), "http://"), "/subcases")}}
			} else {
				c = fakeCluster(t)
			}
			var system func(ctx context.Context)
			if tc.flaws != nil {
				system = kafkaDepartment(t, c, *tc.flaws)
			}
			r := runKafka(t, c, 3*time.Second, system)
			want := everyKafka(conformance.Pass)
			for _, id := range tc.fail {
				want[id] = conformance.Fail
			}
			wantResults(t, r, want)
			if r.Passed != (len(tc.fail) == 0) {
				t.Errorf("Passed = %v", r.Passed)
			}
			for id, s := range tc.reason {
				if c, _ := r.Check(id); !strings.Contains(c.Reason, s) {
					t.Errorf("%s: reason %q does not say %q", id, c.Reason, s)
				}
			}
		})
	}
}
