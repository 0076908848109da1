package connectortest

import (
	"context"
	"slices"
	"sync"

	"yjshub/hub/connector"
	"yjshub/hub/event"
)

// Recording is a [connector.Recorder] that keeps what it is told, for tests. The zero value is
// ready; it is safe for concurrent use.
type Recording struct {
	mu         sync.Mutex
	deliveries []connector.Delivery
	failures   []connector.Failure
	refuse     []error // returned by the next Delivered calls instead of recording
}

var _ connector.Recorder = (*Recording)(nil)

// Delivered records d, unless RefuseNext queued an error.
func (r *Recording) Delivered(_ context.Context, d connector.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refuse) > 0 {
		err := r.refuse[0]
		r.refuse = r.refuse[1:]
		return err
	}
	r.deliveries = append(r.deliveries, d)
	return nil
}

// Failed records f.
func (r *Recording) Failed(_ context.Context, f connector.Failure) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.Payload = slices.Clone(f.Payload)
	r.failures = append(r.failures, f)
	return nil
}

// RefuseNext makes the next Delivered call fail with err, as a store that is down does.
func (r *Recording) RefuseNext(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refuse = append(r.refuse, err)
}

// Deliveries returns the deliveries recorded so far, in order.
func (r *Recording) Deliveries() []connector.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deliveries)
}

// Failures returns the failures recorded so far, in order.
func (r *Recording) Failures() []connector.Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.failures)
}

// delivered reports whether a delivery of event id was recorded.
func (r *Recording) delivered(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.deliveries, func(d connector.Delivery) bool { return d.EventID == id })
}

// Events is an [EventSink] that keeps what it is given, for tests. The zero value is ready; it
// is safe for concurrent use.
type Events struct {
	mu  sync.Mutex
	got []Reported
}

// Reported is one department event as an [EventSink] got it.
type Reported struct {
	SubcaseID string
	Event     event.DepartmentEvent
}

// ApplyEvent records the event.
func (e *Events) ApplyEvent(_ context.Context, subcaseID string, ev event.DepartmentEvent) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, Reported{SubcaseID: subcaseID, Event: ev})
	return nil
}

// All returns the events received so far, in order.
func (e *Events) All() []Reported {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}
