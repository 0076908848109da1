// Package connector holds what every connector kind and the hub agree on: the Connector a
// kind implements, the Status it reports, and the Recorder through which it records what became
// of each message (delivered, or failed for good and dead-lettered).
//
// It is a leaf package of the hub so that the hub (its API, metrics and dead letters) and the
// kinds under connectors/ both depend on it downward: the hub defines the contract, the
// connectors implement it.
package connector

import (
	"context"
	"errors"
	"time"
)

// Connector carries messages between the hub and one external system (a department's back
// office, a platform, the supervision platform).
type Connector interface {
	// Run works until ctx ends (then it returns nil) or it fails (then it returns the error
	// and may be started again). It must not commit a message whose outcome is unrecorded.
	Run(ctx context.Context) error
	// Status reports the connector's health; safe for concurrent use.
	Status() Status
}

// Status is a connector's health as operators see it (Kafka Connect's status API is the model).
type Status struct {
	// Name identifies the connector in the connectors file and the API: "<kind>:<target>".
	Name string `json:"name"`
	// Kind is the connector kind (restpush, restpull, frontdb, kafka, platform, supervision).
	Kind string `json:"kind"`
	// Department is the department served, when the connector serves one.
	Department string `json:"department,omitempty"`
	// State is running, paused, failed or stopped; the connector manager sets it.
	State string `json:"state"`
	// Breaker is closed, open or half-open for kinds with a breaker.
	Breaker string `json:"breaker,omitempty"`
	// Topic and Group are the Kafka topic the connector consumes and its consumer group.
	Topic string `json:"topic,omitempty"`
	Group string `json:"group,omitempty"`
	// Lag is how many messages of Topic the group has not committed; the manager fills it.
	Lag int64 `json:"lag"`
	// Counters since the connector was created.
	Delivered   int64 `json:"delivered"`
	Retries     int64 `json:"retries"`
	Failed      int64 `json:"failed"`
	DeadLetters int64 `json:"dead_letters"`
	InFlight    int   `json:"in_flight"`
	// History is the deliveries, failures and retries of each minute of the last hour (from
	// Counters), for the console's small charts.
	History *History `json:"history,omitempty"`
	// LastSuccess and LastError are when the last message got through and when an attempt last
	// failed; LastErrorMessage says why, without secrets or personal data.
	LastSuccess      *time.Time `json:"last_success,omitempty"`
	LastError        *time.Time `json:"last_error,omitempty"`
	LastErrorMessage string     `json:"last_error_message,omitempty"`
	// Detail holds kind-specific figures (inbox size, leased items, cursor …).
	Detail map[string]any `json:"detail,omitempty"`
}

// ErrUnknown: no connector has that name.
var ErrUnknown = errors.New("no such connector")

// Connector states.
const (
	StateRunning = "running"
	StatePaused  = "paused"
	StateFailed  = "failed"
	StateStopped = "stopped"
)

// Recorder records what became of each message; the hub implements it with its SQL store
// (sub-case delivery, dead letters).
//
// A connector calls it before the message's offset is committed: when a method returns an
// error the message stays uncommitted and is delivered again. Since delivery is at least once,
// a Recorder may see the same EventID more than once and treats the repeat as the same
// delivery.
type Recorder interface {
	// Delivered records that the external system has the message.
	Delivered(ctx context.Context, d Delivery) error
	// Failed records a message that will not be delivered (refused, given up, undecodable):
	// the hub keeps it as a dead letter that operators can inspect and replay.
	Failed(ctx context.Context, f Failure) error
}

// Delivery describes one message handed to an external system.
type Delivery struct {
	// Connector is the connector's name (Status.Name).
	Connector string
	// EventID is the envelope id, the Idempotency-Key of every attempt.
	EventID   string
	CaseID    string
	SubcaseID string
	// Department is the department served, if any.
	Department string
	// Status is the external system's last HTTP status, 0 when there is none.
	Status int
	// Attempts counts the attempts this run made for the message.
	Attempts int
	// At is when the outcome was known.
	At time.Time
}

// Failure describes a message that will not be delivered.
type Failure struct {
	Delivery
	// Reason says why, without secrets or personal data.
	Reason string
	// Topic, Partition and Offset locate the message on the bus; Key is its Kafka key.
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	// Payload is the message exactly as consumed, for the dead-letter store and its replay.
	// It holds personal data: it must never be logged.
	Payload []byte
}

// Retry describes a message whose attempt failed and that the connector will try again.
type Retry struct {
	Delivery
	// Reason says why the last attempt failed, without secrets or personal data.
	Reason string
	// NextAt is when the next attempt is due.
	NextAt time.Time
}

// RetryRecorder is what a Recorder may also do: note that a message is being retried, so that
// a sub-case stuck on a failing department shows it rather than looking like one in flight.
// A connector finds it by type assertion and calls it after each failed attempt it will repeat;
// an error is no reason to stop retrying (the connector logs it and goes on).
type RetryRecorder interface {
	Retrying(ctx context.Context, r Retry) error
}

// RecorderFuncs adapts functions to a Recorder and a RetryRecorder. A nil function records
// nothing.
type RecorderFuncs struct {
	DeliveredFunc func(ctx context.Context, d Delivery) error
	FailedFunc    func(ctx context.Context, f Failure) error
	RetryingFunc  func(ctx context.Context, r Retry) error
}

// Retrying calls f.RetryingFunc.
func (f RecorderFuncs) Retrying(ctx context.Context, r Retry) error {
	if f.RetryingFunc == nil {
		return nil
	}
	return f.RetryingFunc(ctx, r)
}

// Delivered calls f.DeliveredFunc.
func (f RecorderFuncs) Delivered(ctx context.Context, d Delivery) error {
	if f.DeliveredFunc == nil {
		return nil
	}
	return f.DeliveredFunc(ctx, d)
}

// Failed calls f.FailedFunc.
func (f RecorderFuncs) Failed(ctx context.Context, fl Failure) error {
	if f.FailedFunc == nil {
		return nil
	}
	return f.FailedFunc(ctx, fl)
}

// TimePtr returns nil for the zero time, else a pointer to t (for Status fields).
func TimePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
