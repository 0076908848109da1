package connectortest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
)

// Harness is what a kind's test gives the suite: the connector under test, built on a bus with
// its department's sub-case topic, and the department at the other end, played by the test.
//
// The suite calls the harness from the test goroutine only; the department side runs
// concurrently with the connector, so Received and FailNext must be safe for that.
//
// Waits must be short for the suite to finish in seconds: retries within about 50ms, an attempt
// timeout (the [Timeout] fail mode) of at most a second, a breaker that opens after a few
// failures in a row and lets a probe through again within a second.
type Harness interface {
	// Bus is the bus the connector consumes from: Env.Bus when the suite gave one, else a bus
	// of the harness's own (the embedded broker, or Kafka when the kind's test runs on it).
	Bus() *bus.Bus

	// Department is the code of the department served: unique to this harness, and its
	// topic bus.SubcaseTopic(Department()) exists (several partitions are best, so that the
	// order check crosses partitions).
	Department() string

	// NewConnector builds a connector for Department on Bus, recording through Env.Recorder,
	// logging to Env.Logger and, for kinds whose results flow back, reporting department
	// events to Env.Events. Each call builds a new instance, as a restarted hub would; the
	// suite runs it, stops it, and may build another to simulate a restart.
	NewConnector(t *testing.T) connector.Connector

	// Received returns every delivery attempt that reached the department, in the order the
	// department saw them, failed ones included (Received.Failed says how). The department
	// must apply a sub-case at most once per idempotency key; the suite counts effects as
	// distinct keys of attempts that were not failed.
	Received() []Received

	// FailNext makes the department fail attempts: n more attempts fail with mode, after any
	// failures already queued; n = [Always] makes every attempt fail with mode from then on;
	// n = 0 clears every queued failure (the department is healthy again). [Faults]
	// implements it.
	//
	// Failures are what a careless back office does: a Transient5xx answer quotes the request
	// (and so the applicant's personal data) in its body; a Permanent4xx refusal gives
	// [RefusalMessage] as its reason.
	FailNext(mode FailMode, n int)

	// Report makes the department report ev about the sub-case subcaseID through the
	// connector, for kinds with Features.ResultsFlowBack; the connector brings it to
	// Env.Events. Kinds without the feature may leave it unimplemented (t.Fatal).
	Report(t *testing.T, subcaseID string, ev event.DepartmentEvent)
}

// Env is what the suite gives a kind's harness.
type Env struct {
	// Recorder records what became of each message; the connector must use it.
	Recorder connector.Recorder
	// Logger receives the connector's logs (at every level): the suite reads them for
	// personal data.
	Logger *slog.Logger
	// Events receives the department events the connector brings back (Features.ResultsFlowBack).
	Events EventSink
	// Bus, when not nil, is the bus the harness must use: the suite runs two departments on
	// one bus to see that one does not slow the other. When nil the harness opens its own.
	Bus *bus.Bus
}

// EventSink takes the department events a connector brings back to the hub; the hub's case
// service implements it. It is safe for concurrent use; the same event (by EventID) may arrive
// more than once and is the same event.
type EventSink interface {
	ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) error
}

// EventSinkFunc adapts a function to an [EventSink].
type EventSinkFunc func(ctx context.Context, subcaseID string, ev event.DepartmentEvent) error

// ApplyEvent calls f.
func (f EventSinkFunc) ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) error {
	return f(ctx, subcaseID, ev)
}

// Features says what a kind can do; the suite skips, with the reason, what it cannot.
type Features struct {
	// Retries: a department's transient failures (5xx, timeouts, connection resets) are
	// retried with the same idempotency key until it takes the sub-case.
	Retries bool
	// Breaker: each department has a circuit breaker (reported in Status.Breaker as closed,
	// open or half-open) that failures in a row open, and a successful probe closes.
	Breaker bool
	// PermanentFailures: a refusal (4xx) is not retried; the message is recorded with
	// Recorder.Failed, with the department's reason, and the next one goes on.
	PermanentFailures bool
	// ResultsFlowBack: department events come back through the connector (Harness.Report).
	ResultsFlowBack bool
	// Ordered: the sub-cases of one case reach the department in publish order.
	Ordered bool
	// Restartable: a connector stopped mid-flow and built again goes on where the last one
	// left off, delivering nothing twice in effect.
	Restartable bool
	// Unsupported lists the fail modes the kind's department cannot express; the checks that
	// need them skip them (or use another mode).
	Unsupported []FailMode
	// Timeout bounds each check. Default 60s.
	Timeout time.Duration
}

