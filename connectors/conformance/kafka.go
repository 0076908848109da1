package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	segkafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"yjshub/hub/bus"
	"yjshub/hub/event"
)

// KindKafka is the Kafka binding (connectors/kafka/README.md): the department consumes its
// sub-cases from the hub's cluster in its own consumer group and publishes results to
// yjs.result. The kit produces a sub-case record and judges what the department does with it.
const KindKafka = "kafka"

// Check ids of the kafka kind, in the order of the report; the callback checks follow.
const (
	CheckKafkaProduce = "kafka-produce"
	CheckKafkaCommit  = "kafka-commit"
	CheckKafkaResults = "kafka-results"
)

// cloudEventsJSON is the media type of a structured-mode record (the CloudEvents Kafka
// protocol binding).
const cloudEventsJSON = "application/cloudevents+json"

func kafkaChecks() []Check {
	return []Check{
		{ID: CheckKafkaProduce, Title: "the kit can publish the sub-case to the department's topic", Required: true},
		{ID: CheckKafkaCommit, Title: "the department's own consumer group commits past the sub-case", Required: true},
		{ID: CheckKafkaResults, Title: "results are CloudEvents records the hub takes (type, source, subject, case id as key)", Required: true},
	}
}

// resultRecord is a record of yjs.result about the kit's sub-case, as the hub reads it.
type resultRecord struct {
	data     []byte   // the department event
	problems []string // why the hub would not take it
	note     string   // tolerated, but worth knowing
}

// runKafka publishes a sub-case to yjs.subcase.<dept> in structured mode and judges the
// department's consumer group and its results on yjs.result.
func (k *kit) runKafka(ctx context.Context) error {
	h, err := newHub()
	if err != nil {
		return err
	}
	k.hub = h
	brokers := splitBrokers(k.cfg.Target)
	k.report.Target = strings.Join(brokers, ",")
	subTopic := k.cfg.Namespace + bus.SubcaseTopic(k.cfg.Department)
	resTopic := k.cfg.Namespace + bus.TopicResult
	valid := k.subcase("valid")
	started := time.Now()

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ConsumeTopics(resTopic),
		// Records stamped from a minute before the run: the department's results, never the
		// whole history of yjs.result, with room for the department's clock.
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(started.Add(-time.Minute).UnixMilli())),
		// The default partitioner hashes keys with murmur2, as the Java client and the hub
		// do, so that the sub-case lands where the hub would put it.
	)
	if err != nil {
		return fmt.Errorf("conformance: kafka client: %w", err)
	}
	defer cl.Close()

	var produced *kgo.Record
	k.check(kafkaChecks()[0], func() (string, string) {
		pctx, cancel := context.WithTimeout(ctx, k.cfg.Timeout)
		defer cancel()
		stop := k.waiting("the cluster to take the record", k.cfg.Timeout)
		defer stop()
		rec := &kgo.Record{Topic: subTopic, Key: []byte(valid.caseID), Value: valid.raw, Headers: []kgo.RecordHeader{
			{Key: "content-type", Value: []byte(cloudEventsJSON + "; charset=utf-8")},
			{Key: "traceparent", Value: []byte("00-" + randomHex(16) + "-" + randomHex(8) + "-01")},
		}}
		r, err := cl.ProduceSync(pctx, rec).First()
		if err != nil {
			return Fail, fmt.Sprintf("%s: %v (is the department configured as kind kafka, so that the hub made its topic?)", subTopic, err)
		}
		produced = r
		return Pass, fmt.Sprintf("%s partition %d offset %d", subTopic, r.Partition, r.Offset)
	})
	if produced == nil {
		for _, c := range append(kafkaChecks()[1:], callbackChecks()[:3]...) {
			c.Result, c.Reason = Fail, "nothing to judge: the sub-case could not be published"
			k.add(c)
		}
		return nil
	}

	admin := &segkafka.Client{Addr: segkafka.TCP(brokers...), Timeout: k.cfg.Timeout}
	wait := k.cfg.CallbackWait
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	k.progress.printf("…    waiting up to %v for group %s to commit and for results on %s", wait, k.cfg.Group, resTopic)
	stop := k.waiting(fmt.Sprintf("group %s to commit and results on %s", k.cfg.Group, resTopic), wait)
	var results []resultRecord
	committed, commitErr := int64(-1), error(nil)
