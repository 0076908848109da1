package restpush

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"yjshub/connectors/delivery"
	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
)

const (
	userAgent = "yjshub-restpush"
	// recordTimeout bounds a Recorder call. Its context outlives Run's, so
	// that a delivery already made is recorded rather than redone.
	recordTimeout = 30 * time.Second
)

// Connector pushes one department's sub-cases to its back office. It is safe
// for concurrent use: Stats may be called at any time, and Run may run more
// than once at a time, each call being one member of the consumer group; all
// share one breaker and one set of counters.
type Connector struct {
	cfg     Config
	bus     *bus.Bus
	rec     Recorder
	log     *slog.Logger
	client  *delivery.Client
	breaker *breaker
	stats   connector.Counters
	send    sendFunc // one attempt, through the breaker
}

// Option changes how New builds a Connector.
type Option func(*options)

type options struct {
	log  *slog.Logger
	http *http.Client
}

// WithLogger sends the connector's logs to l. Default: nothing is logged.
// Log lines carry event, case and sub-case ids, statuses and scrubbed
// reasons; never a payload, a header value or the endpoint's credentials.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithHTTPClient makes requests with a copy of hc (its Transport, TLS
// settings, proxy …). The copy never follows redirects: a 3xx is an answer
// (see delivery.Classify). Default: a client with resty's default transport.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) { o.http = hc }
}

