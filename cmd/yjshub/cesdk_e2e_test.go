package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// cesdkPython returns the python of the virtualenv that scripts/cesdk.sh installed the official
// CloudEvents SDK and confluent-kafka into; the test is skipped without it, unless
// YJSHUB_REQUIRE_REAL is set (`make test` installs it: `make cesdk`).
func cesdkPython(t *testing.T) string {
	t.Helper()
	return installedTool(t, "cesdk.sh", "the CloudEvents SDK test's virtualenv")
}

// sdkEvent is what tests/cesdk/cesdk.py prints of an event it decoded with from_structured.
type sdkEvent struct {
	Topic   string          `json:"topic"`
	Key     string          `json:"key"`
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Source  string          `json:"source"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// runSDK runs tests/cesdk/cesdk.py with args and returns what it printed; a failure shows its
// reason (the SDK's own, for a record it cannot decode).
func runSDK(t *testing.T, python string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{filepath.Join("..", "..", "tests", "cesdk", "cesdk.py")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cesdk.py %s: %v\n%s", args[0], err, stderr.String())
	}
	return out
}

func sdkEvents(t *testing.T, out []byte) []sdkEvent {
	t.Helper()
	var evs []sdkEvent
	for line := range strings.Lines(string(out)) {
		var e sdkEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("cesdk.py printed %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// The official CloudEvents Python SDK, with librdkafka for a client, reads the records the hub
// writes without configuration (structured mode), and the results it publishes in binary and
// in structured mode are applied. The department consumes in the group its connectors file
// names, as written: the hub, in a namespace, sees its commit and records the delivery.
func TestTheCloudEventsSDKReadsTheHubsRecordsAndPublishesResultsInBothModes(t *testing.T) {
	python := cesdkPython(t)
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			group := "yc-approval-" + hubtest.RandomHex(4)
			o.connectorsFile = filepath.Join(t.TempDir(), "connectors.yaml")
			yaml := "departments:\n  tobacco:\n    kind: kafka\n    kafka:\n      group_id: " + group + "\n      poll_interval: 100ms\n"
			if err := os.WriteFile(o.connectorsFile, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			brokersc := make(chan []string, 1)
			o.busReady = brokersc
			hub, _ := startSimulatedHub(t, o)
			brokers := strings.Join(<-brokersc, ",")

			var v cases.CaseView
			if code := postJSON(t, hub+"/api/v1/cases", readExample(t, "open-bar-individual"), &v); code != 201 {
				t.Fatalf("submit: %d", code)
			}
			var sc cases.SubcaseView
			for _, s := range v.Subcases {
				if s.Department.Code == "tobacco" {
					sc = s
				}
			}
			if sc.ID == "" {
				t.Fatal("the example has no tobacco sub-case")
			}

			// The department's back office reads its sub-case.
			evs := sdkEvents(t, runSDK(t, python, "read", "--brokers", brokers, "--topic", o.namespace+bus.SubcaseTopic("tobacco"),
				"--group", group, "--key", v.ID, "--count", "1"))
			var data event.SubcaseDispatched
			if len(evs) != 1 || json.Unmarshal(evs[0].Data, &data) != nil {
				t.Fatalf("the SDK read %+v, want the sub-case", evs)
			}
			if e := evs[0]; e.Type != event.TypeSubcaseDispatched || e.Source != event.Source || e.Subject != sc.ID ||
				data.SubcaseID != sc.ID || data.CaseID != v.ID || data.Department != "tobacco" {
				t.Errorf("the SDK decoded %s %s %s %s with data for %s/%s, want the dispatch of %s", e.Type, e.Source, e.Subject, e.ID,
					data.CaseID, data.SubcaseID, sc.ID)
			}
			// A platform reads the case's events on yjs.case.event the same way.
			caseEvents := sdkEvents(t, runSDK(t, python, "read", "--brokers", brokers, "--topic", o.namespace+bus.TopicCaseEvent,
				"--group", "platform-"+hubtest.RandomHex(4), "--key", v.ID, "--count", "1"))
			if caseEvents[0].Type != event.TypeCaseUpdated {
				t.Errorf("the SDK read a case event of type %s, want %s", caseEvents[0].Type, event.TypeCaseUpdated)
			}

			// Its commit, under its group as written, is the delivery.
			waitCase(t, hub, v.ID, "the tobacco sub-case delivered", func(v cases.CaseView) bool {
				return subcaseOf(v, sc.ID).DeliveredAt != nil
			})
			var st connector.Status
			if code := getJSON(t, hub+"/api/v1/connectors/kafka:tobacco", &st); code != 200 || st.Group != group || st.Lag != 0 {
				t.Errorf("the connector's status: %d, group %q, lag %d; want group %q as the connectors file names it, lag 0", code, st.Group, st.Lag, group)
			}

			// It reports back in binary mode (Java's default), then in structured mode.
			for _, step := range []struct{ mode, typ, state string }{
				{"binary", event.Received, cases.StateReceived},
				{"structured", event.Accepted, cases.StateAccepted},
			} {
				id := "yc-" + step.typ + "-" + hubtest.RandomHex(4)
				out := runSDK(t, python, "publish", "--brokers", brokers, "--topic", o.namespace+bus.TopicResult, "--key", v.ID,
					"--mode", step.mode, "--id", id, "--source", "/departments/tobacco", "--subject", sc.ID,
					"--data", `{"event_id": "`+id+`", "type": "`+step.typ+`"}`)
				var sent struct {
					Headers               []string
					Partition, Partitions int
				}
				if err := json.Unmarshal(out, &sent); err != nil || sent.Partitions < 1 {
					t.Fatalf("cesdk.py publish printed %q", out)
				}
				// librdkafka with partitioner=murmur2_random, as the README says, puts the case
				// where the hub's own writer (kafka-go's Murmur2Balancer, Java's hash) would.
				all := make([]int, sent.Partitions)
				for i := range all {
					all[i] = i
				}
				if want := (kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(v.ID)}, all...); sent.Partition != want {
					t.Errorf("the SDK's record went to partition %d of %d, the hub's murmur2 to %d", sent.Partition, sent.Partitions, want)
				}
				hasSpec := strings.Contains(strings.Join(sent.Headers, " "), "ce_specversion")
				if hasSpec != (step.mode == "binary") {
					t.Errorf("the SDK's %s record has headers %v", step.mode, sent.Headers)
				}
				waitCase(t, hub, v.ID, "the "+step.mode+" result applied", func(v cases.CaseView) bool {
					return subcaseOf(v, sc.ID).State == step.state
				})
			}
			var results connector.Status
			if code := getJSON(t, hub+"/api/v1/connectors/kafka:results", &results); code != 200 || results.Delivered < 2 || results.DeadLetters != 0 {
				t.Errorf("the results consumer: %d, %d applied, %d dead letters; want both applied, none dead", code, results.Delivered, results.DeadLetters)
			}
		})
	}
}

func subcaseOf(v cases.CaseView, id string) cases.SubcaseView {
	for _, s := range v.Subcases {
		if s.ID == id {
			return s
		}
	}
	return cases.SubcaseView{}
}
