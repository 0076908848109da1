package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
)

// The CloudEvents Kafka protocol binding (cloudevents/spec kafka-protocol-binding.md, 1.0).
// The hub writes every record in structured content mode: the value is the JSON envelope it
// signs and stores, byte for byte what REST push posts, and the content-type header says so.
// It writes no ce_ headers, which would make a record ambiguous to readers that look for
// them first. It reads results in both modes, which is what the official SDKs write: Java's
// serializer defaults to binary, Python's to_structured and to_binary write either.
const (
	// KafkaStructuredContentType is the content-type header of every record the hub writes:
	// the binding's structured mode with the JSON event format.
	KafkaStructuredContentType = "application/cloudevents+json; charset=UTF-8"
	// KafkaHeaderContentType is the record header that names the content mode (structured)
	// or, in binary mode, the media type of the data.
	KafkaHeaderContentType = "content-type"
	// KafkaHeaderPrefix starts the name of every attribute header of binary mode.
	KafkaHeaderPrefix = "ce_"
)

// Kafka content modes, as [DecodeKafka] reports them.
const (
	ModeStructured = "structured"
	ModeBinary     = "binary"
)

// KafkaHeaders returns the headers of a record the hub writes in structured mode: headers
// without their ce_ attribute headers (a record in structured mode carries its attributes
// in its value only), with the structured content-type, and every other header (traceparent,
// tracestate, dlq_replay_of) kept. headers is not changed.
func KafkaHeaders(headers map[string]string) map[string]string {
	out := make(map[string]string, len(headers)+1)
	for k, v := range headers {
		if strings.HasPrefix(strings.ToLower(k), KafkaHeaderPrefix) || strings.EqualFold(k, KafkaHeaderContentType) {
			continue
		}
		out[k] = v
	}
	out[KafkaHeaderContentType] = KafkaStructuredContentType
	return out
}

// ErrUnknownEncoding is returned by [DecodeKafka] for a record that is in neither content
// mode of the binding.
var ErrUnknownEncoding = errors.New("unknown CloudEvents encoding: neither structured (content-type application/cloudevents+json) nor binary (a ce_specversion header)")

// DecodeKafka reads the CloudEvent of a Kafka record in either content mode of the binding and
// returns it as an envelope, with the mode it was in:
//   - structured: the content-type header is application/cloudevents+json (any parameters);
//     the value is the envelope. Also a record with no content-type header and no ce_specversion
//     header whose value is a JSON object with specversion: what Python's to_structured writes
//     when the event has a datacontenttype (it moves it to the header), and what departments
//     published before the header was documented.
//   - binary: a ce_specversion header; the attributes are the ce_ headers and the value is
//     the data, in the media type of the content-type header (JSON types only; none means JSON).
//
// raw is the envelope's JSON: the value itself in structured mode, an envelope made of the
// headers and the data in binary mode (what a dead letter keeps, so that its replay is
// structured). The error says what is wrong without quoting the value.
func DecodeKafka(value []byte, headers map[string]string) (env Envelope, mode string, raw []byte, err error) {
	h := make(map[string]string, len(headers))
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	ct, hasCT := h[KafkaHeaderContentType]
	media := ""
	if hasCT {
		media, _, _ = mime.ParseMediaType(ct)
		media = strings.ToLower(media)
	}
	_, hasSpec := h[KafkaHeaderPrefix+"specversion"]
	switch {
	case strings.HasPrefix(media, "application/cloudevents-batch"):
		return env, "", nil, errors.New("a CloudEvents batch: publish one event per record")
	case strings.HasPrefix(media, "application/cloudevents"):
		if media != "application/cloudevents+json" {
			return env, ModeStructured, nil, fmt.Errorf("structured mode with event format %q: only application/cloudevents+json is read", clipped(media))
		}
		env, err = decodeStructured(value)
		return env, ModeStructured, value, err
	case hasSpec:
		env, err = decodeBinary(value, h, ct, media)
		if err != nil {
			return env, ModeBinary, nil, err
		}
		raw, err = json.Marshal(env)
		return env, ModeBinary, raw, err
	case looksStructured(value):
		env, err = decodeStructured(value)
		return env, ModeStructured, value, err
	}
	return env, "", nil, ErrUnknownEncoding
}

// looksStructured tells a JSON object with a specversion member.
func looksStructured(value []byte) bool {
	var probe struct {
		SpecVersion *string `json:"specversion"`
	}
	return json.Unmarshal(value, &probe) == nil && probe.SpecVersion != nil
}

func decodeStructured(value []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(value, &env); err != nil {
		return env, errors.New("structured mode: the value is not a JSON event envelope")
	}
	return env, checkRequired(env, "")
}

func decodeBinary(value []byte, h map[string]string, ct, media string) (Envelope, error) {
	p := KafkaHeaderPrefix
	env := Envelope{SpecVersion: h[p+"specversion"], ID: h[p+"id"], Type: h[p+"type"], Source: h[p+"source"],
		Subject: h[p+"subject"], DataContentType: ct, TraceParent: h[p+"traceparent"]}
	var errs []error
	if t := h[p+"time"]; t != "" {
		at, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			errs = append(errs, errors.New("binary mode: ce_time is not an RFC 3339 time"))
		}
		env.Time = at
	}
	if media != "" && media != "application/json" && !strings.HasSuffix(media, "+json") && media != "text/json" {
		errs = append(errs, fmt.Errorf("binary mode: the data's content-type %q is not JSON", clipped(media)))
	} else if !json.Valid(value) {
		errs = append(errs, errors.New("binary mode: the value (the data) is not JSON"))
	} else {
		env.Data = json.RawMessage(value)
	}
	if env.DataContentType == "" {
		env.DataContentType = "application/json"
	}
	errs = append(errs, checkRequired(env, p))
	return env, errors.Join(errs...)
}

// checkRequired names every required attribute missing, as the mode spells it (prefix ce_ in
// binary mode).
func checkRequired(env Envelope, prefix string) error {
	mode := "structured mode"
	if prefix != "" {
		mode = "binary mode"
	}
	var missing []string
	for _, a := range []struct{ name, v string }{{"specversion", env.SpecVersion}, {"id", env.ID}, {"source", env.Source}, {"type", env.Type}} {
		if a.v == "" {
			missing = append(missing, prefix+a.name)
		}
	}
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%s: no %s", mode, strings.Join(missing, ", ")))
	}
	if env.SpecVersion != "" && env.SpecVersion != SpecVersion {
		errs = append(errs, fmt.Errorf("%s: %sspecversion %q is not %s", mode, prefix, clipped(env.SpecVersion), SpecVersion))
	}
	return errors.Join(errs...)
}

// clipped bounds text taken from a record for an error.
func clipped(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}
