package kafkaconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/tracing"
	"yjshub/jsonstrict"
	"yjshub/problem"
)

// SourcePrefix starts the CloudEvents source of an event a department publishes:
// "/departments/<code>".
const SourcePrefix = "/departments/"

// ResultsName is the results consumer's name in the status API.
const ResultsName = Kind + ":results"

// Hub is what the results consumer needs of the case service; [CaseService] adapts
// *cases.Service. Errors steer it: cases.ErrNotFound, cases.ErrConflict and
// *problem.Error are permanent (a dead letter), anything else is retried. Its methods are
// called from up to ResultsConfig.Concurrency goroutines at once, never for one case at once.
type Hub interface {
	// ApplyEvent applies a department's event to its sub-case, idempotently per event id.
	ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) error
	// Department returns the code of the department that handles sub-case subcaseID of case
	// caseID, or cases.ErrNotFound when the case has no such sub-case.
	Department(ctx context.Context, caseID, subcaseID string) (string, error)
}

// CaseService adapts the hub's case service to [Hub].
func CaseService(svc *cases.Service) Hub { return caseService{svc} }

type caseService struct{ svc *cases.Service }

func (c caseService) ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) error {
	_, _, err := c.svc.ApplyEvent(ctx, subcaseID, ev)
	return err
}

// Department reads the sub-case's row alone, not the whole case.
func (c caseService) Department(ctx context.Context, caseID, subcaseID string) (string, error) {
	owner, dept, err := c.svc.SubcaseOwner(ctx, subcaseID)
	if err != nil {
		return "", err
	}
	if owner != caseID {
		return "", fmt.Errorf("sub-case of the case: %w", cases.ErrNotFound)
	}
	return dept, nil
}

// Results applies the events departments publish to yjs.result. It is safe for concurrent
// use; Run may run more than once at a time (members of the group).
type Results struct {
	cfg ResultsConfig
	bus *bus.Bus
	hub Hub
	rec connector.Recorder
	log *slog.Logger

	// counters: Delivered counts the events applied, Failed the dead letters.
	counters connector.Counters
}

