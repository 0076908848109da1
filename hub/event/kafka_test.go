package event_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"yjshub/hub/event"
)

func TestTheHubsRecordsAreInStructuredModeWithTheirOtherHeadersKept(t *testing.T) {
	in := map[string]string{"ce_type": event.TypeSubcaseDispatched, "CE_ID": "ev_1", "Content-Type": "application/json",
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "dlq_replay_of": "dl_1"}
	before := maps.Clone(in)
	got := event.KafkaHeaders(in)
	want := map[string]string{"content-type": event.KafkaStructuredContentType,
		"traceparent": in["traceparent"], "dlq_replay_of": "dl_1"}
	if !maps.Equal(got, want) {
		t.Errorf("KafkaHeaders = %v, want %v", got, want)
	}
	if !maps.Equal(in, before) {
		t.Errorf("KafkaHeaders changed its argument to %v", in)
	}
	if got := event.KafkaHeaders(nil); len(got) != 1 || got["content-type"] != event.KafkaStructuredContentType {
		t.Errorf("KafkaHeaders(nil) = %v", got)
	}
}

func TestAResultIsReadInEitherContentMode(t *testing.T) {
	const envelope = `{"specversion":"1.0","id":"ev_1","type":"cn.yjshub.subcase.event","source":"/departments/tobacco","subject":"sc_1","time":"2026-12-01T15:00:00+08:00","data":{"event_id":"ev_1","type":"received"}}`
	binary := map[string]string{"ce_specversion": "1.0", "ce_id": "ev_1", "ce_type": event.TypeSubcaseEvent, "ce_source": "/departments/tobacco",
		"ce_subject": "sc_1", "ce_time": "2026-12-01T15:00:00+08:00", "content-type": "application/json"}
	for _, tc := range []struct {
		name    string
		value   string
		headers map[string]string
		mode    string
	}{
		{"structured, as the binding names it", envelope, map[string]string{"content-type": "application/cloudevents+json; charset=UTF-8"}, event.ModeStructured},
		{"structured, the content-type in capitals", envelope, map[string]string{"Content-Type": "Application/CloudEvents+JSON"}, event.ModeStructured},
		{"structured, with ce_ headers that the content-type overrides", envelope,
			map[string]string{"content-type": event.KafkaStructuredContentType, "ce_id": "other"}, event.ModeStructured},
		{"structured without a content-type (before it was documented)", envelope, nil, event.ModeStructured},
		{"structured as Python's to_structured writes it: datacontenttype moved to the header", envelope,
			map[string]string{"content-type": "application/json"}, event.ModeStructured},
		{"binary, as Java's serializer and Python's to_binary write it", `{"event_id":"ev_1","type":"received"}`, binary, event.ModeBinary},
		{"binary without a content-type: JSON", `{"event_id":"ev_1","type":"received"}`, without(binary, "content-type"), event.ModeBinary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, mode, raw, err := event.DecodeKafka([]byte(tc.value), tc.headers)
			if err != nil {
				t.Fatal(err)
			}
			if mode != tc.mode || env.ID != "ev_1" || env.Source != "/departments/tobacco" || env.Subject != "sc_1" ||
				env.Type != event.TypeSubcaseEvent || env.Time.IsZero() {
				t.Errorf("%s: %+v", mode, env)
			}
			var data event.DepartmentEvent
			if err := json.Unmarshal(env.Data, &data); err != nil || data.EventID != "ev_1" || data.Type != event.Received {
				t.Errorf("data %s: %v", env.Data, err)
			}
			// What a dead letter keeps reads again, with no headers, as the same event.
			again, _, _, err := event.DecodeKafka(raw, nil)
			if err != nil || again.ID != env.ID || again.Subject != env.Subject || string(again.Data) != string(env.Data) {
				t.Errorf("the envelope kept %s reads as %+v, %v", raw, again, err)
			}
		})
	}
}

func TestARecordInNeitherModeOrBrokenInItsModeIsRefusedWithEveryReason(t *testing.T) {
	for _, tc := range []struct {
		name    string
		value   string
		headers map[string]string
		want    []string
	}{
		{"no content-type, no ce_specversion, not an envelope", `{"event_id":"x"}`, nil, []string{"unknown CloudEvents encoding"}},
		{"plain text", `hello`, map[string]string{"content-type": "text/plain"}, []string{"unknown CloudEvents encoding"}},
		{"a batch", `[]`, map[string]string{"content-type": "application/cloudevents-batch+json"}, []string{"one event per record"}},
		{"structured in Avro", `x`, map[string]string{"content-type": "application/cloudevents+avro"}, []string{`event format "application/cloudevents+avro"`}},
		{"structured, not JSON", `{`, map[string]string{"content-type": event.KafkaStructuredContentType}, []string{"not a JSON event envelope"}},
		{"structured without its required attributes", `{"specversion":"0.3"}`, map[string]string{"content-type": event.KafkaStructuredContentType},
			[]string{"no id, source, type", `specversion "0.3" is not 1.0`}},
		{"binary without its required attributes, a bad time and XML data", `<x/>`,
			map[string]string{"ce_specversion": "1.0", "ce_time": "yesterday", "content-type": "application/xml"},
			[]string{"no ce_id, ce_source, ce_type", "ce_time is not an RFC 3339 time", `content-type "application/xml" is not JSON`}},
		{"binary, data that is not JSON", `{`, map[string]string{"ce_specversion": "1.0", "ce_id": "x", "ce_source": "s", "ce_type": "t"},
			[]string{"the value (the data) is not JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := event.DecodeKafka([]byte(tc.value), tc.headers)
			if err == nil {
				t.Fatal("decoded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tc.value) && len(tc.value) > 3 {
				t.Errorf("%v: quotes the value", err)
			}
		})
	}
	if _, _, _, err := event.DecodeKafka([]byte(`1`), nil); !errors.Is(err, event.ErrUnknownEncoding) {
		t.Errorf("a bare number: %v, want ErrUnknownEncoding", err)
	}
}

// FuzzDecodeKafka: whatever a record holds, decoding returns or refuses; it never panics, and
// what it returns as the envelope to keep decodes again.
func FuzzDecodeKafka(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"a","type":"t","source":"s","data":{}}`), "", "")
	f.Add([]byte(`{}`), "application/json", "1.0")
	f.Add([]byte(`x`), "application/cloudevents+json", "")
	f.Fuzz(func(t *testing.T, value []byte, contentType, specVersion string) {
		h := map[string]string{}
		if contentType != "" {
			h["content-type"] = contentType
		}
		if specVersion != "" {
			h["ce_specversion"], h["ce_id"], h["ce_source"], h["ce_type"] = specVersion, "a", "s", "t"
		}
		env, _, raw, err := event.DecodeKafka(value, h)
		if err != nil {
			return
		}
		again, _, _, err := event.DecodeKafka(raw, nil)
		if err != nil || again.ID != env.ID {
			t.Errorf("%q kept as %q reads as %+v, %v", value, raw, again, err)
		}
	})
}

func without(m map[string]string, key string) map[string]string {
	out := maps.Clone(m)
	delete(out, key)
	return out
}
