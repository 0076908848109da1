package casepush

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"yjshub/connectors/delivery"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
)

// HeaderReplayOf is the record header a dead letter's replay carries (hub/deadletter): on a
// replayed case event the runner pushes the steps it had recorded refused once more.
const HeaderReplayOf = "dlq_replay_of"

// DefaultConcurrency is how many case events the connectors that follow cases handle at once
// when their concurrency is not set; MaxConcurrency bounds it.
const (
	DefaultConcurrency = 8
	MaxConcurrency     = 64
)

// recordTimeout bounds recording an outcome; its context outlives Run's, so that a push
// already made is recorded rather than redone.
const recordTimeout = 30 * time.Second

// Step is something a case event calls for: one document to push once.
type Step struct {
	// Key identifies the step among the connector's steps and is the Idempotency-Key of its
	// push, e.g. "platform:jiangsu:cs_…:accepted".
	Key string
	// CaseID is the case the step is about.
	CaseID string
	// Name says what the step is (accepted, result, completed, record …), for logs and records.
	Name string
	// Subject is what the step is about within the case (a sub-case id), for the Planner.
	Subject string
}

// Push is a step with its document.
type Push struct {
	Step
	// Body is the JSON document to POST.
	Body []byte
}

// Planner decides what a case event calls for. Both methods are called from up to
// RunnerConfig.Concurrency goroutines at once per Run, never for two events of one case at
// once (the case id is the event's key); they return an error only when they could not decide
// (the store is down): the event is then handled again later.
type Planner interface {
	// Steps lists the steps the event calls for, cheaply (no document is built): the runner
	// skips those already recorded.
	Steps(ctx context.Context, ev cases.CaseUpdated) ([]Step, error)
	// Build builds the documents of steps, in the order they are to be pushed. A case this
	// store does not hold is cases.ErrNotFound: the event is skipped.
	Build(ctx context.Context, ev cases.CaseUpdated, steps []Step) ([]Push, error)
}

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Name is the connector's name (Status.Name), the ledger's key and Failure.Connector.
	Name string
	// GroupID is the consumer group on yjs.case.event. Required.
	GroupID string
	// Concurrency is how many case events are handled at once, by each Run; one case's events
	// still one at a time, in order (they share its key), so that a case's documents keep
	// their order. 0 or 1: one at a time.
	Concurrency int
}

// Runner consumes yjs.case.event and pushes what its Planner asks for. Stats is safe for
// concurrent use; Run may run more than once at a time (group members sharing partitions).
type Runner struct {
	cfg     RunnerConfig
	bus     *bus.Bus
	client  *delivery.Client
	ledger  *Ledger
	rec     connector.Recorder
	planner Planner
	log     *slog.Logger
	stats   connector.Counters
}

