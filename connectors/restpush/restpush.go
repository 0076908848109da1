package restpush

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"yjshub/connectors/signing"
	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
)

// Request headers of the REST push binding (connectors/CONTRACT.md).
const (
	ContentType       = "application/cloudevents+json; charset=utf-8"
	HeaderIdempotency = "Idempotency-Key"
)

const (
	userAgent = "yjshub-restpush"
	// recordTimeout bounds a Recorder call. Its context outlives Run's, so
	// that a delivery already made is recorded rather than redone.
	recordTimeout = 30 * time.Second
	// bodyKeep is how much of an answer's body is read for its reason;
	// bodyDrain how much more is read and dropped so that the connection can
	// be reused.
	bodyKeep  = 4 << 10
	bodyDrain = 64 << 10
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
	client  *resty.Client
	breaker *breaker
	scrub   scrubber
	signer  *signing.Signer // nil: requests are not signed
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
// (see [Classify]). Default: a client with resty's default transport.
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
	hc := &http.Client{}
	if o.http != nil {
		copied := *o.http
		hc = &copied
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	c := &Connector{
		cfg:   cfg,
		bus:   b,
		rec:   rec,
		log:   o.log.With("connector", "restpush", "department", cfg.Department),
		scrub: newScrubber(cfg),
	}
	c.client = resty.NewWithClient(hc).
		SetLogger(discardLogger{}). // resty's own lines could quote the URL
		SetRetryCount(0).           // the retry loop is ours: it consults the breaker and ctx
		SetHeaders(cfg.Headers).
		SetHeader("User-Agent", userAgent).
		SetHeader("Accept", "application/json")
	if cfg.SigningSecret != "" {
		c.signer, _ = signing.New(cfg.SigningSecret) // checked by Validate
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
//   - Retry: tried again after [Backoff], for as long as Run runs (or until
//     Retry.MaxAttempts, after which it is recorded as failed). While the
//     breaker is open the message waits for it to let a probe through; it is
//     neither skipped nor committed, and later messages of the partition wait
//     behind it, which keeps each case's sub-cases in order.
func (c *Connector) Run(ctx context.Context) error {
	topic := bus.SubcaseTopic(c.cfg.Department)
	c.log.InfoContext(ctx, "restpush: consuming", "topic", topic, "group", c.cfg.GroupID,
		"endpoint", RedactURL(c.cfg.Endpoint))
	err := c.bus.Subscribe(ctx, bus.SubscribeConfig{Topic: topic, GroupID: c.cfg.GroupID}, c.handle)
	switch {
	case err == nil, errors.Is(err, errStopped):
		return nil
	default:
		return fmt.Errorf("restpush %s: %w", c.cfg.Department, err)
	}
}

// Stats returns a snapshot of the connector's counters and breaker state.
func (c *Connector) Stats() Stats {
	s := statsOf(c.stats.Snapshot())
	s.Department = c.cfg.Department
	s.BreakerState = c.breaker.state()
	return s
}

// message is one consumed sub-case on its way to the department.
type message struct {
	raw       []byte // exactly as consumed; this is what is sent
	id        string
	caseID    string
	subcaseID string
	attempts  int // POSTs made so far
}

// result is what sending a message came to.
type result struct {
	outcome Outcome
	status  int
	reason  string // scrubbed: safe for logs, stats and Failure.Reason
	// stopped: ctx ended before there was an outcome.
	stopped bool
	// rejected: the breaker let nothing through.
	rejected bool
}

// breakerError is what the breaker is told about the attempt.
func (r result) breakerError() error {
	switch {
	case r.stopped:
		return errStopped
	case r.outcome == Delivered:
		return nil
	case r.outcome == Permanent:
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
	if r.stopped {
		return fmt.Errorf("%w: event %s not delivered: %w", errStopped, m.id, context.Cause(ctx))
	}
	d := Delivery{Connector: c.Name(), EventID: m.id, CaseID: m.caseID, SubcaseID: m.subcaseID, Department: c.cfg.Department,
		Status: r.status, Attempts: m.attempts, At: time.Now()}
	if r.outcome == Delivered {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		if err := c.rec.Delivered(rctx, d); err != nil {
			return fmt.Errorf("restpush: record delivery of event %s: %w", m.id, err)
		}
		c.stats.Delivered(d.At)
		c.log.DebugContext(ctx, "restpush: delivered", "event_id", m.id, "case_id", m.caseID,
			"subcase_id", m.subcaseID, "status", r.status, "attempts", m.attempts)
		return nil
	}
	c.log.WarnContext(ctx, "restpush: sub-case not delivered, recording it as failed", "event_id", m.id,
		"case_id", m.caseID, "subcase_id", m.subcaseID, "status", r.status, "attempts", m.attempts,
		"reason", r.reason)
	return c.fail(ctx, Failure{Delivery: d, Reason: r.reason,
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
// ctx ends. It waits Backoff after each retryable failure, and while the
// breaker is open until it lets a probe through.
func (c *Connector) deliver(ctx context.Context, m *message) result {
	failures := 0
	for {
		r := c.send(ctx, m)
		switch {
		case r.stopped:
			return r
		case r.rejected:
			d := max(time.Until(c.breaker.reopensAt()), c.cfg.Retry.InitialInterval)
			c.log.DebugContext(ctx, "restpush: breaker open, holding the message", "event_id", m.id, "wait", d)
			if !wait(ctx, d) {
				return result{stopped: true}
			}
			continue
		case r.outcome != Retry:
			return r
		}

		failures++
		c.stats.Failure(time.Now(), r.reason)
		if limit := c.cfg.Retry.MaxAttempts; limit > 0 && m.attempts >= limit {
			r.outcome = Permanent
			r.reason = fmt.Sprintf("gave up after %d attempts: %s", m.attempts, r.reason)
			return r
		}
		d := Backoff(failures, c.cfg.Retry, rand.Float64())
		c.log.WarnContext(ctx, "restpush: attempt failed, will retry", "event_id", m.id, "case_id", m.caseID,
			"attempt", m.attempts, "status", r.status, "reason", r.reason, "wait", d)
		if !wait(ctx, d) {
			return result{stopped: true}
		}
	}
}

// post makes one POST of m and classifies the answer.
func (c *Connector) post(ctx context.Context, m *message) result {
	m.attempts++
	if m.attempts > 1 {
		c.stats.Retry()
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := c.client.R()
	if c.signer != nil {
		h, err := c.signer.Sign(m.id, time.Now(), m.raw)
		if err != nil {
			return result{outcome: Permanent, reason: err.Error()}
		}
		req.SetHeaders(h)
	}
	resp, err := req.
		SetContext(actx).
		SetHeader("Content-Type", ContentType).
		SetHeader(HeaderIdempotency, m.id).
		SetBody(m.raw).
		SetDoNotParseResponse(true). // the body is read here, capped
		Post(c.cfg.Endpoint)

	var status int
	var body []byte
	if resp != nil && resp.RawResponse != nil {
		status = resp.StatusCode()
		body = readBody(resp.RawResponse.Body)
	}
	if status == 0 && ctx.Err() != nil {
		return result{stopped: true}
	}
	r := result{outcome: Classify(status, err), status: status}
	if status != 0 {
		r.reason = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
		if msg := c.scrub.text(bodyMessage(body)); msg != "" && r.outcome != Delivered {
			r.reason += ": " + msg
		}
	} else {
		r.reason = errorKind(err) + ": " + c.scrub.error(err)
	}
	return r
}

// readBody reads the start of an answer's body and drains a little more, so
// that the connection can be reused, then closes it.
func readBody(body io.ReadCloser) []byte {
	defer body.Close()
	b, _ := io.ReadAll(io.LimitReader(body, bodyKeep))
	_, _ = io.CopyN(io.Discard, body, bodyDrain)
	return b
}

// discardLogger silences resty.
type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}
