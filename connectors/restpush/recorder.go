package restpush

import (
	"context"
	"time"
)

// Recorder records what became of each message; the hub implements it with
// its SQL store (inbox, sub-case state, dead letters).
//
// The connector calls it from the goroutine of a [Connector.Run], one message
// at a time, before that message's offset is committed: when a method
// returns an error the message stays uncommitted, Run returns and the message
// is delivered again by the next Run. Since delivery is at least once, a
// Recorder may see the same EventID more than once and must treat the repeat
// as the same delivery. ctx is not cancelled when Run stops, so that an effect
// already achieved gets recorded; it is bounded by a timeout instead.
type Recorder interface {
	// Delivered records that the department has the sub-case.
	Delivered(ctx context.Context, d Delivery) error
	// Failed records a message that will not be delivered: refused by the
	// department, given up after Retry.MaxAttempts, or not decodable.
	Failed(ctx context.Context, f Failure) error
}

// Delivery describes one message handed to the department.
type Delivery struct {
	// EventID is the envelope id, the Idempotency-Key of every attempt.
	EventID   string
	CaseID    string
	SubcaseID string
	// Department is the connector's department code.
	Department string
	// Status is the department's last HTTP status, 0 when it never answered.
	Status int
	// Attempts counts the POSTs this Run made for the message. A message
	// redelivered after a restart counts from 1 again.
	Attempts int
	// At is when the outcome was known.
	At time.Time
}

// Failure describes a message that will not be delivered.
type Failure struct {
	Delivery
	// Reason says why, without secrets or personal data: the HTTP status and,
	// when the department answered with a JSON object, its "message" or
	// "error" string, masked and cut to 200 bytes; or the transport error of
	// the last attempt; or "undecodable message". Other bodies are not quoted
	// at all, since they may echo the applicant's form.
	Reason string
	// Topic, Partition and Offset locate the message on the bus.
	Topic     string
	Partition int
	Offset    int64
	// Payload is the message exactly as consumed, for the dead-letter
	// store and its replay. It holds personal data: it must never be logged.
	Payload []byte
}

// RecorderFuncs adapts two functions to a [Recorder]. A nil function records
// nothing and succeeds.
type RecorderFuncs struct {
	DeliveredFunc func(ctx context.Context, d Delivery) error
	FailedFunc    func(ctx context.Context, f Failure) error
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