// NewRunner returns a runner; every argument is required but log (nil: nothing is logged).
func NewRunner(cfg RunnerConfig, b *bus.Bus, client *delivery.Client, ledger *Ledger, rec connector.Recorder, p Planner, log *slog.Logger) (*Runner, error) {
	var errs []error
	if cfg.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if cfg.GroupID == "" {
		errs = append(errs, errors.New("group_id: required"))
	}
	if cfg.Concurrency < 0 || cfg.Concurrency > MaxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency: %d is not from 1 to %d", cfg.Concurrency, MaxConcurrency))
	}
	for _, dep := range []struct {
		name    string
		missing bool
	}{{"bus", b == nil}, {"client", client == nil}, {"ledger", ledger == nil}, {"recorder", rec == nil}, {"planner", p == nil}} {
		if dep.missing {
			errs = append(errs, fmt.Errorf("%s: required", dep.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, bus: b, client: client, ledger: ledger, rec: rec, planner: p, log: log}, nil
}

// Stats returns the runner's counters; safe for concurrent use.
func (r *Runner) Stats() connector.CounterSnapshot { return r.stats.Snapshot() }

// errStopped marks a message left unhandled because Run is stopping.
var errStopped = errors.New("stopped")

// Run consumes yjs.case.event in the runner's group until ctx ends (it returns nil) or
// handling fails in a way that must not be committed (it returns the error; the event is
// handled again by the next Run). Up to Concurrency events are handled at once, one case's one
// at a time in publish order; offsets are committed in batches, each only once it and every
// event before it on its partition were handled.
func (r *Runner) Run(ctx context.Context) error {
	err := r.bus.Subscribe(ctx, bus.SubscribeConfig{Topic: bus.TopicCaseEvent, GroupID: r.cfg.GroupID, Concurrency: r.cfg.Concurrency}, r.handle)
	if err == nil || ctx.Err() != nil || errors.Is(err, errStopped) {
		return nil
	}
	return fmt.Errorf("%s: %w", r.cfg.Name, err)
}

// handle is the bus handler; returning nil commits the event.
func (r *Runner) handle(ctx context.Context, m bus.Received) error {
	r.stats.InFlight(1)
	defer r.stats.InFlight(-1)
	var env event.Envelope
	if err := json.Unmarshal(m.Value, &env); err != nil || env.ID == "" {
		return r.fail(ctx, m, env.ID, "", "undecodable message", delivery.Result{})
	}
	if env.Type != event.TypeCaseUpdated {
		return nil
	}
	var ev cases.CaseUpdated
	if err := json.Unmarshal(env.Data, &ev); err != nil || ev.CaseID == "" {
		return r.fail(ctx, m, env.ID, "", "undecodable case event", delivery.Result{})
	}
	steps, err := r.planner.Steps(ctx, ev)
	if err != nil {
		return fmt.Errorf("planning for case %s: %w", ev.CaseID, err)
	}
	if len(steps) == 0 {
		return nil
	}
	keys := make([]string, len(steps))
	for i, s := range steps {
		keys[i] = s.Key
	}
	states, err := r.ledger.States(ctx, keys)
	if err != nil {
		return err
	}
	replay := m.Headers[HeaderReplayOf] != ""
	var pending []Step
	for _, s := range steps {
		switch states[s.Key] {
		case StatePushed:
		case StateRefused:
			if replay {
				pending = append(pending, s)
			}
		default:
			pending = append(pending, s)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	pushes, err := r.planner.Build(ctx, ev, pending)
	if errors.Is(err, cases.ErrNotFound) {
		r.log.WarnContext(ctx, "case event of a case this store does not hold; skipped", "case_id", ev.CaseID, "event_id", env.ID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("building the documents of case %s: %w", ev.CaseID, err)
	}

	type refusal struct {
		step Step
		res  delivery.Result
	}
	var refused []refusal
	for _, p := range pushes {
		res := r.client.Deliver(ctx, p.Key, p.Body, func(res delivery.Result) {
			r.stats.Retry()
			r.stats.Failure(time.Now(), res.Reason)
			r.log.WarnContext(ctx, "push failed, will retry", "case_id", p.CaseID, "step", p.Name, "key", p.Key,
				"attempt", res.Attempts, "status", res.Status, "reason", res.Reason)
		})
		if res.Stopped {
			return fmt.Errorf("%w: push %s not settled", errStopped, p.Key)
		}
		if res.Outcome != delivery.Delivered {
			r.log.WarnContext(ctx, "push refused", "case_id", p.CaseID, "step", p.Name, "key", p.Key, "status", res.Status, "reason", res.Reason)
			refused = append(refused, refusal{p.Step, res})
			continue
		}
		if err := r.mark(ctx, p.Step, StatePushed, res); err != nil {
			return err
		}
		r.stats.Delivered(time.Now())
		r.log.DebugContext(ctx, "pushed", "case_id", p.CaseID, "step", p.Name, "key", p.Key, "status", res.Status, "attempts", res.Attempts)
	}
	if len(refused) == 0 {
		return nil
	}
	// The dead letter first: a refusal recorded without its dead letter would never be
	// retried, since later events skip refused steps.
	reasons := make([]string, len(refused))
	for i, f := range refused {
		reasons[i] = f.step.Name + " (" + f.step.Key + "): " + f.res.Reason
	}
	if err := r.fail(ctx, m, env.ID, ev.CaseID, strings.Join(reasons, "; "), refused[0].res); err != nil {
		return err
	}
	for _, f := range refused {
		if err := r.mark(ctx, f.step, StateRefused, f.res); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) mark(ctx context.Context, s Step, state string, res delivery.Result) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	return r.ledger.Mark(rctx, s, state, res, time.Now())
}

// fail records the message m as a dead letter.
func (r *Runner) fail(ctx context.Context, m bus.Received, eventID, caseID, reason string, res delivery.Result) error {
	if eventID == "" {
		r.log.WarnContext(ctx, "undecodable case event, recording it as failed", "partition", m.Partition, "offset", m.Offset)
	}
	r.stats.Failure(time.Now(), reason)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := r.rec.Failed(rctx, connector.Failure{
		Delivery: connector.Delivery{Connector: r.cfg.Name, EventID: eventID, CaseID: caseID, Status: res.Status, Attempts: res.Attempts, At: time.Now()},
		Reason:   reason, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Payload: m.Value,
	})
	if err != nil {
		return fmt.Errorf("recording the failure of the event at partition %d offset %d: %w", m.Partition, m.Offset, err)
	}
	r.stats.Failed()
	return nil
}