poll:
	for {
		if committed <= produced.Offset {
			committed, commitErr = commitOf(wctx, admin, k.cfg.Group, subTopic, int(produced.Partition))
		}
		fctx, fcancel := context.WithTimeout(wctx, 200*time.Millisecond)
		fetches := cl.PollFetches(fctx)
		fcancel()
		fetches.EachRecord(func(r *kgo.Record) {
			rr, ours := decodeResult(r, k.cfg.Department, valid)
			if !ours {
				return
			}
			results = append(results, rr)
			if len(rr.problems) > 0 {
				h.record(valid.subcaseID, http.StatusUnprocessableEntity, strings.Join(rr.problems, "; "))
				return
			}
			status, problem := h.apply(valid.subcaseID, rr.data)
			h.record(valid.subcaseID, status, problem)
		})
		if committed > produced.Offset && h.settledQuiet(valid.subcaseID) {
			break
		}
		select {
		case <-wctx.Done():
			break poll
		default:
		}
	}
	stop()

	k.check(kafkaChecks()[1], func() (string, string) {
		switch {
		case committed > produced.Offset:
			return Pass, fmt.Sprintf("group %s committed offset %d on partition %d (the sub-case is at %d)", k.cfg.Group, committed, produced.Partition, produced.Offset)
		case commitErr != nil:
			return Fail, fmt.Sprintf("the commits of group %s cannot be read: %v", k.cfg.Group, commitErr)
		case committed < 0:
			return Fail, fmt.Sprintf("group %s has committed nothing on %s partition %d within %v: the hub counts a sub-case delivered only once the department's own group (group_id of the connectors file, exactly) commits past it",
				k.cfg.Group, subTopic, produced.Partition, wait)
		default:
			return Fail, fmt.Sprintf("group %s committed %d on partition %d, not past the sub-case at %d, within %v", k.cfg.Group, committed, produced.Partition, produced.Offset, wait)
		}
	})
	k.check(kafkaChecks()[2], func() (string, string) {
		var bad, notes []string
		for _, r := range results {
			if len(r.problems) > 0 {
				bad = append(bad, strings.Join(r.problems, "; "))
			}
			if r.note != "" {
				notes = append(notes, r.note)
			}
		}
		switch {
		case len(results) == 0:
			return Fail, fmt.Sprintf("nothing to judge: no record about the sub-case on %s within %v", resTopic, wait)
		case len(bad) > 0:
			return Fail, fmt.Sprintf("%d of %d records would be dead letters: %s", len(bad), len(results), firstOf(bad))
		case len(notes) > 0:
			return Pass, fmt.Sprintf("%d records; %s", len(results), firstOf(notes))
		default:
			return Pass, fmt.Sprintf("%d records", len(results))
		}
	})
	for _, c := range k.judgeCallbacks(valid.subcaseID, answer{status: http.StatusOK})[:3] {
		k.add(c)
	}
	return nil
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// commitOf is the offset group has committed on a partition of topic; -1 for none.
func commitOf(ctx context.Context, c *segkafka.Client, group, topic string, partition int) (int64, error) {
	resp, err := c.OffsetFetch(ctx, &segkafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {partition}}})
	if err == nil {
		err = resp.Error
	}
	if errors.Is(err, segkafka.GroupIdNotFound) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	for _, p := range resp.Topics[topic] {
		if p.Partition == partition {
			if p.Error != nil {
				return -1, p.Error
			}
			return p.CommittedOffset, nil
		}
	}
	return -1, nil
}

// decodeResult reads a record of yjs.result as the hub does, in structured mode (the value
// an envelope; content-type application/cloudevents+json) or binary mode (ce_ headers, the
// value the event): ours when it is about the kit's sub-case (its subject, or its key the
// case's id).
func decodeResult(r *kgo.Record, dept string, s sent) (resultRecord, bool) {
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[strings.ToLower(h.Key)] = string(h.Value)
	}
	var out resultRecord
	var env event.Envelope
	mt, _, _ := mime.ParseMediaType(headers["content-type"])
	var specversion string
	switch {
	case headers["ce_specversion"] != "":
		// Binary mode: the attributes in headers, the value the data.
		env = event.Envelope{ID: headers["ce_id"], Type: headers["ce_type"], Source: headers["ce_source"], Subject: headers["ce_subject"], Data: r.Value}
		specversion = headers["ce_specversion"]
		if mt != "" && mt != "application/json" {
			out.problems = append(out.problems, fmt.Sprintf("binary mode with content-type %q: the data must be application/json", mt))
		}
	default:
		if err := json.Unmarshal(r.Value, &env); err != nil {
			if string(r.Key) != s.caseID {
				return out, false
			}
			out.problems = append(out.problems, "the value is not a JSON CloudEvents envelope and there is no ce_specversion header (binary mode)")
			return out, true
		}
		specversion = env.SpecVersion
		switch {
		case mt == cloudEventsJSON:
		case mt == "":
			// The hub read structured envelopes without the header before it followed the
			// binding; official SDKs do not.
			out.note = "a structured envelope without the header content-type: application/cloudevents+json, which the CloudEvents SDKs need to read it"
		default:
			out.problems = append(out.problems, fmt.Sprintf("content-type %q: structured mode is application/cloudevents+json", mt))
		}
	}
	if env.Subject != s.subcaseID && string(r.Key) != s.caseID {
		return out, false
	}
	if specversion != "1.0" {
		out.problems = append(out.problems, fmt.Sprintf("specversion %q, not 1.0", specversion))
	}
	if env.ID == "" {
		out.problems = append(out.problems, "no id")
	}
	if env.Type != event.TypeSubcaseEvent {
		out.problems = append(out.problems, fmt.Sprintf("type %q, not %s", env.Type, event.TypeSubcaseEvent))
	}
	if want := "/departments/" + dept; env.Source != want {
		out.problems = append(out.problems, fmt.Sprintf("source %q, not %s", env.Source, want))
	}
	if env.Subject != s.subcaseID {
		out.problems = append(out.problems, "subject is not the sub-case's id")
	}
	if string(r.Key) != s.caseID {
		out.problems = append(out.problems, "the key is not the case id (data.case_id of the sub-case)")
	}
	out.data = env.Data
	return out, true
}
