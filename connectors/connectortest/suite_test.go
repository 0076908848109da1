package connectortest_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/connectors/connectortest"
	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// TestSuiteOnAnInMemoryKind runs the suite on a small kind whose department is a Go value, with
// every feature declared — results flowing back included, which no HTTP kind has — so that
// every check of the suite runs here, and shows what a kind's test looks like.
func TestSuiteOnAnInMemoryKind(t *testing.T) {
	connectortest.Run(t, connectortest.Features{
		Retries: true, Breaker: true, PermanentFailures: true, ResultsFlowBack: true, Ordered: true, Restartable: true,
	}, func(t *testing.T, env connectortest.Env) connectortest.Harness {
		b := env.Bus
		if b == nil {
			var err error
			b, err = bus.Open(t.Context(), bus.Config{DataDir: t.TempDir()})
			if err != nil {
				t.Fatalf("bus.Open: %v", err)
			}
			t.Cleanup(func() { _ = b.Close() })
		}
		h := &memHarness{b: b, env: env, code: "mem-" + hubtest.RandomHex(6),
			dept: &memDepartment{applied: map[string]bool{}, results: make(chan memResult, 64)}}
		if err := b.EnsureTopics(t.Context(), bus.TopicSpec{Name: bus.SubcaseTopic(h.code), Partitions: 3}); err != nil {
			t.Fatalf("EnsureTopics: %v", err)
		}
		return h
	})
}

type memHarness struct {
	b    *bus.Bus
	env  connectortest.Env
	code string
	dept *memDepartment
}

func (h *memHarness) Bus() *bus.Bus                      { return h.b }
func (h *memHarness) Department() string                 { return h.code }
func (h *memHarness) Received() []connectortest.Received { return h.dept.received() }
func (h *memHarness) FailNext(m connectortest.FailMode, n int) {
	h.dept.faults.FailNext(m, n)
}

func (h *memHarness) Report(_ *testing.T, subcaseID string, ev event.DepartmentEvent) {
	h.dept.results <- memResult{subcaseID, ev}
}

func (h *memHarness) NewConnector(*testing.T) connector.Connector {
	return &memConnector{b: h.b, env: h.env, code: h.code, dept: h.dept, state: "closed"}
}

// memDepartment is the department: it takes sub-cases through a method call.
type memDepartment struct {
	faults  connectortest.Faults
	mu      sync.Mutex
	got     []connectortest.Received
	applied map[string]bool
	results chan memResult
}

type memResult struct {
	subcaseID string
	ev        event.DepartmentEvent
}

var errTransient = errors.New("department unavailable")

// take is one delivery attempt; a permanent refusal comes back as *refusal.
func (d *memDepartment) take(ctx context.Context, key string, raw []byte) error {
	r := connectortest.ReceivedFrom(key, raw)
	r.Failed = d.faults.Take()
	d.mu.Lock()
	d.got = append(d.got, r)
	if r.Failed == 0 {
		d.applied[key] = true
	}
	d.mu.Unlock()
	switch r.Failed {
	case connectortest.Transient5xx, connectortest.Reset:
		return errTransient
	case connectortest.Timeout:
		<-ctx.Done()
		return ctx.Err()
	case connectortest.Permanent4xx:
		return &refusal{connectortest.RefusalMessage}
	}
	return nil
}

type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func (d *memDepartment) received() []connectortest.Received {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

// memConnector delivers with retries, a breaker, order per partition and results back.
type memConnector struct {
	b    *bus.Bus
	env  connectortest.Env
	code string
	dept *memDepartment

	mu        sync.Mutex
	state     string
	failures  int
	openUntil time.Time
	lastErr   time.Time
	lastMsg   string

	delivered, retries, failed atomic.Int64
}

const (
	memTimeout      = 200 * time.Millisecond
	memOpenTimeout  = 300 * time.Millisecond
	memTripFailures = 3
)

func (c *memConnector) group() string { return "mem-" + c.code }

func (c *memConnector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	fctx, stop := context.WithCancel(ctx) // the forwarder ends with Run, also when Run fails
	defer stop()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-fctx.Done():
				return
			case r := <-c.dept.results:
				_ = c.env.Events.ApplyEvent(context.WithoutCancel(fctx), r.subcaseID, r.ev)
			}
		}
	}()
	err := c.b.Subscribe(ctx, bus.SubscribeConfig{Topic: bus.SubcaseTopic(c.code), GroupID: c.group()}, c.handle)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

var longDigits = regexp.MustCompile(`\d{11,}[0-9Xx]?`)

func (c *memConnector) handle(ctx context.Context, m bus.Received) error {
	var env event.Envelope
	var data event.SubcaseDispatched
	_ = json.Unmarshal(m.Value, &env)
	_ = json.Unmarshal(env.Data, &data)
	d := connector.Delivery{Connector: "memory:" + c.code, EventID: env.ID, CaseID: data.CaseID, SubcaseID: data.SubcaseID, Department: c.code}
	for {
		if wait := c.beforeAttempt(); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		d.Attempts++
		if d.Attempts > 1 {
			c.retries.Add(1)
		}
		actx, cancel := context.WithTimeout(ctx, memTimeout)
		err := c.dept.take(actx, env.ID, m.Value)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ref *refusal
		switch {
		case err == nil:
			c.afterAttempt(true, "")
			d.At = time.Now()
			if err := c.env.Recorder.Delivered(context.WithoutCancel(ctx), d); err != nil {
				return err
			}
			c.delivered.Add(1)
			return nil
		case errors.As(err, &ref):
			reason := "refused: " + longDigits.ReplaceAllStringFunc(ref.msg, func(s string) string { return strings.Repeat("*", len(s)) })
			c.afterAttempt(true, reason)
			d.At = time.Now()
			c.failed.Add(1)
			return c.env.Recorder.Failed(context.WithoutCancel(ctx), connector.Failure{Delivery: d, Reason: reason,
				Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Payload: m.Value})
		default:
			c.afterAttempt(false, "attempt failed: "+err.Error())
			c.env.Logger.Warn("memory: attempt failed, will retry", "event_id", env.ID, "attempt", d.Attempts)
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// beforeAttempt returns how long the breaker holds the attempt back; zero lets it through.
func (c *memConnector) beforeAttempt() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == "open" {
		if wait := time.Until(c.openUntil); wait > 0 {
			return wait
		}
		c.state = "half-open"
	}
	return 0
}

func (c *memConnector) afterAttempt(settled bool, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if msg != "" {
		c.lastErr, c.lastMsg = time.Now(), msg
	}
	if settled {
		c.state, c.failures = "closed", 0
		return
	}
	c.failures++
	if c.state == "half-open" || c.failures >= memTripFailures {
		c.state, c.openUntil = "open", time.Now().Add(memOpenTimeout)
	}
}

func (c *memConnector) Status() connector.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A suite's run is over within the minute: the fake's history puts everything in the current one.
	h := &connector.History{StepSeconds: 60, End: time.Now().UTC().Truncate(time.Minute)}
	h.Delivered[connector.HistoryMinutes-1], h.Retries[connector.HistoryMinutes-1], h.Failed[connector.HistoryMinutes-1] =
		c.delivered.Load(), c.retries.Load(), c.failed.Load()
	return connector.Status{Name: "memory:" + c.code, Kind: "memory", Department: c.code, Breaker: c.state,
		Topic: bus.SubcaseTopic(c.code), Group: c.group(),
		Delivered: c.delivered.Load(), Retries: c.retries.Load(), Failed: c.failed.Load(), History: h,
		LastError: connector.TimePtr(c.lastErr), LastErrorMessage: c.lastMsg}
}