// New returns a connector for cfg, after applying its defaults and validating
// it; the error lists every problem at once. The connector consumes from b
// and records outcomes with rec.
func New(cfg Config, b *bus.Bus, rec Recorder, opts ...Option) (*Connector, error) {
	cfg.setDefaults()
	errs := []error{cfg.Validate()}
	if b == nil {
		errs = append(errs, errors.New("bus: required"))
	}
	if rec == nil {
		errs = append(errs, errors.New("recorder: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("restpush: invalid configuration: %w", err)
	}

	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	client, err := delivery.NewClient(delivery.ClientConfig{Endpoint: cfg.Endpoint, Timeout: cfg.Timeout, Headers: cfg.Headers,
		Retry: cfg.Retry, ContentType: event.ContentType, UserAgent: userAgent, SigningSecret: cfg.SigningSecret}, o.http)
	if err != nil {
		return nil, fmt.Errorf("restpush: invalid configuration: %w", err) // checked by Validate already
	}
	c := &Connector{
		cfg:    cfg,
		bus:    b,
		rec:    rec,
		log:    o.log.With("connector", "restpush", "department", cfg.Department),
		client: client,
	}
	c.breaker = newBreaker(cfg, c.log)
	c.send = c.breaker.wrap(c.post)
	return c, nil
}

// Run consumes the department's topic, bus.SubcaseTopic(Department), in the
// consumer group GroupID and delivers each message before its offset is
// committed. It returns nil when ctx is cancelled or the bus is closed, also
// in the middle of retrying a message, which then stays uncommitted. It
// returns an error when the Recorder fails or consuming fails for good; the
// message at hand is then not committed, and the caller runs Run again (after
// a pause) to have it delivered again.
//
// For each message:
//   - an undecodable one (not a JSON envelope with an id usable as a header)
//     is recorded as failed and committed: a poison message must never block
//     its partition;
//   - otherwise its bytes, exactly as consumed, are POSTed to Endpoint with
//     the envelope id as Idempotency-Key, the same on every attempt;
//   - Delivered: recorded with Recorder.Delivered, then committed;
//   - Permanent: recorded with Recorder.Failed, then committed;
//   - Retry: tried again after delivery.Backoff, for as long as Run runs (or until
//     Retry.MaxAttempts, after which it is recorded as failed). While the
//     breaker is open the message waits for it to let a probe through; it is
//     neither skipped nor committed, and later messages of the partition wait
//     behind it, which keeps each case's sub-cases in order.
func (c *Connector) Run(ctx context.Context) error {
	topic := bus.SubcaseTopic(c.cfg.Department)
	c.log.InfoContext(ctx, "restpush: consuming", "topic", topic, "group", c.cfg.GroupID,
		"endpoint", c.client.Endpoint())
	err := c.bus.Subscribe(ctx, bus.SubscribeConfig{Topic: topic, GroupID: c.cfg.GroupID, Concurrency: c.cfg.Concurrency}, c.handle)
	switch {
	case err == nil, errors.Is(err, errStopped):
		return nil
	default:
		return fmt.Errorf("restpush %s: %w", c.cfg.Department, err)
	}
}

// Stats returns a snapshot of the connector's counters and breaker state.
func (c *Connector) Stats() Stats {
	return Stats{Department: c.cfg.Department, BreakerState: c.breaker.state(), CounterSnapshot: c.stats.Snapshot()}
}

// message is one consumed sub-case on its way to the department.
type message struct {
	raw       []byte // exactly as consumed; this is what is sent
	id        string
	caseID    string
	subcaseID string
	attempts  int // POSTs made so far
}

// result is what sending a message came to: the client's result (its Reason scrubbed, safe
// for logs, stats and Failure.Reason), or rejected when the breaker let nothing through.
type result struct {
	delivery.Result
	rejected bool
}

// breakerError is what the breaker is told about the attempt.
func (r result) breakerError() error {
	switch {
	case r.Stopped:
		return errStopped
	case r.Outcome == delivery.Delivered:
		return nil
	case r.Outcome == delivery.Permanent:
		return errSettled
	default:
		return errFailed
	}
}

// sendFunc makes one attempt at delivering m.
type sendFunc func(ctx context.Context, m *message) result

// handle is the bus handler: decode, deliver, record. Returning nil commits.
func (c *Connector) handle(ctx context.Context, rm bus.Received) error {
	c.stats.InFlight(1)
	defer c.stats.InFlight(-1)

	m, err := decode(rm.Value)
	if err != nil {
		c.log.WarnContext(ctx, "restpush: undecodable message, recording it as failed",
			"partition", rm.Partition, "offset", rm.Offset, "problem", err.Error())
		return c.fail(ctx, Failure{
			Delivery: Delivery{Connector: c.Name(), Department: c.cfg.Department, At: time.Now()},
			Reason:   "undecodable message",
			Topic:    rm.Topic, Partition: rm.Partition, Offset: rm.Offset, Key: rm.Key, Payload: rm.Value,
		})
	}

	r := c.deliver(ctx, m)
	if r.Stopped {
		return fmt.Errorf("%w: event %s not delivered: %w", errStopped, m.id, context.Cause(ctx))
	}
	d := Delivery{Connector: c.Name(), EventID: m.id, CaseID: m.caseID, SubcaseID: m.subcaseID, Department: c.cfg.Department,
		Status: r.Status, Attempts: m.attempts, At: time.Now()}
	if r.Outcome == delivery.Delivered {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		if err := c.rec.Delivered(rctx, d); err != nil {
			return fmt.Errorf("restpush: record delivery of event %s: %w", m.id, err)
		}
		c.stats.Delivered(d.At)
		c.log.DebugContext(ctx, "restpush: delivered", "event_id", m.id, "case_id", m.caseID,
			"subcase_id", m.subcaseID, "status", r.Status, "attempts", m.attempts)
		return nil
	}
	c.log.WarnContext(ctx, "restpush: sub-case not delivered, recording it as failed", "event_id", m.id,
		"case_id", m.caseID, "subcase_id", m.subcaseID, "status", r.Status, "attempts", m.attempts,
		"reason", r.Reason)
	return c.fail(ctx, Failure{Delivery: d, Reason: r.Reason,
		Topic: rm.Topic, Partition: rm.Partition, Offset: rm.Offset, Key: rm.Key, Payload: rm.Value})
}

// fail records f with the Recorder.
func (c *Connector) fail(ctx context.Context, f Failure) error {
	c.stats.Failure(f.At, f.Reason)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := c.rec.Failed(rctx, f); err != nil {
		return fmt.Errorf("restpush: record failure of event %q at partition %d offset %d: %w",
			f.EventID, f.Partition, f.Offset, err)
	}
	c.stats.Failed()
	return nil
}

// decode reads what the connector needs from an envelope. Only a message
// that is not a JSON envelope, or whose id cannot be an Idempotency-Key, is
// undecodable; whatever its data, a well-formed envelope is sent on and the
// department judges it.
func decode(raw []byte) (*message, error) {
	var env event.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, errors.New("not a JSON event envelope")
	}
	if env.ID == "" {
		return nil, errors.New("envelope has no id")
	}
	if strings.ContainsFunc(env.ID, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, errors.New("envelope id has control characters")
	}
	var data struct {
		CaseID    string `json:"case_id"`
		SubcaseID string `json:"subcase_id"`
	}
	_ = json.Unmarshal(env.Data, &data) // ids are for records and logs only
	return &message{raw: raw, id: env.ID, caseID: data.CaseID, subcaseID: data.SubcaseID}, nil
}

// deliver sends m until it is settled (delivered or refused), given up, or
// ctx ends. It waits delivery.Backoff after each retryable failure, and while
// the breaker is open until it lets a probe through.
func (c *Connector) deliver(ctx context.Context, m *message) result {
	failures := 0
	for {
		r := c.send(ctx, m)
		switch {
		case r.Stopped:
			return r
		case r.rejected:
			d := max(time.Until(c.breaker.reopensAt()), c.cfg.Retry.InitialInterval)
			c.log.DebugContext(ctx, "restpush: breaker open, holding the message", "event_id", m.id, "wait", d)
			if !delivery.Wait(ctx, d) {
				return stopped
			}
			continue
		case r.Outcome != delivery.Retry:
			return r
		}

		failures++
		c.stats.Failure(time.Now(), r.Reason)
		r.Attempts = m.attempts
		if delivery.GiveUp(&r.Result, c.cfg.Retry.MaxAttempts) {
			return r
		}
		d := delivery.Backoff(failures, c.cfg.Retry, rand.Float64())
		c.log.WarnContext(ctx, "restpush: attempt failed, will retry", "event_id", m.id, "case_id", m.caseID,
			"attempt", m.attempts, "status", r.Status, "reason", r.Reason, "wait", d)
		c.noteRetry(ctx, m, r, d)
		if !delivery.Wait(ctx, d) {
			return stopped
		}
	}
}

// noteRetry tells the Recorder, when it keeps such notes, that m failed and is tried again
// after wait. It is bounded in time, and its failure only logged: the retry goes on regardless.
func (c *Connector) noteRetry(ctx context.Context, m *message, r result, wait time.Duration) {
	rr, ok := c.rec.(connector.RetryRecorder)
	if !ok {
		return
	}
	now := time.Now()
	rctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	err := rr.Retrying(rctx, connector.Retry{Delivery: Delivery{Connector: c.Name(), EventID: m.id, CaseID: m.caseID,
		SubcaseID: m.subcaseID, Department: c.cfg.Department, Status: r.Status, Attempts: m.attempts, At: now},
		Reason: r.Reason, NextAt: now.Add(wait)})
	if err != nil && ctx.Err() == nil {
		c.log.WarnContext(ctx, "restpush: noting a retry failed", "event_id", m.id, "case_id", m.caseID, "error", err)
	}
}

// stopped is the result of a delivery that ctx ended.
var stopped = result{Result: delivery.Result{Outcome: delivery.Retry, Stopped: true}}

// post makes one POST of m and classifies the answer.
func (c *Connector) post(ctx context.Context, m *message) result {
	m.attempts++
	if m.attempts > 1 {
		c.stats.Retry()
	}
	r := c.client.Post(ctx, m.id, m.raw)
	r.Attempts = m.attempts
	return result{Result: r}
}