func (f Features) supports(m FailMode) bool {
	for _, u := range f.Unsupported {
		if u == m {
			return false
		}
	}
	return true
}

// FailMode is how a department fails a delivery attempt.
type FailMode int

// Fail modes. The zero value means the attempt did not fail.
const (
	// Transient5xx: the department answers a server error (its kind's equivalent) and does not
	// apply the sub-case.
	Transient5xx FailMode = iota + 1
	// Timeout: the department does not answer before the connector gives up on the attempt;
	// it does not apply the sub-case.
	Timeout
	// Reset: the connection is cut (TCP RST) before an answer; not applied.
	Reset
	// Permanent4xx: the department refuses the sub-case for good, giving [RefusalMessage] as
	// its reason.
	Permanent4xx
)

// Always, as FailNext's n, makes every attempt fail until FailNext(_, 0).
const Always = -1

// String names the mode.
func (m FailMode) String() string {
	switch m {
	case 0:
		return "none"
	case Transient5xx:
		return "a 5xx"
	case Timeout:
		return "a timeout"
	case Reset:
		return "a connection reset"
	case Permanent4xx:
		return "a 4xx refusal"
	default:
		return fmt.Sprintf("FailMode(%d)", int(m))
	}
}

// RefusalMessage is what a department says when it refuses a sub-case (Permanent4xx). It
// quotes the applicant's ID number and mobile, as back offices do; the connector must keep the
// reason (RefusalGist) and mask the rest.
var RefusalMessage = "申请人证件号码 " + Personal.IDNumber + " 与联系电话 " + Personal.Mobile + " 不匹配，" + RefusalGist

// RefusalGist is the part of RefusalMessage a dead letter's reason must keep.
const RefusalGist = "身份核验不通过"

// Received is one delivery attempt as the department saw it.
type Received struct {
	// Key is the idempotency key the attempt carried (a REST push's Idempotency-Key header, a
	// staging row's key column …).
	Key string
	// EventID is the envelope id in the delivered message.
	EventID    string
	CaseID     string
	SubcaseID  string
	Department string
	// Form and Materials are the sub-case's mapped form and material references as the
	// department got them.
	Form      map[string]any
	Materials []event.MaterialRef
	// Failed is the failure the department injected into this attempt; zero when it took it.
	Failed FailMode
}

// ReceivedFrom decodes what the department got from an attempt that carried the envelope
// itself, with key as its idempotency key. Fields it cannot decode stay zero, and the suite
// reports them.
func ReceivedFrom(key string, envelope []byte) Received {
	r := Received{Key: key}
	var env event.Envelope
	if json.Unmarshal(envelope, &env) != nil {
		return r
	}
	r.EventID = env.ID
	var data event.SubcaseDispatched
	if json.Unmarshal(env.Data, &data) != nil {
		return r
	}
	r.CaseID, r.SubcaseID, r.Department = data.CaseID, data.SubcaseID, data.Department
	r.Form, r.Materials = data.Form, data.Materials
	return r
}

// Faults is the queue of failures a department injects, for harnesses: its FailNext is
// Harness.FailNext, and the department calls Take once per attempt. The zero value injects
// nothing; it is safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	queue  []FailMode
	always FailMode
}

// FailNext implements Harness.FailNext.
func (f *Faults) FailNext(mode FailMode, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case n == 0:
		f.queue, f.always = nil, 0
	case n == Always:
		f.always = mode
	default:
		for range n {
			f.queue = append(f.queue, mode)
		}
	}
}

// Take returns the failure to inject into the next attempt, zero for none.
func (f *Faults) Take() FailMode {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) > 0 {
		m := f.queue[0]
		f.queue = f.queue[1:]
		return m
	}
	return f.always
}
