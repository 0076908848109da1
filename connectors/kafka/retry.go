package kafkaconn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/cases"
)

// Headers of a result the hub published again to yjs.result because it arrived ahead of its
// predecessor. They travel with the copy, so that the bound holds across copies, hub restarts
// and hub instances.
const (
	// HeaderConflictSince is when the hub first found the event's transition illegal (RFC 3339).
	HeaderConflictSince = "yjshub_conflict_since"
	// HeaderConflictAttempt counts the copies published so far.
	HeaderConflictAttempt = "yjshub_conflict_attempt"
)

// retryConflict handles an event whose transition is not legal yet. An event published ahead
// of its predecessor (a department whose producers partition differently puts one case on two
// partitions) conflicts until the predecessor is applied; so it is published again to the end
// of yjs.result, and the original committed, until ConflictRetry has passed since the first
// conflict: then it is a dead letter (retried false). The first copy goes at once: the
// predecessor is often already fetched, queued behind it in the same worker (one key, one
// worker), and is applied before the copy comes round; waiting in place would only hold it
// back. Later copies wait a backoff first (conflictBackoff), which holds up the worker's other
// cases for that long: only a transition that stays illegal (a department's mistake) costs
// that, and for at most ConflictRetry. The copy is durable before the original is committed,
// so nothing is lost; a duplicate is harmless (events apply once per event id).
//
// Only a transition conflict is retried: an event id reused for another type or a licence
// number issued before stays a conflict whatever arrives.
func (r *Results) retryConflict(ctx context.Context, m bus.Received, eventID string, cause error) (retried bool, err error) {
	var ce *cases.ConflictError
	if r.cfg.ConflictRetry < 0 || !errors.As(cause, &ce) || !strings.Contains(ce.Reason, transitionConflict) {
		return false, nil
	}
	now := time.Now()
	since, attempt := now, 0
	if t, err := time.Parse(time.RFC3339Nano, m.Headers[HeaderConflictSince]); err == nil && !t.After(now) {
		since = t
	}
	if n, err := strconv.Atoi(m.Headers[HeaderConflictAttempt]); err == nil && n > 0 {
		attempt = n
	}
	left := r.cfg.ConflictRetry - now.Sub(since)
	if left <= 0 {
		return false, nil
	}
	wait := min(conflictBackoff(attempt), left)
	r.log.InfoContext(ctx, "kafka: department event not applicable yet (ahead of its predecessor?); trying again", "event_id", eventID,
		"partition", m.Partition, "offset", m.Offset, "attempt", attempt+1, "wait", wait, "reason", cause.Error())
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return true, ctx.Err() // uncommitted: the next Run meets it again
		case <-t.C:
		}
	}
	headers := maps.Clone(m.Headers)
	if headers == nil {
		headers = map[string]string{}
	}
	headers[HeaderConflictSince] = since.UTC().Format(time.RFC3339Nano)
	headers[HeaderConflictAttempt] = strconv.Itoa(attempt + 1)
	if err := r.bus.Publish(ctx, bus.Message{Topic: bus.TopicResult, Key: m.Key, Value: m.Value, Headers: headers}); err != nil {
		return true, r.transient(ctx, m, eventID, fmt.Errorf("publishing the event again for a later try: %w", err))
	}
	r.counters.Failure(time.Now(), "an event was not applicable yet (ahead of its predecessor?); it is tried again")
	return true, nil
}

// transitionConflict is in the reason of a conflict that the state machine refused
// (cases: "a <type> event cannot follow state <state> …"): the one kind a later event can mend.
const transitionConflict = "cannot follow state"

// conflictBackoff is the wait before the attempt-th copy: none before the first, then 250ms
// doubling, at most 5s.
func conflictBackoff(attempt int) time.Duration {
	if attempt == 0 {
		return 0
	}
	d := 250 * time.Millisecond
	for range attempt - 1 {
		d *= 2
		if d >= 5*time.Second {
			return 5 * time.Second
		}
	}
	return d
}