// NewResults returns the results consumer.
func NewResults(cfg ResultsConfig, b *bus.Bus, hub Hub, rec connector.Recorder, opts ...Option) (*Results, error) {
	if cfg.GroupID == "" {
		cfg.GroupID = DefaultResultsGroup
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.ConflictRetry == 0 {
		cfg.ConflictRetry = DefaultConflictRetry
	}
	var errs []error
	if strings.TrimSpace(cfg.GroupID) != cfg.GroupID {
		errs = append(errs, fmt.Errorf("group_id: %q has leading or trailing space", cfg.GroupID))
	}
	if err := validateConcurrency("concurrency", cfg.Concurrency); err != nil {
		errs = append(errs, err)
	}
	for _, dep := range []struct {
		name    string
		missing bool
	}{{"bus", b == nil}, {"hub", hub == nil}, {"recorder", rec == nil}} {
		if dep.missing {
			errs = append(errs, fmt.Errorf("%s: required", dep.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kafka results: invalid configuration: %w", err)
	}
	cfg.Departments = slices.Clone(cfg.Departments)
	o := buildOptions(opts)
	return &Results{cfg: cfg, bus: b, hub: hub, rec: rec, log: o.log.With("connector", ResultsName)}, nil
}

// Run consumes yjs.result in the results group until ctx ends (then it returns nil) or an
// event could not be applied for a reason that may pass (then it returns the error, and the
// event, uncommitted, is applied by the next Run). Up to Concurrency events are applied at
// once, one case's one at a time in publish order (the key is the case id, and an event whose
// key is not its sub-case's case is never applied); offsets are committed in batches, each
// only once it and every event before it on its partition were applied or dead-lettered.
func (r *Results) Run(ctx context.Context) error {
	r.log.InfoContext(ctx, "kafka: applying department results", "topic", r.bus.TopicName(bus.TopicResult), "group", r.bus.GroupName(r.cfg.GroupID),
		"concurrency", r.cfg.Concurrency, "conflict_retry", r.cfg.ConflictRetry)
	err := r.bus.Subscribe(ctx, bus.SubscribeConfig{Topic: bus.TopicResult, GroupID: r.cfg.GroupID, Concurrency: r.cfg.Concurrency}, r.handle)
	if err == nil || ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("kafka results: %w", err)
}

// permanent is a reason a message will never be applied.
type permanent struct {
	reason  string
	dept    string
	eventID string
}

// handle applies one message; returning nil commits it.
func (r *Results) handle(ctx context.Context, m bus.Received) error {
	r.counters.InFlight(1)
	defer r.counters.InFlight(-1)
	caseID := string(m.Key)
	p, d := r.decode(m)
	if p == nil {
		dept, err := r.hub.Department(ctx, caseID, d.subcaseID)
		switch {
		case errors.Is(err, cases.ErrNotFound):
			p = &permanent{reason: "unknown sub-case: the Kafka key must be the case id and the subject a sub-case of it"}
		case err != nil:
			return r.transient(ctx, m, d.ev.EventID, err)
		case dept != d.dept:
			p = &permanent{reason: "the sub-case is handled by another department than the event's source"}
		}
	}
	if p == nil {
		err := r.hub.ApplyEvent(traceContext(ctx, m, d.traceParent), d.subcaseID, d.ev)
		var ve *problem.Error
		switch {
		case err == nil:
			r.counters.Delivered(time.Now())
			r.log.DebugContext(ctx, "kafka: applied a department event", "event_id", d.ev.EventID, "type", d.ev.Type,
				"case_id", caseID, "subcase_id", d.subcaseID, "partition", m.Partition, "offset", m.Offset)
			return nil
		case errors.Is(err, cases.ErrConflict):
			retried, rerr := r.retryConflict(ctx, m, d.ev.EventID, err)
			if rerr != nil || retried {
				return rerr
			}
			p = &permanent{reason: "conflict: " + err.Error()}
			if m.Headers[HeaderConflictSince] != "" {
				p.reason += fmt.Sprintf(" (tried again for %s)", r.cfg.ConflictRetry)
			}
		case errors.As(err, &ve):
			p = &permanent{reason: ve.Error()}
		case errors.Is(err, cases.ErrNotFound):
			p = &permanent{reason: "unknown sub-case"}
		default:
			return r.transient(ctx, m, d.ev.EventID, err)
		}
	}
	if p.eventID == "" {
		p.eventID = d.ev.EventID
	}
	if d.raw != nil {
		m.Value = d.raw
	}
	return r.fail(ctx, m, caseID, p)
}

// traceContext is ctx with the trace context a department's result carries, for the event to
// continue the department's trace: its record's traceparent header, else its event's
// traceparent attribute (the CloudEvents distributed tracing extension: in the envelope in
// structured mode, the ce_traceparent header in binary mode). Without either the event joins
// the case's trace.
func traceContext(ctx context.Context, m bus.Received, traceParent string) context.Context {
	if m.Headers[tracing.HeaderTraceParent] != "" {
		return tracing.ExtractHeaders(ctx, m.Headers)
	}
	if traceParent != "" {
		return tracing.ExtractHeaders(ctx, map[string]string{tracing.HeaderTraceParent: traceParent})
	}
	return ctx
}

// decoded is a result read from its record.
type decoded struct {
	subcaseID, dept, traceParent string
	ev                           event.DepartmentEvent
	// raw is the event as a structured-mode envelope: the value itself, or in binary mode the
	// envelope made of its headers and data, which a dead letter keeps so that its replay
	// (published without the record's headers) is read again.
	raw []byte
}

// decode checks a message against the contract (README.md), in either content mode of the
// CloudEvents Kafka binding; p is not nil when it breaks it.
func (r *Results) decode(m bus.Received) (p *permanent, d decoded) {
	env, mode, raw, err := event.DecodeKafka(m.Value, m.Headers)
	d.raw = raw
	switch {
	case err != nil && env.ID == "":
		return &permanent{reason: "undecodable message: " + err.Error()}, d
	case err != nil:
		return &permanent{reason: "undecodable message: " + err.Error(), eventID: env.ID}, d
	}
	if ps := jsonstrict.Check(m.Value, jsonstrict.Limits{}); len(ps) > 0 { // a duplicate key, a control character
		return &permanent{reason: "undecodable message: " + mode + " mode: " + ps[0].Rule + " at " + strconv.Quote(ps[0].Path), eventID: env.ID}, d
	}
	dept, hasDept := strings.CutPrefix(env.Source, SourcePrefix)
	switch {
	case env.Type != event.TypeSubcaseEvent:
		return &permanent{reason: fmt.Sprintf("undecodable message: type %q is not %s", clip(env.Type), event.TypeSubcaseEvent), eventID: env.ID}, d
	case env.Subject == "":
		return &permanent{reason: "undecodable message: no subject (the sub-case id)", eventID: env.ID}, d
	case !hasDept || dept == "":
		return &permanent{reason: "undecodable message: the source is not " + SourcePrefix + "<department code>", eventID: env.ID}, d
	case len(r.cfg.Departments) > 0 && !slices.Contains(r.cfg.Departments, dept):
		return &permanent{reason: fmt.Sprintf("department %q does not report through Kafka", clip(dept)), dept: dept, eventID: env.ID}, d
	}
	dec := json.NewDecoder(bytes.NewReader(env.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d.ev); err != nil {
		return &permanent{reason: "undecodable message: the data is not a department event", dept: dept, eventID: env.ID}, d
	}
	d.subcaseID, d.dept, d.traceParent = env.Subject, dept, env.TraceParent
	return nil, d
}

func (r *Results) transient(ctx context.Context, m bus.Received, eventID string, err error) error {
	r.counters.Failure(time.Now(), "applying an event failed; it will be applied again")
	r.log.WarnContext(ctx, "kafka: applying a department event failed; not committed", "event_id", eventID,
		"partition", m.Partition, "offset", m.Offset, "error", err)
	return fmt.Errorf("event %s at partition %d offset %d: %w", eventID, m.Partition, m.Offset, err)
}

// fail records a message that will never be applied, as a dead letter.
func (r *Results) fail(ctx context.Context, m bus.Received, caseID string, p *permanent) error {
	r.log.WarnContext(ctx, "kafka: department event not applied, recording it as failed", "event_id", p.eventID,
		"case_id", caseID, "partition", m.Partition, "offset", m.Offset, "reason", p.reason)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	// SubcaseID stays empty: the hub's recorder would take the failure for a failed delivery of
	// a dispatched sub-case. The payload carries the subject.
	err := r.rec.Failed(rctx, connector.Failure{
		Delivery: connector.Delivery{Connector: ResultsName, EventID: p.eventID, CaseID: caseID, Department: p.dept, At: time.Now()},
		Reason:   p.reason, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Payload: m.Value,
	})
	if err != nil {
		return fmt.Errorf("kafka results: record failure at partition %d offset %d: %w", m.Partition, m.Offset, err)
	}
	r.counters.Failed()
	r.counters.Failure(time.Now(), p.reason)
	return nil
}

// clip bounds text taken from a message for a reason.
func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}

// Status reports the results consumer: its topic and group (the manager fills in the lag),
// events applied and dead letters; Detail gives their names on the cluster, with the namespace.
func (r *Results) Status() connector.Status {
	s := r.counters.Snapshot()
	return connector.Status{
		Name: ResultsName, Kind: Kind, Topic: bus.TopicResult, Group: r.cfg.GroupID,
		Delivered: s.Delivered, Failed: s.Failed, DeadLetters: s.Failed, InFlight: s.InFlight, History: &s.History,
		LastSuccess: connector.TimePtr(s.LastSuccess), LastError: connector.TimePtr(s.LastError), LastErrorMessage: s.LastErrorMessage,
		Detail: map[string]any{"departments": slices.Clone(r.cfg.Departments), "cluster_group": r.bus.GroupName(r.cfg.GroupID),
			"cluster_topic": r.bus.TopicName(bus.TopicResult), "conflict_retry": r.cfg.ConflictRetry.String()},
	}
}
